"""PostgreSQL: many ketacli processes over TCP, a writer killed mid-transaction, and the
storage faults a server adds (down, login refused, the write lock held too long).

The installed console script runs as real OS processes with KETACLI_DB = the test's
database URL (TCP on 127.0.0.1); writers are serialized by the advisory write lock
(ketacli/store/pg.py). Every exit-0 write is in the database with its audit row, every
failure is exit 4 with one `error:` line and stored nothing, two cron runs never print
the same reminder, and the audit log stays one chain, ids 1..n.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pg_support
import pytest
from helpers import counts, diff, ok, query, scalar
from reliability_support import (
    assert_error_shape,
    env_for,
    finish,
    iso,
    open_session,
    popen,
    real_clock,
    run,
    screen,
    start,
)

pytestmark = pytest.mark.postgresql_only

SESSIONS = 6
VITALS_PER_SESSION = 4  # 24 log-vitals processes
SCREENS = 6
CRONS = 2
DISCHARGED = 4
WITHIN = "60"  # the cron's window: every follow-up a discharge schedules falls in it
CRON = ("followup", "due", "--unnotified", "--mark-notified", "--within", WITHIN,
        "--format", "csv")


def _due_ids(text: str) -> list[int]:
    return [int(row["followup_id"]) for row in csv.DictReader(io.StringIO(text))]


def _clinic_day(now, days: int = 0) -> str:
    from ketacli.clock import zone

    return (now.astimezone(zone("America/Chicago")) + timedelta(days=days)).date().isoformat()


def _discharged(cli, mrn: str, now) -> None:
    """A patient discharged half an hour ago: the discharge scheduled its follow-ups."""
    screen(cli, mrn, when=now - timedelta(hours=3), note=None)
    sid = start(cli, mrn, when=now - timedelta(hours=2))
    ok(cli("discharge", sid, "--aldrete", "10", "--bp", "124/80", "--hr", "72",
           "--transport", "escort", "--at", iso(now - timedelta(minutes=30)), "--json"))


def _failed_cleanly(r) -> None:
    """A refused write: exit 4, one `error:` line (then hints), no traceback."""
    assert r.returncode == 4, r
    assert_error_shape(4, r.stdout, r.stderr, json_out="--json" in r.args)


def _assert_one_chain(db) -> int:
    """The audit log is one chain: ids 1..n without gaps, each row linked to the row before
    it, `audit --verify` and `db check` pass. Returns n."""
    rows = query(db, "SELECT id, prev_hash, hash FROM audit ORDER BY id")
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1)), "audit ids have a gap"
    for before, after in itertools.pairwise(rows):
        assert after[1] == before[2], f"audit row {after[0]} does not follow row {before[0]}"
    assert len({r[2] for r in rows}) == len(rows)
    verify = run(db, "audit", "--verify", "--json")
    assert verify.returncode == 0, verify
    check = run(db, "db", "check", "--json")
    assert check.returncode == 0, check
    assert check.json["data"]["ok"] is True, check.stdout
    return len(rows)


def _storm(cli, db, *, sessions: int = SESSIONS, per_session: int = VITALS_PER_SESSION,
           screens: int = SCREENS, discharged: int = DISCHARGED):
    """Set up open sessions and due follow-ups, then start every writer at once (by
    default 32: 24 log-vitals on 6 sessions, 6 screen, 2 cron runs). Returns (results,
    due ids, counts before, seconds)."""
    now = real_clock()
    chairs = [open_session(cli, f"PGV-{i}", now) for i in range(sessions)]
    for i in range(discharged):
        _discharged(cli, f"PGD-{i}", now)
    for i in range(sessions):  # and a call due today for each patient on a chair
        ok(cli("followup", "schedule", f"PGV-{i}", "--kind", "call", "--due", _clinic_day(now)))
    ok(cli("followup", "schedule", "PGV-0", "--kind", "call", "--due", _clinic_day(now, 90)))
    due = {r[0] for r in query(db, "SELECT id FROM followups WHERE status = 'pending' AND "
                                   "notified_at IS NULL AND due <= ?", (_clinic_day(now, 60),))}
    assert len(due) >= discharged * 2 + sessions

    jobs = [("vitals", (sid, 60 + k), ("log-vitals", sid, "--hr", 60 + k, "--spo2", 97, "--json"))
            for sid in chairs for k in range(per_session)]
    jobs += [("screen", f"PGN-{k}", ("screen", f"PGN-{k}", "--name", "New Patient", "--weight",
                                     70, "--bp", "118/76", "--hr", 68, "--json"))
             for k in range(screens)]
    jobs += [("cron", n, CRON) for n in range(CRONS)]
    before = counts(db)
    t0 = time.monotonic()
    procs = [(kind, what, args, popen(db, *args)) for kind, what, args in jobs]
    done = [(kind, what, finish(p, args, timeout=90)) for kind, what, args, p in procs]
    return done, due, before, time.monotonic() - t0


def _check_storm(db, done, due, before) -> dict:
    """Everything the 32 writers said they stored is there with its audit row; nothing of a
    refused write is; the cron runs split the due reminders."""
    stored = {"vitals": 0, "screen": 0, "refused": 0}
    refused_mrns = []
    for kind, what, r in done:
        if r.returncode != 0:
            _failed_cleanly(r)
            stored["refused"] += 1
            if kind == "screen":
                refused_mrns.append(what)
            assert kind != "cron", r  # a cron run that fails leaves its claim released
            continue
        assert "Traceback" not in r.stderr, r
        if kind == "vitals":
            sid, hr = what
            oid = r.json["data"]["observation_id"]
            assert query(db, "SELECT session_id, hr FROM observations WHERE id = ?", (oid,)) \
                == [(sid, hr)]
            assert scalar(db, "SELECT count(*) FROM audit WHERE action = 'create' AND "
                              "entity = 'observation' AND entity_id = ?", (oid,)) == 1
            stored["vitals"] += 1
        elif kind == "screen":
            data = r.json["data"]
            assert query(db, "SELECT p.mrn FROM screenings s JOIN patients p ON "
                             "p.id = s.patient_id WHERE s.id = ?", (data["screening_id"],)) \
                == [(what,)]
            assert scalar(db, "SELECT count(*) FROM audit WHERE action = 'create' AND "
                              "entity = 'screening' AND entity_id = ?",
                          (data["screening_id"],)) == 1
            stored["screen"] += 1
    # nothing more than the exit-0 writes (a refused one stored nothing)
    change = diff(before, counts(db))
    assert change.get("observations", 0) == stored["vitals"]
    assert change.get("screenings", 0) == stored["screen"]
    assert change.get("patients", 0) == stored["screen"]
    stored_mrns = {r[0] for r in query(db, "SELECT mrn FROM patients WHERE mrn LIKE 'PGN-%'")}
    assert not stored_mrns & set(refused_mrns)

    # the two cron runs: disjoint, together everything due, each stamped once
    printed = [_due_ids(r.stdout) for kind, _, r in done if kind == "cron"]
    flat = [i for ids in printed for i in ids]
    assert len(flat) == len(set(flat)), f"a reminder was printed twice: {printed}"
    assert set(flat) == due, f"printed {sorted(flat)}, due {sorted(due)}"
    unstamped = {r[0] for r in query(db, "SELECT id FROM followups WHERE notified_at IS NULL")}
    assert not unstamped & due
    assert query(db, "SELECT entity_id, count(*) FROM audit WHERE action = 'notify' AND "
                     "entity = 'followup' GROUP BY entity_id HAVING count(*) > 1") == []
    assert scalar(db, "SELECT count(*) FROM audit WHERE action = 'notify'") == len(due)
    # a third run prints nothing: every reminder went out once
    again = ok(run(db, *CRON))
    assert _due_ids(again.stdout) == []
    stored["cron"] = [len(ids) for ids in printed]
    return stored


def test_32_writers_over_tcp_lose_nothing_and_never_duplicate_a_reminder(cli, db_path):
    assert str(db_path).startswith("postgresql://postgres@127.0.0.1:")
    done, due, before, elapsed = _storm(cli, db_path)
    assert len(done) == 32
    stored = _check_storm(db_path, done, due, before)
    n = _assert_one_chain(db_path)
    print(f"\n32 writer processes over TCP in {elapsed:.1f} s: {stored['vitals']} vitals + "
          f"{stored['screen']} screenings stored, {stored['refused']} refused with exit 4; "
          f"{len(due)} reminders split {stored['cron']} by the two cron runs; audit 1..{n}")
    # with the default 15 s busy timeout nobody waits long enough to give up
    assert stored["refused"] == 0


def test_writers_keep_their_guarantees_when_the_database_defaults_to_serializable(cli, db_path):
    """A DBA may make SERIALIZABLE (or REPEATABLE READ) the database's default. A writer's
    snapshot must still be taken after it holds the write lock: else it reads an old audit
    head and max(id) and fails (a unique violation, or a serialization failure)."""
    pg_support.admin(f'ALTER DATABASE "{db_path.dbname}" SET default_transaction_isolation '
                     "= 'serializable'")
    done, due, before, elapsed = _storm(cli, db_path, sessions=2, per_session=3, screens=2,
                                        discharged=2)
    stored = _check_storm(db_path, done, due, before)
    _assert_one_chain(db_path)
    print(f"\nSERIALIZABLE by default: {len(done)} writers in {elapsed:.1f} s, "
          f"{stored['refused']} refused")
    assert stored["refused"] == 0, [r for _, _, r in done if r.returncode]


# -- kill -9 mid-transaction ------------------------------------------------------------------
HOLDER = r"""
import sys, time
from ketacli.clock import CLOCK, to_utc_iso
from ketacli.domain.records import NewPatient
from ketacli.store import patients
from ketacli.store.db import Actor, open_store

