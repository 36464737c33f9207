"""Starting an infusion: from the validated form and the patient's record, the dose plan,
every unmet start rule, and (when it may start) the session and its pre-infusion
reading to store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from ketacli.clock import to_utc_iso
from ketacli.domain import dosing, followups, infusion, ledger, safety, start_rules, vitals
from ketacli.domain.cssrs import AssessmentRisk
from ketacli.domain.forms import StartForm
from ketacli.domain.records import NewObservation, NewSession
from ketacli.errors import Code, Invalid, Refused

if TYPE_CHECKING:
    from ketacli.protocol import Protocol


@dataclass(frozen=True)
class ScreeningOnFile:
    """The screening that governs a start: the latest one at or before it (not voided)."""

    screening_id: int
    decision: str
    valid_until: date
    reasons: tuple[str, ...]
    weight_kg: float
    height_cm: float | None = None


@dataclass(frozen=True)
class StartContext:
    """What the record says about the patient, read inside the start's transaction."""

    patient_id: int
    mrn: str
    screening: ScreeningOnFile | None
    last_started_at: datetime | None
    sessions_so_far: int
    pending: tuple[followups.Pending, ...] = ()
    sex: str | None = None
    name: str | None = None
    # PHQ-9 item 9 / C-SSRS of the assessments after the screening (the suicide-risk rule)
    since_screening: tuple[AssessmentRisk, ...] = ()


@dataclass(frozen=True)
class StartDecision:
    form: StartForm
    context: StartContext
    weight: dosing.DosingWeight
    plan: infusion.DosePlan
    drawn_mg: float
    verdict: safety.Verdict
    clinician: str
    recorded_at: str
    pre_alerts: tuple[dict[str, Any], ...]

    @property
    def refused(self) -> bool:
        return self.verdict.refused

    @property
    def unmet(self) -> tuple[safety.Unmet, ...]:
        return self.verdict.unmet

    def session(self) -> NewSession:
        f, p, v, w = self.form, self.plan, self.verdict, self.weight
        return NewSession(
            patient_id=self.context.patient_id,
            screening_id=self.context.screening.screening_id if self.context.screening else None,
            number_in_series=self.context.sessions_so_far + 1, started_at=to_utc_iso(f.when),
            recorded_at=self.recorded_at, clinician=self.clinician, weight_kg=w.actual_kg,
            dose_mg_per_kg=f.mg_per_kg, dose_mg=p.dose_mg, duration_min=f.duration_min,
            rate_mg_per_h=p.rate_mg_per_h, concentration_mg_per_ml=f.concentration,
            rate_ml_per_h=p.rate_ml_per_h, lot=f.lot, drawn_mg=self.drawn_mg, site=f.site,
            override=v.reason, overridden=v.overridden, dosing_weight_kg=w.kg,
            weight_basis=w.basis, bmi=round(w.bmi, 1) if w.bmi is not None else None,
            cosign=v.cosign, chair=f.chair)

    def pre_observation(self, session_id: int) -> NewObservation:
        f = self.form
        return NewObservation(
            session_id=session_id, phase="pre", at=to_utc_iso(f.when),
            recorded_at=self.recorded_at, clinician=self.clinician, minutes_into_infusion=0.0,
            sbp=f.sbp, dbp=f.dbp, hr=f.hr, spo2=f.spo2, alerts=self.pre_alerts)

    def closes(self) -> list[int]:
        """The follow-ups this start completes (the booked infusion)."""
        return followups.closed_by_start(self.context.pending)

    def supersedes(self) -> list[int]:
        """The pending check-in calls this start makes moot (closed as superseded)."""
        return followups.superseded_by_start(self.context.pending)

    def refusal(self, protocol: Protocol) -> Refused:
        return safety.refusal("cannot start the infusion", self.verdict, protocol.overrides,
                              code=Code.START_REFUSED)

    def result(self, session_id: int) -> dict[str, Any]:
        f, p, v, w = self.form, self.plan, self.verdict, self.weight
        return {
            "session_id": session_id, "patient": self.context.mrn,
            "number_in_series": self.context.sessions_so_far + 1, "weight_kg": w.actual_kg,
            "dosing_weight_kg": round(w.kg, 1), "weight_basis": w.basis,
            "bmi": round(w.bmi, 1) if w.bmi is not None else None,
            "weight_note": w.note,
            "dose_mg_per_kg": f.mg_per_kg, "dose_mg": p.dose_mg, "duration_min": f.duration_min,
            "rate_mg_per_h": p.rate_mg_per_h, "rate_ml_per_h": p.rate_ml_per_h,
            "volume_ml": p.dose_mg / f.concentration if f.concentration else None,
            "concentration_mg_per_ml": f.concentration, "chair": f.chair,
            "started_at": to_utc_iso(f.when), "override": v.reason, "cosign": v.cosign,
            "overridden": list(v.overridden), "drawn_mg": self.drawn_mg, "lot": f.lot,
            "pre_infusion_alerts": list(self.pre_alerts),
        }


def _facts(form: StartForm, ctx: StartContext, plan: infusion.DosePlan, tz: tzinfo
           ) -> start_rules.StartFacts:
    sc = ctx.screening
    state = (start_rules.ScreeningState(sc.decision, sc.valid_until, sc.reasons, sc.weight_kg)
             if sc else None)
    return start_rules.StartFacts(
        screening=state, start_at=form.when, start_day=form.when.astimezone(tz).date(),
        sbp=form.sbp, dbp=form.dbp, hr=form.hr, spo2=form.spo2, dose_mg_per_kg=form.mg_per_kg,
        dose_mg=plan.dose_mg, weight_kg=form.weight_kg, last_infusion_at=ctx.last_started_at,
        since_screening=ctx.since_screening)


def decide(form: StartForm, ctx: StartContext, protocol: Protocol, *, tz: tzinfo, clinician: str,
           now: datetime) -> StartDecision:
    """The dosing weight, the dose plan and every unmet start rule; refused unless
    overridden with a reason (and a co-signer, by the protocol), and never for a rule
    that is not overridable."""
    sc = ctx.screening
    kg = form.weight_kg if form.weight_kg is not None else (sc.weight_kg if sc else None)
    if kg is None:
        raise Invalid("--weight is needed: no screening weight on record", code=Code.MISSING_VALUE)
    d = protocol.dose
    weight = dosing.dosing_weight(kg, height_cm=sc.height_cm if sc else None, sex=ctx.sex,
                                  basis=d.weight_basis, bmi_threshold=d.basis_bmi_threshold)
    plan = infusion.plan(weight.kg, form.mg_per_kg, form.duration_min, form.concentration)
    unmet = start_rules.start_rules(_facts(form, ctx, plan, tz), protocol)
    verdict = safety.judge(unmet, form.override, protocol.overrides)
    drawn = form.drawn_mg if form.drawn_mg is not None else ledger.mg(plan.dose_mg)
    if not verdict.refused:  # a refused start draws nothing: its rules come first
        ledger.check_drawn(drawn, plan.dose_mg)
    alerts = vitals.alerts({"sbp": form.sbp, "dbp": form.dbp, "hr": form.hr, "spo2": form.spo2},
                           protocol.alerts)
    return StartDecision(form, ctx, weight, plan, drawn, verdict, clinician, to_utc_iso(now),
                         tuple(a.as_dict() for a in alerts))
