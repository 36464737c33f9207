"""Helpers shared by the test modules: the pinned time and zone, the in-process CLI,
reading the database directly, the shape of a result and of an error, patient-data leak
checks, and a database built once per module.

Not a test module and not a conftest: imported by name (`from helpers import ...`), as are
the other support modules beside it (pyproject.toml sets pytest's `pythonpath` to tests/).
Fixtures belong in the conftest.py files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketacli.cli.app import app
from ketacli.clock import CLOCK

# 2026-11-27 15:00 UTC = 09:00 in America/Chicago: a clinic morning.
FIXED_NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
CLINIC_TZ = "America/Chicago"

KETACLI = Path(sys.executable).parent / "ketacli"  # the installed console script

# every clinical table and the audit log
TABLES = ("patients", "screenings", "sessions", "observations", "events", "discharges",
          "side_effects", "followups", "assessments", "voids", "audit", "wastes")

# docs/cli-contract.md, "Clinic protocol (defaults ...)", copied out by hand.
CONTRACT_DEFAULTS = {
    "dose": {"default_mg_per_kg": 0.5, "max_mg_per_kg": 1.0, "default_duration_min": 40,
             "hard_max_mg_per_kg": 1.5, "hard_max_mg": 150, "weight_change_pct": 10,
             "weight_basis": "actual", "basis_bmi_threshold": 30},
    "screening": {
        "valid_days": 30,
        "review_bp": [160, 100],
        "ineligible_bp": [180, 110],
        "ineligible_conditions": ["active-psychosis", "mania", "pregnancy", "aneurysm",
                                  "intracranial-hemorrhage", "ketamine-allergy"],
        "review_conditions": ["substance-use-disorder", "cardiac-disease",
                              "uncontrolled-hypertension", "raised-icp", "hepatic-impairment",
                              "hyperthyroidism", "glaucoma"],
        "review_meds": ["benzodiazepine", "lamotrigine", "maoi", "stimulant"],
        "cssrs_ineligible": ["high"],
        "cssrs_review": ["moderate"],
    },
    "infusion": {"hold_bp": [160, 100], "hold_sbp_low": 90, "hold_hr": [50, 110],
                 "hold_spo2": 92, "min_hours_between": 24},
    "alerts": {
        "sbp": [160, 180], "dbp": [100, 110], "hr_high": [110, 130], "hr_low": [50, 40],
        "spo2_low": [94, 90], "rr_low": [10, 8], "etco2_high": [50, 60], "moaas_low": [3, 2],
        "sbp_low": [90, 80], "rr_high": [24, 30], "sbp_rise": [40, 60], "dbp_rise": [25, 40],
    },
    "monitoring": {"intra_interval_min": 10, "post_interval_min": 15},
    "overrides": {"cosign": True, "min_reason_chars": 10},
    "records": {"late_entry_hours": 24},
    "reminders": {"claim_minutes": 60},
    "discharge": {"min_aldrete": 9, "min_observation_min": 30, "max_bp": [160, 100],
                  "max_hr": 110, "min_sbp": 90, "min_spo2": 94},
    "schedule": {"induction_sessions": 6, "induction_interval_days": 2, "checkin_after_days": 1,
                 "assessment_after_days": 7, "maintenance_interval_days": 28},
}


# -- the CLI, in-process ------------------------------------------------------------------
class Run:
    """Invoke the CLI in-process; `.json` parses stdout (the `cli` fixture is one)."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):
        result = self.runner.invoke(app, [str(a) for a in args], input=input)
        result.json = _try_json(result.stdout)
        return result


def _try_json(text: str):
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


# -- the database, read (and edited) directly ---------------------------------------------
# The engine of the running test ("sqlite" or "postgresql"; conftest's `engine` sets it).
ENGINE = ["sqlite"]


def on_pg(db=None) -> bool:
    """Whether `db` (else the running test's database) is on PostgreSQL."""
    if db is None:
        return ENGINE[0] == "postgresql"
    from ketacli.store.pg import is_url

    return is_url(str(db))


def _connect(db):
    """A connection to `db` as the tests read it: sqlite3, or the store's PostgreSQL
    connection (the same SQL spelling, `?` parameters)."""
    if on_pg(db):
        from ketacli.store import pg

        return pg.connect(str(db), busy_timeout_s=30)
    return sqlite3.connect(db, timeout=30)


def query(db, sql: str, params=()) -> list[tuple]:
    """All rows of one statement (waits up to 30 s for a writer's lock)."""
    con = _connect(db)
    try:
        return [tuple(r) for r in con.execute(sql, params).fetchall()]
    finally:
        con.close()


def scalar(db, sql: str, params=()):
    return query(db, sql, params)[0][0]


