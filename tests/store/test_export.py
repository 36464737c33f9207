"""store/export.py: the export's queries, composed from each table's declaration; the id
slices and worker processes of large CSV tables; the Reader; the local study-id link
table and de-identification key.

Runs on a private copy of the demo clinic, or on the de-identification clinic
(export_support), reading the database directly to say what is expected.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import sqlite3
from datetime import date

import pytest
from export_support import (
    MRN,
    TABLES,
    VOID_KIND,
    YOUNG_MRN,
    day_start,
    engine_export,
    expected_ids,
    parse,
    resources,
    study_ids,
    zqf_clinic,
)
from helpers import copy_db, ok, on_pg, query

from ketacli.render.export import csv_text
from ketacli.store import export as xs
from ketacli.store import pg
from ketacli.store.db import Actor, open_store

# The exported columns of every table, in order: tests, clinic scripts and spreadsheets
# read them by name and by position. Changing one is a change of the export's contract.
COLUMNS = {
    "patients": ["patient", "name", "dob", "sex", "phone", "demo", "created_at", "created_by",
                 "address"],
    "screenings": ["screening_id", "patient", "at", "clinician", "weight_kg", "height_cm", "sbp",
                   "dbp", "hr", "spo2", "indication", "phq9_items", "phq9_total", "gad7_items",
                   "gad7_total", "madrs_total", "pcl5_total", "conditions", "meds", "decision",
                   "reasons", "suicide_risk_flag", "valid_until", "note", "cssrs_answers",
                   "cssrs_risk"],
    "sessions": ["session_id", "patient", "screening_id", "number_in_series", "started_at",
                 "clinician", "weight_kg", "dose_mg_per_kg", "dose_mg", "duration_min",
                 "rate_mg_per_h", "concentration_mg_per_ml", "rate_ml_per_h", "lot", "drawn_mg",
                 "site", "override", "overridden", "status", "discharged_at", "discharged_by",
                 "infusion_end_at", "aldrete_total", "delivered_mg", "wasted_mg", "waste_witness",
                 "transport", "escort", "criteria", "discharge_override", "side_effects",
                 "discharge_note"],
    "observations": ["observation_id", "session_id", "patient", "phase", "at", "clinician",
                     "minutes_into_infusion", "sbp", "dbp", "hr", "spo2", "rr", "etco2", "moaas",
                     "dissociation", "alerts", "note", "late_reason"],
    "events": ["event_id", "session_id", "patient", "kind", "at", "clinician", "rate_mg_per_h",
               "detail", "late_reason"],
    "assessments": ["assessment_id", "patient", "followup_id", "at", "clinician", "phq9_items",
                    "phq9_total", "gad7_items", "gad7_total", "madrs_total", "pcl5_total", "note",
                    "cssrs_answers", "cssrs_risk"],
    "followups": ["followup_id", "patient", "session_id", "kind", "due", "status", "created_at",
                  "created_by", "closed_at", "closed_by", "notified_at", "cancel_reason", "note"],
    "audit": ["audit_id", "at", "clinician", "os_user", "action", "entity", "entity_id", "patient",
              "detail", "prev_hash", "hash"],
}
SINCE = "2026-11-01"


@pytest.fixture
def zqf(tmp_path_factory, db_path) -> dict:
    path, ids = zqf_clinic(tmp_path_factory)
    copy_db(path, db_path)
    return ids


@pytest.fixture
def store(demo):
    st = open_store(demo, Actor("nurse.test", "tester"), create=False)
    yield st
    st.close()


def run(db, sql: str, params) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of one of the store's statements, on a connection of its own."""
    con = pg.connect(str(db), busy_timeout_s=30) if on_pg(db) else sqlite3.connect(db)
    try:
        cur = con.execute(sql, params)
        return [d[0] for d in cur.description], [tuple(r) for r in cur.fetchall()]
    finally:
        con.close()


# -- the queries, composed from each table's declaration ------------------------------------------
def test_every_exported_table_is_declared():
    assert tuple(xs.QUERIES) == xs.TABLES == TABLES
    assert set(COLUMNS) == set(TABLES)


