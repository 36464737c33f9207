"""render/fhir.py: the FHIR R4 resources an export builds (docs/interop.md codes and units),
valid as R4, with stable ids and references that resolve, in a Bundle or as NDJSON;
their de-identified form.

The demo clinic's FHIR exports are made once (export_support.fhir_exports); other
tests build their resources with the engine directly (export_support.engine_export).
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import FIXED_NOW
from export_support import (
    FHIR_TABLES,
    GAD7_ITEMS,
    LOINC,
    MRN,
    PHQ9_ITEMS,
    SNOMED,
    UCUM,
    assert_references_resolve,
    clinic_of,
    codes,
    day_start,
    engine_export,
    expected_ids,
    fhir_exports,
    only_code,
    parse,
    pseudonyms,
    resources,
    rid_in,
    study_ids,
    validate_every_resource,
    zqf_clinic,
)
from helpers import copy_db, fhir_references, ok, query

from ketacli.render import fhir


@pytest.fixture
def zqf(tmp_path_factory, db_path) -> dict:
    path, ids = zqf_clinic(tmp_path_factory)
    copy_db(path, db_path)
    return ids


@pytest.fixture(name="fhir_exports", scope="module")
def fhir_exports_fixture(tmp_path_factory, engine):
    return fhir_exports(tmp_path_factory)


# -- the demo clinic as a Bundle ------------------------------------------------------------------
@pytest.mark.parametrize("deid", [False, True], ids=["identified", "deidentified"])
def test_fhir_bundle_of_the_demo_clinic_validates_as_r4(fhir_exports, deid):
    path, texts = fhir_exports
    bundle = json.loads(texts[deid])
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "collection"
    assert bundle["timestamp"] == FIXED_NOW.isoformat()
    seen = validate_every_resource(bundle)
    assert seen == {"Patient", "Encounter", "MedicationAdministration", "Observation", "Flag",
                    "Procedure", "AdverseEvent", "QuestionnaireResponse"}
    assert_references_resolve(bundle)
    n = {t: query(path, f"SELECT count(*) FROM {t}")[0][0] for t in ("patients", "sessions")}
    assert len(resources(bundle, "Patient")) == n["patients"]
    assert len(resources(bundle, "Encounter")) == n["sessions"]
    assert len(resources(bundle, "MedicationAdministration")) == n["sessions"]
    flagged = query(path, "SELECT count(*) FROM screenings WHERE suicide_risk_flag = 1")[0][0]
    assert len(resources(bundle, "Flag")) == flagged > 0


@pytest.mark.parametrize("deid", [False, True], ids=["identified", "deidentified"])
def test_fhir_ids_are_stable_across_exports(fhir_exports, deid):
    _, texts = fhir_exports
    first, second = json.loads(texts[deid]), json.loads(texts[deid, "again"])
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
    assert texts[deid] == texts[deid, "again"]  # the clock is pinned: byte for byte


def test_fhir_patients(fhir_exports):
    path, texts = fhir_exports
    mrns = {r[0] for r in query(path, "SELECT mrn FROM patients")}
    ident = resources(json.loads(texts[False]), "Patient")
    assert {p["identifier"][0]["value"] for p in ident} == mrns
    assert all(p["identifier"][0]["system"] == "urn:ketacli:mrn" for p in ident)
    names = {r[0]: r[1] for r in query(path, "SELECT mrn, name FROM patients")}
    for p in ident:
        [name] = p["name"]
        assert name["text"] == names[p["identifier"][0]["value"]]
        assert name["family"] and name["given"]
        assert " ".join([*name["given"], name["family"]]) == name["text"]
    deid = resources(json.loads(texts[True]), "Patient")
    study = {r[0] for r in query(path, "SELECT study_id FROM study_ids")}
    assert {p["identifier"][0]["value"] for p in deid} == study
    assert all(p["identifier"][0]["system"] == "urn:ketacli:study-id" for p in deid)
    for p in deid:
        assert set(p) <= {"resourceType", "id", "gender", "identifier", "birthDate"}
        assert "birthDate" not in p or re.fullmatch(r"\d{4}", p["birthDate"])


def test_fhir_vital_signs_use_loinc_and_ucum(fhir_exports):
    path, texts = fhir_exports
    bundle = json.loads(texts[False])
    vitals = [o for o in resources(bundle, "Observation")
              if ("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs")
              in codes(o["category"][0])]
    units = {"8867-4": "/min", "9279-1": "/min", "59408-5": "%", "29463-7": "kg", "8302-2": "cm",
             "19891-1": "mm[Hg]"}
    by_code: dict[str, list] = {}
    for o in vitals:
        code = o["code"]["coding"][0]["code"]
        by_code.setdefault(code, []).append(o)
        assert (LOINC, code) in codes(o["code"])
        assert o["status"] == "final"
        if code == "85354-9":
            assert "valueQuantity" not in o
            sys_c, dia_c = o["component"]
            assert codes(sys_c["code"]) == {(LOINC, "8480-6")}
            assert codes(dia_c["code"]) == {(LOINC, "8462-4")}
            for c in (sys_c, dia_c):
                q = c["valueQuantity"]
                assert (q["unit"], q["system"], q["code"]) == ("mm[Hg]", UCUM, "mm[Hg]")
            assert sys_c["valueQuantity"]["value"] > dia_c["valueQuantity"]["value"]
        else:
            q = o["valueQuantity"]
            assert (q["unit"], q["system"], q["code"]) == (units[code], UCUM, units[code]), code
    assert {"85354-9", *units} - {"19891-1"} <= set(by_code) <= {"85354-9", *units}
    # one BP per screening and per observation with a BP
    n_bp = query(path, "SELECT (SELECT count(*) FROM screenings) + "
                       "(SELECT count(*) FROM observations WHERE sbp IS NOT NULL)")[0][0]
    assert len(by_code["85354-9"]) == n_bp
    n_spo2 = query(path, "SELECT (SELECT count(*) FROM screenings WHERE spo2 IS NOT NULL) + "
                         "(SELECT count(*) FROM observations WHERE spo2 IS NOT NULL)")[0][0]
    assert len(by_code["59408-5"]) == n_spo2
    # infusion vitals point to their Encounter; the first observation's values are the stored ones
    infusion = [o for o in vitals if "encounter" in o]
    assert len(infusion) > len(vitals) / 2
    first = query(path, "SELECT id, at, sbp, dbp, hr, session_id FROM observations "
                        "WHERE sbp IS NOT NULL AND hr IS NOT NULL ORDER BY id LIMIT 1")[0]
    rid = rid_in(clinic_of(bundle))  # identified ids are in the clinic's namespace
    by_id = {r["id"]: r for r in resources(bundle)}
    bp = by_id[rid("Observation", f"obs-{first[0]}-bp")]
    hr = by_id[rid("Observation", f"obs-{first[0]}-hr")]
    assert bp["effectiveDateTime"] == hr["effectiveDateTime"] == first[1]
    assert [c["valueQuantity"]["value"] for c in bp["component"]] == [first[2], first[3]]
    assert hr["valueQuantity"]["value"] == first[4]
    assert bp["encounter"]["reference"] == f"urn:uuid:{rid('Encounter', first[5])}"


def _surveys(bundle, panel):
    return [o for o in resources(bundle, "Observation")
            if o["code"]["coding"][0]["code"] == panel]


@pytest.mark.parametrize(("panel", "total_code", "items", "column"), [
    ("44249-1", "44261-6", PHQ9_ITEMS, "phq9"),
    ("69737-5", "70274-6", GAD7_ITEMS, "gad7"),
])
def test_fhir_surveys(fhir_exports, panel, total_code, items, column):
    path, texts = fhir_exports
    bundle = json.loads(texts[False])
    surveys = _surveys(bundle, panel)
    n = query(path, f"SELECT (SELECT count(*) FROM screenings WHERE {column}_total IS NOT NULL) + "
                    f"(SELECT count(*) FROM assessments WHERE {column}_total IS NOT NULL)")[0][0]
    assert len(surveys) == n > 0
    for o in surveys:
        assert codes(o["code"]) == {(LOINC, panel)}
        assert [only_code(c) for c in o["category"]] == ["survey"]
        comps = o["component"]
        assert [only_code(c["code"]) for c in comps] == [*items, total_code]
        assert all(codes(c["code"]) <= {(LOINC, code) for code in [*items, total_code]}
                   for c in comps)
        values = [c["valueInteger"] for c in comps]
        assert sum(values[:-1]) == values[-1] == o["valueInteger"]
        assert all(0 <= v <= 3 for v in values[:-1])


def test_fhir_medication_administration(fhir_exports):
    path, texts = fhir_exports
    bundle = json.loads(texts[False])
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    stored = {round(r[0], 3) for r in query(
        path, "SELECT d.delivered_mg FROM discharges d")} | {round(r[0], 3) for r in query(
        path, "SELECT dose_mg FROM sessions WHERE id NOT IN (SELECT session_id FROM discharges)")}
    meds = resources(bundle, "MedicationAdministration")
    assert {m["status"] for m in meds} <= {"completed", "in-progress"}
    for m in meds:
        assert codes(m["dosage"]["route"]) == {(SNOMED, "47625008")}
        dose = m["dosage"]["dose"]
        assert (dose["unit"], dose["system"], dose["code"]) == ("mg", UCUM, "mg")
        assert dose["value"] in stored
        rate = m["dosage"]["rateQuantity"]
        assert (rate["system"], rate["code"]) == (UCUM, "mg/h") and rate["value"] > 0
        encounter = by_url[m["context"]["reference"]]
        assert encounter["resourceType"] == "Encounter"
        assert encounter["subject"] == m["subject"]
        assert m["effectivePeriod"]["start"] == encounter["period"]["start"]
        [med] = m["contained"]
        assert m["medicationReference"]["reference"] == f"#{med['id']}"
        assert med["code"]["text"] == "ketamine"
    open_sessions = query(path, "SELECT count(*) FROM sessions "
                                "WHERE id NOT IN (SELECT session_id FROM discharges)")[0][0]
    assert sum(m["status"] == "in-progress" for m in meds) == open_sessions
    assert sum(e["status"] == "in-progress"
               for e in resources(bundle, "Encounter")) == open_sessions


@pytest.mark.parametrize("table", FHIR_TABLES)
@pytest.mark.parametrize("since", [None, "2026-11-01"])
def test_fhir_of_one_table_is_self_contained(demo, table, since):
    bundle = json.loads(engine_export(demo, table, "fhir", since=since))
    assert bundle["type"] == "collection"
    validate_every_resource(bundle)
    assert_references_resolve(bundle)
    kinds = {r["resourceType"] for r in resources(bundle)}
    assert "Patient" in kinds
    if table == "patients":
        assert kinds == {"Patient"}
    if table == "sessions":
        expected = len(expected_ids(demo, "sessions", since))
        assert len(resources(bundle, "MedicationAdministration")) == expected
    if since and table in ("observations", "screenings", "assessments"):
        bound = day_start(since)
        assert all(o["effectiveDateTime"] >= bound for o in resources(bundle, "Observation"))


# -- one resource per line (fhir-ndjson) -----------------------------------------------------------
def model(resource_type: str):
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


@pytest.mark.parametrize("extra", [(), ("--deidentify",)])
def test_every_line_is_a_valid_resource_whose_references_resolve(cli, extra):
    assert cli("demo", "--patients", "4", "--seed", "5").exit_code == 0
    r = cli("export", "all", "--format", "fhir-ndjson", *extra)
    assert r.exit_code == 0, r.stderr
    seen: set[str] = set()
    kinds: dict[str, int] = {}
    for line in r.stdout.splitlines():
        res = json.loads(line)
        model(res["resourceType"]).model_validate(res)
        kinds[res["resourceType"]] = kinds.get(res["resourceType"], 0) + 1
        for ref in fhir_references(res):
            if not ref.startswith("#"):
                assert ref in seen, ref
        seen.add(f"{res['resourceType']}/{res['id']}")
    assert kinds["Patient"] == 4
    assert {"Encounter", "Observation", "MedicationAdministration"} <= set(kinds)


def test_same_resources_as_the_bundle(cli):
    assert cli("demo", "--patients", "3", "--seed", "5").exit_code == 0
    lines = cli("export", "all", "--format", "fhir-ndjson").stdout.splitlines()
    bundle = json.loads(cli("export", "all", "--format", "fhir").stdout)
    assert [json.loads(x)["id"] for x in lines] == [e["resource"]["id"] for e in bundle["entry"]]


# -- de-identified -------------------------------------------------------------------------------
def test_birth_dates_become_years_and_90_plus(zqf, db_path):
    _, rows = parse("json", engine_export(db_path, "patients", "json", deidentify=True))
    assert [r["birth_year"] for r in rows] == ["90+", "1990"]  # 95 and 36 on 2026-11-27
    assert all("dob" not in r for r in rows)
    bundle = json.loads(engine_export(db_path, "patients", "fhir", deidentify=True))
    old, young = resources(bundle, "Patient")
    assert "birthDate" not in old
    assert young["birthDate"] == "1990"


def test_deidentified_fhir_dates_are_the_shifted_ones(zqf, db_path):
    bundle = json.loads(engine_export(db_path, "all", "fhir", deidentify=True))
    shift = timedelta(days=study_ids(db_path)[MRN][1])
    [enc] = resources(bundle, "Encounter")
    assert datetime.fromisoformat(enc["period"]["start"]) == datetime(
        2026, 11, 26, 14, 30, tzinfo=UTC) - shift
    times = sorted(datetime.fromisoformat(o["effectiveDateTime"])
                   for o in resources(bundle, "Observation"))
    assert times[0] == datetime(2026, 11, 26, 14, 0, tzinfo=UTC) - shift  # the screening
    [etco2] = [o for o in resources(bundle, "Observation") if o["code"]["text"] == "End-tidal CO2"]
    q = etco2["valueQuantity"]
    assert (q["value"], q["unit"], q["system"]) == (38, "mm[Hg]", UCUM)
    assert etco2["encounter"]["reference"] == f"urn:uuid:{enc['id']}"
    validate_every_resource(bundle)
    assert_references_resolve(bundle)


def test_deidentified_fhir_ids_derive_from_the_pseudonyms(fhir_exports):
    from ketacli.render.fhir import rid

    path, texts = fhir_exports
    ident, deid = json.loads(texts[False]), json.loads(texts[True])
    # no resource id of the de-identified bundle is one of the identified bundle
    assert {e["fullUrl"] for e in ident["entry"]}.isdisjoint(e["fullUrl"] for e in deid["entry"])
    sessions = [r[0] for r in query(path, "SELECT id FROM sessions ORDER BY id")]
    assert {e["id"] for e in resources(deid, "Encounter")} == {
        rid("Encounter", p) for p in pseudonyms(path, "session_id", sessions)}
    first = query(path, "SELECT id, session_id FROM observations WHERE sbp IS NOT NULL "
                        "ORDER BY id LIMIT 1")[0]
    [obs] = pseudonyms(path, "observation_id", [first[0]])
    [ses] = pseudonyms(path, "session_id", [first[1]])
    by_id = {r["id"]: r for r in resources(deid)}
    bp = by_id[rid("Observation", f"obs-{obs}-bp")]
    assert bp["encounter"]["reference"] == f"urn:uuid:{rid('Encounter', ses)}"
    assert rid("Observation", f"obs-{first[0]}-bp") not in by_id
    assert_references_resolve(deid)


@pytest.mark.parametrize("table", FHIR_TABLES)
@pytest.mark.parametrize("since", [None, "2026-11-01"])
def test_deidentified_fhir_of_one_table_is_self_contained(demo, table, since):
    bundle = json.loads(engine_export(demo, table, "fhir", deidentify=True, since=since))
    validate_every_resource(bundle)
    assert_references_resolve(bundle)


# -- the builders, one row at a time ----------------------------------------------------------------
def test_resource_ids_are_name_based_and_stable():
    assert fhir.rid("Encounter", 7) == fhir.rid("Encounter", "7") != fhir.rid("Encounter", 8)
    assert re.fullmatch(r"[0-9a-f-]{36}", fhir.rid("Patient", "S1"))
    assert fhir.ref("Patient", 1) == {"reference": f"urn:uuid:{fhir.rid('Patient', 1)}"}
    assert fhir.entry({"id": "x"}) == {"fullUrl": "urn:uuid:x", "resource": {"id": "x"}}


def test_vitals_of_one_observation_row():
    row = {"_pid": 3, "at": "2026-11-27T15:00:00+00:00", "sbp": 120, "dbp": None, "hr": 70,
           "spo2": None, "rr": 12, "etco2": 38, "moaas": 5, "dissociation": None}
    out = fhir.vitals(row, False, "obs-9", encounter_id=4)
    assert [o["code"]["coding"][0]["code"] for o in out] == ["8867-4", "9279-1", "19891-1",
                                                             "moaas"]  # no BP
    assert all(o["subject"] == fhir.ref("Patient", 3) for o in out)
    assert all(o["encounter"] == fhir.ref("Encounter", 4) for o in out)
    assert out[0]["id"] == fhir.rid("Observation", "obs-9-hr")
    assert out[-1]["valueInteger"] == 5 and out[-1]["category"][0]["coding"][0]["code"] == "exam"
    assert fhir.vitals({"_pid": 3, "at": row["at"]}, False, "obs-10") == []


def test_surveys_and_the_suicide_flag_of_one_screening_row():
    row = {"_pid": 1, "screening_id": 5, "at": "2026-11-27T15:00:00+00:00",
           "phq9_items": "[1, 1, 1, 1, 1, 1, 1, 1, 1]", "phq9_total": 9, "gad7_items": None,
           "gad7_total": 4, "madrs_total": None, "pcl5_total": 30, "suicide_risk_flag": 1}
    phq9, gad7, pcl5 = fhir.surveys(row, False, "screening-5")
    assert [only_code(c["code"]) for c in phq9["component"]] == [*PHQ9_ITEMS, "44261-6"]
    assert [only_code(c["code"]) for c in gad7["component"]] == ["70274-6"]  # the total only
    assert pcl5["valueInteger"] == 30 and codes(pcl5["code"]) == {(LOINC, "101698-9")}
    flag = fhir.suicide_flag(row, False)
    assert flag["id"] == fhir.rid("Flag", "screening-5") and flag["period"] == {"start": row["at"]}
    assert fhir.suicide_flag({**row, "suicide_risk_flag": 0}, False) is None
    # de-identified: the subject is the study id's Patient
    deid = {**row, "study_id": "SABC"}
    assert fhir.surveys(deid, True, "screening-5")[0]["subject"] == fhir.ref("Patient", "SABC")


def test_write_resources_counts_per_table_then_in_all(demo):
    """The counts the export's audit row records: per table, in this order, then the total."""
    from ketacli.render.export import FhirNdjson
    from ketacli.store.db import Actor, open_store
    from ketacli.store.export import Reader

    store = open_store(demo, Actor("nurse.test", "tester"), create=False)
    try:
        buf, ticks = io.StringIO(), []
        sink = FhirNdjson(buf, "t")
        counts = fhir.write_resources(sink, Reader(store, None), list(FHIR_TABLES), ticks.append)
    finally:
        store.close()
    assert list(counts) == ["patients", "sessions", "screenings", "observations", "assessments",
                            "resources"]
    assert counts["resources"] == sum(v for k, v in counts.items() if k != "resources")
    assert counts["resources"] == len(buf.getvalue().splitlines()) == sink.n
    assert counts["patients"] == len(expected_ids(demo, "patients"))
    side_effects = query(demo, "SELECT count(*) FROM side_effects")[0][0]
    # an Encounter, a Procedure and a MedicationAdministration per session, and its side effects
    assert counts["sessions"] == 3 * len(expected_ids(demo, "sessions")) + side_effects
    assert ticks and ticks == sorted(ticks)


