"""Helpers shared by the reliability tests (tests/reliability/test_*.py).

Not a test module and not a conftest: imported by name (pytest's `pythonpath` is
tests/). Two ways to run ketacli:

- `run(db, *args)`: the installed console script as a real OS process, with only the
  environment a clinic would give it (KETACLI_DB, KETACLI_TZ, no KETACLI_DEBUG).
  Subprocesses use the real clock.
- the shared in-process `cli` fixture (conftest) for set-up and for fast fuzzing. Its
  clock is pinned; `real_clock()` re-pins it to the real "now" when the records it makes
  must line up with what subprocesses record.

Every patient these helpers create carries a distinctive name, date of birth and note
(PII below) so that any error assertion can also check that they never leak.
Helpers for any test (database reads, `ok`, error shapes) are in tests/helpers.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import helpers
from helpers import CLINIC_TZ, KETACLI, assert_error_envelope, assert_error_lines, ok

from ketacli.clock import CLOCK

NAME = "Zebulon Quixotic-Farnsworth"
DOB = "1931-05-17"
NOTE = "lives at 742 Evergreen Terrace"
PII = (NAME, "Zebulon", "Quixotic", "Farnsworth", DOB, NOTE, "742 Evergreen", "Evergreen")
PHQ9 = "2,2,2,2,1,1,2,0,0"  # total 12, item 9 = 0: eligible


# -- the console script as a real process ---------------------------------------------------
def env_for(db: Path | str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KETACLI_")}
    if db is not None:
        env["KETACLI_DB"] = str(db)
    env.update(KETACLI_TZ=CLINIC_TZ, KETACLI_CLINICIAN="nurse.reliability", NO_COLOR="1",
               COLUMNS="80", TERM="dumb")
    env.update(extra)
    return env


class Done:
    """A finished console-script run: returncode, stdout, stderr (decoded)."""

    def __init__(self, args, returncode: int, stdout: bytes, stderr: bytes) -> None:
        self.args = args
        self.returncode = returncode
        self.stdout = stdout.decode("utf-8", "replace")
        self.stderr = stderr.decode("utf-8", "replace")

    @property
    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"<ketacli {self.args!r} rc={self.returncode} err={self.stderr[:300]!r}>"


def argv(*args) -> list:
    return [str(KETACLI), *(a if isinstance(a, bytes) else str(a) for a in args)]


def popen(db, *args, env: dict | None = None, **extra_env) -> subprocess.Popen:
    return subprocess.Popen(argv(*args), env=env or env_for(db, **extra_env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen, args, timeout: float = 60) -> Done:
    out, err = proc.communicate(timeout=timeout)
    return Done(args, proc.returncode, out, err)


def run(db, *args, timeout: float = 60, env: dict | None = None, **extra_env) -> Done:
    """Run the installed console script once and wait for it."""
    return finish(popen(db, *args, env=env, **extra_env), args, timeout)


# -- the database, read directly --------------------------------------------------------
def checkpoint(db) -> None:
    """Fold the WAL into the main file (so a copy of the file alone is the whole database);
    nothing to fold on PostgreSQL."""
    if helpers.on_pg(db):
        return
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


# -- what every error must look like -----------------------------------------------------
def assert_no_pii(*texts: str, allow: tuple[str, ...] = ()) -> None:
    """None of the patient's name, date of birth or note in `texts`. `allow`: values typed
    where an MRN goes (errors may name records by MRN, and 1931-05-17 is a valid MRN)."""
    helpers.assert_no_pii(*texts, pii=PII, allow=allow)


def assert_error_shape(code: int, stdout: str, stderr: str, *, expect: int | None = None,
                       json_out: bool = False) -> None:
    """Exit code, one `error:` line first on stderr (optional hint), no traceback, no PII,
    and with --json exactly one JSON error envelope on stdout."""
    if expect is not None:
        assert code == expect, (code, stdout, stderr)
    assert code != 0
    assert "Traceback" not in stdout and "Traceback" not in stderr, stderr
    assert_error_lines(stderr)
    assert_no_pii(stdout, stderr)
    if json_out:
        assert_error_envelope(stdout, stderr)


# -- set-up through the in-process CLI ------------------------------------------------------
def real_clock() -> datetime:
    """Pin the in-process clock to the real now (conftest un-pins it after the test)."""
    now = datetime.now(UTC).replace(microsecond=0)
    CLOCK.pin(now)
    return now


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def screen(cli, mrn: str, *, when: datetime | None = None, name: str = NAME, note: str | None = NOTE,
           extra: tuple = ()) -> int:
    args = ["screen", mrn, "--name", name, "--dob", DOB, "--weight", "80", "--bp", "124/80",
            "--hr", "72", "--phq9", PHQ9, "--json", *extra]
    if note is not None:
        args += ["--note", note]
    if when is not None:
        args += ["--at", iso(when)]
    return ok(cli(*args)).json["data"]["screening_id"]


def start(cli, mrn: str, *, when: datetime | None = None) -> int:
    args = ["start-session", mrn, "--bp", "126/80", "--hr", "70", "--json"]
    if when is not None:
        args += ["--at", iso(when)]
    return ok(cli(*args)).json["data"]["session_id"]


def open_session(cli, mrn: str, now: datetime) -> int:
    """A screened patient with an infusion started ten minutes before `now`."""
    screen(cli, mrn, when=now - timedelta(hours=1))
    return start(cli, mrn, when=now - timedelta(minutes=10))


# -- another process holding the write lock ------------------------------------------------
_HOLDER = """
import sys
db = sys.argv[1]
if db.startswith(("postgresql://", "postgres://")):
    import psycopg
    from ketacli.store import pg
    con = psycopg.connect(db, autocommit=True)
    con.execute("BEGIN")
    con.execute(f"SELECT pg_advisory_xact_lock({pg.WRITE_LOCK})")  # what every writer takes
else:
    import sqlite3
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.read()          # hold the write lock until the test closes our stdin
con.execute("ROLLBACK")
"""


@contextlib.contextmanager
def write_lock_held(db):
    """Another process holds the database's write lock (SQLite's, or ketacli's advisory
    lock on PostgreSQL) while the block runs."""
    import sys

    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
