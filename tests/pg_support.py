"""PostgreSQL for the tests: a throwaway server, and a fresh database for each test.

The server: `KETACLI_TEST_PG` (an admin URL, e.g. postgresql://postgres@127.0.0.1:PORT/postgres)
names one; .ci/run starts one with this file (`python tests/pg_support.py start DIR`, which
prints the URL, and `stop DIR`). Without it, the first test that needs PostgreSQL starts one
here (initdb in a temp dir, a free port on 127.0.0.1, stopped at exit) when the server's
programs are installed (Debian's postgresql package); otherwise the PostgreSQL half of the
suite is not run, and the header says so.

Each test's database comes from a small pool that a thread keeps ready (CREATE DATABASE
takes ~40 ms), and is dropped in that thread after the test.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# what a throwaway test server may skip (it is thrown away): documented PostgreSQL settings
SERVER_SETTINGS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import pgserver  # noqa: E402 - the server programs, shared with the benchmarks


def _bin(name: str) -> str | None:
    return pgserver.server_bin(name)


def _free_port() -> int:
    return pgserver._free_port()


def start(folder: Path) -> str:
    """initdb in `folder`, start the server on a free port; its admin URL (and a role that
    must give a password, for the tests of a refused login)."""
    url = pgserver.start(folder, settings=SERVER_SETTINGS,
                         hba="host all ketacli_pw 127.0.0.1/32 scram-sha-256\n")
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE ROLE ketacli_pw LOGIN PASSWORD 'right-password'")
    return url


def stop(folder: Path) -> None:
    pgserver.stop(folder)


_SERVER: dict[str, str | None] = {}
# read now: the tests' pinned environment removes every KETACLI_ variable
_GIVEN = os.environ.get("KETACLI_TEST_PG") or None


def admin_url() -> str | None:
    """The server's admin URL: KETACLI_TEST_PG, else one started now (None: cannot)."""
    if "url" in _SERVER:
        return _SERVER["url"]
    url = _GIVEN
    if url is None and _bin("initdb") and os.environ.get("KETACLI_TEST_PG_START", "1") != "0":
        folder = Path(tempfile.mkdtemp(prefix="ketacli-pg-"))
        try:
            url = start(folder)
        except (RuntimeError, subprocess.CalledProcessError, OSError):
            url = None
        else:
            atexit.register(lambda: (stop(folder), shutil.rmtree(folder, ignore_errors=True)))
    _SERVER["url"] = url
    return url


def available() -> str | None:
    """Why PostgreSQL tests cannot run (None: they can)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    if _GIVEN or _bin("initdb"):
        return None
    return "no PostgreSQL server (set KETACLI_TEST_PG, or install Debian's postgresql)"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


class PgDb(str):
    """A test's PostgreSQL database: its URL (str), and its clinic key file (`.key`, where
    ketacli keeps the key of that URL: the user-data folder)."""

    key: Path
    dbname: str

    def __new__(cls, url: str, dbname: str) -> PgDb:
        from ketacli.store.keys import key_path

        obj = super().__new__(cls, url)
        obj.dbname = dbname
        obj.key = key_path(url)
        return obj

    def exists(self) -> bool:
        """Whether the ketacli schema is there (what an existing file is on SQLite)."""
        import psycopg

        with psycopg.connect(str(self), autocommit=True) as conn:
            return conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL"
                                ).fetchone()[0]


class Pool:
    """Databases made ready ahead by one thread, and dropped by it after their test."""

    def __init__(self, url: str, ahead: int = 3) -> None:
        self.url = url
        self.ready: queue.Queue[str] = queue.Queue(maxsize=ahead)
        self.done: queue.Queue[str | None] = queue.Queue()
        self.count = 0
        self.thread = threading.Thread(target=self._work, daemon=True)
        self.thread.start()

    def _work(self) -> None:
        import psycopg

        conn = psycopg.connect(self.url, autocommit=True)
        while True:
            with contextlib.suppress(queue.Empty):
                while True:
                    name = self.done.get_nowait()
                    if name is None:
                        conn.close()
                        return
                    with contextlib.suppress(psycopg.Error):
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if self.ready.full():
                time.sleep(0.005)
                continue
            self.count += 1
            name = f"kt_{os.getpid()}_{self.count}"
            conn.execute(f'CREATE DATABASE "{name}"')
            self.ready.put(name)

    def take(self) -> str:
        return self.ready.get(timeout=60)

    def drop(self, name: str) -> None:
        self.done.put(name)


_POOL: list[Pool] = []


def pool() -> Pool:
    if not _POOL:
        url = admin_url()
        if url is None:
            raise RuntimeError(available() or "the PostgreSQL test server did not start")
        _POOL.append(Pool(url))
    return _POOL[0]


def fresh() -> PgDb:
    """A new empty database for one test."""
    p = pool()
    name = p.take()
    db = PgDb(with_database(p.url, name), name)
    db.key.unlink(missing_ok=True)
    return db


def release(db: PgDb) -> None:
    db.key.unlink(missing_ok=True)
    pool().drop(db.dbname)


def admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(pool().url, autocommit=True) as conn:
        conn.execute(sql)


def as_db(db) -> PgDb:
    """A PgDb for a test database's URL (its key: the test's KETACLI_KEY_FILE)."""
    if isinstance(db, PgDb):
        return db
    return PgDb(str(db), urlsplit(str(db)).path.lstrip("/"))


def copy(src, dst) -> None:
    """`dst` becomes a copy of `src` (CREATE DATABASE ... TEMPLATE), key included."""
    from ketacli.cli.settings import Settings, set_settings

    src, dst = as_db(src), as_db(dst)
    set_settings(Settings())  # the in-process CLI's last connection, to src or dst
    admin(f'DROP DATABASE IF EXISTS "{dst.dbname}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{dst.dbname}" TEMPLATE "{src.dbname}"')
    if src.key.exists():
        dst.key.write_bytes(src.key.read_bytes())
        os.chmod(dst.key, 0o600)


if __name__ == "__main__":  # .ci/run: start DIR (prints the admin URL) | stop DIR
    action, where = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        print(start(where))
    else:
        stop(where)
