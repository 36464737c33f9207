"""`export TABLE|all --format csv|json|ndjson|fhir|fhir-ndjson [--since DATE] [--deidentify]
[--output PATH]` through the command line (docs/cli-contract.md `export`, exit codes;
docs/interop.md Safe Harbor; de-identified exports carry keyed pseudonyms for record ids
and never the audit table): formats, options, output files, refusals, the audit row.

The engine's parts have their own tests: tests/store/test_export.py (queries, slices,
study ids), tests/render/test_export.py (writers) and tests/render/test_fhir.py (FHIR).
Most tests run on a private copy of `ketacli demo --patients 8 --seed 2`; the
de-identification tests on a small clinic made by hand with one very recognisable patient
(both built once, export_support.py).
"""

from __future__ import annotations

import errno
import json
import os
import re
from datetime import date, datetime, timedelta

import pytest
from export_support import (
    DEID_TABLES,
    DOB,
    ESCORT,
    FORBIDDEN,
    FORMATS,
    ID_KEY,
    IDENTIFIERS,
    MRN,
    NAME,
    NOTE,
    PHONE,
    PSEUDONYM_PREFIX,
    PSEUDONYM_RE,
    REFERENCES,
    TABLES,
    TIME_COLUMN,
    VOID_KIND,
    YOUNG_MRN,
    clinic_of,
    day_start,
    deidentified_outputs,
    expected_ids,
    export,
    export_audit_rows,
    ids_of,
    parse,
    partials,
    pseudonyms,
    resources,
    rid_in,
    scrub_ids,
    study_ids,
    with_own_export_row,
    zqf_clinic,
)
from helpers import assert_one_error, copy_db, mode, ok, query


# -- the clinics -----------------------------------------------------------------------------
@pytest.fixture
def zqf(tmp_path_factory, db_path) -> dict:
    path, ids = zqf_clinic(tmp_path_factory)
    copy_db(path, db_path)
    return ids


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
        expected = expected_ids(demo, table)
        if table == "audit":  # the export's own audit row is written before its data
            expected.append(expected[-1] + 1)
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


def test_all_as_json(cli, demo):
    expected = with_own_export_row(demo, {t: expected_ids(demo, t) for t in TABLES})
    doc = json.loads(export(cli, "all", "--format", "json"))
    assert set(doc) == {"data"}
    assert list(doc["data"]) == list(TABLES)
    for table in TABLES:
        assert ids_of(table, doc["data"][table]) == expected[table], table


def test_all_as_ndjson_tags_every_line_with_its_table(cli, demo):
    expected = with_own_export_row(demo, {t: expected_ids(demo, t) for t in TABLES})
    lines = [json.loads(line) for line in export(cli, "all", "--format", "ndjson").splitlines()]
    assert all(next(iter(line)) == "table" for line in lines)
    order = [line["table"] for line in lines]
    assert list(dict.fromkeys(order)) == list(TABLES)  # table after table, in order
    for table in TABLES:
        rows = [{k: v for k, v in line.items() if k != "table"} for line in lines
                if line["table"] == table]
        assert ids_of(table, rows) == expected[table], table


def test_all_as_csv_writes_one_private_file_per_table(cli, demo, tmp_path, umask_022):
    expected = with_own_export_row(demo, {t: expected_ids(demo, t) for t in TABLES})
    folder = tmp_path / "out" / "export"
    r = ok(cli("export", "all", "--format", "csv", "--output", folder))
    assert r.stdout == ""
    total = sum(len(v) for v in expected.values())
    export_id = expected["audit"][-1]
    assert r.stderr == f"Exported {total} records to {folder} (export {export_id}).\n"  # plain
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
    expected = with_own_export_row(demo, {table: expected_ids(demo, table, since)})[table]
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
    expected = with_own_export_row(demo, {"audit": expected_ids(demo, "audit", "2026-11-27")})
    _, rows = parse("csv", export(cli, "audit", "--since", "2026-11-27"))
    assert ids_of("audit", rows) == expected["audit"]


def test_fhir_patients_since_gives_new_patients_only(cli):
    assert cli("patient", "add", "OLD-1", "--name", "Old One").exit_code == 0
    from datetime import UTC, datetime

    from ketacli.clock import CLOCK

    CLOCK.pin(datetime(2026, 11, 28, 15, 0, tzinfo=UTC))
    assert cli("patient", "add", "NEW-1", "--name", "New One").exit_code == 0
    r = cli("export", "patients", "--format", "fhir-ndjson", "--since", "2026-11-28")
    assert r.exit_code == 0, r.stderr
    mrns = [json.loads(x)["identifier"][0]["value"] for x in r.stdout.splitlines()]
    assert mrns == ["NEW-1"]


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


def test_no_mapping_tables_are_refused(cli):
    assert cli("demo", "--patients", "3", "--seed", "5").exit_code == 0
    r = cli("export", "followups", "--format", "fhir-ndjson")
    assert r.exit_code == 2 and r.stderr.startswith("error:")


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
    assert re.fullmatch(rf"Exported [\d,]+ records to {re.escape(str(out))} \(export \d+\)\.\n",
                        r.stderr), r.stderr
    assert mode(out) == 0o600
    written = out.read_text(encoding="utf-8")
    again = export(cli, table, "--format", fmt)
    if fmt == "ndjson":  # each export's audit rows are in the audit table (its own too)
        written, again = ("".join(line for line in text.splitlines(keepends=True)
                                  if '"action": "export"' not in line
                                  and '"action": "exported"' not in line)
                          for text in (written, again))
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


