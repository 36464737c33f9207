"""The board's rules (ketacli.domain.board): phase, when vital signs are due and overdue,
the 40-minute BP and the earliest discharge (docs/cli-contract.md, `board`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ketacli.domain import board
from ketacli.domain.board import OpenSession, Reading
from ketacli.domain.infusion import Event
from ketacli.protocol import Discharge, Monitoring

T0 = datetime(2026, 11, 27, 13, 40, tzinfo=UTC)  # 07:40 in Chicago
RULES = Monitoring()  # 10 min while infusing, 15 after
DIS = Discharge()  # 30 min of observation after the end


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def reading(minutes: float, phase: str = "intra", sbp: int | None = 130, **kw) -> Reading:
    return Reading(m(minutes), minutes, phase, sbp, 80 if sbp else None, kw.get("hr", 70),
                   kw.get("spo2"), tuple(kw.get("alerts", ())))


def session(*readings: Reading, events=(), sid=1, start=T0) -> OpenSession:
    # 40 mg at 60 mg/h: the pump's end is 40 minutes after the start
    return OpenSession(sid, f"MRN-{sid}", "Name", "Chair 1", start, 40.0, 60.0, tuple(events),
                       tuple(readings))


PRE = reading(0, "pre")


# -- phase ----------------------------------------------------------------------------
def test_infusing_until_the_pumps_end_then_observing():
    s = session(PRE)
    assert board.phase(s, m(39)) == "infusing"
    assert board.phase(s, m(40)) == "observing"


def test_paused_while_a_pause_is_not_resumed():
    s = session(PRE, events=[Event("pause", m(10), None)])
    assert board.phase(s, m(15)) == "paused"
    assert board.phase(s, m(90)) == "paused"  # an open session's pause may still resume


def test_a_pause_moves_the_end_later():
    s = session(PRE, events=[Event("pause", m(10), None), Event("resume", m(15), None)])
    assert board.phase(s, m(42)) == "infusing"  # 40 min + 5 paused: ends at 45
    assert board.phase(s, m(45)) == "observing"


def test_a_stop_ends_the_infusion_early():
    s = session(PRE, events=[Event("stop", m(20), None)])
    assert board.phase(s, m(21)) == "observing"


# -- next vitals due, overdue --------------------------------------------------------
def test_due_every_intra_interval_while_infusing_from_the_last_reading():
    s = session(PRE, reading(12))
    assert board.next_vitals_due(s, "infusing", RULES) == m(22)
    assert board.next_vitals_due(s, "paused", RULES) == m(22)


def test_due_every_post_interval_while_observing():
    s = session(PRE, reading(38))
    assert board.next_vitals_due(s, "observing", RULES) == m(53)


def test_due_at_the_start_without_any_reading():
    assert board.next_vitals_due(session(), "infusing", RULES) == T0


def test_the_interval_comes_from_the_protocol():
    s = session(PRE)
    assert board.next_vitals_due(s, "infusing", Monitoring(intra_interval_min=5)) == m(5)


def test_overdue_only_once_the_due_time_has_passed():
    assert board.overdue(m(10), m(10)) is False
    assert board.overdue(m(10), m(10) + timedelta(seconds=1)) is True


# -- the 40-minute BP ---------------------------------------------------------------
@pytest.mark.parametrize("minutes", [25, 40, 55])
def test_bp_40min_done_with_a_bp_within_15_minutes_of_minute_40(minutes):
    assert board.bp_40min(session(PRE, reading(minutes)), m(60)) == "done"


@pytest.mark.parametrize("minutes", [24.9, 55.1])
def test_a_bp_outside_the_window_does_not_count(minutes):
    assert board.bp_40min(session(PRE, reading(minutes)), m(50)) == "due"


def test_a_reading_without_bp_does_not_count():
    assert board.bp_40min(session(PRE, reading(40, sbp=None)), m(50)) == "due"


def test_bp_40min_missed_once_minute_55_has_passed_without_one():
    s = session(PRE, reading(20))
    assert board.bp_40min(s, m(55)) == "due"
    assert board.bp_40min(s, m(55.5)) == "missed"


# -- earliest discharge ----------------------------------------------------------------
def test_earliest_discharge_is_the_end_plus_the_observation_minutes():
    s = session(PRE)
    assert board.earliest_discharge(board.course_now(s, m(5)), DIS) == m(70)


def test_a_running_pause_counts_as_resumed_now():
    s = session(PRE, events=[Event("pause", m(10), None)])
    # paused 10..25 so far: the earliest end is 40 + 15 = 55, discharge from 85
    assert board.earliest_discharge(board.course_now(s, m(25)), DIS) == m(85)


# -- rows ------------------------------------------------------------------------------
def test_row_has_every_contract_key():
    s = session(PRE, reading(12, spo2=97, alerts=[{"level": "warning", "parameter": "sbp"}]))
    r = board.row(s, m(25), RULES, DIS)
    assert set(r) >= {"session_id", "patient", "name", "chair", "started_at", "minutes_in",
                      "phase", "last_vitals", "next_vitals_due", "vitals_overdue", "bp_40min",
                      "earliest_discharge"}
    assert r["minutes_in"] == 25 and r["phase"] == "infusing"
    assert r["last_vitals"] == {"at": "2026-11-27T13:52:00+00:00", "bp": "130/80", "hr": 70,
                                "spo2": 97, "alerts": [{"level": "warning", "parameter": "sbp"}]}
    assert r["next_vitals_due"] == "2026-11-27T14:02:00+00:00"
    assert r["vitals_overdue"] is True
    assert r["earliest_discharge"] == "2026-11-27T14:50:00+00:00"


def test_no_reading_gives_null_last_vitals():
    assert board.row(session(), m(1), RULES, DIS)["last_vitals"] is None


def test_board_rows_are_ordered_by_start():
    late, early = session(sid=1, start=m(10)), session(sid=2, start=m(0))
    assert [r["session_id"] for r in board.board([late, early], m(20), RULES, DIS)] == [2, 1]
    assert board.board([], m(20), RULES, DIS) == []


def test_phases_and_bp_states_are_the_vocabulary():
    from ketacli.domain import vocab

    assert board.PHASES == vocab.BOARD_PHASES == ("infusing", "paused", "observing")
    assert board.BP_40MIN == vocab.BP_40MIN_STATES == ("due", "done", "missed")
