"""What the export tests share: the tables' keys, reading exports back, the expected rows
(straight from the database), FHIR checks, and the clinics they run on, each built once
per test session (`demo_clinic`, `zqf_clinic`, `fhir_exports`) and copied into each
test's own database.

Not a test module: imported by name (`from export_support import ...`), as helpers.py
is (tests/ is on sys.path). Fixtures wrapping the builders live in the test modules.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import CLINIC_TZ
from helpers import build_once, copy_db, fhir_references, ok, query

TABLES = ("patients", "screenings", "sessions", "observations", "events", "assessments",
          "followups", "audit")
DEID_TABLES = TABLES[:-1]  # the audit log is never part of a de-identified export
FORMATS = ("csv", "json", "ndjson")
FHIR_TABLES = ("patients", "screenings", "sessions", "observations", "assessments")
# the exported key of each table's records, and the column it is stored in
ID_KEY = {"patients": "patient", "screenings": "screening_id", "sessions": "session_id",
          "observations": "observation_id", "events": "event_id",
          "assessments": "assessment_id", "followups": "followup_id", "audit": "audit_id"}
ID_COLUMN = {t: ("mrn" if t == "patients" else "id") for t in TABLES}
TIME_COLUMN = {"patients": "created_at", "screenings": "at", "sessions": "started_at",
               "observations": "at", "events": "at", "assessments": "at",
               "followups": "created_at", "audit": "at"}
# columns that point to another table's record: (table, column) -> the table pointed to
REFERENCES = {("sessions", "screening_id"): "screenings", ("observations", "session_id"): "sessions",
              ("events", "session_id"): "sessions", ("assessments", "followup_id"): "followups",
              ("followups", "session_id"): "sessions"}
PSEUDONYM_PREFIX = {"screening_id": "SCR", "session_id": "SES", "observation_id": "OBS",
                    "event_id": "EVE", "assessment_id": "ASS", "followup_id": "FOL"}
PSEUDONYM_RE = re.compile(r"[A-Z]{3}[0-9a-f]{16}")
VOID_KIND = {"screenings": "screening", "observations": "observation", "events": "event",
             "assessments": "assessment"}

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
PHQ9_ITEMS = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5",
              "44253-3", "44260-8"]
GAD7_ITEMS = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# -- exports, and what the database holds -----------------------------------------------------
def export(cli, *args) -> str:
    return ok(cli("export", *args)).stdout

def parse(fmt: str, text: str) -> tuple[list[str], list[dict]]:
    """(keys in order, records) of a one-table export."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = list(reader)
        return list(reader.fieldnames or []), rows
    if fmt == "json":
        doc = json.loads(text)
        assert set(doc) == {"data"}
        rows = doc["data"]
    else:
        assert text == "" or text.endswith("\n")
        rows = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(r, dict) for r in rows)
    keys = list(rows[0]) if rows else []
    assert all(list(r) == keys for r in rows), "every record has the same keys, in order"
    return keys, rows

def ids_of(table: str, rows: list[dict]) -> list:
    key = ID_KEY[table]
    return [r[key] if table == "patients" else int(r[key]) for r in rows]

def deid_key(db) -> bytes:
    """The clinic's de-identification secret (made by the first de-identified export)."""
    [(secret,)] = query(db, "SELECT secret FROM deid_keys")
    return bytes.fromhex(secret)

def pseudonyms(db, column: str, ids: list) -> list:
    """What a de-identified export must show for these record ids of `column`."""
    from ketacli.domain.deid import pseudonym

    key = deid_key(db)
    return [pseudonym(key, column, i) for i in ids]

def day_start(day: str) -> str:
    """The first instant of a clinic day, as stored (UTC ISO with offset)."""
    d = date.fromisoformat(day)
    start = datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(CLINIC_TZ)).astimezone(UTC)
    return start.isoformat(timespec="seconds")

def expected_ids(db, table: str, since: str | None = None) -> list:
    """What the database holds, without voided records, from a clinic day on."""
    where, params = [], []
    if since:
        where.append(f"{TIME_COLUMN[table]} >= ?")
        params.append(day_start(since))
    if table in VOID_KIND:
        where.append("id NOT IN (SELECT target_id FROM voids WHERE kind = ?)")
        params.append(VOID_KIND[table])
    sql = f"SELECT {ID_COLUMN[table]} FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [r[0] for r in query(db, sql + " ORDER BY id", params)]

def export_audit_rows(db) -> list[tuple]:
    """(action, detail) of each export's audit row (written before its data), with the
    counts of its completion row ("exported", naming the export by id) merged in."""
    done = {eid: json.loads(d)["rows"] for eid, d in query(
        db, "SELECT entity_id, detail FROM audit WHERE action = 'exported'")}
    return [(action, json.dumps({**json.loads(detail), **({"rows": done[rid]} if rid in done
                                                           else {})}))
            for rid, action, detail in query(
                db, "SELECT id, action, detail FROM audit WHERE action = 'export' ORDER BY id")]


