"""PostgreSQL through psycopg 3: the connection the store uses when `--db` /
`KETACLI_DB` is a `postgresql://` URL.

The store's SQL is written once, in the dialect both engines share; `PgConnection`
gives psycopg the face of a sqlite3 connection (execute/executemany/cursor, rows that
answer to an index and to a column name) and turns the few SQLite spellings into
PostgreSQL's (`translate`). Values are bound by the server ($1, $2...), never pasted into
the statement: a statement the server logs (log_min_error_statement, pg_stat_activity)
shows no patient's name, phone or note.

Writers are serialized by a transaction-level advisory lock taken first in every write
transaction (`BEGIN ISOLATION LEVEL READ COMMITTED` + `pg_advisory_xact_lock`): the audit
chain has one head, and each write reads it (and assigns ids as max(id) + 1) after the
writer before it committed, as SQLite's BEGIN IMMEDIATE does for one file. The level is
named, not left to the server's default_transaction_isolation: under REPEATABLE READ or
SERIALIZABLE the snapshot is taken by the statement that waits for the lock, so a writer
would read the head as it was before the writers it waited for (a unique violation or a
serialization failure, never a fork, but a refused write). The wait is bounded by lock_timeout (the
busy timeout); a writer killed mid-transaction loses its connection, and the server
rolls the transaction back and releases the lock.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit, urlunsplit

from ketacli.errors import Code, StorageError

ENGINE = "postgresql"
SCHEMES = ("postgresql://", "postgres://")
# pg_advisory_xact_lock key of the write lock (advisory locks are per database)
WRITE_LOCK = 0x6B657461_636C6931 & 0x7FFFFFFFFFFFFFFF


def is_url(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(SCHEMES)


def redact(url: str) -> str:
    """The URL without its password (and without query parameters, which may hold one):
    what messages, `db info` and the audit log may show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://…"
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        user = user.split(":", 1)[0]
        netloc = f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def bad_url(url: str) -> StorageError:
    return StorageError(f"not a usable PostgreSQL URL: {redact(url)}",
                        code=Code.INVALID_DATABASE_PATH,
                        hint="postgresql://USER@HOST[:PORT]/DBNAME")


def describe(url: str) -> dict:
    """host, port, database and user named by the URL (no password)."""
    parts = urlsplit(url)
    try:
        port = parts.port or 5432
    except ValueError:  # a port that is not a number
        raise bad_url(url) from None
    return {"host": parts.hostname or "localhost", "port": port,
            "database": unquote(parts.path.lstrip("/")) or None,
            "user": unquote(parts.username) if parts.username else None}


