"""A throwaway PostgreSQL server for the benchmarks, with the server's default settings.

    python benchmarks/pgserver.py start DIR    # prints the admin URL
    python benchmarks/pgserver.py stop DIR

The benchmarks start it with nothing but where to listen: `-p PORT -k DIR -c
listen_addresses=127.0.0.1`. Every other setting is initdb's and the server's default
(fsync, synchronous_commit, shared_buffers, work_mem...), so the figures are those of an
untuned server. tests/pg_support.py starts its throwaway server with this too, adding
fsync=off and the like. initdb and postgres refuse to run as root: as root they run as the
`postgres` account.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path


def server_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


def available() -> bool:
    return bool(server_bin("initdb") and server_bin("pg_ctl"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def start(folder: Path, *, settings: str = "", hba: str = "") -> str:
    """initdb in `folder` and start the server on a free port of 127.0.0.1; its admin URL.
    `settings`: more `-c name=value` options (the tests' throwaway server); `hba`: lines put
    before initdb's own in pg_hba.conf."""
    initdb, pg_ctl = server_bin("initdb"), server_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("no PostgreSQL server programs (initdb, pg_ctl) on this machine")
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data = folder / "data"
    subprocess.run(_as_server_user([initdb, "-D", str(data), "-U", "postgres", "--auth=trust",
                                    "-E", "UTF8", "--locale=C.UTF-8"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if hba:
        conf = data / "pg_hba.conf"
        conf.write_text(hba + conf.read_text())
    port = _free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 {settings}".strip()
    subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-l", str(folder / "server.log"),
                                    "-o", options, "-w", "start"]),
                   check=True, stdout=subprocess.DEVNULL)
    (folder / "port").write_text(str(port))
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def stop(folder: Path) -> None:
    pg_ctl = server_bin("pg_ctl")
    if pg_ctl and (folder / "data").exists():
        subprocess.run(_as_server_user([pg_ctl, "-D", str(folder / "data"), "-m", "fast", "-w",
                                        "stop"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def settings(url: str) -> tuple[str, list[tuple[str, str, str]]]:
    """(server version, the settings that are not at their built-in default: name,
    value, source) of the server at `url`."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        rows = conn.execute(
            "SELECT name, setting || coalesce(' ' || unit, ''), source FROM pg_settings "
            "WHERE source NOT IN ('default', 'override', 'client', 'session') "
            "ORDER BY name").fetchall()
    return version, [tuple(r) for r in rows]


if __name__ == "__main__":
    action, where = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        print(start(where))
    else:
        stop(where)
