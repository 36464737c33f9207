"""SIGKILL in the middle of writing: transactions are the unit of safety.

`ketacli demo` writes its synthetic clinic in batches of 25 patients, one BEGIN
IMMEDIATE transaction each (patients, screenings, sessions, observations, discharges,
side effects, follow-ups, assessments, each with its audit row, and the batch's audit
row). Killing it at random moments must leave a database that passes `db check` and
holds only whole batches: no discharge without its discharge observation and its
scheduled follow-ups. The killed demo is still a demo database: it refuses real patients
and `demo --remove` deletes it (completing it is tests/cli/test_demo.py's).
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
from collections import Counter
from datetime import date, datetime

from helpers import CLINIC_TZ, query, scalar
from reliability_support import popen, run

TRIALS = 5
SEED = 20261127
BATCH = 25
PATIENTS = 1000  # far more than can be written before the kill (several seconds per 100)


def _check_whole(db) -> int:
    """The invariants of a database a kill may have interrupted; returns the patient count."""
    from ketacli import protocol
    from ketacli.clock import zone
    from ketacli.domain.discharge import schedule

    check = run(db, "db", "check", "--json")
    assert check.returncode == 0, check
    assert check.json["data"]["ok"] is True, check.stdout

    patients = scalar(db, "SELECT count(*) FROM patients")
    assert patients % BATCH == 0 or patients == PATIENTS, f"half a batch survived: {patients}"

    # each batch wrote one audit row listing its row counts: together they are the database
    batches = [json.loads(d) for (d,) in query(
        db, "SELECT detail FROM audit WHERE action = 'demo' ORDER BY id")]
    assert len(batches) * BATCH == patients
    expected = Counter()
    for b in batches:
        expected.update(b["rows"])
    for table in ("patients", "screenings", "sessions", "observations", "events", "discharges",
                  "side_effects", "followups", "assessments"):
        assert scalar(db, f"SELECT count(*) FROM {table}") == expected.get(table, 0), table

    # no half-written session
    assert scalar(db, """SELECT count(*) FROM discharges d WHERE NOT EXISTS (
        SELECT 1 FROM observations o WHERE o.session_id = d.session_id AND o.phase = 'discharge')""") == 0
    assert scalar(db, """SELECT count(*) FROM sessions s WHERE NOT EXISTS (
        SELECT 1 FROM observations o WHERE o.session_id = s.id)""") == 0
    assert scalar(db, """SELECT count(*) FROM (SELECT patient_id FROM sessions s WHERE NOT EXISTS
        (SELECT 1 FROM discharges d WHERE d.session_id = s.id) GROUP BY patient_id
        HAVING count(*) > 1)""") == 0
    # every discharge scheduled exactly what the protocol says for infusion number n (and a
    # re-screening when the next infusion falls after the session's screening expires)
    sched = protocol.load(None).schedule
    tz = zone(CLINIC_TZ)
    made: dict[int, Counter] = {}
    for sid, kind, due in query(db, "SELECT session_id, kind, due FROM followups "
                                    "WHERE session_id IS NOT NULL"):
        made.setdefault(sid, Counter())[(kind, due)] += 1
    for sid, n, at, valid in query(
            db, "SELECT s.id, s.number_in_series, d.at, sc.valid_until FROM discharges d "
                "JOIN sessions s ON s.id = d.session_id "
                "LEFT JOIN screenings sc ON sc.id = s.screening_id"):
        day = datetime.fromisoformat(at).astimezone(tz).date()
        until = date.fromisoformat(valid) if valid else None
        planned = Counter((p.kind, p.due.isoformat())
                          for p in schedule(n, day, sched, screening_valid_until=until))
        assert made.get(sid, Counter()) == planned, f"session {sid}: follow-ups {made.get(sid)}"
    assert set(made) <= {r[0] for r in query(db, "SELECT session_id FROM discharges")}
    return patients


def test_sigkill_during_demo_leaves_only_whole_batches(tmp_path):
    rng = random.Random(SEED)
    survived = []
    for trial in range(TRIALS):
        db = tmp_path / f"killed-{trial}.db"
        proc = popen(db, "demo", "--patients", PATIENTS, "--seed", trial + 1, "--json")
        delay = rng.uniform(1.0, 6.0)
        try:
            proc.wait(timeout=delay)
            raise AssertionError(f"demo of {PATIENTS} finished within {delay:.2f} s: no kill")
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        if not db.exists():  # killed before it created the file: nothing to check
            survived.append(0)
            continue
        survived.append(_check_whole(db))
        # the killed demo is still the demo's: real patients are refused, and it can be removed
        if survived[-1]:
            r = run(db, "patient", "add", "REAL-1", "--name", "After Crash", "--json")
            assert r.returncode == 3 and r.json["error"]["code"] == "demo_database", r
        r = run(db, "demo", "--remove", "--json")
        assert r.returncode == 0, r
        assert not db.exists()
    print(f"\n{TRIALS} kill -9 trials (seed {SEED}); patients kept per trial: {survived}")
    assert sum(survived) > 0, "no trial got far enough to write a batch: raise the delays"
