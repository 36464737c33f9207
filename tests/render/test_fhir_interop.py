"""Issue 17: what an EHR integrator checks in the FHIR export beyond R4 validity — the Bulk
Data directory and its manifest, codes (LOINC where LOINC has them), the profiles claimed
(checked against their rules by `profile_support`), interpretation of alerts, identifiers,
Encounter periods, QuestionnaireResponses, AdverseEvents and Procedures; de-identified
exports claim no US Core profile and carry no identifier of the clinic.
"""

from __future__ import annotations

import json
import re

import pytest
from export_support import (
    FORBIDDEN,
    LOINC,
    SNOMED,
    codes,
    engine_export,
    fhir_exports,
    resources,
    validate_every_resource,
    zqf_clinic,
)
from helpers import copy_db, fhir_references, ok, query
from profile_support import check_profiles

from ketacli.render import fhir

BULK_KEYS = {"transactionTime", "request", "requiresAccessToken", "output", "error"}


@pytest.fixture(name="fhir_exports", scope="module")
def fhir_exports_fixture(tmp_path_factory, engine):
    return fhir_exports(tmp_path_factory)


@pytest.fixture
def zqf(tmp_path_factory, db_path) -> dict:
    path, ids = zqf_clinic(tmp_path_factory)
    copy_db(path, db_path)
    return ids


def read_bulk(folder) -> tuple[dict, dict[str, list[dict]]]:
    manifest = json.loads((folder / "manifest.json").read_text())
    files = {}
    for out in manifest["output"]:
        lines = (folder / out["url"]).read_text().splitlines()
        files[out["type"]] = [json.loads(x) for x in lines]
    return manifest, files


# -- Bulk Data --------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [(), ("--deidentify",)], ids=["identified", "deidentified"])
def test_bulk_data_directory_one_type_per_file_and_a_manifest(cli, demo, tmp_path, extra):
    folder = tmp_path / "bulk"
    r = ok(cli("export", "all", "--format", "fhir-ndjson", "--output", str(folder), *extra))
    manifest, files = read_bulk(folder)
    # the manifest as the Bulk Data specification has it
    assert set(manifest) == BULK_KEYS
    assert manifest["requiresAccessToken"] is False and manifest["error"] == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)",
                        manifest["transactionTime"])
    assert manifest["request"].startswith("ketacli export all --format fhir-ndjson")
    types = [o["type"] for o in manifest["output"]]
    assert len(types) == len(set(types))
    assert all(set(o) == {"type", "url", "count"} and o["url"] == f"{o['type']}.ndjson"
               for o in manifest["output"])
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["manifest.json", *(f"{t}.ndjson" for t in types)])
    for out in manifest["output"]:
        rows = files[out["type"]]
        assert len(rows) == out["count"] > 0
        assert {x["resourceType"] for x in rows} == {out["type"]}  # one type per file
    assert {"Patient", "Encounter", "Observation", "MedicationAdministration", "Procedure",
            "QuestionnaireResponse", "AdverseEvent"} <= set(types)
    # relative references that resolve inside the export
    known = {f"{x['resourceType']}/{x['id']}" for rows in files.values() for x in rows}
    for rows in files.values():
        for x in rows:
            for ref in fhir_references(x):
                assert ref.startswith("#") or ref in known, ref
    total = sum(o["count"] for o in manifest["output"])
    assert f"Exported {total} records" in r.stderr
    for p in folder.iterdir():
        assert p.stat().st_mode & 0o077 == 0


def test_bulk_data_holds_the_single_streams_resources(cli, demo, tmp_path):
    folder = tmp_path / "bulk"
    ok(cli("export", "all", "--format", "fhir-ndjson", "--output", str(folder)))
    _, files = read_bulk(folder)
    stream = [json.loads(x) for x in ok(cli("export", "all", "--format", "fhir-ndjson"))
              .stdout.splitlines()]
    by_type: dict[str, list] = {}
    for x in stream:
        by_type.setdefault(x["resourceType"], []).append(x)
    assert by_type == files
    # a file name with an extension takes the single stream; an existing directory, the files
    for name in ("all.ndjson", "out.fhir-ndjson"):
        one = tmp_path / name
        ok(cli("export", "all", "--format", "fhir-ndjson", "--output", str(one)))
        assert [json.loads(x) for x in one.read_text().splitlines()] == stream
    there = tmp_path / "existing.d"
    there.mkdir()
    ok(cli("export", "all", "--format", "fhir-ndjson", "--output", str(there)))
    assert read_bulk(there)[1] == files