# -- SQL: the store's shared dialect -> PostgreSQL -----------------------------------------
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%|[^'\"?%]+", re.S)
_NOCASE = re.compile(r"([\w.]+) = %s COLLATE NOCASE")


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """`?` -> `%s` (and a literal `%` -> `%%`) outside quoted text; `x = ? COLLATE
    NOCASE` -> `lower(x) = lower(%s)`; group_concat -> string_agg."""
    out = []
    for tok in _TOKENS.findall(sql):
        if tok == "?":
            out.append("%s")
        elif tok == "%":
            out.append("%%")
        elif tok[0] in "'\"":
            out.append(tok.replace("%", "%%"))
        else:
            out.append(tok)
    text = "".join(out)
    text = _NOCASE.sub(r"lower(\1) = lower(%s)", text)
    return text.replace("group_concat(", "string_agg(")


# -- rows that answer like sqlite3.Row ------------------------------------------------------
class Row(tuple):
    """A result row: by position, by column name (`row["mrn"]`), `keys()`, `dict(row)`."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}
    _names: ClassVar[list[str]] = []

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor):
    names = [c.name for c in cursor.description or ()]
    cls = type("Row", (Row,), {"__slots__": (), "_index": {n: i for i, n in enumerate(names)},
                               "_names": names})
    return lambda values: cls(values)


def _tuple_factory(cursor):
    return tuple


class PgCursor:
    """A cursor of a PgConnection: sqlite3's execute/fetch names, the store's SQL
    translated; `row_factory = None` gives plain tuples (exports)."""

    def __init__(self, conn: PgConnection, *, name: str | None = None) -> None:
        self._conn = conn
        self._name = name
        self.row_factory: Any = _row_factory
        self._cur: Any = None

    def execute(self, sql: str, params=()) -> PgCursor:
        raw = self._conn.raw
        factory = self.row_factory or _tuple_factory
        if self._name and self._conn.in_transaction:  # streamed from the server
            self._cur = raw.cursor(name=self._name, row_factory=factory)
            self._cur.itersize = 2000
        else:
            self._cur = raw.cursor(row_factory=factory)
        self._cur.execute(translate(sql), list(params))
        return self

    @property
    def description(self):
        return self._cur.description

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    def fetchone(self):
        return self._cur.fetchone()

    def fetchall(self):
        return self._cur.fetchall()

    def fetchmany(self, size: int = 1):
        return self._cur.fetchmany(size)

    def __iter__(self):
        return iter(self._cur)

    def close(self) -> None:
        if self._cur is not None:
            self._cur.close()


class PgConnection:
    """The store's connection to a PostgreSQL database (see the module docstring)."""

    engine = ENGINE

    def __init__(self, raw: Any, url: str) -> None:
        self.raw = raw
        self.url = redact(url)
        self._streams = 0
        self._tables: frozenset[str] | None = None

    def tables(self) -> frozenset[str]:
        """The tables of the current schema (asked once per connection; a migration run
        through `script` asks again)."""
        if self._tables is None:
            self._tables = frozenset(r[0] for r in self.raw.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
        return self._tables

    def forget_tables(self) -> None:
        """Ask for the table names again next time (another process may have created
        them since: a migration re-read under the write lock)."""
        self._tables = None

    def execute(self, sql: str, params=()) -> PgCursor:
        return PgCursor(self).execute(sql, params)

    def executemany(self, sql: str, seq) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(translate(sql), [list(p) for p in seq])

    def script(self, sql: str) -> None:
        """Run several statements (a migration), no parameters."""
        self.forget_tables()
        self.raw.execute(sql)

    def cursor(self) -> PgCursor:
        """A cursor for a long read: inside a transaction (an export's snapshot) its rows
        come from a server-side cursor, a batch at a time."""
        self._streams += 1
        return PgCursor(self, name=f"ketacli_stream_{self._streams}")

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.raw.close()


def _adapt(conn: Any) -> None:
    """Values as SQLite gives them: numeric (sum, avg) as float, booleans as 0/1; a
    Python bool stored as 0/1."""
    from psycopg.adapt import Loader
    from psycopg.types.numeric import IntDumper

    class FloatLoader(Loader):
        def load(self, data):
            value = Decimal(bytes(data).decode())
            return float(value)

    class BoolIntLoader(Loader):
        def load(self, data):
            return 1 if bytes(data) == b"t" else 0

    class BoolIntDumper(IntDumper):
        def dump(self, obj):
            return b"1" if obj else b"0"

    conn.adapters.register_loader("numeric", FloatLoader)
    conn.adapters.register_loader("bool", BoolIntLoader)
    conn.adapters.register_dumper(bool, BoolIntDumper)


def connect(url: str, *, busy_timeout_s: float) -> PgConnection:
    """Open the database the URL names (exit 4 on any failure, one line, no password)."""
    try:
        import psycopg
    except ImportError:
        raise StorageError("PostgreSQL needs psycopg 3: pip install 'ketacli[postgresql]'",
                           code=Code.STORAGE_ERROR) from None
    # KETACLI_BUSY_TIMEOUT=0 is "do not wait"; PostgreSQL's lock_timeout = 0 is "wait
    # forever": the shortest wait it has is 1 ms
    lock_ms = max(1, int(busy_timeout_s * 1000))
    try:
        # the session's settings travel with the connection request: no round trips
        raw = psycopg.connect(url, autocommit=True, cursor_factory=psycopg.Cursor,
                              # a server that is down is told within 10 s at most
                              connect_timeout=min(10, max(2, int(busy_timeout_s))),
                              application_name="ketacli",
                              # the server probes a silent workstation (power or network
                              # lost mid-transaction) and frees its write lock in about a
                              # minute, not after the system's two-hour TCP keepalive
                              options=f"-c lock_timeout={lock_ms} -c TimeZone=UTC "
                                      "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 "
                                      "-c tcp_keepalives_count=3")
    except psycopg.ProgrammingError:  # libpq could not parse the URL
        raise bad_url(url) from None
    except psycopg.Error as exc:
        raise storage_error(exc, url) from None
    except Exception:  # a URL psycopg cannot parse
        raise bad_url(url) from None
    try:
        _adapt(raw)
    except psycopg.Error as exc:
        raw.close()
        raise storage_error(exc, url) from None
    return PgConnection(raw, url)


def storage_error(exc: BaseException, url: str | None) -> StorageError:
    """A psycopg error as one line: by SQLSTATE where the server gave one; never the
    URL's password, never the statement or its parameters."""
    where = f" ({redact(url)})" if url else ""
    state = getattr(exc, "sqlstate", None) or ""
    text = str(exc).lower()
    if state == "55P03" or "lock timeout" in text:
        from ketacli.store.db import busy_timeout_s

        return StorageError(
            f"database is locked by another writer{where}; gave up after {busy_timeout_s():g} s",
            code=Code.DATABASE_LOCKED,
            hint="retry; set KETACLI_BUSY_TIMEOUT (0-600 seconds) to wait longer")
    if state in ("40001", "40P01"):
        return StorageError(f"the write conflicted with another writer{where}; nothing was stored",
                            code=Code.WRITE_CONFLICT, hint="retry")
    if state in ("28P01", "28000") or "authentication failed" in text or "no password" in text:
        return StorageError(f"PostgreSQL refused the login{where}",
                            code=Code.AUTHENTICATION_FAILED,
                            hint="check the user and password (PGPASSFILE or ~/.pgpass)")
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return StorageError(f"no database at {redact(url) if url else 'the server'}",
                            code=Code.DATABASE_MISSING,
                            hint="create it on the server (createdb), then 'ketacli db migrate'")
    if state == "42501":
        return StorageError(f"the database role lacks a right this command needs{where}",
                            code=Code.DATABASE_READONLY,
                            hint="see 'Several workstations or sites' in the README")
    if state == "25006":
        return StorageError(f"database is read-only{where}", code=Code.DATABASE_READONLY)
    if state.startswith("53"):
        return StorageError(f"the server is out of resources{where}", code=Code.DISK_FULL)
    if state.startswith("23"):
        return StorageError(f"the database refused the write: {first_line(exc)}",
                            code=Code.CONSTRAINT_FAILED)
    import psycopg

    if state.startswith("08") or (not state and isinstance(exc, psycopg.OperationalError)):
        return StorageError(f"cannot reach the PostgreSQL server{where}",
                            code=Code.SERVER_UNREACHABLE,
                            hint="check that the server is running and the host and port")
    return StorageError(f"database error{where}: {first_line(exc)}", code=Code.STORAGE_ERROR)


def lost_connection(exc: BaseException) -> bool:
    """The line to the server dropped (no answer came): the outcome is unknown."""
    import psycopg

    state = getattr(exc, "sqlstate", None) or ""
    return state.startswith("08") or (not state and isinstance(exc, psycopg.OperationalError))


def first_line(exc: BaseException) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    return (primary or str(exc)).splitlines()[0] if (primary or str(exc)) else type(exc).__name__


def errors() -> tuple[type[BaseException], ...]:
    """psycopg's errors, once psycopg is loaded: a run that never connected to a server
    cannot have raised one, and never pays for importing it (SQLite's start-up)."""
    psycopg = sys.modules.get("psycopg")
    return (psycopg.Error,) if psycopg is not None else ()


def integrity_errors() -> tuple[type[BaseException], ...]:
    psycopg = sys.modules.get("psycopg")
    return (psycopg.IntegrityError,) if psycopg is not None else ()
