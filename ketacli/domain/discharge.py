"""Discharge readiness criteria, side effects, and the follow-ups a discharge schedules."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, cast

from ketacli.domain.vocab import SELF_DRIVE, SEVERITIES, SIDE_EFFECTS, TRANSPORTS
from ketacli.errors import Code, Invalid

if TYPE_CHECKING:
    from ketacli.protocol import Protocol, Schedule


@dataclass(frozen=True)
class Criterion:
    name: str
    met: bool
    detail: str
    overridable: bool = True

    @property
    def message(self) -> str:
        return self.detail

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("overridable")
        return d


def aldrete_total(total: int | None, items: list[int] | None) -> int:
    if (total is None) == (items is None):
        raise Invalid("give --aldrete SCORE or --aldrete-items A,B,C,D,E (one of them)",
                      code=Code.MISSING_VALUE)
    if items is not None:
        if len(items) != 5 or any(not 0 <= i <= 2 for i in items):
            raise Invalid("--aldrete-items needs 5 items of 0-2 (activity, respiration, "
                          "circulation, consciousness, SpO2)", code=Code.INVALID_ITEMS)
        return sum(items)
    if not 0 <= cast(int, total) <= 10:  # exactly one of them is given
        raise Invalid("--aldrete must be 0-10", code=Code.OUT_OF_RANGE)
    return cast(int, total)


def side_effect(value: str) -> tuple[str, str]:
    code, _, severity = value.strip().lower().partition(":")
    severity = severity or "mild"
    if code not in SIDE_EFFECTS:
        raise Invalid(f"--side-effect: unknown code (one of {', '.join(SIDE_EFFECTS)})",
                      code=Code.INVALID_SIDE_EFFECT)
    if severity not in SEVERITIES:
        raise Invalid("--side-effect severity must be mild, moderate or severe",
                      code=Code.INVALID_SIDE_EFFECT)
    return code, severity


@dataclass(frozen=True)
class Readiness:
    """What the discharge criteria look at."""

    aldrete: int
    minutes_since_end: float
    sbp: int
    dbp: int
    hr: int
    spo2: int | None
    transport: str
    unaccounted_mg: float  # drawn - given - wasted, rounded to 0.1 mg


def _amount(mg: float) -> str:
    return f"{mg:.1f}".rstrip("0").rstrip(".")


def _vitals(r: Readiness, protocol: Protocol) -> list[Criterion]:
    p = protocol.discharge
    max_s, max_d = p.max_bp
    out = [
        Criterion("bp", r.sbp < max_s and r.dbp < max_d,
                  f"BP {r.sbp}/{r.dbp} (must be below {max_s:g}/{max_d:g})"),
        Criterion("hr", r.hr < p.max_hr, f"HR {r.hr}/min (must be below {p.max_hr})"),
        Criterion("sbp-low", r.sbp >= p.min_sbp,
                  f"SBP {r.sbp} (must be at or above {p.min_sbp})"),
    ]
    if r.spo2 is not None:
        out.append(Criterion("spo2", r.spo2 >= p.min_spo2,
                             f"SpO2 {r.spo2}% (must be at or above {p.min_spo2}%)"))
    return out


def _accounted(r: Readiness) -> Criterion:
    if r.unaccounted_mg > 0:  # kept to 0.1 mg (ledger.mg), so any rest is 0.1 mg or more
        mg = _amount(r.unaccounted_mg)
        return Criterion("accounted", False, f"{mg} mg drawn is neither given nor wasted: "
                                             f"add --wasted-mg {mg} --waste-witness NAME")
    return Criterion("accounted", True, "drawn = given + wasted")


def criteria(r: Readiness, protocol: Protocol) -> list[Criterion]:
    """Every discharge criterion, met or not, in the contract's order."""
    p = protocol.discharge
    out = [
        Criterion("aldrete", r.aldrete >= p.min_aldrete,
                  f"Modified Aldrete {r.aldrete} (need >= {p.min_aldrete})"),
        Criterion("observation", r.minutes_since_end >= p.min_observation_min,
                  # whole minutes elapsed, rounded down: 29.6 min must not read "30 min"
                  f"{math.floor(r.minutes_since_end)} min since infusion end "
                  f"(need >= {p.min_observation_min})"),
        *_vitals(r, protocol),
        _accounted(r),
    ]
    if r.transport.strip().lower() in SELF_DRIVE:
        out.append(Criterion("transport", False,
                             "patient driving: no driving until the next day", overridable=False))
    else:
        out.append(Criterion("transport", True, f"transport: {r.transport}"))
    return out


@dataclass(frozen=True)
class Planned:
    kind: str
    due: date
    note: str


def schedule(number_in_series: int, discharged_on: date, schedule_protocol: Schedule, *,
             screening_valid_until: date | None = None) -> list[Planned]:
    """Follow-ups after discharge of infusion number n (the contract's rule), and a
    `screening` when the next infusion falls after the screening's last valid day."""
    plan = _planned(number_in_series, discharged_on, schedule_protocol)
    return plan + rescreening(plan, discharged_on, screening_valid_until)


def rescreening(plan: list[Planned], discharged_on: date,
                valid_until: date | None) -> list[Planned]:
    """A scheduled infusion after `valid_until` would be refused at its start (no valid
    screening): a `screening` follow-up due on `valid_until` (not before the discharge
    day) comes first."""
    late = [p for p in plan if p.kind == "infusion" and valid_until and p.due > valid_until]
    if not late or valid_until is None:
        return []
    return [Planned("screening", max(valid_until, discharged_on),
                    f"re-screening: the screening is valid until {valid_until.isoformat()}, "
                    f"the next infusion is due {late[0].due.isoformat()}")]


def _planned(number_in_series: int, discharged_on: date,
             schedule_protocol: Schedule) -> list[Planned]:
    s = schedule_protocol
    n, induction = number_in_series, s.induction_sessions
    plan = [Planned("call", discharged_on + timedelta(days=s.checkin_after_days),
                    f"check-in call after infusion {n}")]
    if n < induction:
        plan.append(Planned("infusion", discharged_on + timedelta(days=s.induction_interval_days),
                            f"induction infusion {n + 1} of {induction}"))
    elif n == induction:
        plan.append(Planned("assessment", discharged_on + timedelta(days=s.assessment_after_days),
                            "end-of-induction assessment"))
        plan.append(Planned("infusion",
                            discharged_on + timedelta(days=s.maintenance_interval_days),
                            "maintenance infusion"))
    else:
        plan.append(Planned("infusion",
                            discharged_on + timedelta(days=s.maintenance_interval_days),
                            "maintenance infusion"))
    return plan


def transport(value: str | None) -> str:
    """--transport, required; self-drive is accepted here and refused by the criteria."""
    if value is None:
        raise Invalid("--transport is required: escort, taxi, rideshare, public or other "
                      "(no driving until the next day)", code=Code.MISSING_VALUE)
    how = value.strip().lower()
    if how not in TRANSPORTS and how not in SELF_DRIVE:
        raise Invalid("--transport must be escort, taxi, rideshare, public or other",
                      code=Code.INVALID_CHOICE)
    return how
