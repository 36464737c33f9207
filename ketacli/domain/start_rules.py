"""The rules a start of an infusion must meet, each a small function of the facts.

Rule names are the contract's: `screening`, `needs-review`, `hold-bp`, `hold-sbp-low`,
`hold-hr`, `hold-spo2`, `dose`, `dose-hard-limit`, `interval`, `weight-change`,
`suicide-risk`.
`start_rules` lists every unmet one; which of them an override lifts is
`Rule.overridable` (see `safety.judge`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ketacli.domain.cssrs import AssessmentRisk, standing_risk
from ketacli.domain.dosing import weight_change_pct
from ketacli.domain.vitals import bp_reaches

if TYPE_CHECKING:
    from ketacli.protocol import Protocol


@dataclass(frozen=True)
class Rule:
    """An unmet start rule; `overridable` False means no override lifts it."""

    name: str
    message: str
    overridable: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "message": self.message, "overridable": self.overridable}


@dataclass(frozen=True)
class ScreeningState:
    decision: str
    valid_until: date
    reasons: tuple[str, ...] = ()
    weight_kg: float | None = None


@dataclass(frozen=True)
class StartFacts:
    """Everything the start rules look at."""

    screening: ScreeningState | None
    start_at: datetime
    start_day: date  # in the clinic zone
    sbp: int
    dbp: int
    hr: int
    spo2: int | None
    dose_mg_per_kg: float  # of the dosing weight
    dose_mg: float
    weight_kg: float | None  # a --weight given at the start (None: the screening's)
    last_infusion_at: datetime | None
    # the assessments after the valid screening up to the start (oldest first, not voided)
    since_screening: tuple[AssessmentRisk, ...] = ()


def _screening(f: StartFacts, p: Protocol) -> list[Rule]:
    sc = f.screening
    if sc is None:
        return [Rule("screening", "no screening on record")]
    if sc.decision == "ineligible":
        return [Rule("screening", "the valid screening is ineligible: a new screening is needed",
                     overridable=False)]
    out = []
    if f.start_day > sc.valid_until:
        out.append(Rule("screening", f"the last screening expired on {sc.valid_until.isoformat()} "
                                     f"(valid {p.screening.valid_days} days)"))
    if sc.decision == "needs-review":  # an expired screening that needed review: both listed
        out.append(Rule("needs-review",
                        "screening needs clinician review: " + "; ".join(sc.reasons)))
    return out


def _holds(f: StartFacts, p: Protocol) -> list[Rule]:
    h = p.infusion
    out = []
    if bp_reaches(f.sbp, f.dbp, h.hold_bp):
        out.append(Rule("hold-bp", f"pre-infusion BP {f.sbp}/{f.dbp} at or above hold "
                                   f"{h.hold_bp[0]:g}/{h.hold_bp[1]:g}"))
    if f.sbp < h.hold_sbp_low:
        out.append(Rule("hold-sbp-low", f"pre-infusion SBP {f.sbp} below {h.hold_sbp_low:g}"))
    lo, hi = h.hold_hr
    if not lo <= f.hr < hi:
        out.append(Rule("hold-hr", f"pre-infusion HR {f.hr} outside {lo:g}-{hi:g} "
                                   f"(below {lo:g} or at or above {hi:g})"))
    if f.spo2 is not None and f.spo2 < h.hold_spo2:
        out.append(Rule("hold-spo2", f"pre-infusion SpO2 {f.spo2}% below {h.hold_spo2:g}%"))
    return out


_EPS = 1e-9


def _dose(f: StartFacts, p: Protocol) -> list[Rule]:
    d = p.dose
    out = []
    hard = []
    if f.dose_mg_per_kg > d.hard_max_mg_per_kg + _EPS:
        hard.append(f"{f.dose_mg_per_kg:g} mg/kg above the hard limit {d.hard_max_mg_per_kg:g} mg/kg")
    if f.dose_mg > d.hard_max_mg + _EPS:
        hard.append(f"{f.dose_mg:.1f} mg above the hard limit {d.hard_max_mg:g} mg")
    if hard:
        out.append(Rule("dose-hard-limit", "dose " + " and ".join(hard), overridable=False))
    elif f.dose_mg_per_kg > d.max_mg_per_kg + _EPS:
        out.append(Rule("dose", f"dose {f.dose_mg_per_kg:g} mg/kg above the protocol maximum "
                                f"{d.max_mg_per_kg:g} mg/kg"))
    return out


def _interval(f: StartFacts, p: Protocol) -> list[Rule]:
    if f.last_infusion_at is None:
        return []
    gap_h = (f.start_at - f.last_infusion_at).total_seconds() / 3600
    need = p.infusion.min_hours_between
    if gap_h < need:
        return [Rule("interval", f"last infusion {gap_h:.1f} h ago (minimum {need:g} h)")]
    return []


def _weight_change(f: StartFacts, p: Protocol) -> list[Rule]:
    sc = f.screening
    if f.weight_kg is None or sc is None or not sc.weight_kg:
        return []
    pct = weight_change_pct(f.weight_kg, sc.weight_kg)
    limit = p.dose.weight_change_pct
    if pct > limit + _EPS:
        return [Rule("weight-change", f"weight {f.weight_kg:g} kg differs from the screening weight "
                                      f"{sc.weight_kg:g} kg by {pct:.0f}% (limit {limit:g}%): "
                                      "check the units (kg)")]
    return []


def _suicide_risk(f: StartFacts, p: Protocol) -> list[Rule]:
    """A suicide risk flagged at an assessment since the screening and not yet answered by a
    later C-SSRS of risk none or low; a C-SSRS risk in `screening.cssrs_ineligible` needs a
    new screening (not overridable)."""
    if f.screening is None:
        return []
    risk = standing_risk(list(f.since_screening), ineligible=p.screening.cssrs_ineligible,
                         review=p.screening.cssrs_review)
    if risk is None:
        return []
    return [Rule("suicide-risk", risk.message, overridable=risk.level != "ineligible")]


RULES: tuple[Callable[[StartFacts, Protocol], list[Rule]], ...] = (
    _screening, _suicide_risk, _holds, _weight_change, _dose, _interval)


def start_rules(facts: StartFacts, protocol: Protocol) -> list[Rule]:
    """Every unmet rule for starting an infusion (empty: may start)."""
    return [rule for check in RULES for rule in check(facts, protocol)]