def counts(db) -> dict[str, int]:
    """Row count of every clinical table and the audit log (zeros before the file exists)."""
    if not (db.exists() if on_pg(db) else Path(db).exists()):
        return dict.fromkeys(TABLES, 0)
    con = _connect(db)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def diff(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Tables whose row count changed, with the change."""
    return {t: after[t] - before[t] for t in TABLES if after[t] != before[t]}


def tamper(db, *statements: str, drop: tuple[str, ...] = (), params=()) -> None:
    """Change the file outside the program, as someone with the sqlite3 shell could: drop
    the `drop` triggers (the append-only guards), then run each statement (with
    `params[i]`, when given)."""
    if on_pg(db):
        con = _connect(db)
    else:
        con = sqlite3.connect(db, isolation_level=None)
    try:
        for trigger in drop:
            if on_pg(db):
                for (table,) in con.execute(
                        "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                        "WHERE t.tgname = ?", (trigger,)).fetchall():
                    con.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
            else:
                con.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        for i, sql in enumerate(statements):
            con.execute(sql, params[i] if params else ())
    finally:
        con.close()


def copy_db(src, dst) -> None:
    """A consistent copy (the backup API, so WAL content comes too), private like the original;
    on PostgreSQL, `dst` becomes a new database copied from `src`."""
    if on_pg(src):
        import pg_support

        pg_support.copy(src, dst)
        return
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()
    os.chmod(dst, 0o600)
    copy_key(src, dst)


def copy_key(src, dst) -> None:
    """The clinic key of `src` beside `dst` (a copy of a clinic is verified with its key)."""
    key = key_file(src)
    if key.exists():
        target = key_file(dst)
        target.write_bytes(key.read_bytes())
        os.chmod(target, 0o600)


def key_file(db) -> Path:
    """The clinic key of the test database `db` (beside the file; for PostgreSQL, the file
    the test points KETACLI_KEY_FILE at)."""
    return db.key if on_pg(db) else Path(f"{db}.key")


def mode(path) -> int:
    """A file's permission bits."""
    return stat.S_IMODE(os.stat(path).st_mode)


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def fhir_references(node):
    """Every value of a "reference" key anywhere in a FHIR resource (a JSON document)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference":
                yield v
            else:
                yield from fhir_references(v)
    elif isinstance(node, list):
        for item in node:
            yield from fhir_references(item)


# -- a database built once per module, copied into each test's own -----------------------
def build_once(tmp_path_factory, name: str, build) -> tuple:
    """Run `build(cli)` on a fresh database in conftest's pinned environment: (its path,
    what build returned)."""
    folder = tmp_path_factory.mktemp(name)
    if on_pg():
        import pg_support

        path = pg_support.fresh()
    else:
        path = folder / "clinic.db"
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("KETACLI_"):
                mp.delenv(key)
        for key, value in {"KETACLI_DB": str(path), "KETACLI_TZ": CLINIC_TZ,
                           "KETACLI_CLINICIAN": "nurse.test", "NO_COLOR": "1",
                           "COLUMNS": "80", "TERM": "dumb"}.items():
            mp.setenv(key, value)
        CLOCK.pin(FIXED_NOW)
        try:
            result = build(Run())
        finally:
            CLOCK.pin(None)
    return path, result


# -- results -------------------------------------------------------------------------------
def ok(r):
    """A successful run, in-process (the `cli` fixture) or of the console script (a
    reliability_support.Done): exit 0 and no traceback. Returns the run."""
    if hasattr(r, "exit_code"):
        code, output, shown = r.exit_code, r.output, (r.exit_code, r.stdout[-2000:], r.stderr)
    else:
        code, output, shown = r.returncode, r.stdout + r.stderr, r
    assert code == 0, shown
    assert "Traceback" not in output, shown
    return r


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_error_lines(stderr: str) -> None:
    """stderr is one `error:` line, first, and nothing after it but the listed unmet
    rules of a refusal ("  - rule: message", one per line) and `hint:` lines."""
    lines = stderr.splitlines()
    assert lines and lines[0].startswith("error: "), stderr
    assert len(error_lines(stderr)) == 1, stderr
    assert all(line.startswith(("error:", "hint:", "  - ")) for line in lines), stderr


def assert_one_error(r, code: int) -> None:
    """An in-process failure: exit `code`, one `error:` line (then only hints), no traceback."""
    assert r.exit_code == code, (r.exit_code, r.stdout[-2000:], r.stderr)
    assert_error_lines(r.stderr)
    assert "Traceback" not in r.output


def assert_error_envelope(stdout: str, stderr: str) -> None:
    """With --json, stdout is exactly the JSON error envelope, and its message is the
    stderr error line."""
    doc = json.loads(stdout)
    assert set(doc) == {"error"}, stdout
    assert set(doc["error"]) <= {"code", "message", "details"}, stdout
    assert doc["error"]["code"], stdout
    assert doc["error"]["message"] == stderr.splitlines()[0].removeprefix("error: ")


def assert_no_pii(*texts: str, pii: tuple[str, ...], allow: tuple[str, ...] = ()) -> None:
    """None of the patient data `pii` in `texts`, whatever the case. `allow`: values typed
    where an MRN goes (errors may name records by MRN, and 1931-05-17 is a valid MRN)."""
    for text in texts:
        for needle in pii:
            if any(needle.casefold() in a.casefold() for a in allow):
                continue
            assert needle.casefold() not in text.casefold(), f"patient data {needle!r} leaked: {text[:500]!r}"


def new_database_actions() -> list[str]:
    """The audit actions a new database starts with: a 'migrate' row per migration (on
    PostgreSQL, the one baseline), the clinic key's 'create' in the migration that adds it,
    then the clinic zone's 'set-tz'. Call it inside a test (it depends on the engine)."""
    from ketacli.store import migrations, pgschema

    actions: list[str] = []
    scripts = pgschema.PG_MIGRATIONS if on_pg() else migrations.MIGRATIONS
    for _, _, sql in scripts:
        actions.append("migrate")
        if "CREATE TABLE clinic_key" in sql:
            actions.append("create")
    return [*actions, "set-tz"]
