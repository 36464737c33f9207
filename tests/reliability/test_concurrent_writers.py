"""Many ketacli processes writing one database at once: nothing is lost silently.

Every write either exits 0 with its row in the database or exits 4 with one `error:`
line and nothing stored. Real OS processes run the installed console script; threads
here only wait on them.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from helpers import key_file, ok, on_pg, query, scalar
from reliability_support import assert_error_shape, finish, open_session, popen, real_clock, run, screen

VITALS_WORKERS = 4
VITALS_PER_WORKER = 25
SCREENERS = 2
SCREENS_PER_WORKER = 10
CRON_RUNS = 10


def _accept(r, failures: list) -> bool:
    """True for exit 0; for exit 4 check the error line and count it; anything else fails."""
    if r.returncode == 0:
        assert "Traceback" not in r.stderr
        return True
    assert r.returncode == 4, r
    assert_error_shape(r.returncode, r.stdout, r.stderr, json_out="--json" in map(str, r.args))
    failures.append(r)
    return False


def _due_ids(text: str) -> list[int]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return [int(row["followup_id"]) for row in rows]


def test_concurrent_writers_lose_nothing(cli, db_path, tmp_path):
    now = real_clock()
    sessions = [open_session(cli, f"CW-{w}", now) for w in range(VITALS_WORKERS)]
    for w in range(VITALS_WORKERS):
        for kind in ("call", "assessment", "infusion"):
            ok(cli("followup", "schedule", f"CW-{w}", "--kind", kind, "--due", _clinic_today(now)))
    due_before = {r[0] for r in query(db_path, "SELECT id FROM followups WHERE status = 'pending'")}
    obs_before = dict(query(db_path, "SELECT session_id, count(*) FROM observations "
                                     "GROUP BY session_id"))
    patients_before = scalar(db_path, "SELECT count(*) FROM patients")

    failures: list = []
    lock = threading.Lock()
    writes_ok: dict[int, list[tuple[int, int]]] = {sid: [] for sid in sessions}
    screens_ok: list[str] = []
    screens_failed: list[str] = []
    printed: list[list[int]] = []
    writers_done = threading.Event()

    def vitals_worker(w: int) -> None:
        sid = sessions[w]
        for i in range(VITALS_PER_WORKER):
            r = run(db_path, "log-vitals", sid, "--hr", 60 + i, "--spo2", 96, "--json")
            with lock:
                if _accept(r, failures):
                    data = r.json["data"]
                    assert data["session_id"] == sid
                    writes_ok[sid].append((data["observation_id"], 60 + i))

    def screener(k: int) -> None:
        # a short busy timeout here, so that some writes may really fail under contention
        for i in range(SCREENS_PER_WORKER):
            mrn = f"NEW-{k}-{i}"
            r = run(db_path, "screen", mrn, "--name", "New Patient", "--weight", 70, "--bp",
                    "118/76", "--hr", 68, "--json", KETACLI_BUSY_TIMEOUT="0.05")
            with lock:
                (screens_ok if _accept(r, failures) else screens_failed).append(mrn)

    backups: list = []

    def cron() -> None:
        for n in range(CRON_RUNS):  # spread over the writers' run
            if writers_done.wait(0.4):
                break
            r = run(db_path, "followup", "due", "--mark-notified", "--unnotified", "--format", "csv")
            with lock:
                if _accept(r, failures):
                    printed.append(_due_ids(r.stdout))
            if n in (2, 5):  # the nightly backup, taken while nurses record
                dest = tmp_path / f"backup-{n}.db"  # (on PostgreSQL, a verified SQLite copy)
                b = run(db_path, "db", "backup", dest, "--json")
                with lock:
                    if _accept(b, failures):
                        backups.append(dest)

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=VITALS_WORKERS + SCREENERS + 1) as pool:
        cron_future = pool.submit(cron)
        futures = [pool.submit(vitals_worker, w) for w in range(VITALS_WORKERS)]
        futures += [pool.submit(screener, k) for k in range(SCREENERS)]
        for f in futures:
            f.result()
        writers_done.set()
        cron_future.result()
    elapsed = time.monotonic() - t0

    # vitals: every exit-0 write is in the database, with its value, and nothing else is
    total_ok = 0
    for sid, done in writes_ok.items():
        rows = query(db_path, "SELECT id, hr FROM observations WHERE session_id = ? AND phase != 'pre'",
                     (sid,))
        assert sorted(rows) == sorted(done), f"session {sid}: stored rows differ from exit-0 writes"
        assert scalar(db_path, "SELECT count(*) FROM observations WHERE session_id = ?", (sid,)) \
            == obs_before[sid] + len(done)
        total_ok += len(done)
    # one audit row per stored observation
    assert scalar(db_path, "SELECT count(*) FROM audit WHERE action = 'create' AND "
                           "entity = 'observation'") == sum(obs_before.values()) + total_ok

    # screenings: exit 0 means the patient and the screening are there; exit 4 means neither
    stored = {r[0] for r in query(db_path, "SELECT mrn FROM patients WHERE mrn LIKE 'NEW-%'")}
    assert stored == set(screens_ok)
    assert not stored & set(screens_failed)
    assert scalar(db_path, "SELECT count(*) FROM patients") == patients_before + len(screens_ok)
    assert scalar(db_path, "SELECT count(*) FROM screenings s JOIN patients p ON p.id = s.patient_id "
                           "WHERE p.mrn LIKE 'NEW-%'") == len(screens_ok)

    # reminders: no follow-up printed twice, and a last run prints whatever is left
    flat = [i for ids in printed for i in ids]
    assert len(flat) == len(set(flat)), "a reminder was printed twice"
    last = ok(run(db_path, "followup", "due", "--mark-notified", "--unnotified", "--format", "csv"))
    assert set(flat) | set(_due_ids(last.stdout)) == due_before
    assert not set(flat) & set(_due_ids(last.stdout))
    assert scalar(db_path, "SELECT count(*) FROM followups WHERE notified_at IS NULL") == 0

    check = run(db_path, "db", "check", "--json")
    assert check.returncode == 0, check
    assert check.json["data"]["ok"] is True

    # each backup is a consistent snapshot: checks pass, and every observation in it has its
    # audit row (no write caught half-way)
    assert backups, "no backup was taken during the writes"
    for dest in backups:
        # verified with the clinic's key (none is written beside a backup)
        assert run(dest, "db", "check", KETACLI_KEY_FILE=str(key_file(db_path))).returncode == 0
        assert scalar(dest, "SELECT count(*) FROM observations") == scalar(
            dest, "SELECT count(*) FROM audit WHERE action = 'create' AND entity = 'observation'")

    writes = VITALS_WORKERS * VITALS_PER_WORKER + SCREENERS * SCREENS_PER_WORKER
    print(f"\n{writes} writes by {VITALS_WORKERS + SCREENERS} writer processes "
          f"+ {len(printed) + 1} cron runs + {len(backups)} online backups in {elapsed:.1f} s: "
          f"{total_ok + len(screens_ok)} stored, {len(failures)} refused with exit 4, 0 lost")
    # with the default 15 s busy timeout every vital sign lands
    assert total_ok == VITALS_WORKERS * VITALS_PER_WORKER


def test_racing_start_session_one_wins(cli, db_path):
    """Two processes start an infusion for the same patient at once: one wins, one gets 3."""
    now = real_clock()
    rounds = 5
    for k in range(rounds):
        screen(cli, f"RACE-{k}", when=now - timedelta(hours=1))
    for k in range(rounds):
        args = ("start-session", f"RACE-{k}", "--bp", "124/78", "--hr", "70", "--json")
        procs = [popen(db_path, *args) for _ in range(2)]
        results = [finish(p, args) for p in procs]
        codes = sorted(r.returncode for r in results)
        assert codes == [0, 3], results
        loser = next(r for r in results if r.returncode == 3)
        assert_error_shape(3, loser.stdout, loser.stderr, json_out=True)
        assert loser.json["error"]["code"] == "open_session_exists"
        winner = next(r for r in results if r.returncode == 0)
        sid = winner.json["data"]["session_id"]
        assert query(db_path, "SELECT s.id FROM sessions s JOIN patients p ON p.id = s.patient_id "
                              "WHERE p.mrn = ?", (f"RACE-{k}",)) == [(sid,)]
        # one pre-infusion observation, for the winner's session only
        assert query(db_path, "SELECT session_id FROM observations o JOIN sessions s "
                              "ON s.id = o.session_id JOIN patients p ON p.id = s.patient_id "
                              "WHERE p.mrn = ?", (f"RACE-{k}",)) == [(sid,)]
    assert ok(run(db_path, "db", "check")).returncode == 0


def test_two_cron_runs_at_once_split_the_reminders(cli, db_path):
    """Two `followup due --unnotified --mark-notified` at once: disjoint rows, union = all due."""
    now = real_clock()
    for p in range(4):
        screen(cli, f"CRON-{p}", when=now - timedelta(hours=1), note=None)
    for rnd in range(3):
        for p in range(4):
            for kind in ("call", "assessment", "infusion"):
                r = ok(cli("followup", "schedule", f"CRON-{p}", "--kind", kind, "--due",
                           _clinic_today(now), "--json"))
                assert r.json["data"]["status"] == "pending"
        # one not yet due: never printed
        ok(cli("followup", "schedule", "CRON-0", "--kind", "call", "--due",
               _clinic_today(now + timedelta(days=2))))
        due = {r[0] for r in query(db_path, "SELECT id FROM followups WHERE status = 'pending' "
                                            "AND notified_at IS NULL AND due <= ?",
                                   (_clinic_today(now),))}
        assert len(due) == 12
        args = ("followup", "due", "--unnotified", "--mark-notified", "--format", "csv")
        procs = [popen(db_path, *args) for _ in range(2)]
        results = [finish(p, args) for p in procs]
        for r in results:
            assert r.returncode == 0, r
            assert r.stdout.startswith("followup_id,patient,name,phone,kind,due,overdue,notified_at")
        a, b = (set(_due_ids(r.stdout)) for r in results)
        assert not a & b, f"round {rnd}: both runs printed {sorted(a & b)}"
        assert a | b == due, f"round {rnd}: printed {sorted(a | b)}, due {sorted(due)}"
        assert scalar(db_path, "SELECT count(*) FROM followups WHERE notified_at IS NULL "
                               "AND due <= ?", (_clinic_today(now),)) == 0


def _clinic_today(now) -> str:
    from ketacli.clock import zone

    return now.astimezone(zone("America/Chicago")).date().isoformat()


def test_first_run_by_several_processes_at_once(db_path, other_db):
    """Four processes meet a database that does not exist yet (PostgreSQL: one without the
    ketacli schema), twice: one creates and migrates it under the write lock, all four
    records land, and each migration runs exactly once."""
    from ketacli.store import migrations, pgschema

    scripts = pgschema.PG_MIGRATIONS if on_pg() else migrations.MIGRATIONS
    for db in (db_path, other_db):
        args = [("patient", "add", f"FR-{i}", "--name", "First Run", "--json") for i in range(4)]
        procs = [popen(db, *a) for a in args]
        results = [finish(p, a) for p, a in zip(procs, args, strict=True)]
        assert [r.returncode for r in results] == [0, 0, 0, 0], results
        assert scalar(db, "SELECT count(*) FROM patients") == 4
        assert query(db, "SELECT version FROM schema_migrations ORDER BY version") == [
            (v,) for v, _, _ in scripts]
        assert scalar(db, "SELECT count(*) FROM audit WHERE action = 'migrate'") == len(scripts)
        if not on_pg():
            assert scalar(db, "PRAGMA journal_mode") == "wal"
        assert ok(run(db, "db", "check")).returncode == 0
