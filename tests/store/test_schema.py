"""The schema the migrations create (ketacli.store.migrations): append-only guard triggers
on every clinical table and the audit log, patients and follow-ups never deleted, STRICT
tables and CHECK constraints that refuse what the program would never write
(docs/cli-contract.md, "Records and safety" and "Tamper evidence and encryption at rest")."""

from __future__ import annotations

import sqlite3

import pytest
from helpers import on_pg
from store_support import NOW, add_patient

from ketacli.errors import StorageError
from ketacli.store import migrations, pg

# what the database raises for a refused change, on either engine (the guard triggers and
# CHECK constraints raise IntegrityError on both; psycopg's errors are not sqlite3's)
DB_ERROR = (sqlite3.DatabaseError, *pg.errors())
INTEGRITY = (sqlite3.IntegrityError, *pg.integrity_errors())
CHECK = r"(?i)check constraint"  # SQLite: "CHECK constraint failed"; PostgreSQL: "violates check constraint"

# -- append-only --------------------------------------------------------------------------------
APPEND_ONLY = [
    ("screenings", "weight_kg = 71"),
    ("sessions", "dose_mg = 40"),
    ("observations", "hr = 81"),
    ("events", "detail = 'x'"),
    ("discharges", "aldrete_total = 9"),
    ("side_effects", "severity = 'severe'"),
    ("assessments", "phq9_total = 3"),
    ("voids", "reason = 'changed my mind'"),
    ("audit", "action = 'view'"),
]


def test_the_append_only_list_matches_the_schema():
    assert {t for t, _ in APPEND_ONLY} == set(migrations.APPEND_ONLY)


@pytest.mark.parametrize(("table", "change"), APPEND_ONLY, ids=[t for t, _ in APPEND_ONLY])
def test_append_only_refuses_update(clinical_rows, table, change):
    before = clinical_rows.all(f"SELECT * FROM {table} ORDER BY id")
    assert before, "the fixture must have put a row here"
    with pytest.raises(DB_ERROR, match="append-only"):
        clinical_rows.conn.execute(f"UPDATE {table} SET {change} WHERE id = 1")
    assert [tuple(r) for r in clinical_rows.all(f"SELECT * FROM {table} ORDER BY id")] == [
        tuple(r) for r in before]


@pytest.mark.parametrize("table", [t for t, _ in APPEND_ONLY])
def test_append_only_refuses_delete(clinical_rows, table):
    n = clinical_rows.scalar(f"SELECT count(*) FROM {table}")
    assert n >= 1
    with pytest.raises(DB_ERROR, match="append-only"):
        clinical_rows.conn.execute(f"DELETE FROM {table} WHERE id = 1")
    assert clinical_rows.scalar(f"SELECT count(*) FROM {table}") == n


def test_append_only_inside_a_write_is_a_storage_error_and_rolls_back(clinical_rows):
    n = clinical_rows.scalar("SELECT count(*) FROM audit")
    with pytest.raises(StorageError), clinical_rows.write() as tx:
        tx.audit("note", "test")
        tx.execute("DELETE FROM observations WHERE id = 1")
    assert clinical_rows.scalar("SELECT count(*) FROM audit") == n
    assert clinical_rows.scalar("SELECT count(*) FROM observations") == 1


def test_patients_cannot_be_deleted(store):
    add_patient(store)
    with pytest.raises(DB_ERROR, match="never deleted"):
        store.conn.execute("DELETE FROM patients")
    assert store.scalar("SELECT count(*) FROM patients") == 1


def test_followups_cannot_be_deleted_or_moved(clinical_rows):
    c = clinical_rows.conn
    c.execute("INSERT INTO followups (id, patient_id, kind, due, created_at, created_by)"
              " VALUES (1, 1, 'call', '2026-11-28', ?, 'c')", (NOW,))
    with pytest.raises(DB_ERROR, match="never deleted"):
        c.execute("DELETE FROM followups WHERE id = 1")
    with pytest.raises(DB_ERROR, match="fixed"):
        c.execute("UPDATE followups SET due = '2026-12-01' WHERE id = 1")
    c.execute("UPDATE followups SET status = 'done', closed_at = ? WHERE id = 1", (NOW,))
    with pytest.raises(DB_ERROR, match="closed"):
        c.execute("UPDATE followups SET status = 'pending' WHERE id = 1")


