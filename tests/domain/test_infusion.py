"""Dose maths, the infusion's course, and the order of infusion
events and the pump's state (ketacli.domain.infusion)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketacli import protocol
from ketacli.domain import infusion
from ketacli.domain.infusion import Event

P = protocol.load()
T0 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
TODAY = date(2026, 11, 27)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --------------------------------------------------------------------------- plan


class TestPlan:
    def test_reference_example(self):
        # clinical-reference.md: 80 kg x 0.5 mg/kg = 40 mg over 40 min = 60 mg/h; 10 mg/mL -> 6 mL/h
        p = infusion.plan(80, 0.5, 40, 10)
        assert p.dose_mg == pytest.approx(40.0)
        assert p.rate_mg_per_h == pytest.approx(60.0)
        assert p.rate_ml_per_h == pytest.approx(6.0)
        assert p.weight_kg == 80
        assert p.dose_mg_per_kg == 0.5
        assert p.duration_min == 40
        assert p.concentration_mg_per_ml == 10

    def test_no_concentration_no_ml_rate(self):
        p = infusion.plan(80, 0.5, 40)
        assert p.rate_ml_per_h is None
        assert p.concentration_mg_per_ml is None
        assert p.rate_mg_per_h == pytest.approx(60.0)

    def test_stored_exact_not_rounded(self):
        # 73.3 kg x 0.75 mg/kg = 54.975 mg over 55 min = 59.97272... mg/h
        p = infusion.plan(73.3, 0.75, 55, 1.0)
        assert p.dose_mg == pytest.approx(54.975)
        assert p.rate_mg_per_h == pytest.approx(54.975 * 60 / 55)
        assert p.rate_ml_per_h == pytest.approx(54.975 * 60 / 55)

    def test_one_mg_per_kg_over_an_hour(self):
        p = infusion.plan(62.5, 1.0, 60, 50)
        assert p.dose_mg == pytest.approx(62.5)
        assert p.rate_mg_per_h == pytest.approx(62.5)
        assert p.rate_ml_per_h == pytest.approx(1.25)


# --------------------------------------------------------------------------- course

DOSE = 40.0  # 80 kg x 0.5 mg/kg
RATE = 60.0  # mg/h over 40 min


class TestCourse:
    def test_no_events(self):
        c = infusion.course(T0, DOSE, RATE, [])
        assert c.end_at == at(40)
        assert c.delivered_mg == pytest.approx(DOSE)
        assert c.paused_min == 0
        assert c.stopped_early is False

    def test_ten_minute_pause(self):
        c = infusion.course(T0, DOSE, RATE, [Event("pause", at(10)), Event("resume", at(20))])
        assert c.end_at == at(50)
        assert c.delivered_mg == pytest.approx(DOSE)
        assert c.paused_min == pytest.approx(10)
        assert c.stopped_early is False

    def test_events_in_any_order(self):
        c = infusion.course(T0, DOSE, RATE, [Event("resume", at(20)), Event("pause", at(10))])
        assert c.end_at == at(50)
        assert c.paused_min == pytest.approx(10)

    def test_two_pauses(self):
        events = [Event("pause", at(5)), Event("resume", at(10)),
                  Event("pause", at(30)), Event("resume", at(45))]
        c = infusion.course(T0, DOSE, RATE, events)
        assert c.end_at == at(60)
        assert c.paused_min == pytest.approx(20)
        assert c.delivered_mg == pytest.approx(DOSE)

    def test_stop_half_way(self):
        c = infusion.course(T0, DOSE, RATE, [Event("stop", at(20))])
        assert c.end_at == at(20)
        assert c.delivered_mg == pytest.approx(20.0)
        assert c.stopped_early is True

    def test_stop_during_a_pause(self):
        c = infusion.course(T0, DOSE, RATE, [Event("pause", at(10)), Event("stop", at(25))])
        assert c.end_at == at(25)
        assert c.delivered_mg == pytest.approx(10.0)
        assert c.paused_min == pytest.approx(15)
        assert c.stopped_early is True

    def test_events_after_a_stop_are_ignored(self):
        events = [Event("stop", at(20)), Event("rate-change", at(25), 120.0),
                  Event("resume", at(30))]
        c = infusion.course(T0, DOSE, RATE, events)
        assert c.end_at == at(20)
        assert c.delivered_mg == pytest.approx(20.0)

    def test_rate_change(self):
        # 60 mg/h for 20 min = 20 mg; the other 20 mg at 30 mg/h takes 40 min: end at 60 min.
        c = infusion.course(T0, DOSE, RATE, [Event("rate-change", at(20), 30.0)])
        assert c.end_at == at(60)
        assert c.delivered_mg == pytest.approx(DOSE)
        assert c.stopped_early is False

    def test_rate_increase(self):
        # 20 mg by 20 min, then 20 mg at 120 mg/h = 10 min: end at 30 min.
        c = infusion.course(T0, DOSE, RATE, [Event("rate-change", at(20), 120.0)])
        assert c.end_at == at(30)
        assert c.delivered_mg == pytest.approx(DOSE)

    def test_rate_change_then_stop(self):
        # 20 mg by 20 min, then 30 mg/h for 20 min = 10 mg.
        c = infusion.course(T0, DOSE, RATE,
                            [Event("rate-change", at(20), 30.0), Event("stop", at(40))])
        assert c.end_at == at(40)
        assert c.delivered_mg == pytest.approx(30.0)
        assert c.stopped_early is True

    def test_explicit_end_earlier_pro_rates(self):
        c = infusion.course(T0, DOSE, RATE, [], end_at=at(30))
        assert c.end_at == at(30)
        assert c.delivered_mg == pytest.approx(30.0)
        assert c.stopped_early is True

    def test_explicit_end_later_caps_at_the_dose(self):
        c = infusion.course(T0, DOSE, RATE, [], end_at=at(55))
        assert c.end_at == at(55)
        assert c.delivered_mg == pytest.approx(DOSE)
        assert c.stopped_early is False

    def test_explicit_end_wins_over_stop(self):
        c = infusion.course(T0, DOSE, RATE, [Event("stop", at(20))], end_at=at(30))
        assert c.end_at == at(30)
        assert c.delivered_mg == pytest.approx(30.0)

    def test_explicit_end_with_a_pause(self):
        c = infusion.course(T0, DOSE, RATE, [Event("pause", at(10)), Event("resume", at(20))],
                            end_at=at(40))
        assert c.delivered_mg == pytest.approx(30.0)
        assert c.paused_min == pytest.approx(10)
        assert c.stopped_early is True

    def test_pause_never_resumed_ends_at_the_pause(self):
        c = infusion.course(T0, DOSE, RATE, [Event("pause", at(15))])
        assert c.end_at == at(15)
        assert c.delivered_mg == pytest.approx(15.0)
        assert c.stopped_early is True

    def test_event_after_the_dose_ran_out(self):
        c = infusion.course(T0, DOSE, RATE, [Event("pause", at(45)), Event("resume", at(50))])
        assert c.end_at == at(40)
        assert c.delivered_mg == pytest.approx(DOSE)
        assert c.paused_min == 0
        assert c.stopped_early is False

    def test_non_rate_events_are_ignored(self):
        events = [Event("medication", at(10)), Event("adverse", at(15))]
        c = infusion.course(T0, DOSE, RATE, events)
        assert c.end_at == at(40)
        assert c.delivered_mg == pytest.approx(DOSE)

    def test_events_before_start_are_ignored(self):
        c = infusion.course(T0, DOSE, RATE, [Event("pause", at(-10))])
        assert c.end_at == at(40)

    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["pause", "resume", "rate-change", "stop", "medication"]),
                st.integers(0, 120),
                st.floats(5, 200),
            ),
            max_size=6,
        ),
        st.one_of(st.none(), st.integers(1, 150)),
    )
    def test_delivered_never_exceeds_dose(self, raw, end_min):
        events = [Event(k, at(m), r if k == "rate-change" else None) for k, m, r in raw]
        end = at(end_min) if end_min is not None else None
        c = infusion.course(T0, DOSE, RATE, events, end_at=end)
        assert 0 <= c.delivered_mg <= DOSE + 1e-9
        assert c.end_at >= T0
        assert c.paused_min >= 0
        if not c.stopped_early:
            assert c.delivered_mg == pytest.approx(DOSE)


def test_minutes_between():
    assert infusion.minutes_between(T0, at(12.34)) == 12.3
    assert infusion.minutes_between(T0, at(-5)) == -5.0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 39), st.integers(1, 30)), max_size=4))
def test_pauses_push_the_end_back_by_their_length(raw):
    # Each pair: run this many more minutes of infusion, then pause this long.
    events, elapsed, ran, paused = [], 0, 0, 0
    for run, pause in raw:
        if ran + run >= 40:
            break
        ran += run
        elapsed += run
        events += [Event("pause", at(elapsed)), Event("resume", at(elapsed + pause))]
        elapsed += pause
        paused += pause
    c = infusion.course(T0, DOSE, RATE, events)
    assert c.end_at == at(40 + paused)
    assert c.paused_min == pytest.approx(paused)
    assert c.delivered_mg == pytest.approx(DOSE)
    assert c.stopped_early is False


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.sampled_from([15.0, 30.0, 60.0, 90.0, 120.0])),
                max_size=4))
def test_rate_changes_deliver_exactly_the_dose(raw):
    # Integrate the stepwise rate from start to the computed end: it must equal the dose.
    events, t = [], 0
    for gap, rate in raw:
        t += gap
        events.append(Event("rate-change", at(t), rate))
    c = infusion.course(T0, DOSE, RATE, events)
    end_min = (c.end_at - T0).total_seconds() / 60
    steps = [(0.0, RATE)] + [((e.at - T0).total_seconds() / 60, e.rate_mg_per_h) for e in events]
    total = 0.0
    for i, (t0, rate) in enumerate(steps):
        t1 = steps[i + 1][0] if i + 1 < len(steps) else float("inf")
        lo, hi = t0, min(t1, end_min)
        if hi > lo:
            total += rate * (hi - lo) / 60
    assert total == pytest.approx(DOSE)
    assert c.delivered_mg == pytest.approx(DOSE)
    assert c.stopped_early is False


def test_stop_logged_after_the_dose_ran_out():
    # The contract's default end is the stop event; the dose is not exceeded and not "early".
    c = infusion.course(T0, DOSE, RATE, [Event("stop", at(50))])
    assert c.end_at == at(50)
    assert c.delivered_mg == pytest.approx(DOSE)
    assert c.stopped_early is False


# --------------------------------------------------------------------------- event order and the pump's state


def ev(kind: str, minute: int) -> infusion.Event:
    return infusion.Event(kind, T0 + timedelta(minutes=minute))


def test_state_at_follows_pauses_and_stops():
    events = [ev("pause", 10), ev("resume", 15), ev("stop", 30)]
    assert infusion.state_at(events, T0 + timedelta(minutes=5)) == "running"
    assert infusion.state_at(events, T0 + timedelta(minutes=12)) == "paused"
    assert infusion.state_at(events, T0 + timedelta(minutes=20)) == "running"
    assert infusion.state_at(events, T0 + timedelta(minutes=31)) == "stopped"


@pytest.mark.parametrize("events, kind, minute, code", [
    ([], "resume", 5, "event_state"),
    ([ev("pause", 10)], "pause", 12, "event_state"),
    ([ev("stop", 20)], "rate-change", 25, "event_state"),
    ([ev("stop", 20)], "stop", 25, "event_state"),
    ([ev("pause", 10), ev("resume", 15)], "pause", 12, "event_order"),  # backdated
    ([ev("stop", 30)], "pause", 20, "event_order"),
])
def test_event_conflicts(events, kind, minute, code):
    got = infusion.event_conflict(events, kind, T0 + timedelta(minutes=minute))
    assert got is not None and got[0] == code


@pytest.mark.parametrize("events, kind, minute", [
    ([], "pause", 5), ([ev("pause", 10)], "resume", 12), ([ev("stop", 20)], "medication", 25),
    ([ev("stop", 20)], "adverse", 25), ([], "rate-change", 5),
])
def test_allowed_events(events, kind, minute):
    assert infusion.event_conflict(events, kind, T0 + timedelta(minutes=minute)) is None


def test_default_end_is_the_stop_else_start_plus_duration():
    assert infusion.default_end(T0, 40, []) == T0 + timedelta(minutes=40)
    assert infusion.default_end(T0, 40, [ev("pause", 10), ev("resume", 20)]) == \
        T0 + timedelta(minutes=40)  # pauses do not extend it
    assert infusion.default_end(T0, 40, [ev("stop", 25)]) == T0 + timedelta(minutes=25)


def test_course_to_default_end_pro_rates_pauses():
    c = infusion.course_to_default_end(T0, 40, 60, 40, [ev("pause", 10), ev("resume", 20)])
    assert c.end_at == T0 + timedelta(minutes=40)
    assert c.delivered_mg == pytest.approx(30) and c.paused_min == pytest.approx(10)
    early = infusion.course_to_default_end(T0, 40, 60, 40, [], not_after=T0 + timedelta(minutes=20))
    assert early.delivered_mg == pytest.approx(20) and early.stopped_early
