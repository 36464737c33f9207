"""`export redcap --output DIR`: a REDCap data dictionary and the flat import file that
matches it, for research registries.

- `redcap_data_dictionary.csv`: REDCap's 18 columns, `record_id` first, each
  instrument's fields together (demographics, then the repeating screening, session
  and assessment instruments); field names are lower case letters, digits and
  underscores, unique across instruments; choices as `1, Label | 2, Label`.
- `redcap_import.csv`: one row per record (demographics) and one per repeat instance
  (`redcap_repeat_instrument`, `redcap_repeat_instance`, numbered per record in the
  order they were recorded), columns in dictionary order. REDCap reads it as data: no formula escaping.

De-identified (`--deidentify`), the reader's rows are Safe Harbor already (study ids,
shifted dates, birth years, no names, phones or free text) and the identifier fields
are left out of both files (name, date of birth, phone, address). Rows stream: memory
holds one instance counter per record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ketacli.render import csv_writer

if TYPE_CHECKING:
    from ketacli.store.export import Reader

DICTIONARY = "redcap_data_dictionary.csv"
IMPORT = "redcap_import.csv"
HEADER = ("Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
          "Choices, Calculations, OR Slider Labels", "Field Note",
          "Text Validation Type OR Show Slider Number", "Text Validation Min",
          "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
          "Required Field?", "Custom Alignment", "Question Number (surveys only)",
          "Matrix Group Name", "Matrix Ranking?", "Field Annotation")
FREQUENCY = "0, Not at all | 1, Several days | 2, More than half the days | 3, Nearly every day"
SEX = {"F": "1", "M": "2", "X": "3", "U": "4"}
DECISION = {"eligible": "1", "needs-review": "2", "ineligible": "3"}
STATUS = {"open": "1", "discharged": "2"}


def _choices(codes: dict[str, str]) -> str:
    return " | ".join(f"{n}, {label}" for label, n in codes.items())


@dataclass(frozen=True)
class Field:
    name: str
    kind: str                          # REDCap field type: text, radio, yesno, notes
    label: str
    value: Callable[[dict], object]    # the row's value for the import file
    choices: str = ""
    validation: str = ""               # integer, number, date_ymd, datetime_seconds_ymd
    low: str = ""
    high: str = ""
    identifier: bool = False           # a direct identifier: never in a de-identified export
    note: str = ""


def _col(name: str) -> Callable[[dict], object]:
    return lambda r: r.get(name)


def _coded(name: str, codes: dict[str, str]) -> Callable[[dict], object]:
    return lambda r: codes.get(r.get(name) or "")


def _when(name: str) -> Callable[[dict], object]:
    """A stored UTC time as REDCap's `YYYY-MM-DD HH:MM:SS` (UTC)."""
    def value(r: dict) -> str | None:
        v = r.get(name)
        if not v:
            return None
        return datetime.fromisoformat(v).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return value


def _item(name: str, i: int) -> Callable[[dict], object]:
    def value(r: dict) -> object:
        items = r.get(name)
        if isinstance(items, str):
            items = json.loads(items)
        return items[i] if items else None
    return value


def _yesno(name: str) -> Callable[[dict], object]:
    return lambda r: None if r.get(name) is None else int(bool(r[name]))


def _int(name: str, label: str, low: int, high: int, note: str = "") -> Field:
    return Field(name, "text", label, _col(name.split("_", 1)[1]), validation="integer",
                 low=str(low), high=str(high), note=note)


def _num(name: str, label: str, note: str = "") -> Field:
    return Field(name, "text", label, _col(name.split("_", 1)[1]), validation="number",
                 note=note)


def _scales(prefix: str) -> list[Field]:
    """PHQ-9 and GAD-7 items and totals, MADRS and PCL-5 totals of one instrument."""
    out = [Field(f"{prefix}_phq9_{i + 1}", "radio", f"PHQ-9 item {i + 1}",
                 _item("phq9_items", i), choices=FREQUENCY) for i in range(9)]
    out.append(_int(f"{prefix}_phq9_total", "PHQ-9 total", 0, 27))
    out += [Field(f"{prefix}_gad7_{i + 1}", "radio", f"GAD-7 item {i + 1}",
                  _item("gad7_items", i), choices=FREQUENCY) for i in range(7)]
    out.append(_int(f"{prefix}_gad7_total", "GAD-7 total", 0, 21))
    out.append(_int(f"{prefix}_madrs_total", "MADRS total", 0, 60))
    out.append(_int(f"{prefix}_pcl5_total", "PCL-5 total", 0, 80))
    return out


def _record_id(r: dict) -> object:
    return r.get("study_id") or r.get("patient")