def test_the_fhir_encounters_are_the_sessions_with_their_observations_span(store):
    assert xs.columns("encounters", with_pid=False) == [
        *COLUMNS["sessions"], "first_observation_at", "last_observation_at"]
    cols, cur = xs.rows(store, "encounters", None, with_pid=True)
    cur.close()
    assert cols == ["_pid", *COLUMNS["sessions"], "first_observation_at", "last_observation_at"]


@pytest.mark.parametrize("table", TABLES)
def test_the_columns_are_the_published_ones_in_order(store, table):
    assert xs.columns(table, with_pid=False) == COLUMNS[table]
    assert xs.columns(table, with_pid=True) == ["_pid", *COLUMNS[table]]
    for with_pid in (False, True):
        cols, cur = xs.rows(store, table, None, with_pid=with_pid)
        cur.close()
        assert cols == xs.columns(table, with_pid=with_pid)


def test_a_composed_query_reads_like_the_declaration():
    not_voided = ("NOT EXISTS (SELECT 1 FROM voids v WHERE v.kind = 'event' AND v.target_id = e.id)"
                  " AND NOT EXISTS (SELECT 1 FROM voids v WHERE v.kind = 'session' "
                  "AND v.target_id = e.session_id)")
    assert xs.select_sql("events", with_pid=False) == (
        "SELECT e.id AS event_id, e.session_id AS session_id, p.mrn AS patient, e.kind AS kind, "
        "e.at AS at, e.clinician AS clinician, e.rate_mg_per_h AS rate_mg_per_h, "
        "e.detail AS detail, e.late_reason AS late_reason FROM events e "
        "JOIN sessions s ON s.id = e.session_id "
        f"JOIN patients p ON p.id = s.patient_id WHERE e.at >= ? AND {not_voided} ORDER BY e.id")
    with_pid = xs.select_sql("events", with_pid=True, sliced=True)
    assert with_pid.startswith("SELECT s.patient_id AS _pid, e.id AS event_id, ")
    assert with_pid.endswith(f"WHERE e.at >= ? AND {not_voided} AND e.id BETWEEN ? AND ? "
                             "ORDER BY e.id")
    # tables without voids have no void filter (sessions: a voided session, its own)
    assert "v.kind = 'session' AND v.target_id = s.id" in xs.select_sql("sessions", with_pid=False)
    for table in set(TABLES) - set(VOID_KIND) - {"sessions"}:
        assert "voids" not in xs.select_sql(table, with_pid=True, sliced=True), table
    assert xs.select_sql("followups", with_pid=False, sliced=True).endswith(
        "WHERE f.created_at >= ? AND f.id BETWEEN ? AND ? ORDER BY f.id")


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("with_pid", [False, True], ids=["no_pid", "pid"])
@pytest.mark.parametrize("since", [None, SINCE])
def test_sliced_and_full_queries_yield_the_same_rows_and_columns(demo, table, with_pid, since):
    bound = day_start(since) if since else xs.EVERYTHING
    cols, full = run(demo, xs.select_sql(table, with_pid=with_pid), (bound,))
    assert cols == xs.columns(table, with_pid=with_pid)
    assert full, table
    [(lo, hi)] = query(demo, f"SELECT min(id), max(id) FROM {table}")
    step = max(1, (hi - lo + 1) // 3)
    pieces = []
    for a in range(lo, hi + 1, step):
        part_cols, part = run(demo, xs.select_sql(table, with_pid=with_pid, sliced=True),
                              (bound, a, min(hi, a + step - 1)))
        assert part_cols == cols
        pieces += part
    assert pieces == full
    if with_pid:  # _pid is the row's patient, and only an addition
        _, plain = run(demo, xs.select_sql(table, with_pid=False), (bound,))
        assert [r[1:] for r in full] == plain


@pytest.mark.parametrize("table", TABLES)
def test_rows_are_the_stored_records_without_voided_ones_from_since_on(cli, demo, store, table):
    if table in VOID_KIND:
        [(rid,)] = query(demo, f"SELECT max(id) FROM {table}")
        ok(cli("void", VOID_KIND[table], rid, "--reason", "entered in error"))
    for since in (None, SINCE):
        expected = expected_ids(demo, table, since)
        cols, cur = xs.rows(store, table, day_start(since) if since else None, with_pid=False)
        key = cols.index("patient" if table == "patients" else COLUMNS[table][0])
        assert [r[key] for r in cur] == expected, (table, since)


# -- the Reader --------------------------------------------------------------------------------------
def test_the_reader_bounds_rows_by_since_unless_told_otherwise(demo, store):
    reader = xs.Reader(store, day_start(SINCE))
    assert not reader.deidentified
    cols, rows = reader.rows("sessions")
    assert cols == COLUMNS["sessions"]
    assert [r[0] for r in rows] == expected_ids(demo, "sessions", SINCE)
    cols, rows = reader.rows("sessions", need_pid=True, since=reader.EVERYTHING)
    assert cols[0] == "_pid" and [r[1] for r in rows] == expected_ids(demo, "sessions")
    dicts = list(reader.dicts("observations"))
    assert [d["observation_id"] for d in dicts] == expected_ids(demo, "observations", SINCE)
    assert all("_pid" in d for d in dicts)


def test_the_reader_passes_rows_through_its_transform(store):
    def transform(cols):
        assert cols[0] == "_pid"  # de-identification needs the patient
        return ["n", "pid"], lambda r: (len(r), r[0])

    reader = xs.Reader(store, None, transform)
    assert reader.deidentified
    cols, rows = reader.rows("events")
    first = next(iter(rows))
    assert cols == ["n", "pid"] and first[0] == 1 + len(COLUMNS["events"])
    assert reader.parallel_slices("events", csv_text) is None  # never for de-identified rows


def test_open_reader_de_identifying_assigns_study_ids_first(demo, store):
    assert query(demo, "SELECT count(*) FROM study_ids") == [(0,)]
    reader = xs.open_reader(store, None, deidentify=True, today=date(2026, 11, 27),
                             at="2026-11-27T15:00:00+00:00")
    n_patients = len(expected_ids(demo, "patients"))
    assert query(demo, "SELECT count(*) FROM study_ids") == [(n_patients,)]
    cols, _ = reader.rows("patients")
    assert "study_id" in cols and "patient" not in cols and "_pid" not in cols
    assert xs.study_map(store).keys() == {r[0] for r in query(demo, "SELECT id FROM patients")}
    assert len(xs.deid_key(store)) == 32
    plain = xs.open_reader(store, None, deidentify=False, today=date(2026, 11, 27),
                            at="unused")
    assert not plain.deidentified
    assert query(demo, "SELECT count(*) FROM study_ids") == [(n_patients,)]


# -- large tables: id slices and worker processes -----------------------------------------------------
def test_slices_cover_the_ids_in_bounded_steps():
    assert xs.slices(5, 5, 4) == [(5, 5)]
    assert xs.slices(1, 10, 2) == [(1, 10)]  # at least 1,000 ids a slice
    big = xs.slices(1, 1_000_000, 2)  # at most 50,000
    assert len(big) == 20 and all(b - a + 1 == 50_000 for a, b in big)
    for lo, hi, workers in ((1, 1_000_000, 2), (7, 123_456, 4), (1, 16_001, 2)):
        got = xs.slices(lo, hi, workers)
        assert got[0][0] == lo and got[-1][1] == hi
        assert all(b + 1 == c for (_, b), (c, _) in itertools.pairwise(got))
    assert len(xs.slices(1, 160_000, 2)) == 16  # about eight slices per worker


def test_parallel_settings_come_from_the_environment(monkeypatch):
    import os

    monkeypatch.delenv("KETACLI_EXPORT_WORKERS", raising=False)
    monkeypatch.delenv("KETACLI_EXPORT_PARALLEL_ROWS", raising=False)
    assert xs.parallel_settings() == (min(4, os.cpu_count() or 1), 200_000)
    monkeypatch.setenv("KETACLI_EXPORT_WORKERS", "3")
    monkeypatch.setenv("KETACLI_EXPORT_PARALLEL_ROWS", "10")
    assert xs.parallel_settings() == (3, 10)
    monkeypatch.setenv("KETACLI_EXPORT_WORKERS", "")  # empty: the default
    assert xs.parallel_settings()[0] == min(4, os.cpu_count() or 1)


def test_id_bounds(cli, db_path):
    ok(cli("patient", "add", "B-1", "--name", "Bea Bounds"))
    ok(cli("patient", "add", "B-2", "--name", "Bo Bounds"))
    st = open_store(db_path, Actor("nurse.test", "tester"), create=False)
    try:
        assert xs.id_bounds(st, "patients") == (1, 2)
        assert xs.id_bounds(st, "observations") is None
        assert xs.parallel_slices(st, "observations", None, csv_text) is None
    finally:
        st.close()


@pytest.mark.parametrize("since", [None, SINCE])
def test_parallel_slices_are_the_rows_of_one_process(cli, demo, monkeypatch, since):
    [(rid,)] = query(demo, "SELECT min(id) + 7 FROM observations")
    ok(cli("void", "observation", rid, "--reason", "wrong chair"))
    monkeypatch.setenv("KETACLI_EXPORT_WORKERS", "2")
    monkeypatch.setenv("KETACLI_EXPORT_PARALLEL_ROWS", "1")
    bound = day_start(since) if since else None
    st = open_store(demo, Actor("nurse.test", "tester"), create=False)
    if on_pg(demo):  # workers open the file themselves; the server streams one cursor
        try:
            assert xs.Reader(st, bound).parallel_slices("observations", csv_text) is None
            cols, cur = xs.Reader(st, bound).rows("observations")
            ids = [r[0] for r in cur]
        finally:
            st.close()
        assert cols == COLUMNS["observations"]
        assert ids == expected_ids(demo, "observations", since) and rid not in ids
        return
    try:
        cols, slices = xs.Reader(st, bound).parallel_slices("observations", csv_text)
        parts = list(slices)
        _, cur = xs.rows(st, "observations", bound, with_pid=False)
        single = list(cur)
        monkeypatch.setenv("KETACLI_EXPORT_PARALLEL_ROWS", "1000000")  # too small to bother
        assert xs.parallel_slices(st, "observations", bound, csv_text) is None
        monkeypatch.setenv("KETACLI_EXPORT_PARALLEL_ROWS", "1")
        monkeypatch.setenv("KETACLI_EXPORT_WORKERS", "1")  # one worker: no pool
        assert xs.parallel_slices(st, "observations", bound, csv_text) is None
    finally:
        st.close()
    assert cols == COLUMNS["observations"]
    assert sum(n for _, n in parts) == len(single) == len(expected_ids(demo, "observations", since))
    text = "".join(t for t, _ in parts)
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["" if v is None else str(v) for v in r] for r in single]
    assert rid not in [int(r[0]) for r in csv.reader(io.StringIO(text, newline=""))]


