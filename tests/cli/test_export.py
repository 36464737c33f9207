"""`export TABLE|all --format csv|json|ndjson|fhir [--since DATE] [--deidentify] [--output PATH]`
(docs/cli-contract.md `export`, exit codes; docs/interop.md FHIR codes and Safe Harbor;
de-identified exports carry keyed pseudonyms for record ids and never the audit table).

Most tests run on a private copy of `ketacli demo --patients 8 --seed 2`, built once per
module in the same pinned environment as conftest.pinned_env; the de-identification tests
run on a small clinic made by hand with one very recognisable patient.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import CLINIC_TZ, FIXED_NOW
from helpers import assert_one_error, build_once, copy_db, fhir_references, mode, ok, query

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


# -- helpers ---------------------------------------------------------------------------------
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
    return query(db, "SELECT action, detail FROM audit WHERE action = 'export' ORDER BY id")


def partials(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if ".partial-" in p.name]


# -- the demo clinic ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_template(tmp_path_factory):
    def build(cli):
        ok(cli("demo", "--patients", "8", "--seed", "2", "--json"))

    return build_once(tmp_path_factory, "export-demo", build)[0]


@pytest.fixture
def demo(demo_template, db_path):
    copy_db(demo_template, db_path)
    return db_path


def test_the_demo_clinic_has_something_in_every_table(demo):
    for table in TABLES:
        assert len(expected_ids(demo, table)) > 0, table
    # rows before and after the --since day used below, so the filter has work to do
    for table in TABLES[:-1]:
        assert expected_ids(demo, table, "2026-11-01") != expected_ids(demo, table), table
        assert expected_ids(demo, table, "2026-11-01"), table


# -- every table in every format ----------------------------------------------------------------
@pytest.mark.parametrize("table", TABLES)
def test_every_table_in_csv_json_and_ndjson(cli, demo, table):
    keys = {}
    for fmt in FORMATS:
        expected = expected_ids(demo, table)  # each export adds an audit row
        text = export(cli, table, "--format", fmt)
        keys[fmt], rows = parse(fmt, text)
        assert ids_of(table, rows) == expected, fmt
        if fmt == "csv":
            assert text.splitlines()[0] == ",".join(keys["csv"])  # a header row
        if fmt == "ndjson":
            assert len(text.splitlines()) == len(expected)
            assert all("table" not in r for r in rows)
    assert keys["csv"] == keys["json"] == keys["ndjson"]
    assert ID_KEY[table] in keys["csv"]
    assert len(export_audit_rows(demo)) == 3  # every export is audited


def test_csv_is_the_default_format(cli, demo):
    assert export(cli, "sessions") == export(cli, "sessions", "--format", "csv")


def test_json_keeps_types(cli, demo):
    _, patients = parse("json", export(cli, "patients", "--format", "json"))
    assert all(p["demo"] is True for p in patients)
    _, screenings = parse("json", export(cli, "screenings", "--format", "json"))
    assert all(isinstance(s["phq9_items"], list) and len(s["phq9_items"]) == 9 for s in screenings)
    assert all(isinstance(s["suicide_risk_flag"], bool) for s in screenings)
    assert all(s["phq9_total"] == sum(s["phq9_items"]) for s in screenings)
    _, obs = parse("ndjson", export(cli, "observations", "--format", "ndjson"))
    assert all(isinstance(o["alerts"], list) for o in obs)
    assert any(isinstance(o["sbp"], int) for o in obs)
    _, audit = parse("json", export(cli, "audit", "--format", "json"))
    assert all(isinstance(a["detail"], dict | None) for a in audit)


def test_all_as_json(cli, demo):
    expected = {t: expected_ids(demo, t) for t in TABLES}
    doc = json.loads(export(cli, "all", "--format", "json"))
    assert set(doc) == {"data"}
    assert list(doc["data"]) == list(TABLES)
    for table in TABLES:
        assert ids_of(table, doc["data"][table]) == expected[table], table


def test_all_as_ndjson_tags_every_line_with_its_table(cli, demo):
    expected = {t: expected_ids(demo, t) for t in TABLES}
    lines = [json.loads(line) for line in export(cli, "all", "--format", "ndjson").splitlines()]
    assert all(next(iter(line)) == "table" for line in lines)
    order = [line["table"] for line in lines]
    assert list(dict.fromkeys(order)) == list(TABLES)  # table after table, in order
    for table in TABLES:
        rows = [{k: v for k, v in line.items() if k != "table"} for line in lines
                if line["table"] == table]
        assert ids_of(table, rows) == expected[table], table


def test_all_as_csv_writes_one_private_file_per_table(cli, demo, tmp_path, umask_022):
    expected = {t: expected_ids(demo, t) for t in TABLES}
    folder = tmp_path / "out" / "export"
    r = ok(cli("export", "all", "--format", "csv", "--output", folder))
    assert r.stdout == ""
    total = sum(len(v) for v in expected.values())
    assert r.stderr == f"Exported {total:,} records to {folder}.\n"  # plain, never wrapped
    assert mode(folder) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t}.csv" for t in TABLES)
    for table in TABLES:
        path = folder / f"{table}.csv"
        assert mode(path) == 0o600, table
        _, rows = parse("csv", path.read_text(encoding="utf-8"))
        assert ids_of(table, rows) == expected[table], table
    # the same content as the one-table export
    assert (folder / "sessions.csv").read_text(encoding="utf-8") == export(cli, "sessions")


def test_all_as_csv_without_output_is_a_usage_error(cli, demo):
    r = cli("export", "all", "--format", "csv")
    assert_one_error(r, 2)
    assert r.stdout == ""
    assert "--output" in r.stderr
    assert export_audit_rows(demo) == []


# -- --since -------------------------------------------------------------------------------------
@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_since_leaves_out_earlier_records(cli, demo, table, fmt):
    since = "2026-11-01"
    expected = expected_ids(demo, table, since)
    _, rows = parse(fmt, export(cli, table, "--format", fmt, "--since", since))
    assert ids_of(table, rows) == expected
    bound = day_start(since)  # 2026-11-01T05:00:00+00:00 (CDT until 02:00 that day)
    assert bound == "2026-11-01T05:00:00+00:00"
    assert all(r[TIME_COLUMN[table]] >= bound for r in rows)


def test_since_is_a_clinic_day_not_a_utc_day(cli, db_path):
    """23:30 in Chicago on 31 October is 04:30Z on 1 November: still before the 1st."""
    ok(cli("patient", "add", "SINCE-1", "--name", "Since Patient"))
    for at in ("2026-10-31 23:30", "2026-11-01 00:30"):
        ok(cli("screen", "SINCE-1", "--weight", "70", "--bp", "120/80", "--hr", "70", "--at", at))
    _, rows = parse("json", export(cli, "screenings", "--format", "json", "--since", "2026-11-01"))
    assert [r["at"] for r in rows] == ["2026-11-01T05:30:00+00:00"]
    _, rows = parse("json", export(cli, "screenings", "--format", "json", "--since", "2026-10-31"))
    assert [r["at"] for r in rows] == ["2026-11-01T04:30:00+00:00", "2026-11-01T05:30:00+00:00"]


def test_since_today_is_fine(cli, demo):
    expected = expected_ids(demo, "audit", "2026-11-27")
    _, rows = parse("csv", export(cli, "audit", "--since", "2026-11-27"))
    assert ids_of("audit", rows) == expected


# -- bad input: exit 2, nothing on stdout, nothing audited ---------------------------------------
@pytest.mark.parametrize("args", [
    ["observations", "--since", "2026/11/01"],
    ["observations", "--since", "2026-02-30"],
    ["observations", "--since", "yesterday"],
    ["observations", "--since", "2026-11-28"],          # tomorrow in the clinic: the future
    ["all", "--format", "json", "--since", "2027-01-01"],
    ["patient"],
    ["voids"],
    ["study_ids"],
    ["discharges"],
    ["observations", "--format", "xml"],
    ["observations", "--format", "tsv"],
    ["events", "--format", "fhir"],
    ["followups", "--format", "fhir"],
    ["audit", "--format", "fhir"],
    ["all", "--format", "csv"],
    ["audit", "--deidentify"],                          # the audit log cannot be de-identified
    ["audit", "--format", "json", "--deidentify"],
])
def test_bad_input_exits_2(cli, demo, args):
    r = cli("export", *args)
    assert_one_error(r, 2)
    assert r.stdout == ""
    assert export_audit_rows(demo) == []


def test_export_of_a_missing_database_exits_4_and_creates_nothing(cli, db_path):
    assert_one_error(cli("export", "patients"), 4)
    assert not db_path.exists()


# -- --output --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("table", "fmt"), [("observations", "csv"), ("sessions", "json"),
                                            ("all", "ndjson"), ("all", "fhir")])
def test_output_file_is_0600_under_umask_022(cli, demo, tmp_path, umask_022, table, fmt):
    out = tmp_path / "exports" / f"{table}.{fmt}"
    out.parent.mkdir()
    r = ok(cli("export", table, "--format", fmt, "--output", out))
    assert r.stdout == ""
    # one plain line, not wrapped at COLUMNS (80 here) though it is longer than that
    assert len(r.stderr) > 81
    assert re.fullmatch(rf"Exported [\d,]+ records to {re.escape(str(out))}\.\n", r.stderr), r.stderr
    assert mode(out) == 0o600
    written = out.read_text(encoding="utf-8")
    again = export(cli, table, "--format", fmt)
    if fmt == "ndjson":  # the first export is in the audit table of the second
        again = "".join(line for line in again.splitlines(keepends=True)
                        if '"action": "export"' not in line)
    assert written == again
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]


def test_output_replaces_an_existing_file_and_makes_it_private(cli, demo, tmp_path, umask_022):
    out = tmp_path / "obs.csv"
    out.write_text("old content\n")
    os.chmod(out, 0o644)
    ok(cli("export", "observations", "--output", out))
    assert mode(out) == 0o600
    assert out.read_text(encoding="utf-8") == export(cli, "observations")
    assert partials(tmp_path) == []


@pytest.mark.parametrize("args", [["observations"], ["all", "--format", "json"],
                                  ["all", "--format", "fhir"]])
def test_output_under_a_regular_file_exits_4(cli, demo, tmp_path, args):
    """Works as root too: no one can create a file under a file."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    r = cli("export", *args, "--output", blocker / "out.csv")
    assert_one_error(r, 4)
    assert r.stdout == ""
    assert blocker.read_text() == "not a directory\n"
    assert partials(tmp_path) == []
    assert export_audit_rows(demo) == []


