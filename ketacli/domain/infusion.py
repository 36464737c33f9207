"""Dose maths and the infusion's course (the start rules are `start_rules`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

# Hard bounds of a typo, not clinical thresholds (those are the protocol's).
WEIGHT_KG = (20.0, 350.0)
DOSE_MG_PER_KG = (0.05, 5.0)
DURATION_MIN = (5.0, 240.0)
CONCENTRATION_MG_PER_ML = (0.1, 100.0)
AMOUNT_MG = (0.0, 5000.0)


@dataclass(frozen=True)
class DosePlan:
    weight_kg: float
    dose_mg_per_kg: float
    dose_mg: float
    duration_min: float
    rate_mg_per_h: float
    concentration_mg_per_ml: float | None
    rate_ml_per_h: float | None


def plan(weight_kg: float, mg_per_kg: float, duration_min: float,
         concentration: float | None = None) -> DosePlan:
    """dose = weight x mg/kg; rate = dose / hours; mL/h = rate / concentration."""
    dose = weight_kg * mg_per_kg
    rate = dose / (duration_min / 60.0)
    ml_h = rate / concentration if concentration else None
    return DosePlan(weight_kg, mg_per_kg, dose, duration_min, rate, concentration, ml_h)


@dataclass(frozen=True)
class Event:
    kind: str
    at: datetime
    rate_mg_per_h: float | None = None


# The pump model (docs/cli-contract.md, `discharge`): a pump delivers the planned dose; a
# pause stops it and a rate change changes its rate, so both move the end later. The
# infusion ends when the planned dose has been delivered, at a `stop` if that comes first,
# or at a pause never resumed; an explicit end (discharge --infusion-end) before that cuts
# it short, and events after an explicit end do not count.
PUMP_EVENTS = ("pause", "resume", "rate-change", "stop")
BY_DOSE, BY_STOP, BY_PAUSE, BY_END = "dose", "stop", "pause", "end"
# Stored times are whole seconds: an explicit end this close to the pump's end is that end.
SAME_INSTANT = timedelta(seconds=1)


@dataclass(frozen=True)
class Segment:
    """The pump at one rate from `start` to `end` (0 mg/h while paused)."""

    start: datetime
    end: datetime
    rate_mg_per_h: float

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    @property
    def mg(self) -> float:
        return self.rate_mg_per_h * self.minutes / 60


@dataclass(frozen=True)
class Course:
    """The infusion as the pump ran it: segments from the start to `end_at`, and why it
    ended (`ended_by`: dose, stop, pause never resumed, or an explicit end)."""

    start_at: datetime
    end_at: datetime
    delivered_mg: float
    ended_by: str
    segments: tuple[Segment, ...]

    @property
    def paused_min(self) -> float:
        return sum(s.minutes for s in self.segments if s.rate_mg_per_h == 0)

    @property
    def stopped_early(self) -> bool:
        """Only a `stop` event stops an infusion early."""
        return self.ended_by == BY_STOP

    @property
    def ended_paused(self) -> bool:
        return self.ended_by == BY_PAUSE

    def phase_at(self, t: datetime, *, may_resume: bool = False) -> str:
        """`pre` before the start, `intra` up to the end, `post` after it. On an open
        session a pause not yet resumed has not ended the infusion (`may_resume`)."""
        if t < self.start_at:
            return "pre"
        if t <= self.end_at or (may_resume and self.ended_paused):
            return "intra"
        return "post"


def course(start_at: datetime, dose_mg: float, rate_mg_per_h: float, events: list[Event],
           end_at: datetime | None = None) -> Course:
    """The infusion's course from its start, planned dose, programmed rate and events
    (any order; events before the start, after `end_at`, or not pump events are ignored).

    Without `end_at` the infusion ends where the pump ends it. With `end_at` (an explicit
    end) it ends then: before the pump's end, it delivered what ran until then; after it,
    what the pump delivered (never more than the dose)."""
    pump = sorted((e for e in events if e.kind in PUMP_EVENTS and e.at >= start_at
                   and (end_at is None or e.at <= end_at)), key=lambda e: e.at)
    segments, pump_end, ended_by = _run(start_at, dose_mg, rate_mg_per_h, pump)
    end = pump_end
    if end_at is not None and end_at < pump_end - SAME_INSTANT:
        segments, end, ended_by = _cut(segments, end_at), end_at, BY_END
    elif end_at is not None:
        if ended_by == BY_PAUSE and end_at > pump_end:
            _append(segments, Segment(pump_end, end_at, 0.0))  # still paused until then
        end = end_at
    delivered = dose_mg if ended_by == BY_DOSE else min(dose_mg, sum(s.mg for s in segments))
    return Course(start_at, end, delivered, ended_by, tuple(segments))


def _run(start_at: datetime, dose_mg: float, rate: float,
         events: list[Event]) -> tuple[list[Segment], datetime, str]:
    """The pump's segments, its end and why it ended, from events in time order."""
    segments: list[Segment] = []
    t, running, left = start_at, True, dose_mg
    paused_at = start_at
    for ev in events:
        now = rate if running else 0.0
        if now > 0 and left <= now * _hours(t, ev.at) + 1e-9:
            break  # the dose ran out before this event
        if ev.at > t:
            _append(segments, Segment(t, ev.at, now))
            left -= now * _hours(t, ev.at)
        t = ev.at
        if ev.kind == "stop":
            return segments, t, BY_STOP
        if ev.kind == "pause" and running:
            running, paused_at = False, t
        elif ev.kind == "resume":
            running = True
        elif ev.kind == "rate-change" and ev.rate_mg_per_h:
            rate = ev.rate_mg_per_h  # while paused: the rate the pump resumes at
    if not running:  # paused and never resumed: the infusion ended at the pause
        return [s for s in segments if s.start < paused_at], paused_at, BY_PAUSE
    end = t + timedelta(hours=max(left, 0.0) / rate)
    if end > t:
        _append(segments, Segment(t, end, rate))
    return segments, end, BY_DOSE