DEMOGRAPHICS = [
    Field("record_id", "text", "Record ID (study id when de-identified, else MRN)", _record_id),
    Field("name", "text", "Name", _col("name"), identifier=True),
    Field("dob", "text", "Date of birth", _col("dob"), validation="date_ymd", identifier=True),
    Field("phone", "text", "Phone", _col("phone"), identifier=True),
    Field("address", "notes", "Address", _col("address"), identifier=True),
    Field("birth_year", "text", "Birth year (90+ over 89)", lambda r: r.get("birth_year") or (
        r["dob"][:4] if r.get("dob") else None)),
    Field("sex", "radio", "Sex", _coded("sex", SEX), choices=_choices(
        {"Female": "1", "Male": "2", "Other": "3", "Unknown": "4"})),
]
SCREENING = [
    Field("scr_at", "text", "Screening time (UTC)", _when("at"),
          validation="datetime_seconds_ymd"),
    _num("scr_weight_kg", "Weight", "kg"), _num("scr_height_cm", "Height", "cm"),
    _int("scr_sbp", "Systolic BP", 40, 300, "mmHg"), _int("scr_dbp", "Diastolic BP", 20, 200,
                                                          "mmHg"),
    _int("scr_hr", "Heart rate", 20, 250, "/min"), _int("scr_spo2", "SpO2", 50, 100, "%"),
    *_scales("scr"),
    Field("scr_decision", "radio", "Decision", _coded("decision", DECISION),
          choices=_choices({"eligible": "1", "needs review": "2", "ineligible": "3"})),
    Field("scr_suicide_risk_flag", "yesno", "Suicide risk flag", _yesno("suicide_risk_flag")),
]
SESSION = [
    Field("ses_started_at", "text", "Infusion start (UTC)", _when("started_at"),
          validation="datetime_seconds_ymd"),
    _int("ses_number_in_series", "Infusion number in series", 1, 1000),
    _num("ses_weight_kg", "Weight", "kg"), _num("ses_dose_mg_per_kg", "Dose", "mg/kg"),
    _num("ses_dose_mg", "Planned dose", "mg"), _num("ses_duration_min", "Duration", "min"),
    _num("ses_rate_mg_per_h", "Rate", "mg/h"),
    Field("ses_status", "radio", "Status", _coded("status", STATUS),
          choices=_choices({"open": "1", "discharged": "2"})),
    Field("ses_discharged_at", "text", "Discharge (UTC)", _when("discharged_at"),
          validation="datetime_seconds_ymd"),
    _num("ses_delivered_mg", "Delivered dose", "mg"),
    _int("ses_aldrete_total", "Aldrete score at discharge", 0, 10),
    Field("ses_side_effects", "text", "Side effects (code:severity;...)", _col("side_effects")),
]
ASSESSMENT = [
    Field("asm_at", "text", "Assessment time (UTC)", _when("at"),
          validation="datetime_seconds_ymd"),
    *_scales("asm"),
]
# instrument, its fields, the exported table it comes from (patients: one row per record)
INSTRUMENTS: tuple[tuple[str, list[Field], str], ...] = (
    ("demographics", DEMOGRAPHICS, "patients"),
    ("screening", SCREENING, "screenings"),
    ("infusion_session", SESSION, "sessions"),
    ("assessment", ASSESSMENT, "assessments"),
)


def fields(deid: bool) -> Iterator[tuple[str, Field]]:
    """(instrument, field) in dictionary order; identifiers only when identified."""
    for form, fs, _ in INSTRUMENTS:
        for f in fs:
            if not (deid and f.identifier):
                yield form, f


def write_dictionary(out, deid: bool) -> int:
    w = csv_writer.writer(out)
    w.writerow(HEADER)
    n = 0
    for form, f in fields(deid):
        w.writerow([f.name, form, "", f.kind, f.label, f.choices, f.note, f.validation, f.low,
                    f.high, "y" if f.identifier else "", "", "y" if f.name == "record_id" else "",
                    "", "", "", "", ""])
        n += 1
    return n


def write_import(out, reader: Reader) -> dict[str, int]:
    """The import file: a header of dictionary field names after record_id and the repeat
    columns, then each table's rows. Returns rows per table."""
    deid = reader.deidentified
    names = [f.name for _, f in fields(deid)]
    columns = ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance", *names[1:]]
    w = csv_writer.data_writer(out)
    w.writerow(columns)
    position = {c: i for i, c in enumerate(columns)}
    counts: dict[str, int] = {}
    for form, fs, table in INSTRUMENTS:
        own = [f for f in fs if not (deid and f.identifier) and f.name != "record_id"]
        instances: dict[object, int] = {}
        n = 0
        for row in reader.dicts(table):
            record = _record_id(row)
            line: list[object] = [None] * len(columns)
            line[0] = record
            if table != "patients":
                instances[record] = instances.get(record, 0) + 1
                line[1], line[2] = form, instances[record]
            for f in own:
                line[position[f.name]] = f.value(row)
            w.writerow(line)
            n += 1
        counts[table] = n
    return counts
