"""The store itself: file permissions, pragmas, migrations, append-only triggers,
transactions with their audit rows, the hash chain, STRICT tables and CHECKs."""

from __future__ import annotations

import itertools
import os
import sqlite3

import pytest
from helpers import mode

from ketacli.domain.records import NewPatient
from ketacli.errors import StorageError
from ketacli.store import audit, migrations, patients
from ketacli.store.db import GENESIS, Actor, open_store

ACTOR = Actor("c", "u")
NOW = "2026-11-27T15:00:00+00:00"


@pytest.fixture
def store(tmp_path):
    st = open_store(tmp_path / "s.db", ACTOR)
    yield st
    st.close()


def add_patient(st, mrn: str = "P-1") -> int:
    with st.write() as tx:
        return patients.add(tx, NewPatient(mrn=mrn, name="Pat Ient", dob=None, sex="U",
                                           phone=None, created_at=NOW, created_by="t"))


# -- file, directory, pragmas -----------------------------------------------------------------
def test_new_file_is_0600_and_new_directory_0700(tmp_path, umask_022):
    path = tmp_path / "a" / "b" / "clinic.db"
    st = open_store(path, ACTOR)
    try:
        add_patient(st)
        assert mode(path) == 0o600
        assert mode(path.parent) == 0o700
        assert mode(path.parent.parent) == 0o700
        for side in (f"{path}-wal", f"{path}-shm"):
            if os.path.exists(side):
                assert mode(side) & 0o077 == 0, side
    finally:
        st.close()
    assert os.umask(0o022) == 0o022  # the store restored the caller's umask


def test_existing_directory_mode_is_left_alone(tmp_path, umask_022):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    open_store(shared / "clinic.db", ACTOR).close()
    assert mode(shared) == 0o755
    assert mode(shared / "clinic.db") == 0o600


def test_pragmas(store):
    assert store.scalar("PRAGMA journal_mode") == "wal"
    assert store.scalar("PRAGMA foreign_keys") == 1
    assert store.scalar("PRAGMA synchronous") == 2  # FULL
    assert store.scalar("PRAGMA trusted_schema") == 0
    assert store.scalar("PRAGMA busy_timeout") == 15000


def test_busy_timeout_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KETACLI_BUSY_TIMEOUT", "2.5")
    st = open_store(tmp_path / "t.db", ACTOR)
    try:
        assert st.scalar("PRAGMA busy_timeout") == 2500
    finally:
        st.close()


def test_missing_file_without_create_is_a_storage_error(tmp_path):
    with pytest.raises(StorageError) as exc:
        open_store(tmp_path / "none.db", ACTOR, create=False)
    assert exc.value.exit_code == 4
    assert exc.value.code == "database_missing"
    assert not (tmp_path / "none.db").exists()


def test_foreign_keys_are_enforced(store):
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        store.conn.execute(
            "INSERT INTO followups (patient_id, kind, due, created_at, created_by) "
            "VALUES (42, 'call', '2026-12-01', ?, 'c')", (NOW,))


# -- migrations -------------------------------------------------------------------------------
def test_migrations_are_recorded(store):
    assert store.scalar("PRAGMA user_version") == migrations.LATEST
    rows = store.all("SELECT version, description, applied_at FROM schema_migrations "
                     "ORDER BY version")
    assert [r["version"] for r in rows] == [v for v, _, _ in migrations.MIGRATIONS]
    assert [r["description"] for r in rows] == [d for _, d, _ in migrations.MIGRATIONS]
    assert all(r["applied_at"] == NOW for r in rows)  # the pinned clock
    audited = store.all("SELECT action, entity, entity_id FROM audit ORDER BY id")
    assert [tuple(r) for r in audited] == [("migrate", "schema", v)
                                           for v, _, _ in migrations.MIGRATIONS]


def test_reopening_does_not_reapply(tmp_path):
    path = tmp_path / "r.db"
    open_store(path, ACTOR).close()
    st = open_store(path, ACTOR)
    try:
        assert st.scalar("SELECT count(*) FROM schema_migrations") == len(migrations.MIGRATIONS)
        assert st.scalar("SELECT count(*) FROM audit") == len(migrations.MIGRATIONS)
        from ketacli.store.db import apply_migrations

        assert apply_migrations(st) == []
        assert st.scalar("SELECT count(*) FROM audit") == len(migrations.MIGRATIONS)
    finally:
        st.close()


