"""Dose maths, start-of-infusion rules, the infusion's course, and the order of infusion
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


# --------------------------------------------------------------------------- course: the pump model
# The published check vector: 80 kg x 0.5 mg/kg = 40 mg over 40 min at 60 mg/h.

DOSE = 40.0
RATE = 60.0


def run(*events: Event, end: float | None = None) -> infusion.Course:
    return infusion.course(T0, DOSE, RATE, list(events), end_at=at(end) if end is not None else None)


def pause(m: float) -> Event:
    return Event("pause", at(m))


def resume(m: float) -> Event:
    return Event("resume", at(m))


def stop(m: float) -> Event:
    return Event("stop", at(m))


def rate(m: float, mg_per_h: float) -> Event:
    return Event("rate-change", at(m), mg_per_h)


def segments(c: infusion.Course) -> list[tuple[float, float, float]]:
    """(start min, end min, mg/h) of each segment."""
    return [((s.start - T0).total_seconds() / 60, (s.end - T0).total_seconds() / 60,
             s.rate_mg_per_h) for s in c.segments]


class TestCourse:
    def test_no_events_the_pump_delivers_the_dose_at_the_planned_end(self):
        c = run()
        assert (c.end_at, c.ended_by) == (at(40), "dose")
        assert c.delivered_mg == DOSE
        assert c.paused_min == 0
        assert (c.stopped_early, c.ended_paused) == (False, False)
        assert segments(c) == [(0, 40, 60)]

    def test_a_five_minute_pause_moves_the_end_five_minutes_later(self):
        c = run(pause(10), resume(15))
        assert c.end_at == at(45)
        assert c.delivered_mg == DOSE  # the full dose, not 35 mg
        assert c.paused_min == pytest.approx(5)
        assert (c.ended_by, c.stopped_early, c.ended_paused) == ("dose", False, False)
        assert segments(c) == [(0, 10, 60), (10, 15, 0), (15, 45, 60)]

    def test_two_pauses(self):
        c = run(pause(5), resume(10), pause(30), resume(45))
        assert c.end_at == at(60)
        assert c.paused_min == pytest.approx(20)
        assert c.delivered_mg == DOSE

    def test_events_in_any_order(self):
        assert run(resume(20), pause(10)) == run(pause(10), resume(20))

    def test_a_lower_rate_moves_the_end_later(self):
        # 60 mg/h for 20 min = 20 mg; the other 20 mg at 30 mg/h take 40 min: end at 60 min
        c = run(rate(20, 30))
        assert (c.end_at, c.ended_by, c.delivered_mg) == (at(60), "dose", DOSE)
        assert segments(c) == [(0, 20, 60), (20, 60, 30)]
        assert c.stopped_early is False

    def test_a_higher_rate_moves_the_end_earlier(self):
        # 20 mg by 20 min, then 20 mg at 120 mg/h = 10 min
        assert run(rate(20, 120)).end_at == at(30)

    def test_a_rate_change_during_a_pause_sets_the_rate_for_the_resume(self):
        # 10 mg by 10 min; paused 10-20 (the new rate does not restart the pump);
        # the other 30 mg at 30 mg/h take 60 min: end at 80 min
        c = run(pause(10), rate(15, 30), resume(20))
        assert segments(c) == [(0, 10, 60), (10, 20, 0), (20, 80, 30)]
        assert (c.end_at, c.delivered_mg, c.ended_by) == (at(80), DOSE, "dose")
        assert c.paused_min == pytest.approx(10)

    def test_a_rate_change_during_a_pause_never_resumed(self):
        c = run(pause(10), rate(15, 30))
        assert (c.end_at, c.ended_by) == (at(10), "pause")
        assert c.delivered_mg == pytest.approx(10)

    def test_a_stop_ends_it_early_with_what_ran(self):
        c = run(stop(30))
        assert (c.end_at, c.ended_by) == (at(30), "stop")
        assert c.delivered_mg == pytest.approx(30)
        assert c.stopped_early is True and c.ended_paused is False

    def test_a_stop_during_a_pause(self):
        c = run(pause(10), stop(25))
        assert (c.end_at, c.ended_by) == (at(25), "stop")
        assert c.delivered_mg == pytest.approx(10)
        assert c.paused_min == pytest.approx(15)

    def test_a_stop_after_a_pause_extended_course(self):
        # paused 10 min, so by 45 min only 35 mg ran
        c = run(pause(10), resume(20), stop(45))
        assert c.delivered_mg == pytest.approx(35)
        assert c.stopped_early is True

    def test_rate_change_then_stop(self):
        # 20 mg by 20 min, then 30 mg/h for 20 min = 10 mg
        c = run(rate(20, 30), stop(40))
        assert (c.end_at, c.delivered_mg, c.stopped_early) == (at(40), pytest.approx(30), True)

    def test_a_stop_after_the_dose_ran_out_is_not_early(self):
        c = run(stop(50))
        assert (c.end_at, c.delivered_mg, c.ended_by) == (at(40), DOSE, "dose")
        assert c.stopped_early is False

    def test_a_stop_exactly_at_the_end_is_not_early(self):
        assert run(stop(40)).ended_by == "dose"

    def test_events_after_a_stop_are_ignored(self):
        c = run(stop(20), rate(25, 120), resume(30))
        assert (c.end_at, c.delivered_mg) == (at(20), pytest.approx(20))

    def test_events_after_the_dose_ran_out_are_ignored(self):
        c = run(pause(45), resume(50))
        assert (c.end_at, c.delivered_mg, c.paused_min) == (at(40), DOSE, 0)

    def test_a_pause_never_resumed_ends_the_infusion_at_the_pause(self):
        c = run(pause(15))
        assert (c.end_at, c.ended_by) == (at(15), "pause")
        assert c.delivered_mg == pytest.approx(15)
        assert c.ended_paused is True
        assert c.stopped_early is False  # paused, not stopped
        assert c.paused_min == 0
        assert segments(c) == [(0, 15, 60)]

    def test_an_explicit_end_before_the_pumps_delivers_what_ran(self):
        c = run(end=30)
        assert (c.end_at, c.ended_by) == (at(30), "end")
        assert c.delivered_mg == pytest.approx(30)
        assert c.stopped_early is False

    def test_an_explicit_end_cuts_a_pause_extended_course(self):
        # the pump would end at 50 min; ended at 40 min it had run 30 mg
        c = run(pause(10), resume(20), end=40)
        assert (c.end_at, c.ended_by) == (at(40), "end")
        assert c.delivered_mg == pytest.approx(30)
        assert c.paused_min == pytest.approx(10)

    def test_events_after_an_explicit_end_are_ignored(self):
        assert run(stop(35), end=30) == run(end=30)
        assert run(rate(31, 120), end=30) == run(end=30)
        # paused at 20, resumed only after the end: it ended paused
        c = run(pause(20), resume(35), end=30)
        assert (c.end_at, c.ended_by, c.delivered_mg) == (at(30), "pause", pytest.approx(20))
        assert c.paused_min == pytest.approx(10)

    def test_an_explicit_end_after_the_pumps_keeps_the_dose(self):
        c = run(end=55)
        assert (c.end_at, c.ended_by, c.delivered_mg) == (at(55), "dose", DOSE)

    def test_an_explicit_end_after_a_stop_keeps_what_ran(self):
        c = run(stop(20), end=30)
        assert (c.end_at, c.delivered_mg, c.stopped_early) == (at(30), pytest.approx(20), True)

    def test_the_pumps_end_stored_to_the_second_is_the_pumps_end(self):
        # 20 mg left at 7 mg/h: 171.43 min, not a whole second; stored times are
        c = run(rate(20, 7))
        stored = c.end_at.replace(microsecond=0)
        assert stored < c.end_at
        again = run(rate(20, 7), end=(stored - T0).total_seconds() / 60)
        assert (again.ended_by, again.delivered_mg) == ("dose", DOSE)

    def test_non_pump_events_and_events_before_the_start_are_ignored(self):
        assert run(Event("medication", at(10)), Event("adverse", at(15))) == run()
        assert run(pause(-10)) == run()

    def test_phase_at(self):
        c = run(pause(10), resume(15))  # ends at 45 min
        assert c.phase_at(at(-1)) == "pre"
        assert [c.phase_at(at(m)) for m in (0, 30, 44, 45)] == ["intra"] * 4
        assert c.phase_at(at(45.5)) == "post"

    def test_phase_while_a_pause_may_still_be_resumed(self):
        c = run(pause(15))
        assert c.phase_at(at(20)) == "post"  # discharged: it ended at the pause
        assert c.phase_at(at(20), may_resume=True) == "intra"  # open: still paused
        assert run().phase_at(at(50), may_resume=True) == "post"

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
    def test_the_segments_account_for_the_delivered_dose(self, raw, end_min):
        events = [Event(k, at(m), r if k == "rate-change" else None) for k, m, r in raw]
        c = run(*events, end=end_min)
        assert 0 <= c.delivered_mg <= DOSE + 1e-9
        assert c.end_at >= T0 and c.paused_min >= 0
        assert c.delivered_mg == pytest.approx(min(DOSE, sum(s.mg for s in c.segments)))
        for a, b in zip(c.segments, c.segments[1:], strict=False):
            assert a.end == b.start
        if c.segments:
            assert c.segments[0].start == T0 and c.segments[-1].end <= c.end_at
        if c.ended_by == "dose":
            assert c.delivered_mg == DOSE
        if c.stopped_early:
            assert any(e.kind == "stop" for e in events)
        if end_min is not None:
            assert c.end_at == at(end_min)


def test_minutes_between():
    assert infusion.minutes_between(T0, at(12.34)) == 12.3
    assert infusion.minutes_between(T0, at(-5)) == -5.0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 39), st.integers(1, 30)), max_size=4))
def test_pauses_push_the_end_back_by_their_length(raw):
    # Each pair: run this many more minutes of infusion, then pause this long.
    events, elapsed, ran, paused = [], 0, 0, 0
    for run_min, pause_min in raw:
        if ran + run_min >= 40:
            break
        ran += run_min
        elapsed += run_min
        events += [pause(elapsed), resume(elapsed + pause_min)]
        elapsed += pause_min
        paused += pause_min
    c = run(*events)
    assert c.end_at == at(40 + paused)
    assert c.paused_min == pytest.approx(paused)
    assert c.delivered_mg == DOSE
    assert c.stopped_early is False


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.sampled_from([15.0, 30.0, 60.0, 90.0, 120.0])),
                max_size=4))
def test_rate_changes_deliver_exactly_the_dose(raw):
    # Integrate the stepwise rate from start to the computed end: it must equal the dose.
    events, t = [], 0
    for gap, mg_per_h in raw:
        t += gap
        events.append(rate(t, mg_per_h))
    c = run(*events)
    end_min = (c.end_at - T0).total_seconds() / 60
    steps = [(0.0, RATE)] + [((e.at - T0).total_seconds() / 60, e.rate_mg_per_h) for e in events]
    total = 0.0
    for i, (t0, r) in enumerate(steps):
        t1 = steps[i + 1][0] if i + 1 < len(steps) else float("inf")
        lo, hi = t0, min(t1, end_min)
        if hi > lo:
            total += r * (hi - lo) / 60
    assert total == pytest.approx(DOSE)
    assert c.delivered_mg == DOSE
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
