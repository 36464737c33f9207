"""The clinic protocol: built-in defaults plus a clinic's TOML overrides.

Every clinical threshold in ketacli comes from here, never from a constant in
code. The result is one frozen `Protocol`: one frozen dataclass per section
(`protocol.alerts.sbp`, `protocol.dose.max_mg_per_kg`), and `sources`, which
tells where each value came from ("built-in" or the clinic file's path).

These are defaults, not medical advice: every threshold is the clinic's to set.
A clinic file given with --protocol / KETACLI_PROTOCOL overrides any key.

Reading the thresholds:
  a BP pair [S, D] is reached when systolic >= S or diastolic >= D;
  [warning, critical] pairs alert when the value is >= the threshold,
  except the *_low keys, which alert when the value is < the threshold.

Adding a key is one field in its section's dataclass: its type, its built-in
default, and `metadata=key(...)`: its kind (how a clinic value is checked), how
it reads (`meaning`, shown by `protocol show`), its `unit`, the physical
`bounds` (lo, hi) of what it measures, and for a pair which kind of pair it is
(`PairKind`). Adding a section is a frozen dataclass plus one field of
`Protocol` whose default factory is the section class.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

from ketacli.errors import Code, Invalid

Pair: TypeAlias = tuple[float, float]
"""Two numbers; which two is the key's `PairKind`. The TOML's numbers are kept as
given (an int stays an int), so `as_dict()` shows what the file said."""

Codes: TypeAlias = tuple[str, ...]
"""A list of codes (conditions, medication classes)."""

Kind = Literal["int", "number", "pair", "codes"]
"""How a key's value is checked: a whole number >= 0, a number > 0 (kept as a float),
a list of two numbers, a list of strings."""

PairKind = Literal["high", "low", "bp", "soft-hard"]
"""What a pair means:

- "high": [warning, critical], alert when the value is >= the threshold; the warning
  level must not be above the critical one.
- "low": [warning, critical], alert when the value is < the threshold; the warning
  level must not be below the critical one.
- "bp": [SBP, DBP], reached when systolic >= S or diastolic >= D.
- "soft-hard": [soft, hard] limits (none yet).
"""

Bounds: TypeAlias = tuple[float, float]


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What ketacli knows about one protocol key, from its field's metadata."""

    key: str  # dotted: "alerts.sbp"
    kind: Kind
    meaning: str = ""
    unit: str | None = None
    # The physical range (lo, hi) of what the key measures. Not enforced yet: a value
    # outside it will be refused, naming the key (issue 15).
    bounds: Bounds | None = None
    pair: PairKind | None = None


def key(kind: Kind, meaning: str = "", *, unit: str | None = None, bounds: Bounds | None = None,
        pair: PairKind | None = None) -> dict[str, Any]:
    """The metadata of one key's field: `field(default=..., metadata=key(...))`.

    `meaning` is how the key reads in `protocol show` (code lists need none), `unit` what
    it is counted in, `bounds` the physical (lo, hi) of what it measures, `pair` which
    kind of pair a "pair" key is (see `PairKind`).
    """
    if (kind == "pair") != (pair is not None):
        raise TypeError("a pair key, and only a pair key, says its kind of pair")
    return {"kind": kind, "meaning": meaning, "unit": unit, "bounds": bounds, "pair": pair}


@dataclass(frozen=True, slots=True)
class Dose:
    """[dose]"""

    default_mg_per_kg: float = field(default=0.5, metadata=key(
        "number", "mg/kg of recorded weight", unit="mg/kg"))
    max_mg_per_kg: float = field(default=1.0, metadata=key(
        "number", "mg/kg; above it start-session refuses", unit="mg/kg"))
    default_duration_min: int = field(default=40, metadata=key("int", "minutes", unit="min"))


@dataclass(frozen=True, slots=True)
class Screening:
    """[screening]"""

    valid_days: int = field(default=30, metadata=key("int", "days a screening stays valid", unit="days"))
    review_bp: Pair = field(default=(160, 100), metadata=key(
        "pair", "[SBP, DBP] reached -> needs-review", unit="mmHg", pair="bp"))
    ineligible_bp: Pair = field(default=(180, 110), metadata=key(
        "pair", "[SBP, DBP] reached -> ineligible", unit="mmHg", pair="bp"))
    ineligible_conditions: Codes = field(default=(
        "active-psychosis", "mania", "pregnancy", "aneurysm", "intracranial-hemorrhage",
        "ketamine-allergy",
    ), metadata=key("codes"))
    review_conditions: Codes = field(default=(
        "substance-use-disorder", "cardiac-disease", "uncontrolled-hypertension", "raised-icp",
        "hepatic-impairment", "hyperthyroidism", "glaucoma",
    ), metadata=key("codes"))
    review_meds: Codes = field(default=("benzodiazepine", "lamotrigine", "maoi", "stimulant"),
                               metadata=key("codes"))