def test_open_without_migrate_leaves_a_new_file_at_version_0(tmp_path):
    st = open_store(tmp_path / "v0.db", ACTOR, migrate=False)
    try:
        assert st.scalar("PRAGMA user_version") == 0
        assert st.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'patients'") == 0
    finally:
        st.close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "n.db"
    open_store(path, ACTOR).close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(StorageError) as exc:
        open_store(path, ACTOR)
    assert exc.value.code == "schema_too_new"
    assert exc.value.exit_code == 4


def test_every_table_is_strict(store):
    tables = [r["name"] for r in store.all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    assert "patients" in tables and "audit" in tables
    for name in tables:
        sql = store.scalar("SELECT sql FROM sqlite_master WHERE name = ?", (name,))
        assert sql.rstrip().endswith("STRICT"), name


# -- append-only --------------------------------------------------------------------------------
@pytest.fixture
def clinical_rows(store):
    """One row in every append-only table, inserted directly."""
    add_patient(store)
    c = store.conn
    c.execute(
        "INSERT INTO screenings (id, patient_id, at, recorded_at, clinician, weight_kg, sbp, dbp,"
        " hr, decision, suicide_risk_flag, valid_until) VALUES (1, 1, ?, ?, 'c', 70, 120, 80,"
        " 70, 'eligible', 0, '2026-12-27')", (NOW, NOW))
    c.execute(
        "INSERT INTO sessions (id, patient_id, screening_id, number_in_series, started_at,"
        " recorded_at, clinician, weight_kg, dose_mg_per_kg, dose_mg, duration_min,"
        " rate_mg_per_h, drawn_mg) VALUES (1, 1, 1, 1, ?, ?, 'c', 70, 0.5, 35, 40, 52.5, 35)",
        (NOW, NOW))
    c.execute(
        "INSERT INTO observations (id, session_id, phase, at, recorded_at, clinician, hr)"
        " VALUES (1, 1, 'intra', ?, ?, 'c', 80)", (NOW, NOW))
    c.execute(
        "INSERT INTO events (id, session_id, kind, at, recorded_at, clinician)"
        " VALUES (1, 1, 'pause', ?, ?, 'c')", (NOW, NOW))
    c.execute(
        "INSERT INTO discharges (id, session_id, at, recorded_at, clinician, infusion_end_at,"
        " aldrete_total, delivered_mg, transport, criteria)"
        " VALUES (1, 1, ?, ?, 'c', ?, 10, 35, 'escort', '[]')", (NOW, NOW, NOW))
    c.execute(
        "INSERT INTO side_effects (id, session_id, code, recorded_at, clinician)"
        " VALUES (1, 1, 'nausea', ?, 'c')", (NOW,))
    c.execute(
        "INSERT INTO assessments (id, patient_id, at, recorded_at, clinician, phq9_total)"
        " VALUES (1, 1, ?, ?, 'c', 12)", (NOW, NOW))
    c.execute(
        "INSERT INTO voids (id, kind, target_id, reason, at, clinician)"
        " VALUES (1, 'observation', 1, 'wrong patient', ?, 'c')", (NOW,))
    return store


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
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        clinical_rows.conn.execute(f"UPDATE {table} SET {change} WHERE id = 1")
    assert [tuple(r) for r in clinical_rows.all(f"SELECT * FROM {table} ORDER BY id")] == [
        tuple(r) for r in before]


@pytest.mark.parametrize("table", [t for t, _ in APPEND_ONLY])
def test_append_only_refuses_delete(clinical_rows, table):
    n = clinical_rows.scalar(f"SELECT count(*) FROM {table}")
    assert n >= 1
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
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
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        store.conn.execute("DELETE FROM patients")
    assert store.scalar("SELECT count(*) FROM patients") == 1


def test_followups_cannot_be_deleted_or_moved(clinical_rows):
    c = clinical_rows.conn
    c.execute("INSERT INTO followups (id, patient_id, kind, due, created_at, created_by)"
              " VALUES (1, 1, 'call', '2026-11-28', ?, 'c')", (NOW,))
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
        c.execute("DELETE FROM followups WHERE id = 1")
    with pytest.raises(sqlite3.DatabaseError, match="fixed"):
        c.execute("UPDATE followups SET due = '2026-12-01' WHERE id = 1")
    c.execute("UPDATE followups SET status = 'done', closed_at = ? WHERE id = 1", (NOW,))
    with pytest.raises(sqlite3.DatabaseError, match="closed"):
        c.execute("UPDATE followups SET status = 'pending' WHERE id = 1")


# -- transactions ---------------------------------------------------------------------------
def test_a_write_lands_with_its_audit_row(store):
    pid = add_patient(store, "T-1")
    assert store.scalar("SELECT mrn FROM patients WHERE id = ?", (pid,)) == "T-1"
    row = store.one("SELECT * FROM audit ORDER BY id DESC LIMIT 1")
    assert (row["action"], row["entity"], row["entity_id"], row["patient"]) == (
        "create", "patient", pid, "T-1")
    assert (row["clinician"], row["os_user"]) == ("c", "u")


def test_an_exception_inside_a_write_leaves_nothing(store):
    audit_before = store.scalar("SELECT count(*) FROM audit")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.write() as tx:
        patients.add(tx, NewPatient(mrn="T-2", name="Gone", dob=None, sex="U", phone=None,
                                    created_at=NOW, created_by="t"))
        assert tx.execute("SELECT count(*) FROM patients").fetchone()[0] == 1
        raise Boom
    assert store.scalar("SELECT count(*) FROM patients") == 0
    assert store.scalar("SELECT count(*) FROM audit") == audit_before
    assert not store.conn.in_transaction
    # the store is still usable afterwards
    add_patient(store, "T-3")
    assert store.scalar("SELECT count(*) FROM patients") == 1


def test_a_constraint_failure_inside_a_write_is_exit_4_and_rolls_back(store):
    with pytest.raises(StorageError) as exc, store.write() as tx:
        tx.audit("create", "patient", 1, patient="X")
        tx.insert("patients", {"mrn": "bad mrn!", "name": "N", "sex": "U", "created_at": NOW,
                               "created_by": "c"})
    assert exc.value.exit_code == 4
    assert exc.value.code == "constraint_failed"
    assert store.scalar("SELECT count(*) FROM audit WHERE patient = 'X'") == 0


def test_writes_use_begin_immediate(store, tmp_path, monkeypatch):
    """A second writer is refused at BEGIN (not mid-transaction) while the first holds the lock."""
    monkeypatch.setenv("KETACLI_BUSY_TIMEOUT", "0")
    other = open_store(store.path, Actor("d", "v"))
    try:
        with store.write() as tx:
            tx.audit("hold", "test")
            with pytest.raises(StorageError) as exc, other.write():
                pass  # pragma: no cover - never entered
            assert exc.value.code == "database_locked"
    finally:
        other.close()
    assert store.scalar("SELECT count(*) FROM audit WHERE action = 'hold'") == 1


# -- the audit chain ---------------------------------------------------------------------------
def test_chain_links_and_verifies(store):
    for i in range(3):
        add_patient(store, f"C-{i}")
    rows = store.all("SELECT id, prev_hash, hash FROM audit ORDER BY id")
    assert rows[0]["prev_hash"] == GENESIS
    for prev, row in itertools.pairwise(rows):
        assert row["prev_hash"] == prev["hash"]
    assert len({r["hash"] for r in rows}) == len(rows)
    report = audit.verify(store.conn)
    assert report.ok
    assert report.rows == len(rows) == migrations.LATEST + 3  # one 'migrate' row per migration
    assert report.problems == []


def test_verify_of_an_empty_chain_is_ok(tmp_path):
    st = open_store(tmp_path / "e.db", ACTOR, migrate=False)
    try:
        st.conn.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY, at, clinician, os_user, "
                        "action, entity, entity_id, patient, detail, prev_hash, hash)")
        report = audit.verify(st.conn)
        assert report.ok and report.rows == 0
    finally:
        st.close()