store = open_store(sys.argv[1], Actor(clinician="nurse.killed", os_user="killed"),
                   create=False)
with store.write() as tx:
    now = to_utc_iso(CLOCK.now())
    patients.add(tx, NewPatient(mrn="KILLED-1", name="Half Written", dob=None, sex="U",
                                phone=None, created_at=now, created_by="nurse.killed"))
    tx.audit("note", "patient", None, patient="KILLED-1", detail={"half": True})
    print("inside", flush=True)
    time.sleep(120)
"""


def _holder(db) -> subprocess.Popen:
    """A writer inside its transaction (patient row and two audit rows written, not
    committed), holding the write lock."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], env=env_for(db),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    line = proc.stdout.readline()
    if line.strip() != b"inside":
        proc.kill()
        raise AssertionError(f"the holder never got inside: {line!r} {proc.stderr.read()!r}")
    return proc


def _lock_held(db) -> bool:
    from ketacli.store.pg import WRITE_LOCK

    return bool(scalar(db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                           "granted AND ((classid::bigint << 32) | objid::bigint) = ?",
                       (WRITE_LOCK,)))


def test_kill9_mid_transaction_leaves_no_partial_record(cli, db_path):
    real_clock()
    screen(cli, "PGK-1", note=None)
    before = counts(db_path)
    for trial in range(3):
        proc = _holder(db_path)
        assert _lock_held(db_path)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        t0 = time.monotonic()
        # the server sees the connection drop: the transaction is rolled back, the lock free
        after = run(db_path, "patient", "add", f"PGK-AFTER-{trial}", "--name", "After Kill",
                    "--json", KETACLI_BUSY_TIMEOUT="5")
        waited = time.monotonic() - t0
        assert after.returncode == 0, after
        assert waited < 5, f"the next write waited {waited:.1f} s for a dead writer's lock"
        assert not _lock_held(db_path)
        assert query(db_path, "SELECT id FROM patients WHERE mrn = 'KILLED-1'") == []
        assert scalar(db_path, "SELECT count(*) FROM audit WHERE clinician = 'nurse.killed'") == 0
        assert diff(before, counts(db_path)) == {"patients": trial + 1, "audit": trial + 1}
    _assert_one_chain(db_path)