@pytest.mark.sqlite_only  # a worker opens the file read-only (never on a server: one cursor)
def test_a_slice_is_read_from_its_own_read_only_connection(demo):
    sql = xs.select_sql("patients", with_pid=False, sliced=True)
    text, n = xs.read_slice((str(demo), sql, (xs.EVERYTHING, 1, 3), csv_text))
    assert n == 3 and len(text.splitlines()) == 3
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        xs.read_slice((str(demo), "INSERT INTO deid_keys VALUES (9, 'x', 'y')", (), csv_text))


# -- de-identification: the local link table ----------------------------------------------------------
def test_study_ids_are_random_stable_and_local(zqf, db_path):
    first = parse("csv", engine_export(db_path, "patients", deidentify=True))[1]
    second = parse("csv", engine_export(db_path, "patients", deidentify=True))[1]
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
    fhir = json.loads(engine_export(db_path, "all", "fhir", deidentify=True))
    assert {p["identifier"][0]["value"] for p in resources(fhir, "Patient")} == {
        sid for sid, _ in link.values()}


def test_a_new_patient_gets_a_study_id_and_the_old_ones_stay(cli, zqf, db_path):
    engine_export(db_path, "patients", deidentify=True)
    before = study_ids(db_path)
    ok(cli("patient", "add", "NEW-1", "--name", "New Comer"))
    _, rows = parse("json", engine_export(db_path, "patients", "json", deidentify=True))
    after = study_ids(db_path)
    assert {k: v for k, v in after.items() if k in before} == before
    assert set(after) == {*before, "NEW-1"}
    assert [r["study_id"] for r in rows] == [after[m][0] for m in (MRN, YOUNG_MRN, "NEW-1")]
