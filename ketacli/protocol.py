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

Kind = Literal["int", "number", "pair", "codes", "bool", "choice"]
"""How a key's value is checked: a whole number >= 0, a number > 0 (kept as a float),
a list of two numbers, a list of strings, true/false, one of the key's `choices`."""

PairKind = Literal["high", "low", "bp", "range"]
"""What a pair means:

- "high": [warning, critical], alert when the value is >= the threshold; the warning
  level must not be above the critical one.
- "low": [warning, critical], alert when the value is < the threshold; the warning
  level must not be below the critical one.
- "bp": [SBP, DBP], reached when systolic >= S or diastolic >= D.
- "range": [low, high], allowed from low up to (not including) high; low < high.
"""

Bounds: TypeAlias = tuple[float, float]


@dataclass(frozen=True, slots=True)
class KeySpec:
    """What ketacli knows about one protocol key, from its field's metadata."""

    key: str  # dotted: "alerts.sbp"
    kind: Kind
    meaning: str = ""
    unit: str | None = None
    # The physical range (lo, hi) of what the key measures: a value outside it is refused,
    # naming the key (keys without their own take their unit's, see `limits`).
    bounds: Bounds | None = None
    pair: PairKind | None = None
    choices: tuple[str, ...] = ()


def key(kind: Kind, meaning: str = "", *, unit: str | None = None, bounds: Bounds | None = None,
        pair: PairKind | None = None, choices: tuple[str, ...] = ()) -> dict[str, Any]:
    """The metadata of one key's field: `field(default=..., metadata=key(...))`.

    `meaning` is how the key reads in `protocol show` (code lists need none), `unit` what
    it is counted in, `bounds` the physical (lo, hi) of what it measures, `pair` which
    kind of pair a "pair" key is (see `PairKind`).
    """
    if (kind == "pair") != (pair is not None):
        raise TypeError("a pair key, and only a pair key, says its kind of pair")
    if kind not in ("choice", "codes") and choices:
        raise TypeError("only a choice key (or a code list) lists its choices")
    if kind == "choice" and not choices:
        raise TypeError("a choice key lists its choices")
    return {"kind": kind, "meaning": meaning, "unit": unit, "bounds": bounds, "pair": pair,
            "choices": choices}


@dataclass(frozen=True, slots=True)
class Dose:
    """[dose]"""

    default_mg_per_kg: float = field(default=0.5, metadata=key(
        "number", "mg/kg of the dosing weight", unit="mg/kg", bounds=(0.01, 5)))
    max_mg_per_kg: float = field(default=1.0, metadata=key(
        "number", "soft limit: above it start-session refuses (overridable)", unit="mg/kg",
        bounds=(0.01, 5)))
    default_duration_min: int = field(default=40, metadata=key("int", "minutes", unit="min"))
    hard_max_mg_per_kg: float = field(default=1.5, metadata=key(
        "number", "hard limit (pump library): above it never starts", unit="mg/kg",
        bounds=(0.01, 5)))
    hard_max_mg: float = field(default=150.0, metadata=key(
        "number", "hard limit on the dose in mg: above it never starts", unit="mg",
        bounds=(1, 2000)))
    weight_change_pct: float = field(default=10.0, metadata=key(
        "number", "a --weight further than this from the screening weight is refused (units?)",
        unit="%", bounds=(1, 100)))
    weight_basis: str = field(default="actual", metadata=key(
        "choice", "dosing weight: actual, ideal (Devine) or adjusted, above the BMI threshold",
        choices=("actual", "ideal", "adjusted")))
    basis_bmi_threshold: float = field(default=30.0, metadata=key(
        "number", "BMI at or above which weight_basis ideal/adjusted applies", unit="kg/m2",
        bounds=(10, 90)))


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
    cssrs_ineligible: Codes = field(default=("high",), metadata=key(
        "codes", choices=("none", "low", "moderate", "high")))
    cssrs_review: Codes = field(default=("moderate",), metadata=key(
        "codes", choices=("none", "low", "moderate", "high")))


@dataclass(frozen=True, slots=True)
class Infusion:
    """[infusion]"""

    hold_bp: Pair = field(default=(160, 100), metadata=key(
        "pair", "[SBP, DBP] reached before start -> refused", unit="mmHg", pair="bp"))
    hold_sbp_low: int = field(default=90, metadata=key(
        "int", "pre-infusion SBP below it -> refused", unit="mmHg", bounds=(50, 300)))
    hold_hr: Pair = field(default=(50, 110), metadata=key(
        "pair", "[low, high]: pre-infusion HR below low or at/above high -> refused",
        unit="/min", pair="range"))
    hold_spo2: int = field(default=92, metadata=key(
        "int", "pre-infusion SpO2 (when given) below it -> refused", unit="%", bounds=(50, 100)))
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
    sbp_low: Pair = field(default=(90, 80), metadata=key(
        "pair", "mmHg [warning, critical], alert when <", unit="mmHg", pair="low"))
    rr_high: Pair = field(default=(24, 30), metadata=key(
        "pair", "/min [warning, critical], alert when >=", unit="/min", pair="high"))
    sbp_rise: Pair = field(default=(40, 60), metadata=key(
        "pair", "mmHg above the pre-infusion SBP [warning, critical], alert when >=",
        unit="mmHg", pair="high"))
    dbp_rise: Pair = field(default=(25, 40), metadata=key(
        "pair", "mmHg above the pre-infusion DBP [warning, critical], alert when >=",
        unit="mmHg", pair="high"))


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
    min_sbp: int = field(default=90, metadata=key(
        "int", "mmHg: discharge SBP must be at or above", unit="mmHg", bounds=(50, 300)))
    min_spo2: int = field(default=94, metadata=key(
        "int", "%: discharge SpO2 (when given) must be at or above", unit="%", bounds=(50, 100)))


