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


@dataclass(frozen=True)
class Course:
    end_at: datetime
    delivered_mg: float
    paused_min: float
    stopped_early: bool


def course(start_at: datetime, dose_mg: float, rate_mg_per_h: float, events: list[Event],
           end_at: datetime | None = None) -> Course:
    """Delivered dose and end time, integrating the rate over time.

    Pauses deliver nothing; a rate change changes the rate; a `stop` event ends the
    infusion early. Without an explicit end, the infusion runs until the planned
    dose is delivered. The delivered dose never exceeds the planned dose.
    """
    stop = next((e.at for e in sorted(events, key=lambda e: e.at) if e.kind == "stop"), None)
    explicit_end = end_at or stop
    t = start_at
    rate = rate_mg_per_h
    running = True
    delivered = 0.0
    paused = 0.0
    for ev in sorted(events, key=lambda e: e.at):
        if ev.at < start_at or ev.kind not in ("pause", "resume", "rate-change", "stop"):
            continue
        seg_end = min(ev.at, explicit_end) if explicit_end else ev.at
        done, t_full = _advance(t, seg_end, rate if running else 0.0, dose_mg - delivered)
        if t_full is not None and explicit_end is None:
            return Course(t_full, dose_mg, paused, False)
        delivered += done
        if not running:
            paused += (seg_end - t).total_seconds() / 60
        t = seg_end
        if explicit_end and ev.at >= explicit_end:
            break
        if ev.kind == "pause":
            running = False
        elif ev.kind == "resume":
            running = True
        elif ev.kind == "rate-change" and ev.rate_mg_per_h:
            rate = ev.rate_mg_per_h
        elif ev.kind == "stop":
            break
    if explicit_end is not None:
        if explicit_end > t:
            done, _ = _advance(t, explicit_end, rate if running else 0.0, dose_mg - delivered)
            delivered += done
            if not running:
                paused += (explicit_end - t).total_seconds() / 60
        full = delivered >= dose_mg - 1e-6
        return Course(explicit_end, min(delivered, dose_mg), paused, not full)
    if not running:
        # paused and never resumed: the infusion ended at the pause
        return Course(t, delivered, paused, True)
    remaining_h = (dose_mg - delivered) / rate
    return Course(t + timedelta(hours=remaining_h), dose_mg, paused, False)


def _advance(t0: datetime, t1: datetime, rate: float,
             remaining: float) -> tuple[float, datetime | None]:
    """mg delivered from t0 to t1 at `rate`, and the time the remaining dose ran out (if it did)."""
    if t1 <= t0 or rate <= 0:
        return 0.0, None
    hours = (t1 - t0).total_seconds() / 3600
    mg = rate * hours
    if mg >= remaining:
        return remaining, t0 + timedelta(hours=remaining / rate)
    return mg, None


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


def default_end(start_at: datetime, duration_min: float, events: list[Event]) -> datetime:
    """When the infusion ended unless told otherwise (the contract's default): the `stop`
    event, else start + the planned duration. Pauses do not extend it; they reduce the
    delivered dose instead (see `course` with this end)."""
    stop = min((e.at for e in events if e.kind == "stop" and e.at >= start_at), default=None)
    return stop or start_at + timedelta(minutes=duration_min)


def course_to_default_end(start_at: datetime, dose_mg: float, rate_mg_per_h: float,
                          duration_min: float, events: list[Event],
                          end_at: datetime | None = None,
                          not_after: datetime | None = None) -> Course:
    """The course up to the given end, else the default end (capped at `not_after`, e.g.
    a discharge before the planned end): delivered mg pro-rated for pauses, rate changes
    and an early stop."""
    end = end_at or default_end(start_at, duration_min, events)
    if end_at is None and not_after is not None and end > not_after:
        end = not_after
    return course(start_at, dose_mg, rate_mg_per_h, events, end)
