"""The screening decision: eligible / needs-review / ineligible, with every reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, cast

from ketacli.clock import to_utc_iso
from ketacli.domain import cssrs
from ketacli.domain.records import NewPatient, NewScreening
from ketacli.domain.scales import Score, from_items
from ketacli.domain.vitals import bp_reaches
from ketacli.errors import Code, Invalid

if TYPE_CHECKING:
    from datetime import tzinfo

    from ketacli.domain.forms import ScreenForm
    from ketacli.domain.records import NewPatient, NewScreening
    from ketacli.protocol import Screening

INDICATIONS = ("trd", "mdd", "bipolar-depression", "anxiety", "ptsd", "ocd", "pain", "other")
MED_CLASSES = ("benzodiazepine", "lamotrigine", "stimulant", "maoi", "opioid",
               "sedative-hypnotic", "other")
# What the Spravato-style monitoring record lists as concomitant medication.
CONCOMITANT_CLASSES = ("benzodiazepine", "sedative-hypnotic", "stimulant", "maoi")


@dataclass(frozen=True)
class ScreeningInput:
    sbp: int
    dbp: int
    conditions: tuple[str, ...] = ()
    meds: tuple[str, ...] = ()
    phq9: Score | None = None
    cssrs_risk: str | None = None  # the C-SSRS screener's risk, if one was given


@dataclass(frozen=True)
class Decision:
    decision: str
    reasons: list[str] = field(default_factory=list)
    suicide_risk_flag: bool = False


def known_conditions(screening_protocol: Screening) -> tuple[str, ...]:
    return (*screening_protocol.ineligible_conditions, *screening_protocol.review_conditions, "other")


def decide(inp: ScreeningInput, screening_protocol: Screening) -> Decision:
    p = screening_protocol
    ineligible: list[str] = []
    review: list[str] = []
    for cond in inp.conditions:
        if cond in p.ineligible_conditions:
            ineligible.append(f"condition {cond} excludes ketamine")
        elif cond in p.review_conditions:
            review.append(f"condition {cond} needs clinician review")
    bp = f"BP {inp.sbp}/{inp.dbp}"
    if bp_reaches(inp.sbp, inp.dbp, p.ineligible_bp):
        ineligible.append(f"{bp} at or above {p.ineligible_bp[0]}/{p.ineligible_bp[1]}")
    elif bp_reaches(inp.sbp, inp.dbp, p.review_bp):
        review.append(f"{bp} at or above {p.review_bp[0]}/{p.review_bp[1]}")
    for med in inp.meds:
        if med in p.review_meds:
            review.append(f"medication {med} needs clinician review")
    item9 = inp.phq9.items[8] if inp.phq9 and inp.phq9.items else None
    risk_ineligible, risk_review = _suicide_risk(item9, inp.cssrs_risk, p)
    ineligible += risk_ineligible
    review += risk_review
    flag = cssrs.flagged(item9, inp.cssrs_risk)
    decision = "ineligible" if ineligible else "needs-review" if review else "eligible"
    return Decision(decision, ineligible + review, flag)


def _suicide_risk(item9: int | None, risk: str | None, p: Screening
                  ) -> tuple[list[str], list[str]]:
    """(ineligible, needs-review) reasons of PHQ-9 item 9 and the C-SSRS screener: item 9 >= 1
    needs a suicide risk assessment, which a C-SSRS of risk none or low answers."""
    if risk in p.cssrs_ineligible:
        return [f"C-SSRS {risk} risk: same-day crisis evaluation, not an infusion"], []
    if risk in p.cssrs_review:
        return [], [f"C-SSRS {risk} risk: suicide risk needs clinician review"]
    if item9 is not None and item9 >= 1 and risk not in cssrs.ANSWERING:
        return [], [f"suicide risk assessment required (PHQ-9 item 9 = {item9})"]
    return [], []


def valid_until(screened_on: date, screening_protocol: Screening) -> date:
    return screened_on + timedelta(days=int(screening_protocol.valid_days))


def new_patient(form: ScreenForm, *, exists: bool, today: date, clinician: str,
                at: str) -> NewPatient | None:
    """The patient a screening creates (None for a known MRN); a new one needs --name."""

    if exists:
        return None
    if form.person.name is None:
        raise Invalid(f"patient {form.mrn} is new: --name is required", code=Code.MISSING_VALUE)
    p = form.person.validated(today)  # name and sex are set once validated
    return NewPatient(mrn=form.mrn, name=cast(str, p.name), dob=p.dob, sex=cast(str, p.sex),
                      phone=p.phone, address=p.address,
                      created_at=at, created_by=clinician)


def assess(form: ScreenForm, screening_protocol: Screening) -> Decision:
    """The decision on a validated `ScreenForm`."""

    phq9 = from_items("phq9", list(form.scales.phq9)) if form.scales.phq9 else None
    return decide(ScreeningInput(form.sbp, form.dbp, form.conditions, form.meds, phq9,
                                 form.scales.cssrs_risk), screening_protocol)


def record(form: ScreenForm, decision: Decision, patient_id: int, *, clinician: str,
           recorded_at: str, tz: tzinfo, screening_protocol: Screening) -> NewScreening:
    """The screening to store."""

    sc = form.scales
    return NewScreening(
        patient_id=patient_id, at=to_utc_iso(form.when), recorded_at=recorded_at,
        clinician=clinician, weight_kg=form.weight_kg, height_cm=form.height_cm, sbp=form.sbp,
        dbp=form.dbp, hr=form.hr, spo2=form.spo2, indication=form.indication,
        phq9_items=sc.phq9, gad7_items=sc.gad7, madrs_total=sc.madrs, pcl5_total=sc.pcl5,
        conditions=form.conditions, meds=form.meds, decision=decision.decision,
        reasons=tuple(decision.reasons), suicide_risk_flag=decision.suicide_risk_flag,
        valid_until=valid_until(form.when.astimezone(tz).date(), screening_protocol).isoformat(),
        note=form.note, cssrs_answers=sc.cssrs_answers, cssrs_risk=sc.cssrs_risk)