def test_all_as_csv_into_a_path_under_a_regular_file_exits_4(cli, demo, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_one_error(cli("export", "all", "--format", "csv", "--output", blocker / "dir"), 4)
    assert blocker.read_text() == "x"
    assert partials(tmp_path) == []


def test_output_into_a_missing_directory_exits_4(cli, demo, tmp_path):
    assert_one_error(cli("export", "patients", "--output", tmp_path / "no" / "such" / "p.csv"), 4)
    assert not (tmp_path / "no").exists()


def test_output_that_is_a_directory_exits_4(cli, demo, tmp_path):
    assert_one_error(cli("export", "patients", "--output", tmp_path), 4)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_output_into_a_read_only_directory_exits_4(cli, demo, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    try:
        assert_one_error(cli("export", "patients", "--output", folder / "p.csv"), 4)
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_a_failure_while_writing_leaves_no_partial_file(cli, demo, tmp_path, monkeypatch):
    """The disk fills after some rows: exit 4, the old file is untouched, no temporary file."""
    from ketacli.render import export as writers

    real = writers.write_csv

    def full_disk(out, cols, rows, tick):
        def some_rows():
            for i, row in enumerate(rows):
                if i == 50:
                    raise OSError(errno.ENOSPC, "No space left on device")
                yield row

        return real(out, cols, some_rows(), tick)

    monkeypatch.setattr(writers, "write_csv", full_disk)
    out = tmp_path / "obs.csv"
    out.write_text("yesterday's export\n")
    r = cli("export", "observations", "--output", out)
    assert_one_error(r, 4)
    assert out.read_text() == "yesterday's export\n"
    assert partials(tmp_path) == []
    assert export_audit_rows(demo) == []


def test_output_never_overwrites_the_database(cli, demo, tmp_path):
    """A slip of the keyboard must not replace the clinic's records with a CSV file."""
    link = tmp_path / "link.db"
    link.symlink_to(demo)
    before = query(demo, "SELECT count(*) FROM observations")
    for target in (demo, link, demo.with_name(demo.name + "-wal")):
        r = cli("export", "patients", "--output", target)
        assert_one_error(r, 2)
        assert "database" in r.stderr
    assert query(demo, "SELECT count(*) FROM observations") == before
    ok(cli("db", "check"))


def test_each_export_is_audited(cli, demo, tmp_path):
    ok(cli("export", "observations", "--format", "ndjson", "--since", "2026-11-01",
           "--output", tmp_path / "o.ndjson"))
    [(_, detail)] = export_audit_rows(demo)
    detail = json.loads(detail)
    assert detail["table"] == "observations"
    assert detail["format"] == "ndjson"
    assert detail["since"] == "2026-11-01"
    assert detail["deidentified"] is False
    assert detail["output"] == str(tmp_path / "o.ndjson")
    assert detail["rows"] == {"observations": len(expected_ids(demo, "observations", "2026-11-01"))}


# -- voided records ----------------------------------------------------------------------------------
@pytest.fixture
def voided(cli, demo) -> dict[str, int]:
    """One record of each voidable kind voided (the flagged screening, to drop its Flag too)."""
    ids = {
        "screenings": query(demo, "SELECT min(id) FROM screenings WHERE suicide_risk_flag = 1")[0][0],
        "observations": query(demo, "SELECT min(id) FROM observations WHERE sbp IS NOT NULL")[0][0],
        "events": query(demo, "SELECT min(id) FROM events")[0][0],
        "assessments": query(demo, "SELECT min(id) FROM assessments "
                                   "WHERE phq9_total IS NOT NULL")[0][0],
    }
    for table, rid in ids.items():
        ok(cli("void", VOID_KIND[table], rid, "--reason", "entered in error"))
    return ids


def test_voided_records_are_left_out_of_every_format(cli, demo, voided):
    expected = {t: expected_ids(demo, t) for t in VOID_KIND}
    for table, ids in expected.items():
        assert voided[table] not in ids
        assert len(ids) == query(demo, f"SELECT count(*) FROM {table}")[0][0] - 1
        for fmt in FORMATS:
            _, rows = parse(fmt, export(cli, table, "--format", fmt))
            assert ids_of(table, rows) == ids, (table, fmt)
    all_json = json.loads(export(cli, "all", "--format", "json", "--deidentify"))["data"]
    all_ndjson = [json.loads(x) for x in export(cli, "all", "--format", "ndjson").splitlines()]
    for table, ids in expected.items():
        key = ID_KEY[table]
        # de-identified: the pseudonyms of the same records, and not the voided one's
        shown = [r[key] for r in all_json[table]]
        assert shown == pseudonyms(demo, key, ids), table
        assert pseudonyms(demo, key, [voided[table]])[0] not in shown, table
        assert ids_of(table, [r for r in all_ndjson if r["table"] == table]) == ids, table


def test_voided_records_are_left_out_of_fhir(cli, demo):
    from ketacli.render.fhir import rid

    before = {e["fullUrl"] for e in json.loads(export(cli, "all", "--format", "fhir"))["entry"]}
    ids = {
        "screening": query(demo, "SELECT min(id) FROM screenings WHERE suicide_risk_flag = 1")[0][0],
        "observation": query(demo, "SELECT min(id) FROM observations WHERE sbp IS NOT NULL")[0][0],
        "assessment": query(demo, "SELECT min(id) FROM assessments "
                                  "WHERE phq9_total IS NOT NULL")[0][0],
    }
    for kind, record in ids.items():
        ok(cli("void", kind, record, "--reason", "entered in error"))
    after = {e["fullUrl"] for e in json.loads(export(cli, "all", "--format", "fhir"))["entry"]}
    suffixes = ("bp", "hr", "spo2", "rr", "etco2", "moaas", "dissociation", "weight_kg",
                "height_cm", "phq9", "gad7", "madrs", "pcl5")
    mine = {f"urn:uuid:{rid('Observation', f'{key}-{suffix}')}"
            for key in (f"screening-{ids['screening']}", f"obs-{ids['observation']}",
                        f"assessment-{ids['assessment']}")
            for suffix in suffixes}
    mine.add(f"urn:uuid:{rid('Flag', 'screening-' + str(ids['screening']))}")
    assert after <= before
    gone = before - after
    assert gone == mine & before
    # the flag, the screening's BP and PHQ-9, the observation's BP, the assessment's PHQ-9
    for must in (rid("Flag", f"screening-{ids['screening']}"),
                 rid("Observation", f"screening-{ids['screening']}-bp"),
                 rid("Observation", f"screening-{ids['screening']}-phq9"),
                 rid("Observation", f"obs-{ids['observation']}-bp"),
                 rid("Observation", f"assessment-{ids['assessment']}-phq9")):
        assert f"urn:uuid:{must}" in gone


# -- FHIR ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fhir_exports(demo_template, tmp_path_factory):
    """The demo clinic exported twice as FHIR, and twice de-identified (one database)."""
    def build(cli):
        copy_db(demo_template, os.environ["KETACLI_DB"])
        texts = {}
        for deid in (False, True):
            args = ["export", "all", "--format", "fhir", *(["--deidentify"] if deid else [])]
            texts[deid] = ok(cli(*args)).stdout
            texts[deid, "again"] = ok(cli(*args)).stdout
        return texts

    path, texts = build_once(tmp_path_factory, "export-fhir", build)
    return path, texts


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


@pytest.mark.parametrize("deid", [False, True], ids=["identified", "deidentified"])
def test_fhir_bundle_of_the_demo_clinic_validates_as_r4(fhir_exports, deid):
    path, texts = fhir_exports
    bundle = json.loads(texts[deid])
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "collection"
    assert bundle["timestamp"] == FIXED_NOW.isoformat()
    seen = validate_every_resource(bundle)
    assert seen == {"Patient", "Encounter", "MedicationAdministration", "Observation", "Flag"}
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
    assert all(p["name"][0]["text"] for p in ident)
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
    units = {"8867-4": "/min", "9279-1": "/min", "59408-5": "%", "29463-7": "kg", "8302-2": "cm"}
    by_code: dict[str, list] = {}
    for o in vitals:
        code = only_code(o["code"])
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
    assert set(by_code) == {"85354-9", *units}
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
    from ketacli.render.fhir import rid

    by_id = {r["id"]: r for r in resources(bundle)}
    bp = by_id[rid("Observation", f"obs-{first[0]}-bp")]
    hr = by_id[rid("Observation", f"obs-{first[0]}-hr")]
    assert bp["effectiveDateTime"] == hr["effectiveDateTime"] == first[1]
    assert [c["valueQuantity"]["value"] for c in bp["component"]] == [first[2], first[3]]
    assert hr["valueQuantity"]["value"] == first[4]
    assert bp["encounter"]["reference"] == f"urn:uuid:{rid('Encounter', first[5])}"


def _surveys(bundle, panel):
    return [o for o in resources(bundle, "Observation") if only_code(o["code"]) == panel]


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
def test_fhir_of_one_table_is_self_contained(cli, demo, table, since):
    args = ["export", table, "--format", "fhir", *(["--since", since] if since else [])]
    bundle = json.loads(ok(cli(*args)).stdout)
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


# -- de-identification -------------------------------------------------------------------------------
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


@pytest.fixture(scope="module")
def zqf_template(tmp_path_factory):
    return build_once(tmp_path_factory, "export-zqf", _build_zqf)


@pytest.fixture
def zqf(zqf_template, db_path) -> dict:
    path, ids = zqf_template
    copy_db(path, db_path)
    return ids


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


def test_identified_exports_do_hold_what_must_go(cli, zqf):
    """The check below is worth something only if the data is there to leak."""
    data = json.loads(export(cli, "all", "--format", "json"))
    fhir = json.loads(export(cli, "all", "--format", "fhir"))
    text = json.dumps(data, ensure_ascii=False) + json.dumps(fhir, ensure_ascii=False)
    for needle in IDENTIFIERS:
        assert needle in text.replace("\\n", "\n").replace('\\"', '"'), needle
    [patient] = [p for p in resources(fhir, "Patient") if p["identifier"][0]["value"] == MRN]
    assert patient["birthDate"] == DOB
    assert patient["telecom"][0]["value"] == PHONE


def test_deidentified_exports_hold_no_identifier(cli, zqf, db_path):
    outs = deidentified_outputs(cli)
    sids = [sid for sid, _ in study_ids(db_path).values()]
    assert len(sids) == 2
    for name, text in outs.items():
        clean = scrub_ids(text, sids)
        for needle in FORBIDDEN:
            assert needle not in clean, (name, needle)
            assert needle not in text or needle.isdigit(), (name, needle)
        assert "1931" not in clean, name  # no trace of the birth year of a patient over 89


def test_deidentified_csv_columns(cli, zqf):
    banned = {"patient", "name", "phone", "dob", "note", "escort", "detail", "discharge_note",
              "override", "discharge_override", "site", "cancel_reason", "os_user", "hash",
              "prev_hash", "entity_id"}
    for table in DEID_TABLES:
        keys, rows = parse("csv", export(cli, table, "--deidentify"))
        assert not banned & set(keys), table
        assert "study_id" in keys, table
        assert ID_KEY[table] == "patient" or ID_KEY[table] in keys
        for key in set(keys) & set(PSEUDONYM_PREFIX):  # record ids: pseudonyms, not numbers
            assert all(r[key] == "" or PSEUDONYM_RE.fullmatch(r[key]) for r in rows), (table, key)
    # and the audit log, which holds the real order and times of everything, is refused
    r = cli("export", "audit", "--deidentify")
    assert_one_error(r, 2)
    assert r.stdout == ""


def test_study_ids_are_random_stable_and_local(cli, zqf, db_path):
    first = parse("csv", export(cli, "patients", "--deidentify"))[1]
    second = parse("csv", export(cli, "patients", "--deidentify"))[1]
    assert [p["study_id"] for p in first] == [p["study_id"] for p in second]
    link = study_ids(db_path)
    assert [p["study_id"] for p in first] == [link[MRN][0], link[YOUNG_MRN][0]]
    assert len({p["study_id"] for p in first}) == 2
    for mrn, (sid, _) in link.items():
        assert sid != mrn
        for part in re.split(r"[-_]", mrn):
            assert len(part) < 3 or part not in sid, (mrn, sid)
    # assigned once (audited), never again
    assigns = query(db_path, "SELECT detail FROM audit WHERE action = 'assign'")
    assert [json.loads(d) for (d,) in assigns] == [{"count": 2}]
    # the FHIR export uses the same study ids
    fhir = json.loads(export(cli, "all", "--format", "fhir", "--deidentify"))
    assert {p["identifier"][0]["value"] for p in resources(fhir, "Patient")} == {
        sid for sid, _ in link.values()}


def test_a_new_patient_gets_a_study_id_and_the_old_ones_stay(cli, zqf, db_path):
    export(cli, "patients", "--deidentify")
    before = study_ids(db_path)
    ok(cli("patient", "add", "NEW-1", "--name", "New Comer"))
    _, rows = parse("json", export(cli, "patients", "--format", "json", "--deidentify"))
    after = study_ids(db_path)
    assert {k: v for k, v in after.items() if k in before} == before
    assert set(after) == {*before, "NEW-1"}
    assert [r["study_id"] for r in rows] == [after[m][0] for m in (MRN, YOUNG_MRN, "NEW-1")]


def _parse_time(value: str):
    if "T" in value:
        return datetime.fromisoformat(value)
    return date.fromisoformat(value)


DATE_KEYS = ("at", "started_at", "discharged_at", "infusion_end_at", "created_at", "closed_at",
             "notified_at", "due", "valid_until")


def test_dates_shift_by_one_offset_per_patient(cli, zqf, db_path):
    ident = json.loads(export(cli, "all", "--format", "json"))["data"]
    deid = json.loads(export(cli, "all", "--format", "json", "--deidentify"))["data"]
    assert list(deid) == list(DEID_TABLES)
    link = study_ids(db_path)
    sid_to_mrn = {sid: mrn for mrn, (sid, _) in link.items()}
    offsets: dict[str, set] = {MRN: set(), YOUNG_MRN: set()}
    compared = 0
    for table in DEID_TABLES:
        assert len(ident[table]) == len(deid[table]), table
        if table != "patients":  # the same records, in the same order, under pseudonyms
            key = ID_KEY[table]
            assert [b[key] for b in deid[table]] == pseudonyms(
                db_path, key, [a[key] for a in ident[table]]), table
        for a, b in zip(ident[table], deid[table], strict=True):
            mrn = a["patient"]
            assert sid_to_mrn[b["study_id"]] == mrn  # every record here belongs to a patient
            for key in DATE_KEYS:
                if a.get(key) is None:
                    assert b.get(key) is None
                    continue
                delta = _parse_time(a[key]) - _parse_time(b[key])
                assert delta.seconds == 0 and delta.microseconds == 0, (table, key)
                offsets[mrn].add(delta.days)
                compared += 1
    assert compared >= 19  # every date of the clinical tables (the audit log is not exported)
    for mrn, days in offsets.items():
        assert days == {link[mrn][1]}, mrn  # one offset for every date of the patient
        assert 0 <= link[mrn][1] <= 364


def test_intervals_within_a_session_survive(cli, zqf):
    def timeline(deidentify: bool):
        args = ["--deidentify"] if deidentify else []
        data = json.loads(export(cli, "all", "--format", "json", *args))["data"]
        [session] = data["sessions"]
        start = datetime.fromisoformat(session["started_at"])
        return {
            "observations": [datetime.fromisoformat(o["at"]) - start for o in data["observations"]],
            "events": [datetime.fromisoformat(e["at"]) - start for e in data["events"]],
            "end": datetime.fromisoformat(session["infusion_end_at"]) - start,
            "discharge": datetime.fromisoformat(session["discharged_at"]) - start,
            "screening": start - datetime.fromisoformat(data["screenings"][0]["at"]),
            "assessment": datetime.fromisoformat(data["assessments"][0]["at"]) - start,
            "due": [date.fromisoformat(f["due"]) - start.date() for f in data["followups"]],
        }

    real, shifted = timeline(False), timeline(True)
    assert shifted == real
    assert real["observations"][:3] == [timedelta(0), timedelta(minutes=15), timedelta(minutes=45)]
    assert real["screening"] == timedelta(minutes=30)


def test_birth_dates_become_years_and_90_plus(cli, zqf):
    _, rows = parse("json", export(cli, "patients", "--format", "json", "--deidentify"))
    assert [r["birth_year"] for r in rows] == ["90+", "1990"]  # 95 and 36 on 2026-11-27
    assert all("dob" not in r for r in rows)
    fhir = json.loads(export(cli, "patients", "--format", "fhir", "--deidentify"))
    old, young = resources(fhir, "Patient")
    assert "birthDate" not in old
    assert young["birthDate"] == "1990"


def test_deidentified_fhir_dates_are_the_shifted_ones(cli, zqf, db_path):
    bundle = json.loads(export(cli, "all", "--format", "fhir", "--deidentify"))
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


def test_deidentified_export_is_the_same_twice(cli, zqf, db_path):
    """No audit table in it, the clock pinned: byte for byte, record ids included."""
    for fmt in ("json", "ndjson", "fhir"):
        first, second = (export(cli, "all", "--format", fmt, "--deidentify") for _ in range(2))
        assert first == second, fmt
    # and the one-table exports agree with `all`
    data = json.loads(export(cli, "all", "--format", "json", "--deidentify"))["data"]
    for table in DEID_TABLES[1:]:
        _, rows = parse("csv", export(cli, table, "--deidentify"))
        assert [r[ID_KEY[table]] for r in rows] == [r[ID_KEY[table]] for r in data[table]], table


def test_deidentified_record_ids_are_stable_and_keyed_by_one_local_secret(cli, zqf, db_path):
    assert query(db_path, "SELECT count(*) FROM deid_keys") == [(0,)]
    ident = json.loads(export(cli, "all", "--format", "json"))["data"]
    first = json.loads(export(cli, "all", "--format", "json", "--deidentify"))["data"]
    [(secret,)] = query(db_path, "SELECT secret FROM deid_keys")
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    ok(cli("patient", "add", "NEW-2", "--name", "Later Patient"))  # a new study id, same key
    second = json.loads(export(cli, "all", "--format", "json", "--deidentify"))["data"]
    assert query(db_path, "SELECT secret FROM deid_keys") == [(secret,)]
    created = query(db_path, "SELECT entity, entity_id FROM audit WHERE action = 'create' "
                             "AND entity = 'deid_key'")
    assert created == [("deid_key", 1)]  # made once, audited
    for table in DEID_TABLES[1:]:
        key = ID_KEY[table]
        ids = [r[key] for r in ident[table]]
        assert [r[key] for r in first[table]] == [r[key] for r in second[table]] == pseudonyms(
            db_path, key, ids), table
    # the secret itself is in no export
    outs = [*deidentified_outputs(cli).values(), export(cli, "all", "--format", "json"),
            export(cli, "all", "--format", "ndjson"), export(cli, "audit")]
    assert all(secret not in text for text in outs)


def test_deidentify_with_output_and_since(cli, zqf, tmp_path, umask_022):
    folder = tmp_path / "research"
    ok(cli("export", "all", "--format", "csv", "--deidentify", "--since", "2026-11-27",
           "--output", folder))
    assert mode(folder) == 0o700
    for path in folder.iterdir():
        assert mode(path) == 0o600
        text = path.read_text(encoding="utf-8")
        assert all(n not in text for n in (NAME, MRN, PHONE, DOB, NOTE, ESCORT)), path.name
    _, sessions = parse("csv", (folder / "sessions.csv").read_text(encoding="utf-8"))
    assert sessions == []  # started on the 26th
    _, assessments = parse("csv", (folder / "assessments.csv").read_text(encoding="utf-8"))
    assert len(assessments) == 1


def test_csv_keeps_free_text_with_quotes_commas_and_newlines(cli, zqf):
    _, rows = parse("csv", export(cli, "observations"))
    assert [r["note"] for r in rows if r["note"]] == [NOTE, TRICKY_NOTE]


# -- de-identified record ids: pseudonyms that cannot be joined to the identified export -------------
def _rows_by_table(cli, fmt: str, *args) -> dict[str, list[dict]]:
    text = export(cli, "all", "--format", fmt, *args)
    if fmt == "json":
        return json.loads(text)["data"]
    out: dict[str, list[dict]] = {}
    for line in map(json.loads, text.splitlines()):
        out.setdefault(line.pop("table"), []).append(line)
    return out


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_deidentified_record_ids_are_not_the_identified_ones(cli, demo, fmt):
    ident = _rows_by_table(cli, fmt)
    deid = _rows_by_table(cli, fmt, "--deidentify")
    checked = 0
    for table in DEID_TABLES[1:]:
        for key in PSEUDONYM_PREFIX.keys() & set(deid[table][0]):
            real = [a[key] for a in ident[table]]
            shown = [b[key] for b in deid[table]]
            assert all(isinstance(v, int) for v in real if v is not None)
            for r, v in zip(real, shown, strict=True):
                assert (r is None) == (v is None), (table, key)
                if v is None:
                    continue
                assert isinstance(v, str) and PSEUDONYM_RE.fullmatch(v), (table, key, v)
                assert v.startswith(PSEUDONYM_PREFIX[key]), (table, key, v)
                checked += 1
            everything = {x for x in real if x is not None} | {str(x) for x in real}
            assert everything.isdisjoint(shown), (table, key)
            assert shown == pseudonyms(demo, key, real), (table, key)
        # one pseudonym per record
        own = [b[ID_KEY[table]] for b in deid[table]]
        assert len(set(own)) == len(own) == len(ident[table]), table
    assert checked > 1000


def test_relations_hold_inside_a_deidentified_export(cli, demo, tmp_path):
    ident = json.loads(export(cli, "all", "--format", "json"))["data"]
    folder = tmp_path / "deid"
    ok(cli("export", "all", "--format", "csv", "--deidentify", "--output", folder))
    deid_json = json.loads(export(cli, "all", "--format", "json", "--deidentify"))["data"]
    deid_csv = {t: parse("csv", (folder / f"{t}.csv").read_text(encoding="utf-8"))[1]
                for t in DEID_TABLES}
    for deid in (deid_json, deid_csv):
        # identified id -> de-identified id, table by table (the rows come in the same order)
        to_pseudo = {t: dict(zip((a[ID_KEY[t]] for a in ident[t]),
                                 (b[ID_KEY[t]] for b in deid[t]), strict=True))
                     for t in DEID_TABLES[1:]}
        linked = 0
        for (table, column), target in REFERENCES.items():
            targets = {b[ID_KEY[target]] for b in deid[target]}
            for a, b in zip(ident[table], deid[table], strict=True):
                if a[column] is None:
                    assert b[column] in (None, ""), (table, column)
                    continue
                assert b[column] in targets, (table, column, b[column])
                assert b[column] == to_pseudo[target][a[column]], (table, column)
                linked += 1
        # every observation's session_id is among the sessions' session_id, and there are some
        sessions = {s["session_id"] for s in deid["sessions"]}
        assert deid["observations"] and all(o["session_id"] in sessions
                                            for o in deid["observations"])
        assert linked > len(ident["observations"])
    assert [r["session_id"] for r in deid_csv["observations"]] == [
        r["session_id"] for r in deid_json["observations"]]


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
def test_deidentified_fhir_of_one_table_is_self_contained(cli, demo, table, since):
    args = ["export", table, "--format", "fhir", "--deidentify",
            *(["--since", since] if since else [])]
    bundle = json.loads(ok(cli(*args)).stdout)
    validate_every_resource(bundle)
    assert_references_resolve(bundle)


# -- the audit log is never de-identified --------------------------------------------------------------
@pytest.mark.parametrize("args", [[], ["--format", "json"], ["--format", "ndjson"],
                                  ["--since", "2026-11-01"], ["--output", "audit.csv"]])
def test_export_audit_deidentified_exits_2(cli, zqf, db_path, tmp_path, args):
    args = [tmp_path / a if a.endswith(".csv") else a for a in args]
    audit_before = query(db_path, "SELECT count(*) FROM audit")
    r = cli("export", "audit", "--deidentify", *args)
    assert_one_error(r, 2)
    assert r.stdout == ""
    assert "audit" in r.stderr and "de-identified" in r.stderr
    # nothing written: no file, no audit row, no study ids or key made on the way
    assert not (tmp_path / "audit.csv").exists()
    assert query(db_path, "SELECT count(*) FROM audit") == audit_before
    assert export_audit_rows(db_path) == []
    assert query(db_path, "SELECT count(*) FROM study_ids") == [(0,)]
    assert query(db_path, "SELECT count(*) FROM deid_keys") == [(0,)]
    # without --deidentify it is fine
    assert ids_of("audit", parse("csv", export(cli, "audit"))[1])


def test_export_all_deidentified_leaves_the_audit_table_out(cli, demo, tmp_path):
    doc = json.loads(export(cli, "all", "--format", "json", "--deidentify"))
    assert list(doc["data"]) == list(DEID_TABLES)
    assert "audit" not in doc["data"]
    lines = [json.loads(x) for x in export(cli, "all", "--format", "ndjson", "--deidentify")
             .splitlines()]
    assert list(dict.fromkeys(line["table"] for line in lines)) == list(DEID_TABLES)
    assert not any(line["table"] == "audit" for line in lines)
    assert not any("audit_id" in line for line in lines)
    expected = {t: len(expected_ids(demo, t)) for t in DEID_TABLES}
    folder = tmp_path / "research"
    r = ok(cli("export", "all", "--format", "csv", "--deidentify", "--output", folder))
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t}.csv" for t in DEID_TABLES)
    assert r.stderr == f"Exported {sum(expected.values()):,} records to {folder}.\n"
    *_, (_, detail) = export_audit_rows(demo)
    detail = json.loads(detail)
    assert detail["deidentified"] is True and detail["table"] == "all"
    assert detail["rows"] == expected
    # the identified `all` still has it
    assert "audit" in json.loads(export(cli, "all", "--format", "json"))["data"]


# -- free text that looks like JSON ---------------------------------------------------------------
def test_event_detail_that_looks_like_json_stays_text(cli):
    """events.detail is free text: '[L arm] swelling' must not be parsed as JSON."""
    ok(cli("screen", "EV-1", "--name", "Eve Vent", "--weight", "70", "--bp", "120/80", "--hr", "70",
           "--at", "2026-11-27 07:00"))
    ok(cli("start-session", "EV-1", "--bp", "120/80", "--hr", "70", "--at", "2026-11-27 07:30"))
    details = ["[L arm] mild swelling", "{sic} nausea", "[1, 2]", "plain"]
    for i, detail in enumerate(details):
        ok(cli("log-event", "--patient", "EV-1", "adverse", "--detail", detail,
               "--at", f"2026-11-27 07:{40 + i}"))
    for fmt in FORMATS:
        _, rows = parse(fmt, export(cli, "events", "--format", fmt))
        assert [r["detail"] for r in rows] == details, fmt
    doc = json.loads(export(cli, "all", "--format", "json"))
    assert [r["detail"] for r in doc["data"]["events"]] == details
    assert all(isinstance(r["detail"], dict | None) for r in doc["data"]["audit"])  # JSON there
