"""Discharging a session: from the validated form, the session and its events, the
infusion's end and delivered dose, the ledger's amounts, every discharge criterion, and
(when it may close) the discharge, its reading and the follow-ups to store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from ketacli.clock import to_utc_iso
from ketacli.domain import discharge as rules
from ketacli.domain import infusion, ledger, safety, vitals
from ketacli.domain.charting import SessionRef
from ketacli.domain.forms import DischargeForm
from ketacli.domain.records import NewDischarge, NewFollowup, NewObservation
from ketacli.errors import Code, Invalid, Refused

if TYPE_CHECKING:
    from ketacli.protocol import Protocol


def check_times(session: SessionRef, form: DischargeForm) -> None:
    """start <= infusion end <= discharge."""
    end = form.infusion_end
    if form.when < session.started_at or (end and not session.started_at <= end <= form.when):
        raise Invalid("times out of order: start <= infusion end <= discharge",
                      code=Code.TIME_ORDER)


def infusion_course(session: SessionRef, events: list[infusion.Event],
                    form: DischargeForm) -> infusion.Course:
    """The pump's course to --infusion-end if given (events after it do not count), else
    to the pump's own end; a pump that would still be running at the discharge ends then."""
    course = infusion.course(session.started_at, session.dose_mg, session.rate_mg_per_h,
                             events, end_at=form.infusion_end)
    if form.infusion_end is None and course.end_at > form.when:
        course = infusion.course(session.started_at, session.dose_mg, session.rate_mg_per_h,
                                 events, end_at=form.when)
    return course


@dataclass(frozen=True)
class DischargeDecision:
    form: DischargeForm
    session: SessionRef
    course: infusion.Course
    delivered_mg: float
    unaccounted_mg: float
    criteria: tuple[rules.Criterion, ...]
    verdict: safety.Verdict
    planned: tuple[rules.Planned, ...]
    clinician: str
    recorded_at: str
    alerts: tuple[dict[str, Any], ...]

    @property
    def unmet(self) -> list[rules.Criterion]:
        return [c for c in self.criteria if not c.met]

    @property
    def refused(self) -> bool:
        return self.verdict.refused

    def observation(self) -> NewObservation:
        f = self.form
        return NewObservation(
            session_id=self.session.session_id, phase="discharge", at=to_utc_iso(f.when),
            recorded_at=self.recorded_at, clinician=self.clinician,
            minutes_into_infusion=infusion.minutes_between(self.session.started_at, f.when),
            sbp=f.sbp, dbp=f.dbp, hr=f.hr, spo2=f.spo2, alerts=self.alerts)

    def discharge(self) -> NewDischarge:
        f = self.form
        return NewDischarge(
            session_id=self.session.session_id, at=to_utc_iso(f.when),
            recorded_at=self.recorded_at, clinician=self.clinician,
            infusion_end_at=to_utc_iso(self.course.end_at), aldrete_total=f.aldrete,
            aldrete_items=f.aldrete_items, delivered_mg=self.delivered_mg,
            wasted_mg=f.wasted_mg, waste_witness=f.waste_witness, transport=f.transport,
            escort=f.escort, criteria=tuple(c.as_dict() for c in self.criteria),
            override=self.verdict.reason, note=f.note, side_effects=f.side_effects,
            cosign=self.verdict.cosign, overridden=self.verdict.overridden)

    def followups(self) -> list[NewFollowup]:
        return [NewFollowup(patient_id=self.session.patient_id,
                            session_id=self.session.session_id, kind=p.kind,
                            due=p.due.isoformat(), created_at=self.recorded_at,
                            created_by=self.clinician, note=p.note)
                for p in self.planned]

    def refusal(self, protocol: Protocol) -> Refused:
        return safety.refusal("discharge criteria not met", self.verdict, protocol.overrides,
                              code=Code.DISCHARGE_REFUSED)

    def ledger_warning(self) -> str | None:
        """What the controlled-substance ledger will flag, said at discharge."""
        if self.unaccounted_mg == 0:  # kept amounts (0.1 mg): exact
            return None
        return (f"{self.unaccounted_mg:.1f} mg drawn for session {self.session.session_id} is "
                "neither administered nor wasted: the controlled-substance ledger will flag it")

    def result(self, created: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
        return {"session_id": self.session.session_id,
                "discharged_at": to_utc_iso(self.form.when),
                "criteria": [c.as_dict() for c in self.criteria],
                "override": self.verdict.reason, "cosign": self.verdict.cosign,
                "overridden": list(self.verdict.overridden),
                "followups": created, "summary": summary}


def decide(form: DischargeForm, session: SessionRef, events: list[infusion.Event],
           protocol: Protocol,
           *, tz: tzinfo, clinician: str, now: datetime, schedule: bool) -> DischargeDecision:
    """The infusion's course (`infusion_course`), the delivered dose (what the pump ran, or
    --delivered-mg), and every discharge criterion, the observation counted from the end."""
    check_times(session, form)
    course = infusion_course(session, events, form)
    delivered = (form.delivered_mg if form.delivered_mg is not None
                 else ledger.mg(course.delivered_mg))
    # waste recorded with `waste` while the session was open counts with --wasted-mg
    unaccounted = ledger.check_amounts(session.drawn_mg, delivered,
                                       ledger.mg(form.wasted_mg + session.wasted_mg))
    crit = rules.criteria(rules.Readiness(
        aldrete=form.aldrete, minutes_since_end=(form.when - course.end_at).total_seconds() / 60,
        sbp=form.sbp, dbp=form.dbp, hr=form.hr, spo2=form.spo2, transport=form.transport,
        unaccounted_mg=unaccounted), protocol)
    planned = rules.schedule(session.number_in_series, form.when.astimezone(tz).date(),
                             protocol.schedule,
                             screening_valid_until=session.screening_valid_until) if schedule else []
    alerts = vitals.alerts({"sbp": form.sbp, "dbp": form.dbp, "hr": form.hr, "spo2": form.spo2},
                           protocol.alerts)
    return DischargeDecision(
        form, session, course, delivered, unaccounted, tuple(crit),
        safety.judge([c for c in crit if not c.met], form.override, protocol.overrides),
        tuple(planned),
        clinician, to_utc_iso(now), tuple(a.as_dict() for a in alerts))
