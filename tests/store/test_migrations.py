"""Schema versions (ketacli.store.migrations, applied by ketacli.store.db): every migration
recorded with its audit row, none applied twice, a file left at version 0 when asked, and a
schema newer than the program refused (exit 4)."""

from __future__ import annotations

import sqlite3

import pytest
from helpers import on_pg
from store_support import ACTOR, NOW

from ketacli.errors import StorageError
from ketacli.store import migrations, pgschema
from ketacli.store.db import open_store, schema_version


def test_migrations_are_recorded(store):
    # PostgreSQL starts at its baseline (version 9, one migration)
    scripts = pgschema.PG_MIGRATIONS if on_pg() else migrations.MIGRATIONS
    assert schema_version(store) == scripts[-1][0] == migrations.LATEST
    if not on_pg():
        assert store.scalar("PRAGMA user_version") == migrations.LATEST
    rows = store.all("SELECT version, description, applied_at FROM schema_migrations "
                     "ORDER BY version")
    assert [r["version"] for r in rows] == [v for v, _, _ in scripts]
    assert [r["description"] for r in rows] == [d for _, d, _ in scripts]
    assert all(r["applied_at"] == NOW for r in rows)  # the pinned clock
    audited = store.all("SELECT action, entity, entity_id FROM audit ORDER BY id")
    expected = []
    for v, _, sql in scripts:
        expected.append(("migrate", "schema", v))
        if "CREATE TABLE clinic_key" in sql:  # keyed in the same transaction
            expected.append(("create", "clinic_key", 1))
    assert [tuple(r) for r in audited] == expected


def test_reopening_does_not_reapply(tmp_path):
    path = tmp_path / "r.db"
    open_store(path, ACTOR).close()
    st = open_store(path, ACTOR)
    try:
        assert st.scalar("SELECT count(*) FROM schema_migrations") == len(migrations.MIGRATIONS)
        assert st.scalar("SELECT count(*) FROM audit") == len(migrations.MIGRATIONS) + 1
        from ketacli.store.db import apply_migrations

        assert apply_migrations(st) == []
        assert st.scalar("SELECT count(*) FROM audit") == len(migrations.MIGRATIONS) + 1
    finally:
        st.close()


def test_a_new_database_is_created_complete_and_a_schemaless_file_refused(tmp_path):
    """A new database appears only with its whole schema (built beside it, linked into
    place), even when the caller migrates itself; an SQLite file at version 0 is not a
    ketacli database (exit 4)."""
    st = open_store(tmp_path / "v0.db", ACTOR, migrate=False)
    try:
        assert st.scalar("PRAGMA user_version") == migrations.LATEST
        assert st.created == [v for v, _, _ in migrations.MIGRATIONS]
    finally:
        st.close()
    foreign = tmp_path / "other.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE notes (t TEXT)")
    con.close()
    with pytest.raises(StorageError) as exc:
        open_store(foreign, ACTOR)
    assert exc.value.exit_code == 4 and "no ketacli schema" in exc.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db", "v0.db", "v0.db.key"]


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


def test_columns_added_later_keep_the_seals_of_older_rows(tmp_path, monkeypatch):
    """A clinic at schema 4 with a sealed session and discharge migrates to 5 (the dosing
    weight, the co-signer) and every seal still verifies; a changed row is still caught."""
    from ketacli.store import admin

    path = tmp_path / "v4.db"
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:4])
    st = open_store(path, ACTOR)
    with st.write() as tx:
        pid = tx.insert("patients", {"mrn": "OLD-1", "name": "Old Patient", "created_at": NOW,
                                     "created_by": "rn"})
        sid = tx.insert("sessions", {
            "patient_id": pid, "number_in_series": 1, "started_at": NOW, "recorded_at": NOW,
            "clinician": "rn", "weight_kg": 80.0, "dose_mg_per_kg": 0.5, "dose_mg": 40.0,
            "duration_min": 40.0, "rate_mg_per_h": 60.0, "drawn_mg": 40.0})
        tx.audit("start", "session", sid, patient="OLD-1", at=NOW)
        did = tx.insert("discharges", {
            "session_id": sid, "at": NOW, "recorded_at": NOW, "clinician": "rn",
            "infusion_end_at": NOW, "aldrete_total": 10, "delivered_mg": 40.0,
            "transport": "escort", "criteria": "[]"})
        from ketacli.store.db import row_digest
        from ketacli.store.sessions import side_effects_digest

        tx.audit("discharge", "session", sid, patient="OLD-1", at=NOW, detail={
            "discharge_sha256": row_digest(tx.conn, "discharges", did),
            "side_effects_sha256": side_effects_digest(tx, sid)})
    st.close()
    monkeypatch.undo()
    st = open_store(path, ACTOR)  # migrates to the latest
    try:
        assert st.scalar("PRAGMA user_version") == migrations.LATEST
        assert admin.sealed_rows_altered(st) == []
        con = sqlite3.connect(path)
        con.execute("DROP TRIGGER IF EXISTS sessions_no_update")
        con.execute("UPDATE sessions SET cosign = 'dr.late' WHERE id = ?", (sid,))
        con.commit()
        con.close()
        assert set(admin.sealed_rows_altered(st)) == {f"session {sid}"}
    finally:
        st.close()


