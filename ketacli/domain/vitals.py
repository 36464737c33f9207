"""Vital signs: plausibility bounds and protocol alerts (pure functions)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ketacli.errors import Code, Invalid

if TYPE_CHECKING:
    from ketacli.protocol import Alerts, Pair

# Physiological plausibility (the contract): outside these a value is a typo.
PLAUSIBLE = {
    "sbp": (50, 300),
    "dbp": (20, 200),
    "hr": (20, 250),
    "spo2": (50, 100),
    "rr": (0, 60),
    "etco2": (0, 100),
    "moaas": (0, 5),
    "dissociation": (0, 10),
}
LABELS = {
    "sbp_rise": "SBP rise", "dbp_rise": "DBP rise",
    "sbp": "SBP", "dbp": "DBP", "hr": "HR", "spo2": "SpO2", "rr": "RR",
    "etco2": "EtCO2", "moaas": "MOAA/S", "dissociation": "dissociation",
}


def check_plausible(values: dict[str, int | None], option: str | None = None) -> None:
    for key, value in values.items():
        if value is None:
            continue
        lo, hi = PLAUSIBLE[key]
        if not lo <= value <= hi:
            name = option or f"--{key}"
            raise Invalid(
                f"{name}: {LABELS[key]} {value} is implausible (allowed {lo}-{hi})",
                code=Code.IMPLAUSIBLE_VITAL,
            )
    s, d = values.get("sbp"), values.get("dbp")
    if s is not None and d is not None and d >= s:
        raise Invalid(
            f"{option or '--bp'}: diastolic {d} must be below systolic {s}",
            code=Code.IMPLAUSIBLE_VITAL,
        )


@dataclass(frozen=True)
class Alert:
    level: str  # warning | critical
    parameter: str
    value: int
    threshold: int | float
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _high(param: str, value: int, pair: Pair, unit: str) -> Alert | None:
    warn, crit = pair
    if value >= crit:
        return Alert("critical", param, value, crit, f"{LABELS[param]} {value}{unit} >= {crit:g}")
    if value >= warn:
        return Alert("warning", param, value, warn, f"{LABELS[param]} {value}{unit} >= {warn:g}")
    return None


def _low(param: str, value: int, pair: Pair, unit: str) -> Alert | None:
    warn, crit = pair
    if value < crit:
        return Alert("critical", param, value, crit, f"{LABELS[param]} {value}{unit} < {crit:g}")
    if value < warn:
        return Alert("warning", param, value, warn, f"{LABELS[param]} {value}{unit} < {warn:g}")
    return None


def _rises(values: dict[str, int | None], a: Alerts, pre_bp: tuple[int, int]) -> list[Alert]:
    """The rise above the patient's own pre-infusion BP (`value` is the rise in mmHg)."""
    out = []
    for param, key, pair, before in (("sbp_rise", "sbp", a.sbp_rise, pre_bp[0]),
                                     ("dbp_rise", "dbp", a.dbp_rise, pre_bp[1])):
        now = values.get(key)
        if now is None:
            continue
        rise = now - before
        warn, crit = pair
        for level, limit in (("critical", crit), ("warning", warn)):
            if rise >= limit:
                out.append(Alert(level, param, rise, limit,
                                 f"{LABELS[key]} up {rise} mmHg from pre-infusion {before} "
                                 f"(>= {limit:g})"))
                break
    return out


def alerts(values: dict[str, int | None], alert_protocol: Alerts,
           pre_bp: tuple[int, int] | None = None) -> list[Alert]:
    """Warning and critical alerts for one set of vitals, per the protocol's [alerts];
    with the session's pre-infusion BP, the rises above it too."""
    a = alert_protocol
    checks = [
        ("sbp", _high, a.sbp, " mmHg"),
        ("sbp", _low, a.sbp_low, " mmHg"),
        ("dbp", _high, a.dbp, " mmHg"),
        ("hr", _high, a.hr_high, "/min"),
        ("hr", _low, a.hr_low, "/min"),
        ("spo2", _low, a.spo2_low, "%"),
        ("rr", _low, a.rr_low, "/min"),
        ("rr", _high, a.rr_high, "/min"),
        ("etco2", _high, a.etco2_high, " mmHg"),
        ("moaas", _low, a.moaas_low, ""),
    ]
    out = []
    for param, rule, pair, unit in checks:
        value = values.get(param)
        if value is None:
            continue
        alert = rule(param, value, pair, unit)
        if alert:
            out.append(alert)
    if pre_bp is not None:
        out.extend(_rises(values, a, pre_bp))
    return out


def bp_reaches(sbp: int, dbp: int, pair: Pair) -> bool:
    """A BP pair [S, D] is reached when systolic >= S or diastolic >= D."""
    return sbp >= pair[0] or dbp >= pair[1]