def with_own_export_row(db, expected: dict[str, list]) -> dict[str, list]:
    """`expected` ids per table, with the audit row the next export writes before its data."""
    if "audit" in expected:
        expected = {**expected, "audit": [*expected["audit"],
                                          query(db, "SELECT max(id) FROM audit")[0][0] + 1]}
    return expected

def partials(folder) -> list[str]:
    return [p.name for p in folder.iterdir()
            if ".partial-" in p.name or p.name.endswith(".ketacli-tmp")]


def engine_export(db, table: str, fmt: str = "csv", *, deidentify: bool = False,
                  since: str | None = None) -> str:
    """What `ketacli export TABLE --format FMT [--deidentify] [--since DAY]` writes to stdout,
    made by the engine itself (store.export.open_reader + render.export.write_stream): no
    command line, no export audit row."""
    from ketacli.clock import CLOCK, to_utc_iso
    from ketacli.render import export as engine
    from ketacli.store import export as xs
    from ketacli.store.db import Actor, open_store

    store = open_store(str(db), Actor("nurse.test", "tester"), create=False)
    try:
        now = to_utc_iso(CLOCK.now())
        today = CLOCK.now().astimezone(ZoneInfo(CLINIC_TZ)).date()
        reader = xs.open_reader(store, day_start(since) if since else None,
                                deidentify=deidentify, today=today, at=now)
        buf = io.StringIO(newline="")
        engine.write_stream(buf, reader, table, fmt, timestamp=now, tick=lambda n: None)
        return buf.getvalue()
    finally:
        store.close()


# -- the clinics, built once per session ----------------------------------------------------------
_BUILT: dict[str, tuple] = {}  # by engine and name


def _once(tmp_path_factory, name: str, build) -> tuple:
    import helpers

    key = f"{helpers.ENGINE[0]}:{name}"
    if key not in _BUILT:
        _BUILT[key] = build_once(tmp_path_factory, name, build)
    return _BUILT[key]


def demo_clinic(tmp_path_factory) -> Path:
    """`ketacli demo --patients 8 --seed 2`, in conftest's pinned environment."""
    def build(cli):
        ok(cli("demo", "--patients", "8", "--seed", "2", "--json"))

    return _once(tmp_path_factory, "export-demo", build)[0]


def fhir_exports(tmp_path_factory) -> tuple[Path, dict]:
    """The demo clinic exported twice as FHIR, and twice de-identified (one database)."""
    demo = demo_clinic(tmp_path_factory)

    def build(cli):
        copy_db(demo, os.environ["KETACLI_DB"])
        texts = {}
        for deid in (False, True):
            args = ["export", "all", "--format", "fhir", *(["--deidentify"] if deid else [])]
            texts[deid] = ok(cli(*args)).stdout
            texts[deid, "again"] = ok(cli(*args)).stdout
        return texts

    return _once(tmp_path_factory, "export-fhir", build)


# -- the de-identification clinic: one very recognisable patient ------------------------------------
NAME = "Zebulon Quixotic-Farnsworth"
MRN = "ZQF-90210"
PHONE = "+1 555 867 5309"
DOB = "1931-05-17"
NOTE = "lives at 742 Evergreen Terrace"
ESCORT = "Marjorie Quixotic-Farnsworth"
YOUNG_MRN, YOUNG_DOB, YOUNG_NAME, YOUNG_PHONE = "YNG-1", "1990-04-02", "Yolanda Youngblood", \
    "+1 555 010 0199"
TRICKY_NOTE = 'said "ouch", then slept\nsecond line'
# what the clinic recorded, and pieces of it
IDENTIFIERS = [NAME, MRN, PHONE, DOB, NOTE, ESCORT, TRICKY_NOTE.splitlines()[0],
               YOUNG_MRN, YOUNG_DOB, YOUNG_NAME, YOUNG_PHONE]
FORBIDDEN = [*IDENTIFIERS, "Zebulon", "Quixotic", "Farnsworth", "ZQF", "90210", "867 5309",
             "8675309", "Evergreen", "742 Evergreen", "Marjorie", "ouch", "Yolanda", "Youngblood",
             "010 0199"]