def _append(segments: list[Segment], seg: Segment) -> None:
    """Add a segment, joined to the last one when the rate did not change."""
    last = segments[-1] if segments else None
    if last is not None and last.end == seg.start and last.rate_mg_per_h == seg.rate_mg_per_h:
        segments[-1] = Segment(last.start, seg.end, seg.rate_mg_per_h)
    else:
        segments.append(seg)


def _cut(segments: list[Segment], end: datetime) -> list[Segment]:
    return [Segment(s.start, min(s.end, end), s.rate_mg_per_h)
            for s in segments if s.start < end]


def _hours(t0: datetime, t1: datetime) -> float:
    return (t1 - t0).total_seconds() / 3600


def minutes_between(start: datetime, at: datetime) -> float:
    return round((at - start).total_seconds() / 60, 1)


FLOW_EVENTS = ("pause", "resume", "stop")


def state_at(events: list[Event], at: datetime) -> str:
    """running / paused / stopped: the infusion's state at `at` from the events before it."""
    state = "running"
    for e in sorted(events, key=lambda e: e.at):
        if e.at > at:
            break
        if e.kind == "pause":
            state = "paused"
        elif e.kind == "resume":
            state = "running"
        elif e.kind == "stop":
            state = "stopped"
    return state


def event_conflict(events: list[Event], kind: str, at: datetime) -> tuple[str, str] | None:
    """Why an event cannot be recorded now, as (code, message), or None.

    Pauses, resumes and stops must be recorded in time order (a backdated one would
    rewrite the infusion's course); a pause needs a running infusion, a resume a paused
    one, and nothing but medication or adverse events follow a stop.
    """
    if kind in FLOW_EVENTS:
        later = [e for e in events if e.kind in FLOW_EVENTS and e.at > at]
        if later:
            return ("event_order", f"a {later[0].kind} is already recorded after this time; "
                    "record pauses, resumes and stops in time order")
    state = state_at(events, at)
    if kind == "pause" and state != "running":
        return "event_state", f"the infusion is {state}, cannot pause"
    if kind == "resume" and state != "paused":
        return "event_state", f"the infusion is {state}, nothing to resume"
    if kind in ("stop", "rate-change") and state == "stopped":
        return "event_state", "the infusion was already stopped"
    return None