@dataclass(frozen=True, slots=True)
class Infusion:
    """[infusion]"""

    hold_bp: Pair = field(default=(160, 100), metadata=key(
        "pair", "[SBP, DBP] reached before start -> refused", unit="mmHg", pair="bp"))
    min_hours_between: int = field(default=24, metadata=key("int", "hours between infusions", unit="h"))


@dataclass(frozen=True, slots=True)
class Alerts:
    """[alerts]: the [warning, critical] pairs of the vital-sign alerts."""

    sbp: Pair = field(default=(160, 180), metadata=key(
        "pair", "mmHg [warning, critical], alert when >=", unit="mmHg", pair="high"))
    dbp: Pair = field(default=(100, 110), metadata=key(
        "pair", "mmHg [warning, critical], alert when >=", unit="mmHg", pair="high"))
    hr_high: Pair = field(default=(110, 130), metadata=key(
        "pair", "/min [warning, critical], alert when >=", unit="/min", pair="high"))
    hr_low: Pair = field(default=(50, 40), metadata=key(
        "pair", "/min [warning, critical], alert when <", unit="/min", pair="low"))
    spo2_low: Pair = field(default=(94, 90), metadata=key(
        "pair", "% [warning, critical], alert when <", unit="%", pair="low"))
    rr_low: Pair = field(default=(10, 8), metadata=key(
        "pair", "/min [warning, critical], alert when <", unit="/min", pair="low"))
    etco2_high: Pair = field(default=(50, 60), metadata=key(
        "pair", "mmHg [warning, critical], alert when >=", unit="mmHg", pair="high"))
    moaas_low: Pair = field(default=(3, 2), metadata=key(
        "pair", "MOAA/S [warning, critical], alert when <", unit="MOAA/S", pair="low"))


@dataclass(frozen=True, slots=True)
class Discharge:
    """[discharge]: the readiness criteria."""

    min_aldrete: int = field(default=9, metadata=key(
        "int", "Modified Aldrete total needed (0-10)", unit="Aldrete"))
    min_observation_min: int = field(default=30, metadata=key(
        "int", "minutes since infusion end", unit="min"))
    max_bp: Pair = field(default=(160, 100), metadata=key(
        "pair", "[SBP, DBP]: discharge BP must stay below both", unit="mmHg", pair="bp"))
    max_hr: int = field(default=110, metadata=key("int", "/min: discharge HR must be below", unit="/min"))


@dataclass(frozen=True, slots=True)
class Schedule:
    """[schedule]: the follow-ups a discharge schedules."""

    induction_sessions: int = field(default=6, metadata=key(
        "int", "infusions in the induction series", unit="infusions"))
    induction_interval_days: int = field(default=2, metadata=key(
        "int", "days between induction infusions", unit="days"))
    checkin_after_days: int = field(default=1, metadata=key(
        "int", "days after discharge for the call", unit="days"))
    assessment_after_days: int = field(default=7, metadata=key(
        "int", "days after the last induction infusion", unit="days"))
    maintenance_interval_days: int = field(default=28, metadata=key(
        "int", "days between maintenance infusions", unit="days"))


Section: TypeAlias = Dose | Screening | Infusion | Alerts | Discharge | Schedule


def _builtin_sources() -> Mapping[str, str]:
    return MappingProxyType(dict.fromkeys(KEYS, "built-in"))


@dataclass(frozen=True, slots=True)
class Protocol:
    """The effective protocol; `Protocol()` is the built-in one."""

    dose: Dose = field(default_factory=Dose)
    screening: Screening = field(default_factory=Screening)
    infusion: Infusion = field(default_factory=Infusion)
    alerts: Alerts = field(default_factory=Alerts)
    discharge: Discharge = field(default_factory=Discharge)
    schedule: Schedule = field(default_factory=Schedule)
    # dotted key -> "built-in" or the path of the clinic file that set it
    sources: Mapping[str, str] = field(default_factory=_builtin_sources)

    def sections(self) -> Iterator[tuple[str, Section]]:
        """(section name, section) in file order."""
        for name in SECTIONS:
            yield name, getattr(self, name)

    def flat(self) -> Iterator[tuple[str, Any, str]]:
        """(dotted key, value, source) for every key, in file order; values as in the TOML
        (pairs and code lists as lists)."""
        for sname, section in self.sections():
            for f in fields(section):
                dotted = f"{sname}.{f.name}"
                yield dotted, _plain(getattr(section, f.name)), self.sources.get(dotted, "built-in")

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """The TOML's structure: {section: {key: value}}, pairs and code lists as lists."""
        return {
            sname: {f.name: _plain(getattr(section, f.name)) for f in fields(section)}
            for sname, section in self.sections()
        }


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _sections() -> dict[str, type[Section]]:
    out: dict[str, type[Section]] = {}
    for f in fields(Protocol):
        if f.name != "sources":
            out[f.name] = f.default_factory  # type: ignore[assignment]  # the section class
    return out