@dataclass(frozen=True, slots=True)
class Overrides:
    """[overrides]: what an override of a refusal needs."""

    cosign: bool = field(default=True, metadata=key(
        "bool", "an override needs --cosign NAME, a second clinician"))
    min_reason_chars: int = field(default=10, metadata=key(
        "int", "characters (other than spaces) an override reason needs", unit="chars",
        bounds=(1, 200)))


@dataclass(frozen=True, slots=True)
class Records:
    """[records]: corrections after the fact."""

    late_entry_hours: float = field(default=24.0, metadata=key(
        "number", "hours after discharge during which --late entries are accepted",
        unit="h", bounds=(0, 720)))


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


@dataclass(frozen=True, slots=True)
class Reminders:
    """[reminders]: follow-up reminders claimed by a sender (`followup due --claim`)."""

    claim_minutes: int = field(default=60, metadata=key(
        "int", "a claimed batch not acknowledged within this is due again (0: at once)",
        unit="min", bounds=(0, 1440)))


Section: TypeAlias = (Dose | Screening | Infusion | Alerts | Overrides | Discharge | Schedule
                      | Records | Reminders)


def _builtin_sources() -> Mapping[str, str]:
    return MappingProxyType(dict.fromkeys(KEYS, "built-in"))


@dataclass(frozen=True, slots=True)
class Monitoring:
    """[monitoring]: how often vital signs are due (the board)."""

    intra_interval_min: int = field(default=10, metadata=key(
        "int", "minutes between readings while infusing or paused", unit="min",
        bounds=(1, 240)))
    post_interval_min: int = field(default=15, metadata=key(
        "int", "minutes between readings while observing after the infusion", unit="min",
        bounds=(1, 240)))


@dataclass(frozen=True, slots=True)
class Protocol:
    """The effective protocol; `Protocol()` is the built-in one."""

    dose: Dose = field(default_factory=Dose)
    screening: Screening = field(default_factory=Screening)
    infusion: Infusion = field(default_factory=Infusion)
    alerts: Alerts = field(default_factory=Alerts)
    monitoring: Monitoring = field(default_factory=Monitoring)
    overrides: Overrides = field(default_factory=Overrides)
    records: Records = field(default_factory=Records)
    reminders: Reminders = field(default_factory=Reminders)
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
            out[dotted] = KeySpec(dotted, m["kind"], m["meaning"], m["unit"], m["bounds"], m["pair"],
                                  m["choices"])
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
    "bool": "true or false",
    "choice": "one of",
}


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# The physical range of what a key counts in, for keys without bounds of their own; and a
# few keys whose range is narrower than their unit's (a 0-minute infusion divides by zero).
_UNIT_LIMITS: Mapping[str, Bounds] = {
    "mmHg": (1, 300), "/min": (1, 300), "%": (1, 100), "MOAA/S": (0, 6), "Aldrete": (0, 10),
    "min": (0, 1440), "h": (0, 8760), "days": (0, 3650), "infusions": (1, 100),
    "chars": (1, 200), "mg/kg": (0.01, 5), "mg": (1, 2000), "kg/m2": (10, 90),
}
_KEY_LIMITS: Mapping[str, Bounds] = {
    "dose.default_duration_min": (1, 1440),
}


def limits(spec: KeySpec) -> Bounds | None:
    """The (lo, hi) a key's value (each number of a pair) must lie within."""
    return spec.bounds or _KEY_LIMITS.get(spec.key) or _UNIT_LIMITS.get(spec.unit or "")


def _within(spec: KeySpec, value: Any) -> Any:
    """NaN, infinities and values outside the key's physical range: exit 2 naming the key."""
    import math

    numbers = value if isinstance(value, tuple) else (value,)
    if not all(math.isfinite(v) for v in numbers):
        raise Invalid(f"protocol key {spec.key} must be a finite number (not nan or inf)",
                      code=Code.PROTOCOL_INVALID)
    lo_hi = limits(spec)
    if lo_hi and not all(lo_hi[0] <= v <= lo_hi[1] for v in numbers):
        unit = f" {spec.unit}" if spec.unit else ""
        raise Invalid(f"protocol key {spec.key} must be between {lo_hi[0]:g} and "
                      f"{lo_hi[1]:g}{unit}", code=Code.PROTOCOL_INVALID)
    return value


