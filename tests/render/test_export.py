"""render/export.py and render/csv_writer.py: the export's writers (CSV, JSON, NDJSON,
the FHIR sinks) and the one CSV dialect of the program.

Exports here are made by the engine directly (export_support.engine_export), on the
demo clinic or a clinic built in the test.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from export_support import FORMATS, NOTE, TRICKY_NOTE, engine_export, parse, zqf_clinic
from helpers import copy_db, ok

from ketacli.render import csv_writer
from ketacli.render import export as writers


@pytest.fixture
def zqf(tmp_path_factory, db_path) -> dict:
    path, ids = zqf_clinic(tmp_path_factory)
    copy_db(path, db_path)
    return ids


# -- JSON and NDJSON keep types; free text stays text -----------------------------------------------
def test_json_keeps_types(demo):
    _, patients = parse("json", engine_export(demo, "patients", "json"))
    assert all(p["demo"] is True for p in patients)
    _, screenings = parse("json", engine_export(demo, "screenings", "json"))
    assert all(isinstance(s["phq9_items"], list) and len(s["phq9_items"]) == 9 for s in screenings)
    assert all(isinstance(s["suicide_risk_flag"], bool) for s in screenings)
    assert all(s["phq9_total"] == sum(s["phq9_items"]) for s in screenings)
    _, obs = parse("ndjson", engine_export(demo, "observations", "ndjson"))
    assert all(isinstance(o["alerts"], list) for o in obs)
    assert any(isinstance(o["sbp"], int) for o in obs)
    _, audit = parse("json", engine_export(demo, "audit", "json"))
    assert all(isinstance(a["detail"], dict | None) for a in audit)


def test_event_detail_that_looks_like_json_stays_text(cli, db_path):
    """events.detail is free text: '[L arm] swelling' must not be parsed as JSON."""
    ok(cli("screen", "EV-1", "--name", "Eve Vent", "--weight", "70", "--bp", "120/80", "--hr", "70",
           "--at", "2026-11-27 07:00"))
    ok(cli("start-session", "EV-1", "--bp", "120/80", "--hr", "70", "--at", "2026-11-27 07:30"))
    details = ["[L arm] mild swelling", "{sic} nausea", "[1, 2]", "plain"]
    for i, detail in enumerate(details):
        ok(cli("log-event", "--patient", "EV-1", "adverse", "--detail", detail,
               "--at", f"2026-11-27 07:{40 + i}"))
    for fmt in FORMATS:
        _, rows = parse(fmt, engine_export(db_path, "events", fmt))
        assert [r["detail"] for r in rows] == details, fmt
    doc = json.loads(engine_export(db_path, "all", "json"))
    assert [r["detail"] for r in doc["data"]["events"]] == details
    assert all(isinstance(r["detail"], dict | None) for r in doc["data"]["audit"])  # JSON there


def test_csv_keeps_free_text_with_quotes_commas_and_newlines(zqf, db_path):
    _, rows = parse("csv", engine_export(db_path, "observations"))
    assert [r["note"] for r in rows if r["note"]] == [NOTE, TRICKY_NOTE]


# -- the one CSV dialect ------------------------------------------------------------------------------
AWKWARD = ["plain", 'said "hi"', "a,b", "two\nlines", None, 7, 2.5, ""]
AWKWARD_CSV = 'plain,"said ""hi""","a,b","two\nlines",,7,2.5,\n'


def test_csv_writer_quotes_only_what_needs_it_and_ends_lines_with_newline():
    buf = io.StringIO(newline="")
    w = csv_writer.writer(buf)
    w.writerow(AWKWARD)
    w.writerows([["x"], ["y", None]])
    assert buf.getvalue() == AWKWARD_CSV + "x\ny,\n"
    # what the export wrote before there was one writer: csv.writer ending lines in "\n"
    ref = io.StringIO(newline="")
    csv.writer(ref, lineterminator="\n").writerows([AWKWARD, ["x"], ["y", None]])
    assert buf.getvalue() == ref.getvalue()
    assert next(csv.reader(io.StringIO(buf.getvalue(), newline=""))) == [
        "plain", 'said "hi"', "a,b", "two\nlines", "", "7", "2.5", ""]


def test_csv_dict_writer_is_the_same_dialect():
    fields = [f"c{i}" for i in range(len(AWKWARD))]
    buf = io.StringIO(newline="")
    w = csv_writer.dict_writer(buf, fields)
    w.writeheader()
    w.writerow(dict(zip(fields, AWKWARD, strict=True)))
    assert buf.getvalue() == ",".join(fields) + "\n" + AWKWARD_CSV
    # options go to csv.DictWriter
    buf = io.StringIO(newline="")
    csv_writer.dict_writer(buf, ["a"], extrasaction="ignore").writerow({"a": 1, "b": 2})
    assert buf.getvalue() == "1\n"
    with pytest.raises(ValueError):
        csv_writer.dict_writer(io.StringIO(), ["a"]).writerow({"a": 1, "b": 2})


# -- the CSV writers of the export: one process, or slices from workers ------------------------------
ROWS = [(i, f"note {i}" if i % 3 else 'with "quotes", commas\nand a line break', None, i / 4)
        for i in range(12_001)]
COLS = ["id", "note", "empty", "quarter"]


