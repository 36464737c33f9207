"""The demo's records, charted the way the commands chart them.

Each function here is what one command does, minus the typing: it fills the command's
form, asks the same domain decision, and stores the result through the same store
operation (`screen`, `followup record`, `start-session`, `log-vitals`, `log-event`,
`discharge`). So the demo obeys every rule the commands enforce, and a rule the demo
would break raises exactly as the command would.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from ketacli.clock import to_utc_iso as _iso
from ketacli.demo.people import Person, Scores, second
from ketacli.domain import assessment, charting, discharging, infusion, screening, start
from ketacli.domain.charting import SessionRef
from ketacli.domain.forms import (
    AssessmentForm,
    Demographics,
    DischargeForm,
    EventForm,
    Scales,
    ScreenForm,
    SessionTarget,
    StartForm,
    VitalsForm,
)
from ketacli.domain.records import NewPatient
from ketacli.domain.safety import Override
from ketacli.store import assessments, followups, patients, screenings, sessions

if TYPE_CHECKING:
    from ketacli.protocol import Protocol
    from ketacli.store.db import Tx

START_OVERRIDE = "reviewed by the attending physician: benefit outweighs risk (demo)"
DISCHARGE_OVERRIDE = "reviewed by the attending physician before discharge (demo)"


@dataclass(frozen=True)
class Chart:
    """Where the demo writes (one transaction) and by which rules."""

    tx: Tx
    protocol: Protocol
    tz: tzinfo
    now: datetime


@dataclass(frozen=True)
class Patient:
    """A demo patient on file."""

    patient_id: int
    who: Person

    @property
    def mrn(self) -> str:
        return self.who.mrn


@dataclass(frozen=True)
class Screened:
    decision: str
    valid_until: str  # YYYY-MM-DD


def register(c: Chart, who: Person) -> Patient:
    """`patient add` of a demo patient."""
    pid = patients.add(c.tx, NewPatient(
        mrn=who.mrn, name=who.name, dob=who.dob.isoformat(), sex=who.sex, phone=who.phone,
        created_at=_iso(who.first_seen), created_by="demo", demo=True))
    return Patient(pid, who)


def screen(c: Chart, p: Patient, at: datetime, scores: Scores, vitals: tuple[int, int, int, int],
           clinician: str) -> Screened:
    """`screen MRN ...`: the decision is the screening rules'."""
    sbp, dbp, hr, spo2 = vitals
    who = p.who
    form = ScreenForm(
        mrn=who.mrn, when=at, weight_kg=who.weight_kg, height_cm=float(who.height_cm), sbp=sbp,
        dbp=dbp, hr=hr, spo2=spo2, indication=who.indication, conditions=who.conditions,
        meds=who.meds, scales=Scales(scores.phq9, scores.gad7, scores.madrs,
                                     _pcl5(who, scores)),
        note=None, person=Demographics())
    decision = screening.assess(form, c.protocol.screening)
    record = screening.record(form, decision, p.patient_id, clinician=clinician,
                              recorded_at=_iso(at), tz=c.tz,
                              screening_protocol=c.protocol.screening)
    screenings.add(c.tx, record, mrn=who.mrn)
    return Screened(record.decision, record.valid_until)


def _pcl5(who: Person, scores: Scores) -> int | None:
    return min(80, 20 + 2 * sum(scores.phq9)) if who.indication == "ptsd" else None


def assess(c: Chart, p: Patient, at: datetime, scores: Scores, clinician: str, *,
           madrs: bool = False) -> None:
    """`followup record MRN ...`: completes the due assessment follow-up by the rule."""
    form = AssessmentForm(p.mrn, Scales(scores.phq9, scores.gad7,
                                        scores.madrs if madrs else None, None), at, None)
    a = assessment.record(form, p.patient_id, followups.pending(c.tx, p.patient_id), tz=c.tz,
                          clinician=clinician, now=at)
    aid = assessments.add(c.tx, a, mrn=p.mrn)
    followups.complete(c.tx, [a.followup_id] if a.followup_id else [], mrn=p.mrn,
                       at=a.recorded_at, reason=f"assessment {aid}")


@dataclass(frozen=True)
class StartPlan:
    """What the nurse types at `start-session`."""

    at: datetime
    sbp: int
    dbp: int
    hr: int
    spo2: int
    mg_per_kg: float
    lot: str
    site: str
    nurse: str


