"""The C-SSRS screener (Columbia Suicide Severity Rating Scale, screen version): its answers
as typed on `--cssrs`, and the risk Columbia's triage derives from them.

Columbia lets health providers put the screener in their record system at no cost; the
answers and the risk are stored, and only short question labels are shown (never the full
item text).

Answers: six `y`/`n` in order 1-6, then a seventh, required exactly when answer 6 is `y`:
was that behaviour within the past 3 months. Answers 3-5 are `-` (not asked) when answer 2
is `n`, and `y`/`n` when it is `y`.

Risk: `high` when answer 4 or 5 is `y`, or 6 is `y` within the past 3 months; else
`moderate` when 3 is `y` or 6 is `y` (longer ago); else `low` when 1 or 2 is `y`; else
`none`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ketacli.errors import Code, Invalid

RISKS = ("none", "low", "moderate", "high")
# The risks that answer a PHQ-9 item 9 >= 1 (the suicide risk assessment it asks for).
ANSWERING = ("none", "low")

# Short labels of the screener's questions (not Columbia's item text).
LABELS = (
    "wish to be dead",
    "suicidal thoughts",
    "thoughts of method",
    "intent",
    "plan with intent",
    "suicidal behaviour",
    "behaviour within 3 months",
)

_FORMAT = ("--cssrs needs six answers y/n for questions 1-6 (3-5 are '-' when 2 is n), "
           "and a seventh y/n (within 3 months) only when 6 is y")


@dataclass(frozen=True)
class Cssrs:
    """A screener answered: `answers` as stored (`y`, `n`, `-`), and its risk."""

    answers: tuple[str, ...]

    @property
    def risk(self) -> str:
        return risk(self.answers)

    def as_dict(self) -> dict[str, Any]:
        return {"answers": list(self.answers), "risk": self.risk}

    @classmethod
    def parse(cls, text: str | None) -> Cssrs | None:
        """`--cssrs y,n,-,-,-,n` checked (exit 2 on anything else); None when not given."""
        if text is None:
            return None
        answers = tuple(a.strip().lower() for a in text.split(","))
        check(answers)
        return cls(answers)


def check(answers: tuple[str, ...]) -> None:
    """Raise `Invalid` (exit 2) unless `answers` follow the screener's skip pattern."""
    if len(answers) not in (6, 7) or any(a not in ("y", "n", "-") for a in answers):
        raise Invalid(_FORMAT, code=Code.INVALID_ITEMS)
    q1, q2, *q345 = answers[:5]
    q6 = answers[5]
    if q1 == "-" or q2 == "-" or q6 == "-":
        raise Invalid("--cssrs: questions 1, 2 and 6 are always asked (y or n)",
                      code=Code.INVALID_ITEMS)
    if q2 == "n" and any(a != "-" for a in q345):
        raise Invalid("--cssrs: questions 3-5 are '-' (not asked) when question 2 is n",
                      code=Code.INVALID_ITEMS)
    if q2 == "y" and any(a == "-" for a in q345):
        raise Invalid("--cssrs: questions 3-5 need y or n when question 2 is y",
                      code=Code.INVALID_ITEMS)
    if (q6 == "y") != (len(answers) == 7):
        raise Invalid("--cssrs: a seventh answer (behaviour within 3 months, y/n) goes with "
                      "question 6 = y, and only then", code=Code.INVALID_ITEMS)
    if len(answers) == 7 and answers[6] not in ("y", "n"):
        raise Invalid("--cssrs: the seventh answer (within 3 months) is y or n",
                      code=Code.INVALID_ITEMS)


def risk(answers: tuple[str, ...] | list[str]) -> str:
    """Columbia's triage of checked answers: none, low, moderate or high."""
    yes = [a == "y" for a in answers]
    recent_behaviour = yes[5] and len(yes) == 7 and yes[6]
    if yes[3] or yes[4] or recent_behaviour:
        return "high"
    if yes[2] or yes[5]:
        return "moderate"
    if yes[0] or yes[1]:
        return "low"
    return "none"


def answered_labels(answers: tuple[str, ...] | list[str]) -> list[str]:
    """The short labels of the questions answered yes (for a panel line)."""
    return [LABELS[i] for i, a in enumerate(answers) if a == "y"]


def flagged(item9: int | None, cssrs_risk: str | None) -> bool:
    """`suicide_risk_flag`: PHQ-9 item 9 >= 1, or a C-SSRS risk of moderate or high."""
    return (item9 is not None and item9 >= 1) or cssrs_risk in ("moderate", "high")


# -- the suicide-risk pathway between screenings ------------------------------------------

@dataclass(frozen=True)
class AssessmentRisk:
    """What an assessment says about suicide risk (PHQ-9 item 9, C-SSRS risk)."""

    assessment_id: int
    day: str  # its clinic day, YYYY-MM-DD
    item9: int | None
    cssrs_risk: str | None


@dataclass(frozen=True)
class StandingRisk:
    """A suicide risk flagged since the screening and not yet answered: `ineligible` (a
    C-SSRS risk in `screening.cssrs_ineligible`: a new screening is needed) or `review`
    (a suicide risk assessment is needed before the next infusion)."""

    level: str  # "ineligible" | "review"
    assessment_id: int
    day: str
    item9: int | None
    cssrs_risk: str | None

    @property
    def message(self) -> str:
        where = f"assessment {self.assessment_id} ({self.day})"
        if self.level == "ineligible":
            return (f"C-SSRS {self.cssrs_risk} risk on {where}: same-day crisis evaluation, "
                    "a new screening is needed")
        return (f"suicide risk flagged on {where}: a suicide risk assessment is needed "
                "before the next infusion")

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "assessment_id": self.assessment_id, "day": self.day,
                "phq9_item9": self.item9, "cssrs_risk": self.cssrs_risk,
                "overridable": self.level != "ineligible", "message": self.message}


def _flags(a: AssessmentRisk, review: tuple[str, ...]) -> bool:
    item9_open = a.item9 is not None and a.item9 >= 1 and a.cssrs_risk not in ANSWERING
    return item9_open or a.cssrs_risk in review


def standing_risk(since_screening: list[AssessmentRisk], *, ineligible: tuple[str, ...],
                  review: tuple[str, ...]) -> StandingRisk | None:
    """The risk the assessments after the valid screening (oldest first, voided left out)
    leave standing: a C-SSRS risk in `ineligible` on any of them; else the latest one
    flagged (PHQ-9 item 9 >= 1 without a none/low C-SSRS in it, or a C-SSRS risk in
    `review`) with no later C-SSRS of risk none or low answering it."""
    for a in reversed(since_screening):
        if a.cssrs_risk in ineligible:
            return StandingRisk("ineligible", a.assessment_id, a.day, a.item9, a.cssrs_risk)
    open_flag: AssessmentRisk | None = None
    for a in since_screening:
        if _flags(a, review):
            open_flag = a
        elif a.cssrs_risk in ANSWERING:
            open_flag = None
    if open_flag is None:
        return None
    return StandingRisk("review", open_flag.assessment_id, open_flag.day, open_flag.item9,
                        open_flag.cssrs_risk)
