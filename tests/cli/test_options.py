"""Options and arguments shared by the recording commands (ketacli.cli.options: --at and
SESSION_ID | --patient MRN; docs/cli-contract.md, "Times" and "Exit codes"): a future
--at (exit 2), an unknown session or patient and a closed session (exit 3) are refused the
same way by every command that takes them, and nothing is stored."""

from __future__ import annotations

import pytest
from helpers import counts
from infusion_support import (
    MRN,
    OTHER,
    assert_error,
    at,
    closed_session,
    discharge,
    event,
    screen,
    start,
    unchanged,
    vitals,
)


@pytest.fixture
def closed(cli, db_path):
    sid = closed_session(cli, MRN)
    return sid, counts(db_path)


# -- a future --at: exit 2 -------------------------------------------------------------
FUTURE = at("09:10")  # the pinned now is 09:00: ten minutes ahead


def test_future_at_on_every_recording_command(cli, db_path, live):
    sid, before = live
    cases = [
        screen(cli, OTHER, name=None, when=FUTURE, json_out=False),
        screen(cli, "KX-NEW", when="2026-11-27T15:10:00+00:00", json_out=False),
        start(cli, OTHER, when=FUTURE, json_out=False),
        vitals(cli, sid, "--hr", "80", when=FUTURE, json_out=False),
        vitals(cli, sid, "--hr", "80", when="09:10", json_out=False),
        event(cli, sid, "pause", when=FUTURE, json_out=False),
        discharge(cli, sid, when=FUTURE, json_out=False),
        cli("discharge", sid, "--aldrete", "10", "--bp", "120/80", "--hr", "70",
            "--transport", "escort", "--infusion-end", FUTURE),
    ]
    for r in cases:
        assert_error(r, 2)
        assert "future" in r.stderr
    unchanged(db_path, before)


# -- SESSION_ID | --patient MRN: not found and closed, exit 3 --------------------------
def test_unknown_session_exits_3(cli, db_path, live):
    _, before = live
    for r in (vitals(cli, 999, "--hr", "80"), event(cli, 999, "pause"), discharge(cli, 999),
              cli("summary", "999", "--json")):
        assert_error(r, 3, json_out=True)
        assert "999" in r.stderr
    unchanged(db_path, before)


def test_unknown_patient_exits_3(cli, db_path, live):
    _, before = live
    for r in (cli("log-vitals", "--patient", "NOPE-1", "--hr", "80"),
              cli("log-event", "--patient", "NOPE-1", "pause"),
              cli("discharge", "--patient", "NOPE-1", "--aldrete", "10", "--bp", "120/80",
                  "--hr", "70", "--transport", "escort"),
              start(cli, "NOPE-1", json_out=False)):
        assert_error(r, 3)
        assert "NOPE-1" in r.stderr
    unchanged(db_path, before)


def test_closed_session_exits_3(cli, db_path, closed):
    sid, before = closed
    cases = [
        vitals(cli, sid, "--hr", "80"),
        event(cli, sid, "medication", "--detail", "ondansetron"),
        discharge(cli, sid),
        cli("log-vitals", "--patient", MRN, "--hr", "80", "--json"),
        cli("log-event", "--patient", MRN, "pause", "--json"),
    ]
    for r in cases:
        assert_error(r, 3, json_out=True)
        assert r.json["error"]["code"] in ("session_closed", "no_open_session")
    unchanged(db_path, before)
