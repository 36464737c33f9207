"""Helpers for the controlled-substance ledger CLI tests (`report controlled` in
tests/cli/test_report.py; the ledger's amounts at start-session and discharge in
test_session.py and test_discharge.py): patients screened a week before the pinned day
with a sedative-hypnotic, sessions drawn from a lot, discharges on the pinned day.

Imported as a module (`import ledger_support as ledger`, then `ledger.screen(...)`): its
names would collide with those of infusion_support and outcome_support. `DAY` is the
pinned clinic day, as in infusion_support.
"""

from __future__ import annotations

DAY = "2026-11-27"


def screen(cli, mrn, weight="80"):
    r = cli("screen", mrn, "--name", f"Patient {mrn}", "--weight", weight, "--bp", "120/80",
            "--hr", "70", "--phq9", "2,2,2,2,1,1,2,0,0", "--med", "sedative-hypnotic",
            "--at", "2026-11-20 08:00")
    assert r.exit_code == 0, r.stderr


def start(cli, mrn, lot, drawn, at):
    r = cli("start-session", mrn, "--bp", "124/80", "--hr", "72", "--lot", lot,
            "--drawn-mg", drawn, "--at", f"{DAY} {at}", "--json")
    assert r.exit_code == 0, r.stderr
    return r.json["data"]["session_id"]


def discharge(cli, sid, at, *extra):
    return cli("discharge", sid, "--aldrete", "10", "--bp", "126/80", "--hr", "74",
               "--transport", "escort", "--at", f"{DAY} {at}", *extra, "--json")


def row(cli, sid: int) -> dict:
    """The session's row of `report controlled --json`."""
    r = cli("report", "controlled", "--json")
    assert r.exit_code == 0, r.stderr
    return next(e for e in r.json["data"]["sessions"] if e["session_id"] == sid)
