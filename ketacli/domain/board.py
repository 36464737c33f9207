"""The clinic floor: what is due for each open session (the `board`).

Each rule is one function of plain values (a session's start, its pump events, its
readings, the protocol and "now"), so it can be unit-tested without a database:
the phase of the infusion, when vital signs are next due and whether they are overdue,
the 40-minute blood pressure, and the earliest discharge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ketacli.clock import to_utc_iso
from ketacli.domain import infusion, vocab
from ketacli.protocol import Discharge, Monitoring

PHASES = vocab.BOARD_PHASES
BP_40MIN = vocab.BP_40MIN_STATES
BP_40MIN_AT = 40.0  # minutes into the infusion (the REMS-style monitoring record)
BP_40MIN_WINDOW = 15.0  # a BP within this many minutes of minute 40 counts


@dataclass(frozen=True)
class Reading:
    """One stored (not voided) observation of a session."""

    at: datetime
    minutes_in: float | None
    phase: str  # pre, intra, post, discharge
    sbp: int | None = None
    dbp: int | None = None
    hr: int | None = None
    spo2: int | None = None
    alerts: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class OpenSession:
    """What the board knows of one open session (`ketacli.store.floor.open_sessions`)."""

    session_id: int
    mrn: str
    name: str
    chair: str | None
    started_at: datetime
    dose_mg: float
    rate_mg_per_h: float
    events: tuple[infusion.Event, ...] = ()
    readings: tuple[Reading, ...] = field(default=())


def course_now(s: OpenSession, now: datetime) -> infusion.Course:
    """The infusion's course as far as it can be known now: a pause not yet resumed is
    taken as resumed now (so its end is the earliest it can be)."""
    events = list(s.events)
    if infusion.state_at(events, now) == "paused":
        events.append(infusion.Event("resume", now, None))
    return infusion.course(s.started_at, s.dose_mg, s.rate_mg_per_h, events)


def phase(s: OpenSession, now: datetime) -> str:
    """`paused` while a pause is not resumed, `infusing` until the pump's end (or a stop),
    `observing` after it."""
    if infusion.state_at(list(s.events), now) == "paused":
        return "paused"
    return "infusing" if now < course_now(s, now).end_at else "observing"


def last_reading(s: OpenSession) -> Reading | None:
    return max(s.readings, key=lambda r: r.at, default=None)


def next_vitals_due(s: OpenSession, current_phase: str, rules: Monitoring) -> datetime:
    """The last reading + `intra_interval_min` while infusing or paused, +
    `post_interval_min` while observing; the start time when there is no reading."""
    last = last_reading(s)
    if last is None:
        return s.started_at
    minutes = rules.post_interval_min if current_phase == "observing" else rules.intra_interval_min
    return last.at + timedelta(minutes=minutes)


def overdue(due: datetime, now: datetime) -> bool:
    """Vital signs are overdue once their due time has passed."""
    return now > due


def bp_40min(s: OpenSession, now: datetime) -> str:
    """`done` with a BP within 15 minutes of minute 40 (after the start); `missed` once that
    window has passed without one; `due` until then."""
    for r in s.readings:
        if r.phase != "pre" and r.sbp is not None and r.minutes_in is not None \
                and abs(r.minutes_in - BP_40MIN_AT) <= BP_40MIN_WINDOW:
            return "done"
    elapsed = (now - s.started_at).total_seconds() / 60
    return "missed" if elapsed > BP_40MIN_AT + BP_40MIN_WINDOW else "due"


def earliest_discharge(course: infusion.Course, rules: Discharge) -> datetime:
    """The infusion's end + `discharge.min_observation_min`."""
    return course.end_at + timedelta(minutes=rules.min_observation_min)


def _last_vitals(r: Reading | None) -> dict[str, Any] | None:
    if r is None:
        return None
    bp = f"{r.sbp}/{r.dbp}" if r.sbp is not None and r.dbp is not None else None
    return {"at": to_utc_iso(r.at), "bp": bp, "hr": r.hr, "spo2": r.spo2,
            "alerts": list(r.alerts)}


def row(s: OpenSession, now: datetime, monitoring: Monitoring,
        discharge: Discharge) -> dict[str, Any]:
    """One board row (the contract's keys, plus `infusion_end`)."""
    current = phase(s, now)
    course = course_now(s, now)
    due = next_vitals_due(s, current, monitoring)
    return {
        "session_id": s.session_id, "patient": s.mrn, "name": s.name, "chair": s.chair,
        "started_at": to_utc_iso(s.started_at),
        "minutes_in": int((now - s.started_at).total_seconds() // 60),
        "phase": current, "last_vitals": _last_vitals(last_reading(s)),
        "next_vitals_due": to_utc_iso(due), "vitals_overdue": overdue(due, now),
        "bp_40min": bp_40min(s, now), "infusion_end": to_utc_iso(course.end_at),
        "earliest_discharge": to_utc_iso(earliest_discharge(course, discharge)),
    }


def board(sessions: list[OpenSession], now: datetime, monitoring: Monitoring,
          discharge: Discharge) -> list[dict[str, Any]]:
    """One row per open session, ordered by start."""
    ordered = sorted(sessions, key=lambda s: (s.started_at, s.session_id))
    return [row(s, now, monitoring, discharge) for s in ordered]
