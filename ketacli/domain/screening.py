"""The screening decision: eligible / needs-review / ineligible, with every reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from ketacli.domain.scales import Score, suicide_risk
from ketacli.domain.vitals import bp_reaches

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


@dataclass(frozen=True)
class Decision:
    decision: str
    reasons: list[str] = field(default_factory=list)
    suicide_risk_flag: bool = False


def known_conditions(screening_protocol) -> tuple[str, ...]:
    return (*screening_protocol.ineligible_conditions, *screening_protocol.review_conditions, "other")


def decide(inp: ScreeningInput, screening_protocol) -> Decision:
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
    flag = suicide_risk(inp.phq9.items if inp.phq9 else None)
    if flag:
        review.append(
            f"suicide risk assessment required (PHQ-9 item 9 = {inp.phq9.items[8]})"
        )
    decision = "ineligible" if ineligible else "needs-review" if review else "eligible"
    return Decision(decision, ineligible + review, flag)


def valid_until(screened_on: date, screening_protocol) -> date:
    return screened_on + timedelta(days=int(screening_protocol.valid_days))
