"""Corrections after the fact (ketacli.domain.corrections), and the follow-up rules that keep
follow-ups true (ketacli.domain.followups, ketacli.domain.discharge.schedule): late entries,
witnessed waste, a voided session, several follow-ups closed at once."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ketacli.domain import corrections, discharge, followups
from ketacli.domain.charting import SessionRef
from ketacli.domain.followups import Pending
from ketacli.domain.infusion import Event
from ketacli.errors import Conflict, Invalid, NotFound
from ketacli.protocol import Protocol

TZ = ZoneInfo("America/Chicago")
START = datetime(2026, 11, 27, 13, 40, tzinfo=UTC)        # 07:40 clinic time
DISCHARGED = datetime(2026, 11, 27, 14, 55, tzinfo=UTC)   # 08:55
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)           # 09:00
OPEN = SessionRef(7, 1, "KX-1", START, 40, 40.0, 60.0, 50.0, 1)
CLOSED = dataclasses.replace(OPEN, discharged_at=DISCHARGED, infusion_end_at=START + timedelta(
    minutes=40), delivered_mg=40.0)


def late(session, reason="from the paper record", now=NOW, hours=24.0):
    return corrections.late_entry(session, reason, now=now, hours=hours, tz=TZ)


# -- late entries ----------------------------------------------------------------------------
def test_an_open_session_takes_an_entry_with_or_without_late():
    assert late(OPEN, None) is None
    assert late(OPEN, "monitor unplugged") == "monitor unplugged"


def test_a_discharged_session_needs_late():
    with pytest.raises(Conflict) as exc:
        late(CLOSED, None)
    assert exc.value.code == "session_closed"
    assert exc.value.message == ("session 7 was discharged at 08:55; add a late entry with "
                                 "--late REASON")
    assert late(CLOSED) == "from the paper record"


@pytest.mark.parametrize(("after", "allowed"), [
    (timedelta(hours=23, minutes=59, seconds=59), True), (timedelta(hours=24), False),
    (timedelta(days=3), False)])
def test_the_late_entry_window_ends_at_late_entry_hours(after, allowed):
    now = DISCHARGED + after
    if allowed:
        assert late(CLOSED, now=now) == "from the paper record"
        return
    with pytest.raises(Conflict) as exc:
        late(CLOSED, now=now)
    assert exc.value.code == "late_window_closed"
    assert "2026-11-27 08:55, more than 24 h ago" in exc.value.message


def test_the_window_is_the_protocols():
    assert late(CLOSED, now=DISCHARGED + timedelta(hours=30), hours=48) is not None
    with pytest.raises(Conflict):
        late(CLOSED, now=DISCHARGED + timedelta(minutes=31), hours=0.5)


def test_a_voided_session_takes_nothing():
    voided = dataclasses.replace(OPEN, voided=True)
    with pytest.raises(Conflict) as exc:
        late(voided, None)
    assert exc.value.code == "session_voided"


@pytest.mark.parametrize(("minutes", "error"), [
    (-1, "before_start"), (0, None), (75, None), (76, "after_discharge")])
def test_charted_between_the_start_and_the_discharge(minutes, error):
    when = START + timedelta(minutes=minutes)
    args = {"now": NOW, "hours": 24.0, "tz": TZ}
    if error is None:
        assert corrections.charted(CLOSED, when, "paper", **args) == "paper"
        return
    with pytest.raises(Invalid) as exc:
        corrections.charted(CLOSED, when, "paper", **args)
    assert exc.value.code == error


@pytest.mark.parametrize(("kind", "allowed"), [
    ("medication", True), ("adverse", True), ("pause", False), ("resume", False),
    ("stop", False), ("rate-change", False)])
def test_a_closed_infusion_takes_only_medication_and_adverse_events(kind, allowed):
    when = START + timedelta(minutes=50)
    args = {"now": NOW, "hours": 24.0, "tz": TZ, "kind": kind}
    if allowed:
        assert corrections.charted(CLOSED, when, "paper", **args) == "paper"
        assert corrections.charted(OPEN, when, None, **args) is None
    else:
        with pytest.raises(Conflict) as exc:
            corrections.charted(CLOSED, when, "paper", **args)
        assert exc.value.code == "late_event_kind"


def test_a_late_reason_is_text():
    assert corrections.late_reason(None) is None
    assert corrections.late_reason("  paper  ") == "paper"
    with pytest.raises(Invalid):
        corrections.late_reason("   ")


# -- waste ----------------------------------------------------------------------------------------
def form(mg=10.0, witness="rn.b", at="2026-11-27 09:00", late_reason=None, clinician="rn.a"):
    return corrections.WasteForm.parse(session_id=7, mg=mg, witness=witness, at=at,
                                       late=late_reason, clinician=clinician, tz=TZ)


def waste(session, f, events=(), now=NOW):
    return corrections.waste(f, session, list(events), clinician="rn.a", now=now, hours=24.0,
                             tz=TZ)


def test_waste_form():
    f = form(mg=10.04)
    assert (f.mg, f.witness, f.late) == (10.0, "rn.b", None)
    for kwargs, code in (({"mg": None}, "missing_value"), ({"witness": None}, "missing_witness"),
                         ({"witness": "  "}, "missing_witness"),
                         ({"witness": "RN.A"}, "invalid_witness"), ({"mg": 0}, None),
                         ({"mg": -1}, None)):
        with pytest.raises(Invalid) as exc:
            form(**kwargs)
        if code:
            assert exc.value.code == code


@pytest.mark.parametrize(("session", "events", "given"), [
    (OPEN, [], 40.0),                                                      # the planned dose
    (OPEN, [Event("stop", START + timedelta(minutes=20), None)], 20.0),    # what ran
    (CLOSED, [], 40.0),                                                    # the discharged dose
    (dataclasses.replace(CLOSED, voided=True), [], 0.0),                   # nothing counts
])
def test_what_counts_as_given(session, events, given):
    assert corrections.given_mg(session, events) == given


def test_waste_on_an_open_session_up_to_what_is_left():
    w = waste(OPEN, form(mg=10))
    assert (w.session_id, w.mg, w.witness, w.late_reason) == (7, 10.0, "rn.b", None)
    with pytest.raises(Invalid) as exc:
        waste(OPEN, form(mg=10.1))
    assert exc.value.code == "amounts_exceed_drawn"
    with pytest.raises(Invalid):  # earlier waste counts too
        waste(dataclasses.replace(OPEN, wasted_mg=5.0), form(mg=5.1))


def test_waste_on_a_discharged_session_is_a_late_entry():
    with pytest.raises(Conflict):
        waste(CLOSED, form())
    w = waste(CLOSED, form(late_reason="witness came back"))
    assert w.late_reason == "witness came back"
    with pytest.raises(Conflict):
        waste(CLOSED, form(late_reason="too late"), now=DISCHARGED + timedelta(hours=25))


def test_waste_reconciles_a_voided_session_at_any_time():
    voided = dataclasses.replace(CLOSED, voided=True)
    w = waste(voided, form(mg=50), now=DISCHARGED + timedelta(days=9))
    assert w.mg == 50.0
    with pytest.raises(Invalid):
        waste(voided, form(mg=50.1))
    result = corrections.waste_result(w, 3, voided, [])
    assert (result["wasted_total_mg"], result["unaccounted_mg"], result["voided_session"]) == (
        50.0, 0.0, True)


def test_waste_before_the_start_is_refused():
    with pytest.raises(Invalid) as exc:
        waste(OPEN, form(at="2026-11-27 07:30"))
    assert exc.value.code == "before_start"


# -- follow-ups --------------------------------------------------------------------------------
def test_closable_is_all_or_none():
    status = {1: "pending", 2: "pending", 3: "done", 4: "cancelled"}
    assert corrections.closable([2, 1, 2], status) == [2, 1]
    with pytest.raises(NotFound) as nf:
        corrections.closable([1, 9, 8], status)
    assert nf.value.message == "no follow-up 9, 8; nothing was changed"
    with pytest.raises(Conflict) as cf:
        corrections.closable([1, 3, 4], status)
    assert cf.value.message == ("follow-up 3 is already done, 4 is already cancelled; "
                                "nothing was changed")
    with pytest.raises(Invalid):
        corrections.closable([], status)


PENDING = [Pending(1, "call", "2026-11-28"), Pending(2, "infusion", "2026-11-29"),
           Pending(3, "call", "2026-11-20"), Pending(4, "screening", "2026-12-01"),
           Pending(5, "assessment", "2026-12-05")]


def test_a_start_supersedes_every_pending_call():
    assert followups.superseded_by_start(PENDING) == [1, 3]
    assert followups.closed_by_start(PENDING) == [2]


def test_a_screening_completes_the_screening_followups():
    assert followups.closed_by_screening(PENDING) == [4]


def test_a_voided_session_cancels_all_it_booked():
    assert corrections.booked_by_voided_session(PENDING[:2]) == [1, 2]


SCHED = Protocol().schedule
DAY = date(2026, 11, 27)


@pytest.mark.parametrize(("n", "valid_until", "want"), [
    (6, date(2026, 12, 20), ("screening", date(2026, 12, 20))),  # maintenance at +28 is after
    (7, date(2026, 12, 24), ("screening", date(2026, 12, 24))),
    (7, date(2026, 12, 25), None),                               # due on the last valid day
    (2, date(2026, 11, 28), ("screening", date(2026, 11, 28))),  # induction at +2 is after
    (2, None, None),                                             # no screening on file
    (2, date(2026, 11, 26), ("screening", DAY)),                 # never before the discharge
])
def test_a_screening_followup_when_the_next_infusion_falls_after_expiry(n, valid_until, want):
    plan = discharge.schedule(n, DAY, SCHED, screening_valid_until=valid_until)
    extra = [(p.kind, p.due) for p in plan if p.kind == "screening"]
    assert extra == ([want] if want else [])
    if want:
        assert "valid until" in plan[-1].note
    assert [p.kind for p in plan if p.kind != "screening"] == [
        p.kind for p in discharge.schedule(n, DAY, SCHED)]


def test_a_voided_start_books_its_infusion_again():
    closed = [corrections.Closed(2, 1, "infusion", "2026-11-27"),
              corrections.Closed(1, 1, "call", "2026-11-26")]
    [again] = corrections.rebooked_after_void(9, closed, at="2026-11-27T15:00:00+00:00",
                                              clinician="rn.a")
    assert (again.patient_id, again.kind, again.due, again.session_id) == (
        1, "infusion", "2026-11-27", None)
    assert "session 9" in again.note and "follow-up 2" in again.note


def test_never_two_different_values_of_one_measure_at_one_instant():
    readings = [{"observation_id": 12, "sbp": 128, "dbp": 80, "hr": 72, "spo2": None}]
    corrections.one_value_per_instant(7, {"hr": 72, "spo2": 97}, readings)  # same, or new
    corrections.one_value_per_instant(7, {"hr": 90}, [])
    with pytest.raises(Conflict) as exc:
        corrections.one_value_per_instant(7, {"sbp": 130, "dbp": 80, "hr": 72}, readings)
    assert exc.value.code == "conflicting_reading"
    assert "different sbp at that time (observation 12)" in exc.value.message
    assert exc.value.hint == "ketacli void observation 12 --reason TEXT"


def test_readings_taken_now_are_each_their_own_moment():
    readings = [{"observation_id": 12, "hr": 72}]
    corrections.one_value_per_instant(7, {"hr": 73}, readings, charted_time=False)
