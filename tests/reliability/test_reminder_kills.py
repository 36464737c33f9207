"""kill -9 of examples/send-reminders.sh at random moments never loses a reminder.

Each trial schedules a few new follow-ups due today, starts the script (its own process
group, as cron would) and SIGKILLs the whole group at a random moment: while ketacli
claims, while it writes the spool file, while the sender reads it, between the send and
the ack. After the trials one clean run finishes what the kills left. Then every reminder
was sent (at least once) and is stamped notified, and nothing half-written is left in the
spool (no temporary file, no .partial).

The suite runs a short version (TRIALS); the heavy randomized run is marked slow:
`RELIABILITY_SLOW=1 pytest -m slow tests/reliability/test_reminder_kills.py` (150 kills).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from helpers import CLINIC_TZ, KETACLI, ok, query
from reliability_support import env_for, real_clock

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "send-reminders.sh"
TRIALS = 6
SLOW_TRIALS = 150
SEED = 20261203


def _schedule(cli, n: int, start: int) -> None:
    today = datetime.now(ZoneInfo(CLINIC_TZ)).date().isoformat()
    for i in range(start, start + n):
        mrn = f"RK-{i:04d}"
        ok(cli("patient", "add", mrn, "--name", f"Patient {i}", "--phone", "555-0100"))
        ok(cli("followup", "schedule", mrn, "--kind", "call", "--due", today))


def _sent_ids(log: Path) -> set[int]:
    """Follow-up ids the sender received (a line cut by a kill is simply not counted)."""
    ids = set()
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            head = line.split(",", 1)[0]
            if head.isdigit() and line.count(",") >= 8:
                ids.add(int(head))
    return ids


def _kill_trials(cli, db_path, tmp_path, trials: int) -> None:
    real_clock()
    spool, log = tmp_path / "spool", tmp_path / "sent.log"
    protocol = tmp_path / "protocol.toml"
    protocol.write_text("[reminders]\nclaim_minutes = 0\n")  # a stranded claim: due at once
    env = env_for(db_path, KETACLI=str(KETACLI), REMINDER_SPOOL=str(spool),
                  REMINDER_SEND=f"cat >> '{log}'", KETACLI_PROTOCOL=str(protocol))
    rng = random.Random(SEED + trials)
    scheduled = 0
    for _ in range(trials):
        _schedule(cli, 2, scheduled)
        scheduled += 2
        proc = subprocess.Popen(["/bin/sh", str(SCRIPT)], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(rng.uniform(0.0, 1.5))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    final = subprocess.run(["/bin/sh", str(SCRIPT)], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr

    every = {r[0] for r in query(db_path, "SELECT id FROM followups")}
    assert len(every) == scheduled
    assert _sent_ids(log) == every  # no reminder lost
    assert query(db_path, "SELECT count(*) FROM followups WHERE notified_at IS NULL") == [(0,)]
    left = sorted(p.name for p in spool.iterdir() if not p.name.endswith(".csv.sent"))
    assert left == [], left  # no unsent batch, no temporary file, no .partial
    ok(cli("db", "check"))


def test_kill_9_of_send_reminders_loses_nothing(cli, db_path, tmp_path):
    _kill_trials(cli, db_path, tmp_path, TRIALS)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("RELIABILITY_SLOW") != "1", reason="RELIABILITY_SLOW=1 runs it")
def test_150_kills_of_send_reminders_lose_nothing(cli, db_path, tmp_path):
    _kill_trials(cli, db_path, tmp_path, SLOW_TRIALS)