# -- storage faults: one line, exit 4, never the password -----------------------------------
def test_server_down_is_exit_4_one_line(db_path):
    port = pg_support._free_port()
    url = f"postgresql://postgres:down-secret@127.0.0.1:{port}/ketacli"
    for args in (("patient", "list", "--json"), ("patient", "add", "PGS-1", "--name", "X Y",
                                                  "--json")):
        r = run(url, *args)
        assert_error_shape(r.returncode, r.stdout, r.stderr, expect=4, json_out=True)
        assert r.json["error"]["code"] == "server_unreachable", r
        assert "down-secret" not in r.stdout + r.stderr


def test_wrong_password_is_exit_4_and_never_echoed(db_path):
    url = str(db_path).replace("postgresql://postgres@", "postgresql://ketacli_pw:wrong-secret@")
    for args in (("patient", "list", "--json"), ("db", "info", "--json"),
                 ("screen", "PGA-1", "--name", "X Y", "--weight", 70, "--bp", "118/76",
                  "--hr", 68, "--json"), ("db", "check")):
        r = run(url, *args)
        assert_error_shape(r.returncode, r.stdout, r.stderr, expect=4,
                           json_out="--json" in args)
        if "--json" in args:
            assert r.json["error"]["code"] == "authentication_failed", r
        assert "wrong-secret" not in r.stdout + r.stderr, r
        assert "right-password" not in r.stdout + r.stderr, r
    # the password given in PGPASSWORD (not the URL) is not echoed either
    r = run(str(db_path).replace("postgres@", "ketacli_pw@"), "patient", "list", "--json",
            PGPASSWORD="env-secret")
    assert_error_shape(r.returncode, r.stdout, r.stderr, expect=4, json_out=True)
    assert r.json["error"]["code"] == "authentication_failed"
    assert "env-secret" not in r.stdout + r.stderr