def test_cssrs_as_questionnaire_response_risk_observation_and_a_coded_flag(cli):
    """docs/cli-contract.md, `export`: a C-SSRS is a QuestionnaireResponse with its risk as an
    Observation (LOINC 93374-7) derived from it; the suicide-risk Flag is coded (SNOMED CT
    225444004). Short labels only, never the screener's item text."""
    assert cli("screen", "CS-1", "--name", "Cee Ess", "--weight", "70", "--bp", "120/80",
               "--hr", "70", "--phq9", "1,1,1,1,1,1,1,1,2", "--cssrs", "y,y,y,n,n,n").exit_code == 0
    assert cli("followup", "record", "CS-1", "--cssrs", "n,n,-,-,-,y,n").exit_code == 0
    for extra in ((), ("--deidentify",)):
        r = cli("export", "all", "--format", "fhir-ndjson", *extra)
        assert r.exit_code == 0, r.stderr
        res = [json.loads(line) for line in r.stdout.splitlines()]
        for x in res:
            model(x["resourceType"]).model_validate(x)
        qrs = [x for x in res if x["resourceType"] == "QuestionnaireResponse"
               and x.get("questionnaire") == fhir.CSSRS_QUESTIONNAIRE]
        assert len(qrs) == 2
        screening_qr = qrs[0]
        assert [i["linkId"] for i in screening_qr["item"]] == list(fhir.CSSRS_ITEMS[:6])
        assert [i["answer"][0]["valueCoding"]["code"] for i in screening_qr["item"]] == [
            "LA33-6", "LA33-6", "LA33-6", "LA32-8", "LA32-8", "LA32-8"]
        assert screening_qr["item"][0]["text"] == "wish to be dead"
        # the assessment: 3-5 not asked, behaviour longer than 3 months ago
        assert [i["linkId"] for i in qrs[1]["item"]] == [
            "93246-7", "93247-5", "93267-3", "93269-9"]
        risks = [x for x in res if x["resourceType"] == "Observation"
                 and only_code(x["code"]) == "93374-7"]
        assert [o["valueCodeableConcept"]["coding"][0]["code"] for o in risks] == [
            "moderate", "moderate"]
        assert all(o["derivedFrom"][0]["reference"].endswith(q["id"])
                   for o, q in zip(risks, qrs, strict=True))
        [flag] = [x for x in res if x["resourceType"] == "Flag"]
        assert flag["code"]["coding"] == [{"system": "http://snomed.info/sct", "code": "225444004",
                                           "display": "At risk for suicide (finding)"}]
        assert flag["code"]["text"] == "C-SSRS moderate risk"


def test_two_clinics_never_share_a_resource_id(cli, tmp_path):
    """Patient 1 of one clinic and patient 1 of another (or of a demo) are different
    resources in one FHIR server: identified ids are in the clinic's namespace."""
    ids = []
    for name in ("a", "b"):
        db = str(tmp_path / f"{name}.db")
        ok(cli("--db", db, "patient", "add", "X-1", "--name", "Pat One"))
        text = ok(cli("--db", db, "export", "patients", "--format", "fhir")).stdout
        ids.append({r["id"] for r in resources(json.loads(text))})
    assert ids[0] and ids[1] and ids[0].isdisjoint(ids[1])