def _specs() -> dict[str, KeySpec]:
    out: dict[str, KeySpec] = {}
    for sname, cls in SECTIONS.items():
        for f in fields(cls):
            m = f.metadata
            dotted = f"{sname}.{f.name}"
            out[dotted] = KeySpec(dotted, m["kind"], m["meaning"], m["unit"], m["bounds"], m["pair"])
    return out


SECTIONS: Mapping[str, type[Section]] = MappingProxyType(_sections())
"""Section name -> its dataclass, in file order."""

KEYS: Mapping[str, KeySpec] = MappingProxyType(_specs())
"""Dotted key -> what it is, in file order."""

KEY_NOTES: Mapping[str, str] = MappingProxyType({k: s.meaning for k, s in KEYS.items() if s.meaning})
"""How each key reads (shown by `protocol show`); code lists have none."""

_WANT: Mapping[Kind, str] = {
    "int": "a whole number >= 0",
    "number": "a number > 0",
    "pair": "a list of two numbers",
    "codes": "a list of strings",
}


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check(spec: KeySpec, value: object) -> int | float | Pair | Codes:
    """The value a clinic file gives for a key, checked against the key's kind."""
    if spec.kind == "int":
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    elif spec.kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
    elif spec.kind == "pair":
        if isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value):
            return (value[0], value[1])
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise Invalid(f"protocol key {spec.key} must be {_WANT[spec.kind]}", code=Code.PROTOCOL_INVALID)


def _check_order(proto: Protocol) -> None:
    for f in fields(proto.alerts):
        spec = KEYS[f"alerts.{f.name}"]
        warn, crit = getattr(proto.alerts, f.name)
        if spec.pair == "low" and warn < crit:
            raise Invalid(
                f"protocol key {spec.key}: the warning level must not be below the critical one",
                code=Code.PROTOCOL_INVALID,
            )
        if spec.pair == "high" and warn > crit:
            raise Invalid(
                f"protocol key {spec.key}: the warning level must not be above the critical one",
                code=Code.PROTOCOL_INVALID,
            )
    if proto.dose.default_mg_per_kg > proto.dose.max_mg_per_kg:
        raise Invalid(
            "protocol key dose.default_mg_per_kg is above dose.max_mg_per_kg",
            code=Code.PROTOCOL_INVALID,
        )


def _read(p: Path) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Invalid(f"protocol file not found: {p}", code=Code.PROTOCOL_INVALID) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(
            f"protocol file cannot be read: {p} ({type(exc).__name__})", code=Code.PROTOCOL_INVALID
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"protocol file is not valid TOML: {p}: {exc}", code=Code.PROTOCOL_INVALID) from None


def load(path: str | Path | None = None) -> Protocol:
    """The effective protocol: the built-in defaults, overridden by the TOML file at `path`."""
    if not path:
        return Protocol()
    p = Path(path)
    data = _read(p)
    given: dict[str, dict[str, Any]] = {}
    sources = dict.fromkeys(KEYS, "built-in")
    for sname, section in data.items():
        if sname not in SECTIONS:
            raise Invalid(f"protocol: unknown section [{sname}] in {p}", code=Code.PROTOCOL_INVALID)
        if not isinstance(section, dict):
            raise Invalid(f"protocol: [{sname}] must be a table", code=Code.PROTOCOL_INVALID)
        for key, value in section.items():
            dotted = f"{sname}.{key}"
            spec = KEYS.get(dotted)
            if spec is None:
                raise Invalid(f"protocol: unknown key {dotted} in {p}", code=Code.PROTOCOL_INVALID)
            given.setdefault(sname, {})[key] = _check(spec, value)
            sources[dotted] = str(p)
    sections: dict[str, Any] = {sname: cls(**given.get(sname, {})) for sname, cls in SECTIONS.items()}
    proto = Protocol(**sections, sources=MappingProxyType(sources))
    _check_order(proto)
    return proto