def test_writer_behind_the_write_lock_gives_up_after_the_busy_timeout(cli, db_path):
    real_clock()
    screen(cli, "PGL-1", note=None)
    sid = start(cli, "PGL-1")
    before = counts(db_path)
    proc = _holder(db_path)
    try:
        writes = (("log-vitals", sid, "--hr", 71, "--json"),
                  ("screen", "PGL-2", "--name", "X Y", "--weight", 70, "--bp", "118/76",
                   "--hr", 68, "--json"),
                  ("followup", "due", "--unnotified", "--mark-notified", "--within", "60",
                   "--json"))
        # 0: do not wait at all (on PostgreSQL lock_timeout = 0 would mean wait forever)
        for args, timeout in [*itertools.product(writes, ("0.5",)), (writes[0], "0")]:
            t0 = time.monotonic()
            r = run(db_path, *args, KETACLI_BUSY_TIMEOUT=timeout, timeout=20)
            waited = time.monotonic() - t0
            assert_error_shape(r.returncode, r.stdout, r.stderr, expect=4, json_out=True)
            assert r.json["error"]["code"] == "database_locked", r
            assert "locked by another writer" in r.stderr, r
            assert waited < 5, waited
        # reads are not blocked by the writer
        ok(run(db_path, "patient", "list", "--json", KETACLI_BUSY_TIMEOUT="0.5"))
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    assert counts(db_path) == before
    _assert_one_chain(db_path)


def test_a_password_that_works_is_never_shown_either(cli, db_path):
    """`db info`, `db check` and a refusal name the server, never the URL's password
    (trust authentication here: the password is not needed, and must not be shown)."""
    url = str(db_path).replace("postgresql://postgres@", "postgresql://postgres:ok-secret@")
    missing = run(url, "db", "info", "--json")  # no schema yet
    assert_error_shape(missing.returncode, missing.stdout, missing.stderr, expect=4,
                       json_out=True)
    screen(cli, "PGP-1", note=None)
    for args in (("db", "info", "--json"), ("db", "check", "--json"), ("audit", "--json")):
        r = ok(run(url, *args))
        assert json.loads(r.stdout)["data"]
        assert "ok-secret" not in r.stdout + r.stderr, r
    again = run(url, "patient", "add", "PGP-1", "--name", "X Y", "--json")
    assert_error_shape(again.returncode, again.stdout, again.stderr, expect=3, json_out=True)
    assert "ok-secret" not in missing.stdout + missing.stderr + again.stdout + again.stderr
    assert query(db_path, "SELECT count(*) FROM audit WHERE detail LIKE '%ok-secret%'") == [(0,)]


