"""Helpers shared by the infusion-day CLI tests (test_infusion_*.py).

Not a test module and not a conftest: imported by name (pytest puts tests/cli on
sys.path). Every patient these helpers create carries NAME, a name with Rich markup
in it, so every error assertion can also check that the name never leaks to stderr.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
import typer.main
import typer.testing

NAME = "Ann [bold red]x[/] Quill"
MRN = "KX-100"
DAY = "2026-11-27"  # the pinned clinic day (now = 09:00 America/Chicago)

TABLES = ("patients", "screenings", "sessions", "observations", "events", "discharges",
          "side_effects", "followups", "assessments", "voids", "audit")
PHQ9_MODERATE = "2,2,2,2,1,1,2,0,0"  # total 12, moderate (the clinical reference's check vector)


def at(hhmm: str, day: str = DAY) -> str:
    """A naive clinic-zone time on the pinned day."""
    return f"{day} {hhmm}"


def utc(hhmm: str, day: str = DAY) -> str:
    """The stored UTC form of a clinic time on the pinned day (Chicago is UTC-6 in November)."""
    h, m = map(int, hhmm.split(":"))
    return f"{day}T{h + 6:02d}:{m:02d}:00+00:00"


# -- a faster `cli` ----------------------------------------------------------------
_COMMANDS: dict[int, object] = {}


def _cached_command(app):
    """Typer rebuilds the whole Click tree from annotations on every invoke (most of an
    in-process run's cost); the tree does not change, so build it once."""
    if id(app) not in _COMMANDS:
        _COMMANDS[id(app)] = typer.main.get_command(app)
    return _COMMANDS[id(app)]


@pytest.fixture(autouse=True)
def fast_cli(monkeypatch):
    """Autouse where imported: the shared `cli` fixture then builds the Click command once
    per test run instead of once per invocation (the behaviour is the same)."""
    monkeypatch.setattr(typer.testing, "_get_command", _cached_command)


@pytest.fixture(name="tmp_path")
def ram_tmp_path(tmp_path_factory):
    """Where imported, `tmp_path` (so the test database) is on a RAM disk when there is
    one: the store commits with synchronous=FULL, and those fsyncs are most of these
    tests' wall time on a real disk (about 28 s against 6 s here)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        path = Path(tempfile.mkdtemp(prefix="ketacli-test-", dir=shm))
        yield path
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("infusion")


# -- the database, read directly ------------------------------------------------
def query(db_path, sql: str, params=()) -> list[tuple]:
    con = sqlite3.connect(db_path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def scalar(db_path, sql: str, params=()):
    return query(db_path, sql, params)[0][0]


def counts(db_path) -> dict[str, int]:
    """Row count of every clinical table and the audit log (zeros before the file exists)."""
    if not db_path.exists():
        return dict.fromkeys(TABLES, 0)
    return {t: scalar(db_path, f"SELECT count(*) FROM {t}") for t in TABLES}


def diff(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Tables whose row count changed, with the change."""
    return {t: after[t] - before[t] for t in TABLES if after[t] != before[t]}


def last_audit(db_path) -> tuple:
    return query(db_path, "SELECT action, entity, entity_id, patient, detail FROM audit "
                          "ORDER BY id DESC LIMIT 1")[0]


# -- error results ----------------------------------------------------------------
def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_error(r, code: int, *, json_out: bool = False) -> None:
    """The contract's error shape: exit code, one `error:` line first on stderr (an
    optional `hint:` after it), no traceback, nothing on stdout but the JSON envelope,
    and never the patient's name."""
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stderr.startswith("error: "), r.stderr
    lines = r.stderr.splitlines()
    assert len(error_lines(r.stderr)) == 1, r.stderr
    assert all(line.startswith(("error:", "hint:")) for line in lines), r.stderr
    assert "Traceback" not in r.output
    assert NAME not in r.stderr and "Quill" not in r.stderr
    if json_out:
        assert set(r.json) == {"error"}, r.stdout
        assert set(r.json["error"]) <= {"code", "message", "details"}
        assert r.json["error"]["message"] == lines[0].removeprefix("error: ")
    else:
        assert r.stdout == "", r.stdout


def ok(r):
    assert r.exit_code == 0, (r.exit_code, r.stdout, r.stderr)
    assert "Traceback" not in r.output
    return r


# -- the steps of a day -------------------------------------------------------------
def screen(cli, mrn: str = MRN, *extra, bp: str = "128/82", hr: int = 72, weight: float = 80,
           when: str | None = at("07:00"), name: str | None = NAME, phq9: str | None = PHQ9_MODERATE,
           json_out: bool = True):
    args = ["screen", mrn, "--weight", weight, "--bp", bp, "--hr", hr]
    if name is not None:
        args += ["--name", name]
    if phq9 is not None:
        args += ["--phq9", phq9]
    if when is not None:
        args += ["--at", when]
    args += list(extra)
    if json_out:
        args.append("--json")
    return cli(*args)


def start(cli, mrn: str = MRN, *extra, bp: str = "130/80", hr: int = 70,
          when: str | None = at("07:40"), json_out: bool = True):
    args = ["start-session", mrn, "--bp", bp, "--hr", hr, *extra]
    if when is not None:
        args += ["--at", when]
    if json_out:
        args.append("--json")
    return cli(*args)


def vitals(cli, session, *extra, when: str | None = None, json_out: bool = True):
    args = ["log-vitals", session, *extra]
    if when is not None:
        args += ["--at", when]
    if json_out:
        args.append("--json")
    return cli(*args)


def event(cli, session, kind: str, *extra, when: str | None = None, json_out: bool = True):
    args = ["log-event", session, kind, *extra]
    if when is not None:
        args += ["--at", when]
    if json_out:
        args.append("--json")
    return cli(*args)


def discharge(cli, session, *extra, aldrete: int | None = 10, bp: str = "128/80", hr: int = 76,
              transport: str | None = "escort", when: str | None = at("08:55"),
              json_out: bool = True):
    args = ["discharge", session, "--bp", bp, "--hr", hr]
    if aldrete is not None:
        args += ["--aldrete", aldrete]
    if transport is not None:
        args += ["--transport", transport]
    if when is not None:
        args += ["--at", when]
    args += list(extra)
    if json_out:
        args.append("--json")
    return cli(*args)


def summary_json(cli, session) -> dict:
    return ok(cli("summary", session, "--json")).json["data"]


def screened(cli, mrn: str = MRN, *extra, **kw) -> int:
    """A screening (by default eligible, at 07:00); returns its id."""
    return ok(screen(cli, mrn, *extra, **kw)).json["data"]["screening_id"]


def open_session(cli, mrn: str = MRN, *extra, when: str = at("07:40")) -> int:
    """Screened at 07:00, started at 07:40 (80 kg, 40 mg over 40 min: ends 08:20)."""
    screened(cli, mrn)
    return ok(start(cli, mrn, *extra, when=when)).json["data"]["session_id"]


def closed_session(cli, mrn: str = MRN) -> int:
    sid = open_session(cli, mrn)
    ok(discharge(cli, sid))
    return sid
