"""`followup due`, the cron entry point (ketacli.cli.followup; docs/cli-contract.md,
`followup` group and "Who uses it"; README "Reminders from cron"): in-process, what is due
(windows, --overdue, --date in the clinic zone), the CSV, JSON and table views and
idempotent --unnotified --mark-notified; then end to end in subprocesses, `followup due`
and examples/send-reminders.sh under `env -i` (no HOME, LANG=C, no TTY, stdin closed),
run twice.

In-process tests run on the pinned clock (2026-11-27 09:00 America/Chicago). Subprocesses
run on the real clock, so no date is assumed there: what a later run prints is compared
with what the first run printed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers import CLINIC_TZ, FIXED_NOW, KETACLI, build_once, copy_db, csv_rows, query, scalar
from outcome_support import A_WEEK_AGO, NOW_ISO, fails, ok, schedule

from ketacli.clock import CLOCK

# --------------------------------------------------------------------------- in-process
DUE_FIELDS = ["followup_id", "patient", "name", "phone", "kind", "due", "overdue", "notified_at"]


def _build_clinic(cli) -> dict[str, int]:
    """Two patients and six follow-ups scheduled a week ago (one since cancelled, one done):
    ids by name."""
    ok(cli("patient", "add", "FU-A", "--name", "Ann Able", "--phone", "555-0101"))
    ok(cli("patient", "add", "FU-B", "--name", "Bob Baker"))  # no phone
    CLOCK.pin(A_WEEK_AGO)
    ids = {
        "a_call": schedule(cli, "FU-A", "call", "2026-11-22")["followup_id"],
        "b_infusion": schedule(cli, "FU-B", "infusion", "2026-11-27")["followup_id"],
        "a_assessment": schedule(cli, "FU-A", "assessment", "2026-11-29")["followup_id"],
        "b_call": schedule(cli, "FU-B", "call", "2026-12-05")["followup_id"],
        "a_cancelled": schedule(cli, "FU-A", "call", "2026-11-24")["followup_id"],
        "b_done": schedule(cli, "FU-B", "call", "2026-11-23")["followup_id"],
    }
    CLOCK.pin(FIXED_NOW)
    assert cli("followup", "cancel", str(ids["a_cancelled"]), "--reason", "x").exit_code == 0
    assert cli("followup", "done", str(ids["b_done"])).exit_code == 0
    return ids


@pytest.fixture(scope="module")
def clinic_db(tmp_path_factory, engine):
    return build_once(tmp_path_factory, "due", _build_clinic)


@pytest.fixture
def clinic(clinic_db, db_path) -> dict[str, int]:
    path, ids = clinic_db
    copy_db(path, db_path)
    return ids


def due_ids(cli, *args) -> list[int]:
    return [x["followup_id"] for x in ok(cli("followup", "due", *args, "--json"))]


def test_due_default_is_pending_up_to_today(cli, clinic):
    r = cli("followup", "due", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert set(r.json) == {"data"}
    rows = r.json["data"]
    assert rows == [
        {"followup_id": clinic["a_call"], "patient": "FU-A", "name": "Ann Able",
         "phone": "555-0101", "kind": "call", "due": "2026-11-22", "overdue": True,
         "notified_at": None},
        {"followup_id": clinic["b_infusion"], "patient": "FU-B", "name": "Bob Baker",
         "phone": None, "kind": "infusion", "due": "2026-11-27", "overdue": False,
         "notified_at": None},
    ]
    assert all(list(x) == DUE_FIELDS for x in rows)
    assert due_ids(cli) == [x["followup_id"] for x in rows]  # --json and --format json agree


def test_due_within_overdue_and_date(cli, clinic):
    c = clinic
    assert due_ids(cli, "--within", "0") == [c["a_call"], c["b_infusion"]]
    assert due_ids(cli, "--within", "2") == [c["a_call"], c["b_infusion"], c["a_assessment"]]
    assert due_ids(cli, "--within", "7") == [c["a_call"], c["b_infusion"], c["a_assessment"]]
    assert due_ids(cli, "--within", "8") == [c["a_call"], c["b_infusion"], c["a_assessment"],
                                             c["b_call"]]
    assert due_ids(cli, "--overdue") == [c["a_call"]]
    assert due_ids(cli, "--overdue", "--within", "8") == [c["a_call"]]
    assert due_ids(cli, "--date", "2026-11-21") == []
    rows = ok(cli("followup", "due", "--date", "2026-11-22", "--json"))
    assert [(x["followup_id"], x["overdue"]) for x in rows] == [(c["a_call"], False)]
    rows = ok(cli("followup", "due", "--date", "2026-11-29", "--json"))
    assert [(x["followup_id"], x["overdue"]) for x in rows] == [
        (c["a_call"], True), (c["b_infusion"], True), (c["a_assessment"], False)]
    assert due_ids(cli, "--date", "2026-11-29", "--overdue") == [c["a_call"], c["b_infusion"]]
    # a future --date is fine for a listing
    assert due_ids(cli, "--date", "2026-12-31") == [c["a_call"], c["b_infusion"],
                                                    c["a_assessment"], c["b_call"]]


def test_due_csv(cli, clinic):
    r = cli("followup", "due", "--format", "csv", "--within", "2")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "followup_id,patient,name,phone,kind,due,overdue,notified_at"
    assert csv_rows(r.stdout) == [
        {"followup_id": str(clinic["a_call"]), "patient": "FU-A", "name": "Ann Able",
         "phone": "555-0101", "kind": "call", "due": "2026-11-22", "overdue": "yes",
         "notified_at": ""},
        {"followup_id": str(clinic["b_infusion"]), "patient": "FU-B", "name": "Bob Baker",
         "phone": "", "kind": "infusion", "due": "2026-11-27", "overdue": "no", "notified_at": ""},
        {"followup_id": str(clinic["a_assessment"]), "patient": "FU-A", "name": "Ann Able",
         "phone": "555-0101", "kind": "assessment", "due": "2026-11-29", "overdue": "no",
         "notified_at": ""},
    ]
    assert r.stderr == ""

    empty = cli("followup", "due", "--format", "csv", "--date", "2026-11-01")
    assert empty.exit_code == 0
    assert empty.stdout == "followup_id,patient,name,phone,kind,due,overdue,notified_at\n"


def test_due_table(cli, clinic):
    r = cli("followup", "due", "--within", "2")
    assert r.exit_code == 0, r.stderr
    for text in ("FU-A", "Ann Able", "555-0101", "FU-B", "Bob Baker", "2026-11-22", "2026-11-29",
                 "infusion", "assessment"):
        assert text in r.stdout, text
    assert "2026-12-05" not in r.stdout
    assert max(len(line) for line in r.stdout.splitlines()) <= 80


def test_due_bad_input(cli, clinic):
    fails(cli("followup", "due", "--date", "2026-02-30"), 2)
    fails(cli("followup", "due", "--date", "27/11/2026"), 2)
    fails(cli("followup", "due", "--format", "xml"), 2)
    assert cli("followup", "due", "--within", "-1").exit_code == 2
    assert cli("followup", "due", "--within", "lots").exit_code == 2
    r = cli("followup", "due", "--date", "2026-02-30", "--json")
    assert r.exit_code == 2 and "error" in r.json


def test_mark_notified_is_idempotent_with_unnotified(cli, db_path, clinic):
    c = clinic
    args = ("followup", "due", "--format", "csv", "--unnotified", "--mark-notified")
    first = cli(*args)
    assert first.exit_code == 0, first.stderr
    rows = csv_rows(first.stdout)
    assert [int(x["followup_id"]) for x in rows] == [c["a_call"], c["b_infusion"]]
    assert all(x["notified_at"] == NOW_ISO for x in rows)
    stamped = query(db_path, "SELECT id FROM followups WHERE notified_at IS NOT NULL ORDER BY id")
    assert stamped == [(c["a_call"],), (c["b_infusion"],)]
    audit = query(db_path, "SELECT action, entity, entity_id, patient, detail FROM audit "
                           "WHERE action = 'notify'")
    # one audit row per reminder, naming the follow-up and the patient
    assert [(a[0], a[1], a[2]) for a in audit] == [
        ("notify", "followup", c["a_call"]), ("notify", "followup", c["b_infusion"])]
    assert all(a[3] for a in audit)
    assert {json.loads(a[4])["kind"] for a in audit} <= {"call", "infusion", "assessment"}
    audit_count = scalar(db_path, "SELECT count(*) FROM audit")

    second = cli(*args)
    assert second.exit_code == 0, second.stderr
    assert second.stdout == "followup_id,patient,name,phone,kind,due,overdue,notified_at\n"
    assert scalar(db_path, "SELECT count(*) FROM audit") == audit_count  # nothing new to audit

    # still pending, still listed without --unnotified, with the stamp
    rows = ok(cli("followup", "due", "--json"))
    assert [(x["followup_id"], x["notified_at"]) for x in rows] == [
        (c["a_call"], NOW_ISO), (c["b_infusion"], NOW_ISO)]
    # what falls due later is new
    rows = csv_rows(cli(*args, "--within", "2").stdout)
    assert [int(x["followup_id"]) for x in rows] == [c["a_assessment"]]
    assert cli(*args, "--within", "2").stdout.count("\n") == 1


def test_mark_notified_with_json_and_table(cli, db_path, clinic):
    rows = ok(cli("followup", "due", "--unnotified", "--mark-notified", "--json"))
    assert [x["notified_at"] for x in rows] == [NOW_ISO, NOW_ISO]
    assert ok(cli("followup", "due", "--unnotified", "--mark-notified", "--json")) == []
    r = cli("followup", "due", "--within", "2", "--unnotified", "--mark-notified")
    assert r.exit_code == 0 and "2026-11-29" in r.stdout
    assert scalar(db_path, "SELECT notified_at FROM followups WHERE id = ?",
                  (clinic["a_assessment"],)) == NOW_ISO
    assert scalar(db_path, "SELECT notified_at FROM followups WHERE id = ?",
                  (clinic["b_call"],)) is None


def test_listing_without_mark_notified_stamps_nothing(cli, db_path, clinic):
    for fmt in ("table", "csv", "json"):
        assert cli("followup", "due", "--unnotified", "--format", fmt).exit_code == 0
    assert scalar(db_path, "SELECT count(*) FROM followups WHERE notified_at IS NOT NULL") == 0
    assert scalar(db_path, "SELECT count(*) FROM audit WHERE action = 'notify'") == 0


# --------------------------------------------------------------------------- under cron: env -i
SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "send-reminders.sh"
ENV = shutil.which("env") or "/usr/bin/env"
PATH = "/usr/local/bin:/usr/bin:/bin"
HEADER = "followup_id,patient,name,phone,kind,due,overdue,notified_at"
CLAIM_HEADER = HEADER + ",batch"  # what `followup due --claim --format csv` writes


def run(*argv: str, env: dict[str, str], cwd: Path | None = None, prefix=()) -> subprocess.CompletedProcess:
    """`env -i K=V ... argv` with stdin from /dev/null and no TTY anywhere."""
    cmd = [ENV, "-i", *(f"{k}={v}" for k, v in env.items()), *prefix, *argv]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60, cwd=cwd)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, engine) -> Path:
    """`ketacli demo --patients 15 --seed 3`, built once per module."""
    db = tmp_path_factory.mktemp("demo") / "clinic.db"
    p = run(str(KETACLI), "demo", "--patients", "15", "--seed", "3",
            env={"PATH": PATH, "KETACLI_DB": str(db), "KETACLI_TZ": CLINIC_TZ})
    assert p.returncode == 0, p.stderr
    return db


@pytest.fixture
def db(demo_db, tmp_path) -> Path:
    """A private copy of the demo clinic."""
    path = tmp_path / "cron" / "clinic.db"
    path.parent.mkdir()
    copy_db(demo_db, path)
    return path


@pytest.fixture
def scheduled(db) -> int:
    """Something surely due: a call for DEMO-00001 due today (clinic zone); its id."""
    today = datetime.now(ZoneInfo(CLINIC_TZ)).date().isoformat()
    p = run(str(KETACLI), "followup", "schedule", "DEMO-00001", "--kind", "call", "--due", today,
            "--json", env={"PATH": PATH, "KETACLI_DB": str(db), "KETACLI_TZ": CLINIC_TZ})
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["data"]["followup_id"]


def cron_env(db: Path) -> dict[str, str]:
    return {"PATH": PATH, "KETACLI_DB": str(db), "LANG": "C"}


DUE = ("followup", "due", "--format", "csv", "--unnotified", "--mark-notified")


def test_due_under_env_i_marks_once_and_a_rerun_prints_only_the_header(db, scheduled, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    first = run(str(KETACLI), *DUE, env=cron_env(db), cwd=cwd)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert first.stdout.splitlines()[0] == HEADER
    rows = csv_rows(first.stdout)
    ids = [int(r["followup_id"]) for r in rows]
    assert scheduled in ids
    assert len(ids) == len(set(ids))
    stamps = {r["notified_at"] for r in rows}
    assert len(stamps) == 1 and "" not in stamps
    stamp = stamps.pop()
    assert all(r["overdue"] in ("yes", "no") for r in rows)
    assert all(r["patient"].startswith("DEMO-") for r in rows)

    # the database agrees: exactly these rows are stamped, with one 'notify' audit row each
    stamped = query(db, "SELECT id, notified_at FROM followups WHERE notified_at IS NOT NULL")
    assert sorted(stamped) == sorted((i, stamp) for i in ids)
    audit = query(db, "SELECT entity_id FROM audit WHERE action = 'notify' ORDER BY id")
    assert [a[0] for a in audit] == ids

    second = run(str(KETACLI), *DUE, env=cron_env(db), cwd=cwd)
    assert second.returncode == 0, second.stderr
    assert second.stdout == HEADER + "\n"
    assert second.stderr == ""
    assert len(query(db, "SELECT 1 FROM audit WHERE action = 'notify'")) == len(ids)

    # they are still due (pending), listed again without --unnotified, with their stamp
    again = run(str(KETACLI), "followup", "due", "--format", "csv", env=cron_env(db), cwd=cwd)
    assert again.returncode == 0, again.stderr
    assert [(int(r["followup_id"]), r["notified_at"]) for r in csv_rows(again.stdout)] == [
        (int(r["followup_id"]), r["notified_at"]) for r in rows]
    assert list(cwd.iterdir()) == []  # nothing written next to the cron job


def test_due_with_stdin_closed_and_json(db, scheduled):
    # a truly closed stdin (not /dev/null), as some cron daemons leave it
    first = run(str(KETACLI), "followup", "due", "--json", "--unnotified", "--mark-notified",
                env=cron_env(db), prefix=("/bin/sh", "-c", 'exec <&-; exec "$0" "$@"'))
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)["data"]
    assert scheduled in [r["followup_id"] for r in data]
    assert all(r["notified_at"] for r in data)
    second = run(str(KETACLI), "followup", "due", "--json", "--unnotified", "--mark-notified",
                 env=cron_env(db), prefix=("/bin/sh", "-c", 'exec <&-; exec "$0" "$@"'))
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == {"data": []}


def test_due_errors_under_env_i_are_one_line(tmp_path):
    p = run(str(KETACLI), *DUE, env={"PATH": PATH, "KETACLI_DB": str(tmp_path / "none.db"),
                                     "LANG": "C"})
    assert p.returncode == 4
    assert p.stdout == ""
    assert p.stderr.startswith("error: ") and "Traceback" not in p.stderr
    assert not (tmp_path / "none.db").exists()


# --------------------------------------------------------------------------- send-reminders.sh
def script_env(db: Path, spool: Path, send: str, extra_path: str = "") -> dict[str, str]:
    return {"PATH": extra_path + PATH, "LANG": "C", "KETACLI": str(KETACLI),
            "KETACLI_DB": str(db), "KETACLI_TZ": CLINIC_TZ, "REMINDER_SPOOL": str(spool),
            "REMINDER_SEND": send}


def sent_ids(path: Path) -> list[int]:
    """followup ids in everything the sender received (header lines skipped)."""
    if not path.exists():
        return []
    return [int(line.split(",")[0]) for line in path.read_text().splitlines()
            if line and line not in (HEADER, CLAIM_HEADER)]


def due_now(db: Path) -> list[int]:
    """Everything pending and due within the script's default window (1 day)."""
    p = run(str(KETACLI), "followup", "due", "--within", "1", "--format", "csv",
            env={**cron_env(db), "KETACLI_TZ": CLINIC_TZ})
    assert p.returncode == 0, p.stderr
    return [int(r["followup_id"]) for r in csv_rows(p.stdout)]