def _check(spec: KeySpec, value: object) -> int | float | Pair | Codes:
    """The value a clinic file gives for a key, checked against the key's kind and its
    physical range."""
    checked = _check_kind(spec, value)
    if spec.kind in ("int", "number", "pair"):
        return _within(spec, checked)  # type: ignore[no-any-return, unused-ignore]
    return checked


def _check_kind(spec: KeySpec, value: object) -> int | float | Pair | Codes:
    """The value a clinic file gives for a key, checked against the key's kind."""
    if spec.kind == "int":
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    elif spec.kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool) and not value <= 0:
            return float(value)  # NaN passes here to be refused by _within, naming it
    elif spec.kind == "pair":
        if isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value):
            return (value[0], value[1])
    elif spec.kind == "bool":
        if isinstance(value, bool):
            return value
    elif spec.kind == "choice":
        if value in spec.choices:
            return value  # type: ignore[return-value]  # a str among the choices
        raise Invalid(f"protocol key {spec.key} must be one of {', '.join(spec.choices)}",
                      code=Code.PROTOCOL_INVALID)
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        if spec.choices and any(v not in spec.choices for v in value):
            raise Invalid(f"protocol key {spec.key} lists only {', '.join(spec.choices)}",
                          code=Code.PROTOCOL_INVALID)
        return tuple(value)
    raise Invalid(f"protocol key {spec.key} must be {_WANT[spec.kind]}", code=Code.PROTOCOL_INVALID)


_PAIR_ORDER: Mapping[str, tuple[str, object]] = {
    # pair kind -> (what must hold, how the refusal reads)
    "low": ("ge", "the warning level must not be below the critical one"),
    "high": ("le", "the warning level must not be above the critical one"),
    "range": ("lt", "the low end must be below the high end"),
}

# (lower key, higher key): the first must not be above the second (a soft limit above
# its hard limit, a default above the maximum).
_ORDERED: tuple[tuple[str, str], ...] = (
    ("dose.default_mg_per_kg", "dose.max_mg_per_kg"),
    ("dose.max_mg_per_kg", "dose.hard_max_mg_per_kg"),
)


def _value(proto: Protocol, dotted: str) -> Any:
    sname, name = dotted.split(".")
    return getattr(getattr(proto, sname), name)


def _check_order(proto: Protocol) -> None:
    """Pairs in their order, and no soft limit above its hard one (exit 2 naming the key)."""
    for dotted, spec in KEYS.items():
        if spec.pair is None or spec.pair not in _PAIR_ORDER:
            continue
        first, second = _value(proto, dotted)
        how, words = _PAIR_ORDER[spec.pair]
        ok = {"ge": first >= second, "le": first <= second, "lt": first < second}[str(how)]
        if not ok:
            raise Invalid(f"protocol key {dotted}: {words}", code=Code.PROTOCOL_INVALID)
    for low, high in _ORDERED:
        if _value(proto, low) > _value(proto, high):
            raise Invalid(f"protocol key {low} is above {high}", code=Code.PROTOCOL_INVALID)


MAX_DEPTH = 1
"""How deep a value may nest: a list of two numbers or of codes (the defaults' depth)."""


def _too_deep(text: str) -> str | None:
    """The key of the first value nested deeper than the defaults (read before parsing,
    so a file of 100,000 brackets is exit 2 naming the key, never a recursion error)."""
    depth, section, key = 0, "", ""
    for line in text.splitlines():
        stripped = line.strip()
        if depth == 0:
            if stripped.startswith("["):  # a [section] header
                section = stripped.split("#", 1)[0].strip("[] \t") + "."
                continue
            key = stripped.split("=", 1)[0].strip() if "=" in stripped else key
            line = line.split("=", 1)[1] if "=" in line else line
        quote, escaped = "", False  # a TOML string (but a multi-line one) ends on its line
        for ch in line:
            if quote:
                if escaped:
                    escaped = False
                elif ch == "\\" and quote == '"':
                    escaped = True
                elif ch == quote:
                    quote = ""
            elif ch in "\"'":
                quote = ch
            elif ch == "#":
                break
            elif ch in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return section + (key or "?")
            elif ch in "]}":
                depth = max(0, depth - 1)
    return None


def _read(p: Path) -> dict[str, Any]:
    import tomllib

    try:
        text = p.read_text(encoding="utf-8")
        deep = _too_deep(text)
        if deep is not None:
            raise Invalid(f"protocol key {deep[:60]} nests deeper than the defaults "
                          "(a value is a number, a list of two numbers or a list of codes)",
                          code=Code.PROTOCOL_INVALID)
        return tomllib.loads(text)
    except RecursionError:
        raise Invalid(f"protocol file nests too deeply: {p}", code=Code.PROTOCOL_INVALID) from None
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
