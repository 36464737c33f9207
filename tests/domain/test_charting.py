"""Charting during a session (ketacli.domain.charting): nothing before the start, the
observation's phase, and events in time order and in a state that allows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ketacli import protocol
from ketacli.clock import CLOCK
from ketacli.domain import charting
from ketacli.domain.forms import EventForm, VitalsForm
from ketacli.domain.infusion import Event
from ketacli.errors import Conflict, Invalid

P = protocol.load()
TZ = ZoneInfo("America/Chicago")
T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=2)
SESSION = charting.SessionRef(7, 1, "MRN-1", T0, 40.0, 40.0, 60.0, 40.0, 1)


@pytest.fixture(autouse=True)
def pinned():
    CLOCK.pin(NOW)
    yield
    CLOCK.pin(None)


def vitals_at(minutes: float, **values) -> VitalsForm:
    args = dict(bp=None, hr=None, spo2=None, rr=None, etco2=None, moaas=None, dissociation=None,
                note=None)
    args.update(values or {"hr": 70})
    return VitalsForm.parse(at=(T0 + timedelta(minutes=minutes)).isoformat(), tz=TZ, **args)


def obs(minutes: float, events=(), **values):
    return charting.observation(vitals_at(minutes, **values), SESSION, list(events), P.alerts,
                                clinician="rn.a", now=NOW)


def test_nothing_before_the_start():
    with pytest.raises(Invalid) as e:
        obs(-1)
    assert e.value.code == "before_start"


@pytest.mark.parametrize(("minutes", "phase"), [(0, "intra"), (40, "intra"), (40.5, "post")])
def test_phase_by_the_infusion_end(minutes, phase):
    assert obs(minutes).phase == phase


def test_a_stop_ends_the_intra_phase():
    stop = [Event("stop", T0 + timedelta(minutes=20))]
    assert obs(25, stop).phase == "post"


def test_a_pause_moves_the_intra_phase_later():
    paused = [Event("pause", T0 + timedelta(minutes=10)), Event("resume", T0 + timedelta(minutes=15))]
    assert [obs(m, paused).phase for m in (42, 45, 45.5)] == ["intra", "intra", "post"]


def test_a_pause_not_yet_resumed_is_still_intra():
    assert obs(60, [Event("pause", T0 + timedelta(minutes=10))]).phase == "intra"


def test_the_observation_carries_its_alerts_and_minutes():
    o = obs(12.5, bp="185/104")
    assert o.minutes_into_infusion == 12.5
    assert [(a["level"], a["parameter"]) for a in o.alerts] == [("critical", "sbp"),
                                                                ("warning", "dbp")]
    r = charting.observation_result(o, 33)
    assert r["observation_id"] == 33 and r["sbp"] == 185 and "hr" not in r


def event(kind: str, minutes: float, events=()):
    f = EventForm.parse(target="7", kind=kind, patient=None,
                        detail="ondansetron 4 mg" if kind == "medication" else None,
                        rate=30 if kind == "rate-change" else None,
                        at=(T0 + timedelta(minutes=minutes)).isoformat(), tz=TZ)
    return charting.event(f, SESSION, list(events), clinician="rn.a", now=NOW)


def test_events_follow_the_pump_state():
    assert event("pause", 10).kind == "pause"
    paused = [Event("pause", T0 + timedelta(minutes=10))]
    with pytest.raises(Conflict) as e:
        event("pause", 12, paused)
    assert e.value.code == "event_state"
    with pytest.raises(Conflict) as e:
        event("resume", 5, paused)  # before the recorded pause
    assert e.value.code == "event_order"
    r = charting.event_result(event("resume", 15, paused), 4, SESSION)
    assert (r["event_id"], r["minutes_into_infusion"]) == (4, 15.0)


@pytest.mark.parametrize("kind", ["pause", "rate-change", "stop"])
def test_no_pump_event_after_the_dose_is_delivered(kind):
    """trial2: a pause, rate change or stop typed for the wrong session, long after its
    pump had finished the dose, was stored (and changed nothing)."""
    with pytest.raises(Conflict) as e:
        event(kind, 49)  # 40 mg at 60 mg/h: the pump ended at minute 40
    assert e.value.code == "event_state"
    assert "the pump finished the dose 40 min in" in e.value.message
    assert event(kind, 40).kind == kind  # at the end itself: still the infusion's


def test_a_pause_moves_the_pump_end_so_a_later_stop_is_fine():
    paused = [Event("pause", T0 + timedelta(minutes=10)), Event("resume", T0 + timedelta(minutes=20))]
    assert event("stop", 45, paused).kind == "stop"  # the pump now ends at minute 50
    with pytest.raises(Conflict):
        event("stop", 51, paused)
    assert event("medication", 90).kind == "medication"  # not a pump event