def test_send_reminders_twice_sends_each_reminder_once(db, scheduled, tmp_path):
    spool, out = tmp_path / "spool", tmp_path / "sent.txt"
    env = script_env(db, spool, f"cat >> '{out}'")
    first = run(str(SCRIPT), env=env)
    assert first.returncode == 0, first.stderr
    assert out.read_text().splitlines()[0] == CLAIM_HEADER
    after_first = sent_ids(out)
    assert scheduled in after_first

    second = run(str(SCRIPT), env=env)
    assert second.returncode == 0, second.stderr
    ids = sent_ids(out)
    assert ids == after_first                      # the rerun sent nothing more
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(due_now(db))      # every due reminder, exactly once
    files = sorted(p.name for p in spool.iterdir())
    assert len(files) == 2 and all(f.endswith(".csv.sent") for f in files), files
    assert (spool.stat().st_mode & 0o077) == 0     # umask 077: patient data stays private


def test_a_failed_send_is_retried_by_the_next_run(db, scheduled, tmp_path):
    spool, out = tmp_path / "spool", tmp_path / "sent.txt"
    failed = run(str(SCRIPT), env=script_env(db, spool, "false"))
    assert failed.returncode == 1
    assert "failed; it will be retried" in failed.stderr
    pending = [p for p in spool.iterdir() if p.name.endswith(".csv")]
    assert len(pending) == 1
    batch = csv_rows(pending[0].read_text())
    assert scheduled in [int(r["followup_id"]) for r in batch]
    assert not out.exists()

    good = run(str(SCRIPT), env=script_env(db, spool, f"cat >> '{out}'"))
    assert good.returncode == 0, good.stderr
    ids = sent_ids(out)
    assert ids == [int(r["followup_id"]) for r in batch]   # the spooled batch, once
    assert all(p.name.endswith(".csv.sent") for p in spool.iterdir())

    third = run(str(SCRIPT), env=script_env(db, spool, f"cat >> '{out}'"))
    assert third.returncode == 0, third.stderr
    assert sent_ids(out) == ids


def test_a_rerun_within_the_same_second_keeps_the_unsent_batch(db, scheduled, tmp_path):
    """Both runs get the same `date` stamp (a fake `date` first on PATH): the second run's
    empty batch must not overwrite the first run's unsent one."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "date").write_text("#!/bin/sh\necho 20260101T000000Z\n")
    (fake / "date").chmod(0o755)
    spool, out = tmp_path / "spool", tmp_path / "sent.txt"
    failed = run(str(SCRIPT), env=script_env(db, spool, "false", extra_path=f"{fake}:"))
    assert failed.returncode == 1
    batch = [int(r["followup_id"]) for p in spool.glob("*.csv") for r in csv_rows(p.read_text())]
    assert scheduled in batch

    good = run(str(SCRIPT), env=script_env(db, spool, f"cat >> '{out}'", extra_path=f"{fake}:"))
    assert good.returncode == 0, good.stderr
    assert sent_ids(out) == batch
    assert all(p.name.endswith(".csv.sent") for p in spool.iterdir())
    assert len(list(spool.iterdir())) == 2