def test_write_csv_streams_a_header_then_rows_ticking_every_5000():
    buf, ticks = io.StringIO(newline=""), []
    assert writers.write_csv(buf, COLS, iter(ROWS), ticks.append) == len(ROWS)
    assert ticks == [5000, 10000]
    ref = io.StringIO(newline="")
    csv.writer(ref, lineterminator="\n").writerows([COLS, *ROWS])
    assert buf.getvalue() == ref.getvalue()


def test_parallel_slices_make_the_same_bytes_as_one_process():
    """csv_text formats one slice in a worker; write_csv_slices puts the header first."""
    single = io.StringIO(newline="")
    writers.write_csv(single, COLS, ROWS, lambda n: None)
    texts = [(writers.csv_text([ROWS[a:a + 1000], ROWS[a + 1000:a + 2500]]),
              len(ROWS[a:a + 2500])) for a in range(0, len(ROWS), 2500)]
    out, ticks = io.StringIO(newline=""), []
    assert writers.write_csv_slices(out, COLS, texts, ticks.append) == len(ROWS)
    assert out.getvalue() == single.getvalue()
    assert ticks == [min(len(ROWS), 2500 * (i + 1)) for i in range(len(texts))]
    assert writers.csv_text([]) == ""


# -- JSON and NDJSON writers ----------------------------------------------------------------------------
def test_json_array_and_ndjson_decode_json_columns_unless_they_hold_text():
    cols = ["detail", "alerts", "demo", "note"]
    rows = [('{"a": 1}', "[]", 1, "[not json"), (None, '["sbp_high"]', 0, None)]
    buf = io.StringIO()
    assert writers.write_json_array(buf, cols, rows, lambda n: None) == 2
    assert json.loads(buf.getvalue()) == [
        {"detail": {"a": 1}, "alerts": [], "demo": True, "note": "[not json"},
        {"detail": None, "alerts": ["sbp_high"], "demo": False, "note": None}]
    buf = io.StringIO()
    writers.write_ndjson(buf, cols, rows[:1], lambda n: None, table="events",
                         text=writers.TEXT_COLUMNS["events"])
    assert buf.getvalue() == ('{"table": "events", "detail": "{\\"a\\": 1}", "alerts": [], '
                              '"demo": true, "note": "[not json"}\n')
    empty = io.StringIO()
    assert writers.write_json_array(empty, cols, [], lambda n: None) == 0
    assert empty.getvalue() == "[]"


# -- the FHIR sinks ---------------------------------------------------------------------------------------
def test_fhir_bundle_and_ndjson_sinks():
    patient = {"resourceType": "Patient", "id": "p1"}
    obs = {"resourceType": "Observation", "id": "o1", "subject": {"reference": "urn:uuid:p1"},
           "contained": [{"reference": "#med"}]}
    empty = io.StringIO()
    assert writers.FhirBundle(empty, "2026-11-27T15:00:00+00:00").close() == 0
    assert empty.getvalue() == ('{"resourceType": "Bundle", "type": "collection", '
                                '"timestamp": "2026-11-27T15:00:00+00:00", "entry": []}\n')
    buf = io.StringIO()
    bundle = writers.FhirBundle(buf, "t")
    for res in (patient, None, obs):  # None (no resource to write) is skipped
        bundle.add(res)
    assert bundle.close() == 2
    doc = json.loads(buf.getvalue())
    assert [e["fullUrl"] for e in doc["entry"]] == ["urn:uuid:p1", "urn:uuid:o1"]
    assert doc["entry"][1]["resource"] == obs
    buf = io.StringIO()
    lines = writers.FhirNdjson(buf, "t")
    for res in (patient, None, obs):
        lines.add(res)
    assert lines.close() == 2
    first, second = map(json.loads, buf.getvalue().splitlines())
    assert first == patient
    assert second["subject"] == {"reference": "Patient/p1"}  # relative, to an earlier line
    assert second["contained"] == [{"reference": "#med"}]


def test_ndjson_references_outside_the_export_are_relative_by_their_element():
    """An incremental export (`--after`) or one table holds resources whose Patient or
    Encounter came in an earlier export: a `urn:uuid:` there resolves nowhere, so the
    reference takes its type from the element that holds it; text is never touched."""
    obs = {"resourceType": "Observation", "id": "o1", "subject": {"reference": "urn:uuid:p9"},
           "encounter": {"reference": "urn:uuid:e9"},
           "derivedFrom": [{"reference": "urn:uuid:q9"}], "note": [{"text": '"urn:uuid:x"'}]}
    ma = {"resourceType": "MedicationAdministration", "id": "m1",
          "context": {"reference": "urn:uuid:e9"}, "partOf": [{"reference": "urn:uuid:r9"}]}
    ae = {"resourceType": "AdverseEvent", "id": "a1",
          "suspectEntity": [{"instance": {"reference": "urn:uuid:m9"}}]}
    buf = io.StringIO()
    lines = writers.FhirNdjson(buf, "t")
    for res in (obs, ma, ae):
        lines.add(res)
    o, m, a = map(json.loads, buf.getvalue().splitlines())
    assert (o["subject"], o["encounter"], o["derivedFrom"]) == (
        {"reference": "Patient/p9"}, {"reference": "Encounter/e9"},
        [{"reference": "QuestionnaireResponse/q9"}])
    assert o["note"] == [{"text": '"urn:uuid:x"'}]
    assert (m["context"], m["partOf"]) == ({"reference": "Encounter/e9"},
                                           [{"reference": "Procedure/r9"}])
    assert a["suspectEntity"] == [{"instance": {"reference": "MedicationAdministration/m9"}}]