def test_the_corrections_migration_keeps_followups_and_voids(tmp_path, monkeypatch):
    """A clinic from before the corrections migration (7), with follow-ups an assessment
    points at, a cancelled one and a void, migrates: every row kept with its id, the foreign
    keys hold, the guards are back, and the widened CHECKs take a `screening` follow-up and
    a voided session."""
    from ketacli.store import admin

    before_7 = [m for m in migrations.MIGRATIONS if m[0] < 7]
    path = tmp_path / "v6.db"
    monkeypatch.setattr(migrations, "MIGRATIONS", before_7)
    st = open_store(path, ACTOR)
    with st.write() as tx:
        pid = tx.insert("patients", {"mrn": "OLD-2", "name": "Old Patient", "created_at": NOW,
                                     "created_by": "rn"})
        f1 = tx.insert("followups", {"patient_id": pid, "kind": "assessment", "due": "2026-12-01",
                                     "created_at": NOW, "created_by": "rn"})
        tx.insert("followups", {"patient_id": pid, "kind": "call", "due": "2026-12-02",
                                "status": "cancelled", "cancel_reason": "moved",
                                "created_at": NOW, "created_by": "rn"})
        aid = tx.insert("assessments", {"patient_id": pid, "followup_id": f1, "at": NOW,
                                        "recorded_at": NOW, "clinician": "rn", "madrs_total": 20})
        tx.insert("voids", {"kind": "assessment", "target_id": aid, "reason": "typo", "at": NOW,
                            "clinician": "rn"})
    followups_before = st.all("SELECT * FROM followups ORDER BY id")
    voids_before = st.all("SELECT * FROM voids ORDER BY id")
    st.close()
    monkeypatch.undo()
    st = open_store(path, ACTOR)
    try:
        assert [tuple(r) for r in st.all("SELECT * FROM followups ORDER BY id")] == [
            tuple(r) for r in followups_before]
        assert [tuple(r) for r in st.all("SELECT * FROM voids ORDER BY id")] == [
            tuple(r) for r in voids_before]
        assert st.all("PRAGMA foreign_key_check") == []
        assert st.all("SELECT name FROM sqlite_temp_master") == []
        assert admin.expected_triggers() <= {r[0] for r in st.all(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        with st.write() as tx:
            tx.insert("followups", {"patient_id": pid, "kind": "screening", "due": "2026-12-03",
                                    "created_at": NOW, "created_by": "rn"})
            tx.insert("voids", {"kind": "session", "target_id": 1, "reason": "wrong patient",
                                "at": NOW, "clinician": "rn"})
        with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
            st.conn.execute("DELETE FROM followups WHERE id = ?", (f1,))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            st.conn.execute("DELETE FROM voids")
        with pytest.raises(sqlite3.IntegrityError):
            st.conn.execute("INSERT INTO assessments (patient_id, followup_id, at, recorded_at, "
                            "clinician, madrs_total) VALUES (?, 999, ?, ?, 'rn', 1)",
                            (pid, NOW, NOW))
    finally:
        st.close()


def test_migration_6_keeps_assessments_their_seals_and_mrns_differing_in_case(tmp_path,
                                                                             monkeypatch):
    """A clinic at schema 5 with a sealed assessment and two MRNs that differ only in case
    migrates to 6: the assessment keeps its id, values and seal (the table is rebuilt for the
    C-SSRS), both patients stay (never merged silently); a third spelling is then refused,
    and the append-only guards are back on the rebuilt table."""
    from ketacli.errors import Conflict
    from ketacli.store import admin, patients

    path = tmp_path / "v5.db"
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:5])
    st = open_store(path, ACTOR)
    with st.write() as tx:
        pid = tx.insert("patients", {"mrn": "abc-1", "name": "One", "created_at": NOW,
                                     "created_by": "rn"})
        tx.insert("patients", {"mrn": "ABC-1", "name": "Two", "created_at": NOW,
                               "created_by": "rn"})
        row = {"patient_id": pid, "followup_id": None, "at": NOW, "recorded_at": NOW,
               "clinician": "rn", "phq9_items": "[1,1,1,1,1,1,1,1,2]", "phq9_total": 10}
        aid = tx.insert("assessments", row)
        tx.audit("create", "assessment", aid, patient="abc-1", at=NOW)
    before = [tuple(r) for r in st.all("SELECT * FROM assessments")]
    st.close()
    monkeypatch.undo()
    st = open_store(path, ACTOR)
    try:
        assert st.scalar("PRAGMA user_version") == migrations.LATEST
        after = [tuple(r)[:len(before[0])] for r in st.all("SELECT * FROM assessments")]
        assert after == before
        assert st.all("SELECT cssrs_answers, cssrs_risk FROM assessments")[0][:] == (None, None)
        assert admin.sealed_rows_altered(st) == []
        assert patients.find(st, "abc-1")["name"] == "One"
        assert patients.find(st, "ABC-1")["name"] == "Two"
        with pytest.raises(Conflict) as e:
            patients.find(st, "Abc-1")
        assert e.value.code == "ambiguous_mrn" and e.value.exit_code == 3
        with pytest.raises(sqlite3.DatabaseError, match="without regard to case"):
            st.conn.execute("INSERT INTO patients (mrn, name, created_at, created_by) "
                            "VALUES ('aBc-1', 'Three', ?, 'rn')", (NOW,))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            st.conn.execute("UPDATE assessments SET phq9_total = 3")
    finally:
        st.close()