def test_verify_reports_the_tampered_row(store):
    for i in range(4):
        add_patient(store, f"C-{i}")
    store.conn.execute("DROP TRIGGER audit_no_update")
    target = migrations.LATEST + 2  # the second patient's row, mid-chain
    store.conn.execute(f"UPDATE audit SET clinician = 'mallory' WHERE id = {target}")
    report = audit.verify(store.conn)
    assert not report.ok
    assert report.rows == migrations.LATEST + 4
    assert report.problems == [{"id": target, "problem": "content does not match its hash"}]


def test_verify_reports_a_gap(store):
    for i in range(3):
        add_patient(store, f"C-{i}")
    store.conn.execute("DROP TRIGGER audit_no_delete")
    store.conn.execute("DELETE FROM audit WHERE id = 2")
    report = audit.verify(store.conn)
    assert not report.ok
    assert {p["id"] for p in report.problems} == {3}
    assert any("gap" in p["problem"] for p in report.problems)
    assert any("link" in p["problem"] for p in report.problems)


def test_a_rehashed_edit_still_breaks_the_next_link(store):
    """Recomputing the edited row's own hash is not enough: the next row's link breaks."""
    for i in range(3):
        add_patient(store, f"C-{i}")
    store.conn.execute("DROP TRIGGER audit_no_update")
    row = store.one("SELECT * FROM audit WHERE id = 2")
    values = [row[k] for k in audit.FIELDS]
    values[audit.FIELDS.index("patient")] = "FORGED"
    store.conn.execute("UPDATE audit SET patient = 'FORGED', hash = ? WHERE id = 2",
                       (audit.row_hash(row["prev_hash"], values),))
    report = audit.verify(store.conn)
    assert [p["id"] for p in report.problems] == [3]


