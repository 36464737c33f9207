"""`export redcap --output DIR`: the data dictionary obeys REDCap's rules (its 18 columns,
`record_id` first, field names, instruments contiguous, choices syntax, validation types),
the import file matches it (one row per record and per repeat instance), and
`--deidentify` applies the same Safe Harbor rules as every other export.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from export_support import FORBIDDEN, MRN, study_ids, zqf_clinic
from helpers import copy_db, ok, query

from ketacli.render import redcap

HEADER = ["Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
          "Choices, Calculations, OR Slider Labels", "Field Note",
          "Text Validation Type OR Show Slider Number", "Text Validation Min",
          "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
          "Required Field?", "Custom Alignment", "Question Number (surveys only)",
          "Matrix Group Name", "Matrix Ranking?", "Field Annotation"]
FIELD_TYPES = {"text", "notes", "calc", "dropdown", "radio", "checkbox", "yesno", "truefalse",
               "file", "slider", "descriptive", "sql"}
VALIDATIONS = {"", "date_ymd", "datetime_ymd", "datetime_seconds_ymd", "integer", "number",
               "email", "phone", "time", "zipcode", "alpha_only"}
NAME = re.compile(r"[a-z][a-z0-9_]*")
CHOICE = re.compile(r"[A-Za-z0-9_]+, [^|]+")


def read(folder) -> tuple[list[list[str]], list[dict]]:
    with open(folder / "redcap_data_dictionary.csv", newline="", encoding="utf-8") as fh:
        dictionary = list(csv.reader(fh))
    with open(folder / "redcap_import.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return dictionary, rows


def check_dictionary(dictionary: list[list[str]]) -> None:
    """REDCap's rules for an uploaded data dictionary."""
    assert dictionary[0] == HEADER
    fields = dictionary[1:]
    assert all(len(f) == 18 for f in fields)
    assert fields[0][0] == "record_id"
    names = [f[0] for f in fields]
    assert len(names) == len(set(names)), "field names are unique"
    for name, form, _, kind, label, choices, _, validation, low, high, ident, *_ in fields:
        assert NAME.fullmatch(name) and len(name) <= 100 and "__" not in name, name
        assert NAME.fullmatch(form), form
        assert kind in FIELD_TYPES and label, name
        assert validation in VALIDATIONS, name
        assert ident in {"", "y"}
        if kind in {"radio", "dropdown", "checkbox"}:
            parts = choices.split(" | ")
            assert all(CHOICE.fullmatch(p) for p in parts), (name, choices)
            codes = [p.split(",", 1)[0] for p in parts]
            assert len(codes) == len(set(codes)), name
        else:
            assert choices == "", name
        if low or high:
            assert validation in {"integer", "number"} and float(low) <= float(high), name
    # each instrument's fields are contiguous
    forms = [f[1] for f in fields]
    seen: list[str] = []
    for form in forms:
        if not seen or seen[-1] != form:
            assert form not in seen, f"instrument {form} is split"
            seen.append(form)


