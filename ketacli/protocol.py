"""The clinic protocol: built-in defaults plus a clinic's TOML overrides.

Every clinical threshold in ketacli comes from here, never from a constant in
code. The result is one frozen object; `sources` tells where each value came
from (the built-in file or the clinic's file).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ketacli.errors import Invalid

DEFAULT_FILE = "default_protocol.toml"

# How each key reads (shown by `protocol show`).
KEY_NOTES = {
    "dose.default_mg_per_kg": "mg/kg of recorded weight",
    "dose.max_mg_per_kg": "mg/kg; above it start-session refuses",
    "dose.default_duration_min": "minutes",
    "screening.valid_days": "days a screening stays valid",
    "screening.review_bp": "[SBP, DBP] reached -> needs-review",
    "screening.ineligible_bp": "[SBP, DBP] reached -> ineligible",
    "infusion.hold_bp": "[SBP, DBP] reached before start -> refused",
    "infusion.min_hours_between": "hours between infusions",
    "alerts.sbp": "mmHg [warning, critical], alert when >=",
    "alerts.dbp": "mmHg [warning, critical], alert when >=",
    "alerts.hr_high": "/min [warning, critical], alert when >=",
    "alerts.hr_low": "/min [warning, critical], alert when <",
    "alerts.spo2_low": "% [warning, critical], alert when <",
    "alerts.rr_low": "/min [warning, critical], alert when <",
    "alerts.etco2_high": "mmHg [warning, critical], alert when >=",
    "alerts.moaas_low": "MOAA/S [warning, critical], alert when <",
    "discharge.min_aldrete": "Modified Aldrete total needed (0-10)",
    "discharge.min_observation_min": "minutes since infusion end",
    "discharge.max_bp": "[SBP, DBP]: discharge BP must stay below both",
    "discharge.max_hr": "/min: discharge HR must be below",
    "schedule.induction_sessions": "infusions in the induction series",
    "schedule.induction_interval_days": "days between induction infusions",
    "schedule.checkin_after_days": "days after discharge for the call",
    "schedule.assessment_after_days": "days after the last induction infusion",
    "schedule.maintenance_interval_days": "days between maintenance infusions",
}


class Section:
    """One read-only protocol section: `protocol.alerts.sbp`."""

    def __init__(self, name: str, values: dict[str, Any]) -> None:
        self._name = name
        self._values = MappingProxyType(dict(values))

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"protocol has no key {self._name}.{key}") from None

    def items(self):
        return self._values.items()


@dataclass(frozen=True)
class Protocol:
    sections: MappingProxyType
    sources: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def __getattr__(self, name: str) -> Section:
        try:
            return self.sections[name]
        except KeyError:
            raise AttributeError(name) from None

    def flat(self) -> Iterator[tuple[str, Any, str]]:
        """(dotted key, value, source) for every key, in file order."""
        for sname, section in self.sections.items():
            for key, value in section.items():
                dotted = f"{sname}.{key}"
                yield dotted, value, self.sources.get(dotted, "built-in")

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {s: dict(sec.items()) for s, sec in self.sections.items()}


def _defaults() -> dict[str, dict[str, Any]]:
    text = (Path(__file__).parent / DEFAULT_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "strings"
    if isinstance(value, list) and len(value) == 2:
        return "pair"
    return "other"


def _check(key: str, default: Any, value: Any) -> Any:
    kind = _kind(default)
    ok = False
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    elif kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        value = float(value) if ok else value
    elif kind == "pair":
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        )
    elif kind == "strings":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    if not ok:
        want = {
            "int": "a whole number >= 0",
            "number": "a number > 0",
            "pair": "a list of two numbers",
            "strings": "a list of strings",
        }.get(kind, "the built-in type")
        raise Invalid(f"protocol key {key} must be {want}", code="protocol_invalid")
    return value


def _check_order(values: dict[str, dict[str, Any]]) -> None:
    for key, pair in values["alerts"].items():
        warn, crit = pair
        if key.endswith("_low") and warn < crit:
            raise Invalid(
                f"protocol key alerts.{key}: the warning level must not be below the critical one",
                code="protocol_invalid",
            )
        if not key.endswith("_low") and warn > crit:
            raise Invalid(
                f"protocol key alerts.{key}: the warning level must not be above the critical one",
                code="protocol_invalid",
            )
    if values["dose"]["default_mg_per_kg"] > values["dose"]["max_mg_per_kg"]:
        raise Invalid(
            "protocol key dose.default_mg_per_kg is above dose.max_mg_per_kg",
            code="protocol_invalid",
        )


def load(path: str | Path | None = None) -> Protocol:
    """The effective protocol: defaults, overridden by the TOML file at `path`."""
    values = _defaults()
    sources: dict[str, str] = {}
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise Invalid(f"protocol file not found: {p}", code="protocol_invalid") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise Invalid(
                f"protocol file cannot be read: {p} ({type(exc).__name__})", code="protocol_invalid"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise Invalid(f"protocol file is not valid TOML: {p}: {exc}", code="protocol_invalid") from None
        for sname, section in data.items():
            if sname not in values:
                raise Invalid(f"protocol: unknown section [{sname}] in {p}", code="protocol_invalid")
            if not isinstance(section, dict):
                raise Invalid(f"protocol: [{sname}] must be a table", code="protocol_invalid")
            for key, value in section.items():
                dotted = f"{sname}.{key}"
                if key not in values[sname]:
                    raise Invalid(f"protocol: unknown key {dotted} in {p}", code="protocol_invalid")
                values[sname][key] = _check(dotted, values[sname][key], value)
                sources[dotted] = str(p)
        _check_order(values)
    return Protocol(
        MappingProxyType({name: Section(name, sec) for name, sec in values.items()}),
        MappingProxyType(sources),
    )