def start_session(c: Chart, p: Patient, plan: StartPlan) -> SessionRef | None:
    """`start-session`: the start rules decide; an overridable refusal is overridden with a
    co-signed reason (as a clinic would), anything else stays refused (its audit row)."""
    form = StartForm(
        mrn=p.mrn, when=plan.at, sbp=plan.sbp, dbp=plan.dbp, hr=plan.hr, spo2=plan.spo2,
        mg_per_kg=plan.mg_per_kg, duration_min=float(c.protocol.dose.default_duration_min),
        weight_kg=None, concentration=10.0, drawn_mg=None, lot=plan.lot, site=plan.site,
        override=Override())
    ctx = sessions.start_context(c.tx, patients.get(c.tx, p.mrn), _iso(plan.at), tz=c.tz)

    def decide(f: StartForm) -> start.StartDecision:
        return start.decide(f, ctx, c.protocol, tz=c.tz, clinician=plan.nurse, now=plan.at)

    first = decide(form)
    # whole 10 mg steps drawn from a 50 mg/mL vial
    form = replace(form, drawn_mg=float(-(-first.plan.dose_mg // 10) * 10))
    decision = decide(form)
    if decision.refused:
        decision = decide(replace(form, override=_override(c, START_OVERRIDE, plan.nurse)))
    if decision.refused:
        sessions.refuse_start(c.tx, decision)
        return None
    sid = sessions.record_start(c.tx, decision)
    return sessions.ref(sessions.get(c.tx, sid))


def _override(c: Chart, reason: str, clinician: str) -> Override:
    return Override.parse(reason, second(clinician), clinician=clinician,
                          rules=c.protocol.overrides)


@dataclass
class Infusion:
    """An open session as it is being charted: the events so far, in time order."""

    session: SessionRef
    nurse: str
    events: list[infusion.Event]

    def course(self) -> infusion.Course:
        return charting.course(self.session, self.events)


def log_vitals(c: Chart, inf: Infusion, at: datetime, values: dict[str, int | None]) -> None:
    """`log-vitals`: phase, minutes and alerts are charting's (the pump model)."""
    obs = charting.observation(VitalsForm(values, at, None), inf.session, inf.events,
                               c.protocol.alerts, clinician=inf.nurse, now=at)
    sessions.add_observation(c.tx, obs, mrn=inf.session.mrn)


def log_event(c: Chart, inf: Infusion, at: datetime, kind: str, detail: str | None,
              rate: float | None = None) -> None:
    """`log-event`: an event the infusion's state does not allow raises, as it would."""
    form = EventForm(SessionTarget(inf.session.session_id, None), kind, detail, rate, at)
    ev = charting.event(form, inf.session, inf.events, clinician=inf.nurse, now=at)
    sessions.add_event(c.tx, ev, mrn=inf.session.mrn)
    inf.events.append(infusion.Event(kind, at, rate))


@dataclass(frozen=True)
class Leaving:
    """What the nurse types at `discharge`."""

    at: datetime
    aldrete: int
    sbp: int
    dbp: int
    hr: int
    spo2: int
    transport: str
    side_effects: tuple[tuple[str, str], ...]
    waste_recorded: bool  # False: the waste was forgotten (the ledger flags it)


def discharge(c: Chart, inf: Infusion, leaving: Leaving) -> list[dict[str, Any]] | None:
    """`discharge`: delivered dose, criteria and follow-ups are the domain's; unmet
    criteria are overridden with a co-signed reason. Returns the follow-ups scheduled."""
    nurse = inf.nurse
    form = DischargeForm(
        aldrete=leaving.aldrete, aldrete_items=None, sbp=leaving.sbp, dbp=leaving.dbp,
        hr=leaving.hr, spo2=leaving.spo2, transport=leaving.transport,
        escort="family member" if leaving.transport == "escort" else None,
        side_effects=leaving.side_effects, delivered_mg=None, wasted_mg=0.0, waste_witness=None,
        override=Override(), note=None, when=leaving.at, infusion_end=None)

    def decide(f: DischargeForm) -> discharging.DischargeDecision:
        return discharging.decide(f, inf.session, inf.events, c.protocol, tz=c.tz,
                                  clinician=nurse, now=leaving.at, schedule=True)

    decision = decide(form)
    waste = round(inf.session.drawn_mg - decision.delivered_mg, 1)
    if waste > 0 and leaving.waste_recorded:
        decision = decide(form := replace(form, wasted_mg=waste, waste_witness=second(nurse)))
    if decision.refused:
        decision = decide(replace(form, override=_override(c, DISCHARGE_OVERRIDE, nurse)))
    if decision.refused:
        sessions.refuse_discharge(c.tx, decision)
        return None
    return sessions.record_discharge(c.tx, decision)




def call_made(c: Chart, p: Patient, followup_ids: list[int], at: datetime) -> None:
    """`followup done ID...` of the check-in calls made at `at`."""
    followups.close_in(c.tx, followup_ids, status="done", at=_iso(at))


def cancel_stale_bookings(c: Chart, p: Patient, due_before: date, *, reason: str) -> None:
    """`followup cancel ID --reason ...` of the patient's booked infusions due before a
    day, each a week after it was due (when that has come)."""
    for f in followups.pending(c.tx, p.patient_id):
        if f.kind != "infusion" or f.due >= due_before.isoformat():
            continue
        at = datetime.combine(date.fromisoformat(f.due), time(17), c.tz) + timedelta(days=7)
        if at <= c.now:
            followups.close_in(c.tx, [f.followup_id], status="cancelled", at=_iso(at),
                               reason=reason)