def test_redcap_pair_from_the_demo_clinic(cli, demo, tmp_path):
    folder = tmp_path / "redcap"
    r = ok(cli("export", "redcap", "--output", str(folder)))
    dictionary, rows = read(folder)
    check_dictionary(dictionary)
    fields = [f[0] for f in dictionary[1:]]
    assert list(rows[0]) == ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance",
                             *fields[1:]]
    forms = {f[1] for f in dictionary[1:]}
    assert {r["redcap_repeat_instrument"] for r in rows} - {""} <= forms
    counts = {t: query(demo, f"SELECT count(*) FROM {t}")[0][0]
              for t in ("patients", "screenings", "sessions", "assessments")}
    voided = {t: query(demo, "SELECT count(*) FROM voids WHERE kind = ?", (k,))[0][0]
              for t, k in (("screenings", "screening"), ("assessments", "assessment"))}
    by_form: dict[str, list[dict]] = {}
    for row in rows:
        by_form.setdefault(row["redcap_repeat_instrument"], []).append(row)
    assert len(by_form[""]) == counts["patients"]
    assert len(by_form["infusion_session"]) == counts["sessions"]
    assert len(by_form["screening"]) == counts["screenings"] - voided["screenings"]
    assert len(by_form["assessment"]) == counts["assessments"] - voided["assessments"]
    assert f"Exported {len(rows)} records" in r.stderr
    # instances are numbered 1..n per record and instrument; records are the MRNs
    mrns = {m for (m,) in query(demo, "SELECT mrn FROM patients")}
    for form, group in by_form.items():
        if not form:
            assert {x["record_id"] for x in group} == mrns
            assert all(x["redcap_repeat_instance"] == "" for x in group)
            continue
        per: dict[str, list[int]] = {}
        for x in group:
            per.setdefault(x["record_id"], []).append(int(x["redcap_repeat_instance"]))
        assert all(v == list(range(1, len(v) + 1)) for v in per.values()), form
        assert set(per) <= mrns
    # values fit their fields: choices' codes, integer validation, REDCap datetimes
    spec = {f[0]: f for f in dictionary[1:]}
    for row in rows:
        for name, value in row.items():
            if not value or name not in spec:
                continue
            kind, choices, validation = spec[name][3], spec[name][5], spec[name][7]
            if kind == "radio":
                assert value in {p.split(",", 1)[0] for p in choices.split(" | ")}, name
            elif kind == "yesno":
                assert value in {"0", "1"}, name
            elif validation == "integer":
                assert re.fullmatch(r"-?\d+", value), name
            elif validation == "datetime_seconds_ymd":
                assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value), name


def test_redcap_needs_an_output_directory(cli, demo):
    r = cli("export", "redcap")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("error: 'export redcap' writes a data dictionary")


@pytest.mark.parametrize("bound", [("--since", "2026-11-01"), ("--until", "2026-11-01"),
                                   ("--after", "1")])
def test_redcap_is_a_full_export(cli, demo, tmp_path, bound):
    """--after too: an incremental file would number a patient's new sessions from 1 and
    overwrite their first repeat instances in REDCap."""
    r = cli("export", "redcap", "--output", str(tmp_path / "r"), *bound)
    assert r.exit_code == 2 and r.stdout == "" and not (tmp_path / "r").exists()
    assert r.stderr.startswith("error: 'export redcap' exports every record")
    assert "leave out --since, --until and --after" in r.stderr


def test_redcap_import_is_not_formula_escaped(cli, db_path, tmp_path):
    ok(cli("patient", "add", "--name", "=Equals Sign", "--dob", "1980-01-01", "--", "-1"))
    folder = tmp_path / "redcap"
    ok(cli("export", "redcap", "--output", str(folder)))
    _, rows = read(folder)
    assert (rows[0]["record_id"], rows[0]["name"]) == ("-1", "=Equals Sign")


def test_deidentified_redcap_is_safe_harbor(cli, tmp_path_factory, db_path, tmp_path):
    path, _ = zqf_clinic(tmp_path_factory)
    copy_db(path, db_path)
    folder = tmp_path / "redcap"
    ok(cli("export", "redcap", "--deidentify", "--output", str(folder)))
    dictionary, rows = read(folder)
    check_dictionary(dictionary)
    assert all(f[10] == "" for f in dictionary[1:]), "no identifier field is exported"
    names = {f[0] for f in dictionary[1:]}
    assert not names & {"name", "dob", "phone", "mrn", "address"}
    text = "".join(p.read_text() for p in folder.iterdir())
    for word in FORBIDDEN:
        assert word not in text, word
    sid, shift = study_ids(db_path)[MRN]
    mine = [r for r in rows if r["record_id"] == sid]
    [demographics] = [r for r in mine if r["redcap_repeat_instrument"] == ""]
    assert demographics["birth_year"] == "90+"
    [session] = [r for r in mine if r["redcap_repeat_instrument"] == "infusion_session"]
    from datetime import datetime, timedelta

    started = datetime.fromisoformat(session["ses_started_at"])
    assert started == datetime(2026, 11, 26, 14, 30) - timedelta(days=shift)


def test_dictionary_of_the_fields_alone():
    buf = io.StringIO(newline="")
    n = redcap.write_dictionary(buf, deid=True)
    dictionary = list(csv.reader(io.StringIO(buf.getvalue(), newline="")))
    check_dictionary(dictionary)
    assert n == len(dictionary) - 1
    assert [f[0] for f in dictionary[1:]] == [f.name for _, f in redcap.fields(True)]