def test_a_workstation_without_the_clinic_key_reads_but_never_writes(cli, db_path, tmp_path):
    """A second machine on the same server needs the clinic's key file: without it a
    write is exit 4 (clinic_key_missing) and stores nothing; with a copy it writes, and
    the chain stays one."""
    real_clock()
    screen(cli, "PGW-1", note=None)
    before = counts(db_path)
    absent = tmp_path / "absent.key"
    r = run(db_path, "patient", "add", "PGW-2", "--name", "X Y", "--json",
            KETACLI_KEY_FILE=str(absent))
    assert_error_shape(r.returncode, r.stdout, r.stderr, expect=4, json_out=True)
    assert r.json["error"]["code"] == "clinic_key_missing", r
    assert not absent.exists()
    assert counts(db_path) == before
    ok(run(db_path, "patient", "list", "--json", KETACLI_KEY_FILE=str(absent)))
    copy = tmp_path / "copy.key"
    copy.write_bytes(db_path.key.read_bytes())
    copy.chmod(0o600)
    ok(run(db_path, "patient", "add", "PGW-2", "--name", "X Y", "--json",
           KETACLI_KEY_FILE=str(copy)))
    assert diff(before, counts(db_path)) == {"patients": 1, "audit": 1}
    _assert_one_chain(db_path)


def _wait_until_blocked(db, timeout: float = 10) -> None:
    """Until a ketacli backend waits on a lock (its write is inside its transaction)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if scalar(db, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                      "'ketacli' AND wait_event_type = 'Lock' AND datname = current_database()"):
            return
        time.sleep(0.05)
    raise AssertionError("no ketacli writer waited on a lock")


def test_a_deadlock_with_another_client_is_exit_4_and_stores_nothing(cli, db_path):
    """Another program (not ketacli) locks a patient row and then asks for ketacli's write
    lock while a ketacli write waits on that row: the server breaks the deadlock by
    aborting one side. ketacli's side is exit 4 write_conflict, one line, nothing stored
    (there is no retry: between ketacli writers the advisory lock leaves no conflict)."""
    import psycopg

    from ketacli.store.pg import WRITE_LOCK

    real_clock()
    screen(cli, "PGX-1", note=None)
    before = counts(db_path)
    other = psycopg.connect(str(db_path))
    try:
        other.execute("SELECT id FROM patients WHERE mrn = 'PGX-1' FOR UPDATE")
        args = ("patient", "edit", "PGX-1", "--phone", "555-0199", "--reason",
                "number changed on the phone", "--json")
        proc = popen(db_path, *args)
        _wait_until_blocked(db_path)
        t0 = time.monotonic()
        other.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")  # the cycle
        r = finish(proc, args, timeout=30)
        waited = time.monotonic() - t0
    finally:
        other.rollback()
        other.close()
    assert_error_shape(r.returncode, r.stdout, r.stderr, expect=4, json_out=True)
    assert r.json["error"]["code"] == "write_conflict", r
    assert "nothing was stored" in r.stderr
    assert waited < 10, waited
    assert query(db_path, "SELECT phone FROM patients WHERE mrn = 'PGX-1'") != [("555-0199",)]
    assert counts(db_path) == before
    _assert_one_chain(db_path)


def test_two_claiming_senders_at_once_split_the_reminders(cli, db_path):
    """`followup due --claim` from two machines at once: disjoint batches whose union is
    everything due; both acks at once stamp each reminder once."""
    now = real_clock()
    for i in range(4):
        ok(cli("patient", "add", f"PGC-{i}", "--name", f"Claim {i}", "--phone", "555-0100"))
        for kind in ("call", "assessment", "infusion"):
            ok(cli("followup", "schedule", f"PGC-{i}", "--kind", kind, "--due", _clinic_day(now)))
    due = {r[0] for r in query(db_path, "SELECT id FROM followups")}
    args = ("followup", "due", "--unnotified", "--claim", "--format", "csv")
    results = [finish(p, args) for p in [popen(db_path, *args) for _ in range(2)]]
    batches, printed = [], []
    for r in results:
        ok(r)
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        printed.append({int(row["followup_id"]) for row in rows})
        batches += sorted({int(row["batch"]) for row in rows})
    a, b = printed
    assert not a & b and a | b == due, printed
    acks = [("followup", "ack", batch, "--json") for batch in batches]
    for r in [finish(p, a) for p, a in zip([popen(db_path, *a) for a in acks], acks,
                                           strict=True)]:
        ok(r)
    assert query(db_path, "SELECT count(*) FROM followups WHERE notified_at IS NULL") == [(0,)]
    assert query(db_path, "SELECT count(*), count(DISTINCT entity_id) FROM audit WHERE "
                          "action = 'notify'") == [(len(due), len(due))]
    assert _due_ids(ok(run(db_path, "followup", "due", "--unnotified", "--claim",
                           "--format", "csv")).stdout) == []
    _assert_one_chain(db_path)