def test_audit_detail_is_stored_as_sorted_json(store):
    with store.write() as tx:
        tx.audit("note", "test", detail={"b": 1, "a": "é"})
    assert store.scalar("SELECT detail FROM audit ORDER BY id DESC LIMIT 1") == '{"a":"é","b":1}'
    assert audit.verify(store.conn).ok


# -- STRICT and CHECK ---------------------------------------------------------------------------
@pytest.mark.parametrize("mrn", ["bad mrn!", "", "A" * 33, "M1\n", "é"])
def test_check_refuses_a_bad_mrn_inserted_directly(store, mrn):
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        store.conn.execute(
            "INSERT INTO patients (mrn, name, created_at, created_by) VALUES (?, 'N', ?, 'c')",
            (mrn, NOW))
    assert store.scalar("SELECT count(*) FROM patients") == 0


@pytest.mark.parametrize(("column", "value"), [
    ("dob", "1980-02-30"), ("dob", "1980-13-01"), ("dob", "03/02/1980"), ("sex", "Q"),
    ("created_at", "yesterday"),
])
def test_check_refuses_bad_patient_values(store, column, value):
    row = {"mrn": "P-1", "name": "N", "created_at": NOW, "created_by": "c", column: value}
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        store.conn.execute(f"INSERT INTO patients ({', '.join(row)}) VALUES "
                           f"({', '.join('?' * len(row))})", list(row.values()))


def test_strict_refuses_a_wrong_type(clinical_rows):
    with pytest.raises(sqlite3.IntegrityError, match="cannot store TEXT value in REAL column"):
        clinical_rows.conn.execute(
            "INSERT INTO screenings (patient_id, at, recorded_at, clinician, weight_kg, sbp, dbp,"
            " hr, decision, suicide_risk_flag, valid_until) VALUES (1, ?, ?, 'c', 'heavy', 120,"
            " 80, 70, 'eligible', 0, '2026-12-27')", (NOW, NOW))


def test_check_refuses_implausible_vitals(clinical_rows):
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        clinical_rows.conn.execute(
            "INSERT INTO observations (session_id, phase, at, recorded_at, clinician, sbp, dbp)"
            " VALUES (1, 'intra', ?, ?, 'c', 80, 120)", (NOW, NOW))
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        clinical_rows.conn.execute(
            "INSERT INTO observations (session_id, phase, at, recorded_at, clinician)"
            " VALUES (1, 'intra', ?, ?, 'c')", (NOW, NOW))


@pytest.mark.parametrize("due", ["2026-02-30", "2026-13-01", "2026-12-00", "2026/12/01"])
def test_check_refuses_a_followup_due_that_is_not_a_day(clinical_rows, due):
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        clinical_rows.conn.execute(
            "INSERT INTO followups (patient_id, kind, due, created_at, created_by)"
            " VALUES (1, 'call', ?, ?, 'c')", (due, NOW))


def test_check_accepts_real_days(clinical_rows):
    clinical_rows.conn.execute(
        "INSERT INTO patients (mrn, name, dob, created_at, created_by)"
        " VALUES ('LEAP', 'N', '1980-02-29', ?, 'c')", (NOW,))
    clinical_rows.conn.execute(
        "INSERT INTO followups (patient_id, kind, due, created_at, created_by)"
        " VALUES (1, 'call', '2028-02-29', ?, 'c')", (NOW,))
    assert clinical_rows.scalar("SELECT dob FROM patients WHERE mrn = 'LEAP'") == "1980-02-29"