# -- STRICT and CHECK ---------------------------------------------------------------------------
def test_every_table_is_strict(store):
    if on_pg():  # every column has one of the store's types (what STRICT enforces on SQLite)
        tables = [r["tablename"] for r in store.all(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
        assert "patients" in tables and "audit" in tables
        for name in tables:
            types = {r["data_type"] for r in store.all(
                "SELECT data_type FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = ?", (name,))}
            assert types and types <= {"integer", "bigint", "double precision", "text"}, (
                name, types)
        return
    tables = [r["name"] for r in store.all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    assert "patients" in tables and "audit" in tables
    for name in tables:
        sql = store.scalar("SELECT sql FROM sqlite_master WHERE name = ?", (name,))
        assert sql.rstrip().endswith("STRICT"), name


@pytest.mark.parametrize("mrn", ["bad mrn!", "", "A" * 33, "M1\n", "é"])
def test_check_refuses_a_bad_mrn_inserted_directly(store, mrn):
    with pytest.raises(INTEGRITY, match=CHECK):
        store.conn.execute(
            "INSERT INTO patients (id, mrn, name, created_at, created_by)"
            " VALUES (1, ?, 'N', ?, 'c')",
            (mrn, NOW))
    assert store.scalar("SELECT count(*) FROM patients") == 0


@pytest.mark.parametrize(("column", "value"), [
    ("dob", "1980-02-30"), ("dob", "1980-13-01"), ("dob", "03/02/1980"), ("sex", "Q"),
    ("created_at", "yesterday"),
])
def test_check_refuses_bad_patient_values(store, column, value):
    row = {"id": 1, "mrn": "P-1", "name": "N", "created_at": NOW, "created_by": "c", column: value}
    with pytest.raises(INTEGRITY, match=CHECK):
        store.conn.execute(f"INSERT INTO patients ({', '.join(row)}) VALUES "
                           f"({', '.join('?' * len(row))})", list(row.values()))


def test_strict_refuses_a_wrong_type(clinical_rows):
    if on_pg():  # a typed column refuses the text itself
        import psycopg

        refused, message = psycopg.DataError, "invalid input syntax for type double precision"
    else:
        refused, message = sqlite3.IntegrityError, "cannot store TEXT value in REAL column"
    with pytest.raises(refused, match=message):
        clinical_rows.conn.execute(
            "INSERT INTO screenings (id, patient_id, at, recorded_at, clinician, weight_kg, sbp, dbp,"
            " hr, decision, suicide_risk_flag, valid_until) VALUES (2, 1, ?, ?, 'c', 'heavy', 120,"
            " 80, 70, 'eligible', 0, '2026-12-27')", (NOW, NOW))


def test_check_refuses_implausible_vitals(clinical_rows):
    with pytest.raises(INTEGRITY, match=CHECK):
        clinical_rows.conn.execute(
            "INSERT INTO observations (id, session_id, phase, at, recorded_at, clinician, sbp,"
            " dbp) VALUES (2, 1, 'intra', ?, ?, 'c', 80, 120)", (NOW, NOW))
    with pytest.raises(INTEGRITY, match=CHECK):
        clinical_rows.conn.execute(
            "INSERT INTO observations (id, session_id, phase, at, recorded_at, clinician)"
            " VALUES (2, 1, 'intra', ?, ?, 'c')", (NOW, NOW))


@pytest.mark.parametrize("due", ["2026-02-30", "2026-13-01", "2026-12-00", "2026/12/01"])
def test_check_refuses_a_followup_due_that_is_not_a_day(clinical_rows, due):
    with pytest.raises(INTEGRITY, match=CHECK):
        clinical_rows.conn.execute(
            "INSERT INTO followups (id, patient_id, kind, due, created_at, created_by)"
            " VALUES (1, 1, 'call', ?, ?, 'c')", (due, NOW))


def test_check_accepts_real_days(clinical_rows):
    clinical_rows.conn.execute(
        "INSERT INTO patients (id, mrn, name, dob, created_at, created_by)"
        " VALUES (2, 'LEAP', 'N', '1980-02-29', ?, 'c')", (NOW,))
    clinical_rows.conn.execute(
        "INSERT INTO followups (id, patient_id, kind, due, created_at, created_by)"
        " VALUES (1, 1, 'call', '2028-02-29', ?, 'c')", (NOW,))
    assert clinical_rows.scalar("SELECT dob FROM patients WHERE mrn = 'LEAP'") == "1980-02-29"