def test_a_later_export_into_the_folder_leaves_none_of_the_earlier_files(cli, demo, tmp_path):
    """Identified files must not stay beside a de-identified (incremental) export's
    manifest: a consumer that loads the folder would import them."""
    folder = tmp_path / "bulk"
    ok(cli("export", "all", "--format", "fhir-ndjson", "--output", str(folder)))
    assert (folder / "Encounter.ndjson").exists()
    (folder / "notes.txt").write_text("mine\n")
    last = query(demo, "SELECT max(id) FROM audit WHERE action = 'export'")[0][0]
    ok(cli("patient", "add", "DEMO-09999", "--name", "Later Patient"))
    ok(cli("export", "all", "--format", "fhir-ndjson", "--deidentify", "--after", str(last),
           "--output", str(folder)))
    manifest, _ = read_bulk(folder)
    assert [o["type"] for o in manifest["output"]] == ["Patient"]
    assert sorted(p.name for p in folder.iterdir()) == ["Patient.ndjson", "manifest.json",
                                                        "notes.txt"]
    assert "DEMO-09999" not in (folder / "Patient.ndjson").read_text()
    assert (folder / "notes.txt").read_text() == "mine\n"  # not ours: left alone


def test_bulk_data_since_until_limit_it(cli, demo, tmp_path):
    days = [r[0][:10] for r in query(demo, "SELECT started_at FROM sessions ORDER BY started_at")]
    since, until = days[len(days) // 3], days[2 * len(days) // 3]
    folder = tmp_path / "bulk"
    ok(cli("export", "all", "--format", "fhir-ndjson", "--output", str(folder),
           "--since", since, "--until", until))
    manifest, files = read_bulk(folder)
    assert manifest["request"].endswith(f"--since {since} --until {until}")
    started = sorted(p["performedPeriod"]["start"] for p in files["Procedure"])
    expected = query(demo, "SELECT count(*) FROM sessions WHERE substr(started_at, 1, 10) "
                           "BETWEEN ? AND ?", (since, until))[0][0]
    assert len(started) == expected > 0
    r = ok(cli("export", "sessions", "--format", "csv", "--until", days[0]))
    assert len(r.stdout.splitlines()) - 1 == query(
        demo, "SELECT count(*) FROM sessions WHERE substr(started_at, 1, 10) <= ?",
        (days[0],))[0][0]


def test_until_before_since_is_refused(cli, demo):
    r = cli("export", "all", "--format", "fhir", "--since", "2026-11-10", "--until", "2026-11-01")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("error: --until is before --since")


def test_until_with_deidentify_is_refused(cli, demo, tmp_path):
    """docs/cli-contract.md: a bound would reveal the date shift."""
    r = cli("export", "all", "--format", "fhir-ndjson", "--deidentify", "--until", "2026-11-01",
            "--output", str(tmp_path / "bulk"))
    assert r.exit_code == 2 and r.stdout == "" and not (tmp_path / "bulk").exists()
    assert r.stderr.startswith("error: --until with --deidentify would reveal the date shift")


# -- codes, interpretation, identifiers, periods -------------------------------------------------
def test_spo2_carries_both_loinc_codes_and_alerts_are_interpreted(fhir_exports):
    path, texts = fhir_exports
    bundle = json.loads(texts[False])
    obs = resources(bundle, "Observation")
    spo2 = [o for o in obs if (LOINC, "59408-5") in codes(o["code"])]
    assert spo2 and all((LOINC, "2708-6") in codes(o["code"]) for o in spo2)
    interpreted = [o for o in obs if "interpretation" in o]
    alerting = query(path, "SELECT count(*) FROM observations WHERE alerts != '[]'")[0][0]
    assert alerting > 0 and len(interpreted) >= alerting
    system = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
    for o in interpreted:
        [concept] = o["interpretation"]
        [(sys_, code)] = codes(concept)
        assert sys_ == system and code in {"H", "HH", "L", "LL"}
    low_spo2 = [o for o in spo2 if "interpretation" in o]
    assert all(codes(o["interpretation"][0]) <= {(system, "L"), (system, "LL")}
               for o in low_spo2)


def test_interpretation_of_one_row():
    row = {"_pid": 1, "at": "2026-11-27T15:00:00+00:00", "sbp": 190, "dbp": 100, "hr": 40,
           "spo2": 95, "alerts": json.dumps([
               {"level": "critical", "parameter": "sbp", "threshold": 180, "value": 190},
               {"level": "warning", "parameter": "dbp", "threshold": 95, "value": 100},
               {"level": "warning", "parameter": "hr", "threshold": 50, "value": 40}])}
    by = {o["id"]: o for o in fhir.vitals(row, False, "obs-1", encounter_id=2)}
    bp, hr, spo2 = (by[fhir.rid("Observation", f"obs-1-{c}")] for c in ("bp", "hr", "spo2"))
    assert bp["interpretation"][0]["coding"][0]["code"] == "HH"  # the most severe one
    assert hr["interpretation"][0]["coding"][0]["code"] == "L"
    assert "interpretation" not in spo2


def test_encounters_carry_the_session_id_and_cover_their_observations(fhir_exports):
    path, texts = fhir_exports
    bundle = json.loads(texts[False])
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    encounters = resources(bundle, "Encounter")
    systems = {e["identifier"][0]["system"] for e in encounters}
    assert len(systems) == 1 and re.fullmatch(r"urn:ketacli:clinic:[0-9a-f]{16}:session",
                                              systems.pop())
    sessions = {str(r[0]) for r in query(path, "SELECT id FROM sessions")}
    assert {e["identifier"][0]["value"] for e in encounters} == sessions
    from datetime import datetime

    for o in resources(bundle, "Observation"):
        if "encounter" not in o:
            continue
        period = by_url[o["encounter"]["reference"]]["period"]
        when = datetime.fromisoformat(o["effectiveDateTime"])
        assert datetime.fromisoformat(period["start"]) <= when
        if "end" in period:
            assert when <= datetime.fromisoformat(period["end"])


def test_suicide_risk_flag_is_coded(fhir_exports):
    _, texts = fhir_exports
    for flag in resources(json.loads(texts[False]), "Flag"):
        assert (SNOMED, "225444004") in codes(flag["code"])


def test_questionnaire_responses_with_loinc_answers_and_derived_observations(fhir_exports):
    path, texts = fhir_exports
    bundle = json.loads(texts[False])
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    responses = resources(bundle, "QuestionnaireResponse")
    n = query(path, "SELECT (SELECT count(*) FROM screenings WHERE phq9_items IS NOT NULL) + "
                    "(SELECT count(*) FROM assessments WHERE phq9_items IS NOT NULL)")[0][0]
    phq9 = [q for q in responses if q["questionnaire"] == "http://loinc.org/q/44249-1"]
    assert len(phq9) == n > 0
    answers = {"LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9", "LA33-6", "LA32-8"}
    for q in responses:
        assert q["status"] == "completed" and q["subject"]["reference"] in by_url
        for item in q["item"]:
            [answer] = item["answer"]
            assert answer["valueCoding"]["system"] == LOINC
            assert answer["valueCoding"]["code"] in answers
    derived = [o for o in resources(bundle, "Observation") if "derivedFrom" in o]
    assert len(derived) == len(responses)
    for o in derived:
        [src] = o["derivedFrom"]
        q = by_url[src["reference"]]
        assert q["resourceType"] == "QuestionnaireResponse"
        assert q["subject"] == o["subject"] and q["authored"] == o["effectiveDateTime"]
        if "component" not in o:  # the C-SSRS risk
            continue
        items = o["component"][:-1]
        assert [c["code"]["coding"][0]["code"] for c in items] == [i["linkId"] for i in q["item"]]


def test_side_effects_are_adverse_events_of_their_encounter(fhir_exports):
    path, texts = fhir_exports
    bundle = json.loads(texts[False])
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    events = resources(bundle, "AdverseEvent")
    assert len(events) == query(path, "SELECT count(*) FROM side_effects")[0][0] > 0
    for a in events:
        assert a["actuality"] == "actual"
        assert a["seriousness"]["coding"][0]["code"] == "non-serious"
        assert a["severity"]["coding"][0]["code"] in {"mild", "moderate", "severe"}
        enc = by_url[a["encounter"]["reference"]]
        assert enc["resourceType"] == "Encounter" and enc["subject"] == a["subject"]
        assert by_url[a["suspectEntity"][0]["instance"]["reference"]]["resourceType"] == \
            "MedicationAdministration"
    procedures = resources(bundle, "Procedure")
    assert len(procedures) == len(resources(bundle, "Encounter"))
    for m in resources(bundle, "MedicationAdministration"):
        assert by_url[m["partOf"][0]["reference"]]["resourceType"] == "Procedure"
    lots = {r[0] for r in query(path, "SELECT lot FROM sessions WHERE lot IS NOT NULL")}
    shown = {m["contained"][0].get("batch", {}).get("lotNumber")
             for m in resources(bundle, "MedicationAdministration")}
    assert lots and lots <= shown


# -- profiles ------------------------------------------------------------------------------------
@pytest.mark.parametrize("deid", [False, True], ids=["identified", "deidentified"])
def test_every_claimed_profile_holds(fhir_exports, deid):
    _, texts = fhir_exports
    bundle = json.loads(texts[deid])
    claimed = check_profiles(bundle)
    core = {"bp", "heartrate", "resprate", "oxygensat", "bodyweight", "bodyheight"}
    assert {c.rsplit("/", 1)[1] for c in claimed} >= core
    us_core = {c for c in claimed if "/us/core/" in c}
    if deid:  # no names: not US Core Patients, and nothing claims to point to one
        assert us_core == set()
    else:
        assert {c.rsplit("/", 1)[1] for c in us_core} >= {
            "us-core-patient", "us-core-encounter", "us-core-pulse-oximetry",
            "us-core-blood-pressure", "us-core-observation-screening-assessment"}


def test_profile_checker_catches_what_breaks_a_profile(fhir_exports):
    _, texts = fhir_exports
    bundle = json.loads(texts[False])
    spo2 = next(o for o in resources(bundle, "Observation")
                if (LOINC, "59408-5") in codes(o["code"]))
    broken = {**spo2, "code": {"coding": [spo2["code"]["coding"][0]]}}  # 59408-5 only
    with pytest.raises(AssertionError, match="2708-6"):
        check_profiles({"entry": [{"resource": broken}]})
    [patient] = resources(bundle, "Patient")[:1]
    with pytest.raises(AssertionError, match="name"):
        check_profiles({"entry": [{"resource": {**patient, "name": [{"text": "x"}]}}]})


# -- de-identified -------------------------------------------------------------------------------
def test_deidentified_fhir_adds_no_identifier(zqf, db_path, cli, tmp_path):
    bundle = json.loads(engine_export(db_path, "all", "fhir", deidentify=True))
    validate_every_resource(bundle)
    text = json.dumps(bundle)
    for word in FORBIDDEN:
        assert word not in text, word
    assert "urn:ketacli:clinic:" not in text
    for e in resources(bundle, "Encounter"):
        [ident] = e["identifier"]
        assert ident["system"] == "urn:ketacli:study-session"
        assert re.fullmatch(r"SES[0-9a-f]{16}", ident["value"])
    folder = tmp_path / "bulk"
    ok(cli("export", "all", "--format", "fhir-ndjson", "--deidentify", "--output", str(folder)))
    everything = "".join(p.read_text() for p in folder.iterdir())
    for word in FORBIDDEN:
        assert word not in everything, word
    assert "urn:ketacli:clinic:" not in everything


# -- the builders, one row at a time ----------------------------------------------------------------
@pytest.mark.parametrize(("name", "family", "given"), [
    ("Oakley Petrov", "Petrov", ["Oakley"]),
    ("Mary Ann  Dyke", "Dyke", ["Mary", "Ann"]),
    ("van Dyke, Mary Ann", "van Dyke", ["Mary", "Ann"]),
    ("Cher", "Cher", None),
])
def test_names_get_family_and_given_parts(name, family, given):
    out = fhir.split_name(name)
    assert out["family"] == family and out.get("given") == given
    assert out["text"] == " ".join(name.split())


def test_encounter_period_covers_earlier_and_later_observations():
    row = {"started_at": "2026-11-27T15:00:00+00:00", "discharged_at": "2026-11-27T16:30:00+00:00",
           "first_observation_at": "2026-11-27T14:50:00+00:00",
           "last_observation_at": "2026-11-27T16:40:00+00:00"}
    assert fhir.encounter_period(row) == {"start": "2026-11-27T14:50:00+00:00",
                                          "end": "2026-11-27T16:40:00+00:00"}
    inside = {**row, "first_observation_at": "2026-11-27T15:10:00+00:00",
              "last_observation_at": "2026-11-27T16:00:00+00:00"}
    assert fhir.encounter_period(inside) == {"start": row["started_at"],
                                             "end": row["discharged_at"]}
    still_open = {**row, "discharged_at": None}
    assert fhir.encounter_period(still_open) == {"start": "2026-11-27T14:50:00+00:00"}
    none = {"started_at": row["started_at"], "first_observation_at": None}
    assert fhir.encounter_period(none) == {"start": row["started_at"]}


def test_patient_address_is_exported_identified_only(cli, db_path, tmp_path):
    ok(cli("patient", "add", "AD-1", "--name", "Ada Dress", "--dob", "1970-01-01",
           "--address", "1 Main St, Springfield, IL 62701"))
    [ident] = resources(json.loads(ok(cli("export", "patients", "--format", "fhir")).stdout),
                        "Patient")
    assert ident["address"] == [{"use": "home", "text": "1 Main St, Springfield, IL 62701"}]
    assert ident["name"][0]["family"] == "Dress"
    text = ok(cli("export", "all", "--format", "fhir", "--deidentify")).stdout
    assert "Main St" not in text and "62701" not in text
    folder = tmp_path / "r"
    ok(cli("export", "redcap", "--output", str(folder), "--deidentify"))
    assert "Main St" not in "".join(p.read_text() for p in folder.iterdir())
