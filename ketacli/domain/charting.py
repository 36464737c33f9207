"""Charting during a session: the observation a `log-vitals` records (its phase, minutes
into the infusion, alerts) and the event a `log-event` records (in time order, in a
state that allows it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ketacli.clock import to_utc_iso
from ketacli.domain import infusion, vitals
from ketacli.domain.forms import EventForm, VitalsForm
from ketacli.domain.records import NewEvent, NewObservation
from ketacli.errors import Code, Conflict, Invalid

if TYPE_CHECKING:
    from ketacli.protocol import Alerts


@dataclass(frozen=True)
class SessionRef:
    """The open session a reading or event belongs to."""

    session_id: int
    patient_id: int
    mrn: str
    started_at: datetime
    duration_min: float
    dose_mg: float
    rate_mg_per_h: float
    drawn_mg: float
    number_in_series: int
    pre_bp: tuple[int, int] | None = None  # the pre-infusion reading, for the rise alerts
    # what corrections decide on: the screening's last valid day, the discharge (if any),
    # all waste so far (the discharge's and witnessed `waste` records), a void
    screening_valid_until: date | None = None
    discharged_at: datetime | None = None
    infusion_end_at: datetime | None = None
    delivered_mg: float | None = None
    wasted_mg: float = 0.0
    voided: bool = False
    name: str | None = None  # the patient's, for people ("Ann Example (MRN-1001)")

    @property
    def who(self) -> str:
        return f"{self.name} ({self.mrn})" if self.name else self.mrn


def check_after_start(session: SessionRef, when: datetime) -> None:
    """Nothing is charted before the infusion started."""
    if when < session.started_at:
        raise Invalid("--at is before the infusion started", code=Code.BEFORE_START)


def course(session: SessionRef, events: list[infusion.Event]) -> infusion.Course:
    """The open session's infusion as its pump has run it so far."""
    return infusion.course(session.started_at, session.dose_mg, session.rate_mg_per_h, events)


def phase(session: SessionRef, events: list[infusion.Event], when: datetime) -> str:
    """`intra` up to the pump's end (pauses and rate changes move it later; a pause not
    yet resumed has not ended it), `post` after it; on a discharged session, up to the
    infusion end stored with the discharge."""
    if session.infusion_end_at is not None:
        return "intra" if when <= session.infusion_end_at else "post"
    return course(session, events).phase_at(when, may_resume=True)


def observation(form: VitalsForm, session: SessionRef, events: list[infusion.Event],
                alert_protocol: Alerts, *, clinician: str, now: datetime,
                late_reason: str | None = None) -> NewObservation:
    check_after_start(session, form.when)
    alerts = vitals.alerts(form.values, alert_protocol, pre_bp=session.pre_bp)
    return NewObservation(
        session_id=session.session_id, phase=phase(session, events, form.when),
        at=to_utc_iso(form.when), recorded_at=to_utc_iso(now), clinician=clinician,
        minutes_into_infusion=infusion.minutes_between(session.started_at, form.when),
        **form.values, alerts=tuple(a.as_dict() for a in alerts), note=form.note,
        late_reason=late_reason)


def observation_result(obs: NewObservation, observation_id: int) -> dict[str, Any]:
    values = {k: getattr(obs, k) for k in ("sbp", "dbp", "hr", "spo2", "rr", "etco2", "moaas",
                                             "dissociation") if getattr(obs, k) is not None}
    return {"observation_id": observation_id, "session_id": obs.session_id,
            "recorded_at": obs.at, "minutes_into_infusion": obs.minutes_into_infusion,
            "phase": obs.phase, **values, "alerts": list(obs.alerts), "late": obs.late_reason}


def event(form: EventForm, session: SessionRef, events: list[infusion.Event], *,
          clinician: str, now: datetime, late_reason: str | None = None) -> NewEvent:
    """The event to record; a conflict (exit 3) when the infusion's state or the order of
    pauses, resumes and stops does not allow it."""
    conflict = infusion.event_conflict(events, form.kind, form.when)
    if conflict:
        raise Conflict(f"session {session.session_id}: {conflict[1]}", code=conflict[0])
    return NewEvent(session_id=session.session_id, kind=form.kind, at=to_utc_iso(form.when),
                    recorded_at=to_utc_iso(now), clinician=clinician, detail=form.detail,
                    rate_mg_per_h=form.rate_mg_per_h, late_reason=late_reason)


def event_result(ev: NewEvent, event_id: int, session: SessionRef) -> dict[str, Any]:
    return {"event_id": event_id, "session_id": ev.session_id, "kind": ev.kind, "at": ev.at,
            "minutes_into_infusion": infusion.minutes_between(
                session.started_at, datetime.fromisoformat(ev.at)),
            "detail": ev.detail, "rate_mg_per_h": ev.rate_mg_per_h, "late": ev.late_reason}