def assert_attempt_only(db) -> None:
    """An export that failed: its audit row (written before any data) and no completion."""
    [(_, detail)] = export_audit_rows(db)
    assert "rows" not in json.loads(detail)


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
    assert_attempt_only(demo)


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
    assert_attempt_only(demo)


@pytest.mark.sqlite_only  # the database file (and its -wal); a server's database is no file
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


# -- large tables: worker processes, the same bytes ---------------------------------------------------
def test_parallel_csv_is_byte_identical(cli, tmp_path, monkeypatch):
    assert cli("demo", "--patients", "5", "--seed", "9").exit_code == 0
    cli("void", "observation", "3", "--reason", "wrong chair")
    single, parallel = tmp_path / "single.csv", tmp_path / "parallel.csv"
    monkeypatch.setenv("KETACLI_EXPORT_WORKERS", "1")
    assert cli("export", "observations", "--format", "csv", "--output", single).exit_code == 0
    monkeypatch.setenv("KETACLI_EXPORT_WORKERS", "2")
    monkeypatch.setenv("KETACLI_EXPORT_PARALLEL_ROWS", "1")
    r = cli("export", "observations", "--format", "csv", "--output", parallel)
    assert r.exit_code == 0, r.stderr
    data = parallel.read_bytes()
    assert data == single.read_bytes()
    lines = data.decode().splitlines()
    assert lines[0].startswith("observation_id,session_id,patient")
    assert not any(line.startswith("3,") for line in lines[1:])  # the voided row
    assert len(lines) > 100


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
    bundle = json.loads(export(cli, "all", "--format", "fhir"))
    rid = rid_in(clinic_of(bundle))  # identified ids are in the clinic's namespace
    before = {e["fullUrl"] for e in bundle["entry"]}
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
    mine |= {f"urn:uuid:{rid('QuestionnaireResponse', f'{key}-{scale}')}"
             for key in (f"screening-{ids['screening']}", f"assessment-{ids['assessment']}")
             for scale in ("phq9", "gad7", "cssrs")}
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


# -- de-identification -------------------------------------------------------------------------------
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


def test_deidentify_with_output(cli, zqf, tmp_path, umask_022):
    folder = tmp_path / "research"
    ok(cli("export", "all", "--format", "csv", "--deidentify", "--output", folder))
    assert mode(folder) == 0o700
    for path in folder.iterdir():
        assert mode(path) == 0o600
        text = path.read_text(encoding="utf-8")
        assert all(n not in text for n in (NAME, MRN, PHONE, DOB, NOTE, ESCORT)), path.name
    _, assessments = parse("csv", (folder / "assessments.csv").read_text(encoding="utf-8"))
    assert len(assessments) >= 1


def test_deidentify_into_a_folder_of_an_identified_export_leaves_no_audit_csv(cli, zqf, tmp_path):
    """The identified audit.csv (staff names, MRNs) must not stay beside the research files."""
    folder = tmp_path / "research"
    ok(cli("export", "all", "--format", "csv", "--output", folder))
    assert MRN in (folder / "audit.csv").read_text(encoding="utf-8")
    ok(cli("export", "all", "--format", "csv", "--deidentify", "--output", folder))
    assert not (folder / "audit.csv").exists()
    for path in folder.iterdir():
        text = path.read_text(encoding="utf-8")
        assert all(n not in text for n in (NAME, MRN, PHONE, DOB, NOTE, ESCORT)), path.name


def test_deidentify_with_since_is_refused(cli, zqf, tmp_path, db_path):
    """A --since bound compared with the shifted dates of what comes out reveals the shift."""
    before = query(db_path, "SELECT count(*) FROM audit")
    r = cli("export", "all", "--format", "csv", "--deidentify", "--since", "2026-11-27",
            "--output", tmp_path / "research")
    assert_one_error(r, 2)
    assert "--since" in r.stderr and "--after" in r.stderr
    assert not (tmp_path / "research").exists()
    assert query(db_path, "SELECT count(*) FROM audit") == before


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
    assert re.fullmatch(rf"Exported {sum(expected.values())} records to {re.escape(str(folder))} "
                        r"\(export \d+\)\.\n", r.stderr), r.stderr
    *_, (_, detail) = export_audit_rows(demo)
    detail = json.loads(detail)
    assert detail["deidentified"] is True and detail["table"] == "all"
    assert detail["rows"] == expected
    # the identified `all` still has it
    assert "audit" in json.loads(export(cli, "all", "--format", "json"))["data"]


def test_the_exported_line_is_digits_a_script_can_match(cli, demo):
    """"Exported N records (export ID)." with N in plain digits, however many: a script's
    `Exported (\\d+) records` must read 1234, not stop at "1,"."""
    r = cli("export", "all", "--format", "ndjson")
    assert r.exit_code == 0, r.stderr
    written = len(r.stdout.splitlines())
    assert written >= 1000  # a count that a thousands separator would have split
    m = re.fullmatch(r"Exported (\d+) records \(export (\d+)\)\.\n", r.stderr)
    assert m and int(m[1]) == written, r.stderr