def _build_zqf(cli) -> dict:
    def add(*args) -> dict:
        return ok(cli(*args, "--json")).json["data"]

    add("patient", "add", MRN, "--name", NAME, "--dob", DOB, "--phone", PHONE, "--sex", "M")
    screening = add("screen", MRN, "--weight", "80", "--height", "180", "--bp", "128/82", "--hr",
                    "72", "--spo2", "98", "--phq9", "2,2,2,2,1,1,2,0,0", "--gad7", "1,1,1,1,1,1,1",
                    "--note", NOTE, "--at", "2026-11-26 08:00")
    session = add("start-session", MRN, "--bp", "128/80", "--hr", "74", "--spo2", "98",
                  "--lot", "KET-77", "--site", "left antecubital", "--at", "2026-11-26 08:30")
    add("log-vitals", "--patient", MRN, "--bp", "134/86", "--hr", "80", "--spo2", "97", "--rr",
        "14", "--etco2", "38", "--moaas", "4", "--note", NOTE, "--at", "2026-11-26 08:45")
    add("log-event", "--patient", MRN, "medication", "--detail", f"ondansetron 4 mg; {NOTE}",
        "--at", "2026-11-26 08:50")
    add("log-vitals", "--patient", MRN, "--bp", "126/80", "--hr", "76", "--spo2", "98",
        "--note", TRICKY_NOTE, "--at", "2026-11-26 09:15")
    add("discharge", "--patient", MRN, "--aldrete", "10", "--bp", "122/78", "--hr", "70",
        "--spo2", "98", "--transport", "escort", "--escort", ESCORT, "--note", NOTE,
        "--at", "2026-11-26 09:55")
    add("followup", "schedule", MRN, "--kind", "call", "--due", "2026-11-30", "--note", NOTE)
    add("followup", "record", MRN, "--phq9", "1,1,1,1,0,0,1,0,0", "--note", NOTE,
        "--at", "2026-11-27 08:00")
    add("patient", "add", YOUNG_MRN, "--name", YOUNG_NAME, "--dob", YOUNG_DOB,
        "--phone", YOUNG_PHONE)
    return {"screening_id": screening["screening_id"], "session_id": session["session_id"]}


def zqf_clinic(tmp_path_factory) -> tuple[Path, dict]:
    """(path, {"screening_id", "session_id"}) of the de-identification clinic."""
    return _once(tmp_path_factory, "export-zqf", _build_zqf)


def deidentified_outputs(cli) -> dict[str, str]:
    outs = {f"all.{fmt}": export(cli, "all", "--format", fmt, "--deidentify")
            for fmt in ("json", "ndjson", "fhir")}
    for table in DEID_TABLES:
        outs[f"{table}.csv"] = export(cli, table, "--format", "csv", "--deidentify")
    for table in FHIR_TABLES:
        outs[f"{table}.fhir"] = export(cli, table, "--format", "fhir", "--deidentify")
    return outs

def scrub_ids(text: str, study_ids) -> str:
    """Resource UUIDs and random study ids are hex: short digit runs could occur by chance."""
    text = UUID_RE.sub("<uuid>", text)
    for sid in study_ids:
        text = text.replace(sid, "<study>")
    return text

def study_ids(db) -> dict[str, tuple[str, int]]:
    return {mrn: (sid, days) for mrn, sid, days in query(
        db, "SELECT p.mrn, s.study_id, s.date_shift_days FROM study_ids s "
            "JOIN patients p ON p.id = s.patient_id")}


# -- FHIR ------------------------------------------------------------------------------------------
def resources(bundle: dict, kind: str | None = None) -> list[dict]:
    return [e["resource"] for e in bundle["entry"]
            if kind is None or e["resource"]["resourceType"] == kind]

def codes(concept: dict) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept["coding"]}

def only_code(concept: dict) -> str:
    [(_, code)] = codes(concept)
    return code

def assert_references_resolve(bundle: dict) -> None:
    full_urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(full_urls) == len(set(full_urls)), "fullUrls are unique"
    assert all(u == f"urn:uuid:{e['resource']['id']}" for u, e in zip(full_urls, bundle["entry"],
                                                                      strict=True))
    known = set(full_urls)
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    for res in resources(bundle):
        contained = {c["id"] for c in res.get("contained", [])}
        for ref in fhir_references(res):
            if ref.startswith("urn:uuid:"):
                assert ref in known, (res["resourceType"], ref)
            else:
                assert ref.startswith("#") and ref[1:] in contained, ref
        if "subject" in res:
            assert by_url[res["subject"]["reference"]]["resourceType"] == "Patient"
        if "encounter" in res:
            assert by_url[res["encounter"]["reference"]]["resourceType"] == "Encounter"

def validate_every_resource(bundle: dict) -> set[str]:
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    seen = set()
    for res in resources(bundle):
        kind = res["resourceType"]
        seen.add(kind)
        try:
            get_fhir_model_class(kind).model_validate(res)
        except ValidationError as exc:  # without the input: it is patient data
            pytest.fail(f"{kind} {res['id']}: {exc.errors(include_input=False)}")
    shell = {k: v for k, v in bundle.items() if k != "entry"}
    get_fhir_model_class("Bundle").model_validate(shell)
    return seen


def clinic_of(bundle: dict) -> str:
    """The clinic id of an identified Bundle: the `<clinic>` of its Encounters'
    `urn:ketacli:clinic:<clinic>:session` identifier system."""
    for e in bundle["entry"]:
        r = e["resource"]
        if r["resourceType"] == "Encounter":
            return r["identifier"][0]["system"].split(":")[3]
    raise AssertionError("no Encounter in the bundle")


def rid_in(clinic: str | None):
    """`fhir.rid` as an export of `clinic` makes it (None: a de-identified export)."""
    from ketacli.render import fhir

    def rid(kind: str, key) -> str:
        with fhir.ids_of(clinic):
            return fhir.rid(kind, key)
    return rid
