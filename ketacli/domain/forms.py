"""What a recording command was given, validated: each form turns the raw option values
of one command into typed values, or raises `Invalid` (exit 2) naming the option.

Checks run in the order the options matter to a clinician, so that with several
mistakes the first one reported is the same every time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from ketacli.clock import CLOCK, day_start_utc, parse_at, parse_date, to_utc_iso
from ketacli.domain import discharge as dis_rules
from ketacli.domain import dosing, infusion, ledger, validate, vitals
from ketacli.domain import screening as sc_rules
from ketacli.domain.cssrs import Cssrs
from ketacli.domain.vocab import EVENT_KINDS
from ketacli.errors import Code, Invalid

if TYPE_CHECKING:
    from ketacli.domain.safety import Override
    from ketacli.protocol import Dose, Screening


def _choices(values: list[str] | None, known: tuple[str, ...], option: str, *,
             echo: bool = True) -> tuple[str, ...]:
    out = tuple(dict.fromkeys(v.strip().lower() for v in values or []))
    for v in out:
        if v not in known:
            if echo:
                raise Invalid(f"{option} must be one of {', '.join(known)}",
                              code=Code.INVALID_CHOICE)
            raise Invalid(f"{option}: unknown code", code=Code.INVALID_CHOICE,  # never echoed
                          hint="known codes: " + ", ".join(known))
    return out


def choice(value: str, known: tuple[str, ...], option: str) -> str:
    """One of `known` (case and surrounding spaces ignored)."""
    v = value.strip().lower()
    if v not in known:
        raise Invalid(f"{option} must be " + ", ".join(known[:-1]) + f" or {known[-1]}",
                      code=Code.INVALID_CHOICE)
    return v


@dataclass(frozen=True)
class Scales:
    """The rating scales given on `screen` or `followup record`."""

    phq9: tuple[int, ...] | None = None
    gad7: tuple[int, ...] | None = None
    madrs: int | None = None
    pcl5: int | None = None
    cssrs: Cssrs | None = None

    @classmethod
    def parse(cls, phq9: str | None, gad7: str | None, madrs: int | None,
              pcl5: int | None, cssrs: str | None = None) -> Scales:
        p9 = validate.int_list(phq9, "--phq9", count=9, lo=0, hi=3) if phq9 else None
        g7 = validate.int_list(gad7, "--gad7", count=7, lo=0, hi=3) if gad7 else None
        validate.number(madrs, "--madrs", 0, 60)
        validate.number(pcl5, "--pcl5", 0, 80)
        return cls(tuple(p9) if p9 else None, tuple(g7) if g7 else None, madrs, pcl5,
                   Cssrs.parse(cssrs))

    @property
    def empty(self) -> bool:
        return (self.phq9 is None and self.gad7 is None and self.madrs is None
                and self.pcl5 is None and self.cssrs is None)

    @property
    def cssrs_answers(self) -> tuple[str, ...] | None:
        return self.cssrs.answers if self.cssrs else None

    @property
    def cssrs_risk(self) -> str | None:
        return self.cssrs.risk if self.cssrs else None


@dataclass(frozen=True)
class Demographics:
    """--name/--dob/--sex/--phone/--address as typed (validated only when a patient is
    created or edited)."""

    name: str | None = None
    dob: str | None = None
    sex: str | None = None
    phone: str | None = None
    address: str | None = None

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.name, self.dob, self.sex, self.phone,
                                           self.address))

    def validated(self, today: date) -> Demographics:
        name = validate.name(self.name)
        d = validate.dob(self.dob, today)
        return Demographics(name, d.isoformat() if d else None, validate.sex(self.sex),
                            validate.phone(self.phone),
                            validate.free_text(self.address, "--address", max_len=300))

    def fields(self) -> dict[str, str]:
        """The fields given (validated), by stored column name."""
        return {k: v for k, v in (("name", self.name), ("dob", self.dob), ("sex", self.sex),
                                  ("phone", self.phone), ("address", self.address))
                if v is not None}


@dataclass(frozen=True)
class ScreenForm:
    mrn: str
    when: datetime
    weight_kg: float
    height_cm: float | None
    sbp: int
    dbp: int
    hr: int
    spo2: int | None
    indication: str | None
    conditions: tuple[str, ...]
    meds: tuple[str, ...]
    scales: Scales
    note: str | None
    person: Demographics

    @classmethod
    def parse(cls, *, mrn: str, at: str | None, weight: float, height: float | None, bp: str,
              hr: int, spo2: int | None, indication: str | None, condition: list[str] | None,
              med: list[str] | None, phq9: str | None, gad7: str | None, madrs: int | None,
              pcl5: int | None, note: str | None, person: Demographics, tz: tzinfo,
              screening_protocol: Screening, cssrs: str | None = None) -> ScreenForm:
        mrn = validate.mrn(mrn)
        when = parse_at(at, tz)
        weight_kg = validate.number(weight, "--weight", *infusion.WEIGHT_KG)
        height_cm = validate.number(height, "--height", 50, 250)
        if height_cm is not None:
            dosing.bmi(weight_kg, height_cm)  # an implausible BMI is a slip (exit 2)
        sbp, dbp = validate.bp(bp)
        vitals.check_plausible({"hr": hr, "spo2": spo2})
        if indication is not None and indication not in sc_rules.INDICATIONS:
            raise Invalid(f"--indication must be one of {', '.join(sc_rules.INDICATIONS)}",
                          code=Code.INVALID_CHOICE)
        conditions = _choices(condition, sc_rules.known_conditions(screening_protocol),
                              "--condition", echo=False)
        meds = _choices(med, sc_rules.MED_CLASSES, "--med")
        scales = Scales.parse(phq9, gad7, madrs, pcl5, cssrs)
        note = validate.free_text(note, "--note", multiline=True)
        return cls(mrn, when, weight_kg, height_cm, sbp, dbp, hr, spo2, indication, conditions,
                   meds, scales, note, person)

    def with_phq9(self, items: list[int] | None) -> ScreenForm:
        if not items:
            return self
        return replace(self, scales=replace(self.scales, phq9=tuple(items)))


@dataclass(frozen=True)
class StartForm:
    mrn: str
    when: datetime
    sbp: int
    dbp: int
    hr: int
    spo2: int | None
    mg_per_kg: float
    duration_min: float
    weight_kg: float | None
    concentration: float | None
    drawn_mg: float | None
    lot: str | None
    site: str | None
    override: Override
    chair: str | None = None

    @classmethod
    def parse(cls, *, mrn: str, at: str | None, bp: str, hr: int, spo2: int | None,
              dose: float | None, duration: float | None, weight: float | None,
              concentration: float | None, drawn_mg: float | None, lot: str | None,
              site: str | None, override: Override, tz: tzinfo,
              dose_protocol: Dose, chair: str | None = None) -> StartForm:
        mrn = validate.mrn(mrn)
        when = parse_at(at, tz)
        sbp, dbp = validate.bp(bp)
        vitals.check_plausible({"hr": hr, "spo2": spo2})
        mg_per_kg = validate.number(
            dose if dose is not None else dose_protocol.default_mg_per_kg, "--dose",
            *infusion.DOSE_MG_PER_KG)
        minutes = validate.number(
            duration if duration is not None else dose_protocol.default_duration_min,
            "--duration", *infusion.DURATION_MIN)
        validate.number(weight, "--weight", *infusion.WEIGHT_KG)
        validate.number(concentration, "--concentration", *infusion.CONCENTRATION_MG_PER_ML)
        drawn = ledger.mg(validate.number(drawn_mg, "--drawn-mg", 0.1, infusion.AMOUNT_MG[1]))
        return cls(mrn, when, sbp, dbp, hr, spo2, mg_per_kg, minutes, weight, concentration,
                   drawn, validate.lot(lot), validate.free_text(site, "--site", max_len=80),
                   override, chair=validate.free_text(chair, "--chair", max_len=24))


@dataclass(frozen=True)
class SessionTarget:
    """SESSION_ID or --patient MRN (exactly one): which session a command is about."""

    session_id: int | None
    mrn: str | None

    @classmethod
    def parse(cls, session_id: int | str | None, patient: str | None) -> SessionTarget:
        if isinstance(session_id, str):
            if not (session_id.isascii() and session_id.isdigit()):  # "²".isdigit() is True
                raise Invalid("SESSION_ID must be a number (or use --patient MRN)",
                              code=Code.INVALID_ID)
            session_id = int(session_id)
        if (session_id is None) == (patient is None):
            raise Invalid("give a SESSION_ID or --patient MRN (one of them)",
                          code=Code.MISSING_VALUE)
        return cls(session_id, validate.mrn(patient) if patient is not None else None)


MEASURES = ("sbp", "dbp", "hr", "spo2", "rr", "etco2", "moaas", "dissociation")


@dataclass(frozen=True)
class VitalsForm:
    values: dict[str, int | None]
    when: datetime
    note: str | None

    @classmethod
    def parse(cls, *, bp: str | None, hr: int | None, spo2: int | None, rr: int | None,
              etco2: int | None, moaas: int | None, dissociation: int | None,
              at: str | None, note: str | None, tz: tzinfo) -> VitalsForm:
        parsed = validate.bp(bp)
        values = {"sbp": parsed[0] if parsed else None, "dbp": parsed[1] if parsed else None,
                  "hr": hr, "spo2": spo2, "rr": rr, "etco2": etco2, "moaas": moaas,
                  "dissociation": dissociation}
        if all(v is None for v in values.values()):
            raise Invalid("give at least one measure (--bp, --hr, --spo2, --rr, --etco2, "
                          "--moaas, --dissociation)", code=Code.MISSING_VALUE)
        vitals.check_plausible(values)
        when = parse_at(at, tz)
        return cls(values, when, validate.free_text(note, "--note", multiline=True))


@dataclass(frozen=True)
class EventForm:
    target: SessionTarget
    kind: str
    detail: str | None
    rate_mg_per_h: float | None
    when: datetime

    @classmethod
    def parse(cls, *, target: str | None, kind: str | None, patient: str | None,
              detail: str | None, rate: float | None, at: str | None, tz: tzinfo) -> EventForm:
        session_id: str | None = None
        if patient is not None:
            if kind is not None:
                raise Invalid("give a SESSION_ID or --patient MRN (one of them)",
                              code=Code.MISSING_VALUE)
            kind = target
        else:
            session_id = target
        if session_id is not None:
            SessionTarget.parse(session_id, None)  # a malformed id first, before the KIND
        if kind is None:
            raise Invalid("give the event KIND: " + ", ".join(EVENT_KINDS), code=Code.MISSING_VALUE)
        kind = kind.strip().lower()
        if kind not in EVENT_KINDS:
            raise Invalid(f"KIND must be one of {', '.join(EVENT_KINDS)}", code=Code.INVALID_CHOICE)
        if kind == "rate-change":
            if rate is None:
                raise Invalid("rate-change needs --rate MG_PER_H", code=Code.MISSING_VALUE)
            validate.number(rate, "--rate", 0.1, 2000)
        elif rate is not None:
            raise Invalid("--rate only goes with rate-change", code=Code.INVALID_OPTION)
        detail = validate.free_text(detail, "--detail", max_len=500, multiline=True)
        if kind in ("medication", "adverse") and not detail:
            raise Invalid(f"{kind} needs --detail (what was given or happened)",
                          code=Code.MISSING_VALUE)
        when = parse_at(at, tz)
        return cls(SessionTarget.parse(session_id, patient), kind, detail, rate, when)


@dataclass(frozen=True)
class DischargeForm:
    aldrete: int
    aldrete_items: tuple[int, ...] | None
    sbp: int
    dbp: int
    hr: int
    spo2: int | None
    transport: str
    escort: str | None
    side_effects: tuple[tuple[str, str], ...]
    delivered_mg: float | None
    wasted_mg: float
    waste_witness: str | None
    override: Override
    note: str | None
    when: datetime
    infusion_end: datetime | None

    @classmethod
    def parse(cls, *, aldrete: int | None, aldrete_items: str | None, bp: str | None,
              hr: int | None, spo2: int | None, transport: str | None, escort: str | None,
              side_effect: list[str] | None, delivered_mg: float | None,
              wasted_mg: float | None, waste_witness: str | None, override: Override,
              note: str | None, at: str | None, infusion_end: str | None, clinician: str,
              tz: tzinfo) -> DischargeForm:
        items = (validate.int_list(aldrete_items, "--aldrete-items", count=5, lo=0, hi=2)
                 if aldrete_items is not None else None)
        score = dis_rules.aldrete_total(aldrete, items)
        if bp is None or hr is None:
            raise Invalid("--bp and --hr are required at discharge", code=Code.MISSING_VALUE)
        sbp, dbp = validate.bp(bp)
        vitals.check_plausible({"hr": hr, "spo2": spo2})
        how = dis_rules.transport(transport)
        escort = validate.free_text(escort, "--escort", max_len=120, person=True)
        effects = tuple(dict.fromkeys(dis_rules.side_effect(v) for v in side_effect or []))
        # controlled-substance amounts are kept to 0.1 mg (ledger.mg), then compared
        delivered = ledger.mg(validate.number(delivered_mg, "--delivered-mg", *infusion.AMOUNT_MG))
        wasted = ledger.mg(validate.number(wasted_mg, "--wasted-mg", *infusion.AMOUNT_MG) or 0.0)
        witness = validate.free_text(waste_witness, "--waste-witness", max_len=120, person=True)
        ledger.check_waste_witness(wasted, witness, clinician)
        note = validate.free_text(note, "--note", multiline=True)
        when = parse_at(at, tz)
        end = parse_at(infusion_end, tz, option="--infusion-end") if infusion_end else None
        return cls(score, tuple(items) if items else None, sbp, dbp, hr, spo2, how, escort,
                   effects, delivered, wasted, witness, override, note, when, end)


@dataclass(frozen=True)
class AssessmentForm:
    mrn: str
    scales: Scales
    when: datetime
    note: str | None

    @classmethod
    def parse(cls, *, mrn: str, phq9: str | None, gad7: str | None, madrs: int | None,
              pcl5: int | None, at: str | None, note: str | None, tz: tzinfo,
              cssrs: str | None = None) -> AssessmentForm:
        mrn = validate.mrn(mrn)
        scales = Scales.parse(phq9, gad7, madrs, pcl5, cssrs)
        if scales.empty:
            raise Invalid("give at least one score: --phq9, --gad7, --madrs, --pcl5 or --cssrs",
                          code=Code.MISSING_VALUE)
        when = parse_at(at, tz)
        return cls(mrn, scales, when, validate.free_text(note, "--note", multiline=True))


@dataclass(frozen=True)
class Period:
    """--since/--until dates (inclusive, clinic zone) and their UTC ISO bounds [lo, hi)."""

    since: date | None
    until: date | None
    lo: str | None
    hi: str | None

    @classmethod
    def parse(cls, since: str | None, until: str | None, tz: tzinfo) -> Period:


        s = parse_date(since, option="--since")
        u = parse_date(until, option="--until")
        if s and u and u < s:
            raise Invalid("--until is before --since", code=Code.INVALID_PERIOD)
        lo = to_utc_iso(day_start_utc(s, tz)) if s else None
        hi = to_utc_iso(day_start_utc(u + timedelta(days=1), tz)) if u else None
        return cls(s, u, lo, hi)

    @classmethod
    def day(cls, day: str, tz: tzinfo) -> Period:
        """`--date DAY`: that one clinic day; a bad date names --date, not --since."""
        d = parse_date(day, option="--date")
        return cls.parse(d.isoformat() if d else None, d.isoformat() if d else None, tz)

    def as_dict(self) -> dict[str, str | None]:
        return {"since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None}


@dataclass(frozen=True)
class ExportForm:
    """`export TABLE --format F [--since DAY] [--deidentify] [--output PATH]`, checked: what
    cannot be exported is refused (exit 2)."""

    table: str
    fmt: str
    since_iso: str | None  # the --since bound as a stored UTC time
    deidentify: bool
    until_iso: str | None = None  # the --until bound (exclusive: the next day's start)

    @classmethod
    def parse(cls, *, table: str, fmt: str, since: str | None, deidentify: bool,
              has_output: bool, tz: tzinfo, until: str | None = None,
              after: int | None = None) -> ExportForm:
        from ketacli.domain.vocab import EXPORT_FORMATS, EXPORT_TABLES, FHIR_TABLES

        table, fmt = table.strip().lower(), fmt.strip().lower()
        if table not in (*EXPORT_TABLES, "all", "redcap"):
            raise Invalid(f"unknown table {table!r}: one of {', '.join(EXPORT_TABLES)}, all "
                          "or redcap", code=Code.INVALID_CHOICE)
        if table == "redcap" and not has_output:
            raise Invalid("'export redcap' writes a data dictionary and an import file: give "
                          "--output DIR", code=Code.MISSING_VALUE)
        if table == "redcap" and (since is not None or until is not None or after is not None):
            raise Invalid("'export redcap' exports every record (repeat instances are numbered "
                          "from each record's first): leave out --since, --until and --after",
                          code=Code.INVALID_CHOICE)
        if fmt not in EXPORT_FORMATS:
            raise Invalid("--format must be csv, json, ndjson, fhir or fhir-ndjson",
                          code=Code.INVALID_CHOICE)
        if fmt.startswith("fhir") and table not in (*FHIR_TABLES, "all"):
            raise Invalid(f"{table} has no FHIR mapping: export it as csv, json or ndjson",
                          code=Code.INVALID_CHOICE)
        if fmt == "csv" and table == "all" and not has_output:
            raise Invalid("'export all --format csv' writes one file per table: give --output DIR",
                          code=Code.MISSING_VALUE)
        since_day = parse_date(since, option="--since")
        if since_day and since_day > CLOCK.now().astimezone(tz).date():
            raise Invalid("--since is in the future", code=Code.FUTURE_TIME)
        if deidentify and table == "audit":
            raise Invalid("the audit log cannot be de-identified (its order and times would "
                          "undo the date shifts): export it without --deidentify",
                          code=Code.INVALID_CHOICE)
        if deidentify and since is not None:
            raise Invalid("--since cannot be used with --deidentify: the bound would reveal "
                          "each patient's date shift; use --after EXPORT_ID for incremental "
                          "exports", code=Code.INVALID_OPTION)
        if deidentify and until is not None:
            raise Invalid("--until with --deidentify would reveal the date shift: export "
                          "everything de-identified", code=Code.INVALID_CHOICE)
        since_iso = to_utc_iso(day_start_utc(since_day, tz)) if since_day else None
        until_iso = Period.parse(since, until, tz).hi if until is not None else None
        return cls(table, fmt, since_iso, deidentify, until_iso)

    @property
    def one_file_per_table(self) -> bool:
        return self.fmt == "csv" and self.table == "all"

    def files(self, tables: tuple[str, ...]) -> list[str]:
        """The file names an export writes into its --output directory (none: one file)."""
        if self.table == "redcap":
            return ["redcap_data_dictionary.csv", "redcap_import.csv"]
        return [f"{t}.csv" for t in tables] if self.one_file_per_table else []
