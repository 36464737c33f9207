"""Opening the store and writing to it (ketacli.store.db): a private file in a private
folder, the pragmas, the busy timeout, a missing file, foreign keys, and writes that are one
BEGIN IMMEDIATE transaction together with their audit row (docs/cli-contract.md, "Files,
faults and hostile input")."""

from __future__ import annotations

import os
import sqlite3

import pytest
from helpers import mode, on_pg
from store_support import ACTOR, NOW, add_patient

from ketacli.domain.records import NewPatient
from ketacli.errors import StorageError
from ketacli.store import patients, pg
from ketacli.store.db import Actor, open_store


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


@pytest.mark.sqlite_only
def test_pragmas(store):
    assert store.scalar("PRAGMA journal_mode") == "wal"
    assert store.scalar("PRAGMA foreign_keys") == 1
    assert store.scalar("PRAGMA synchronous") == 2  # FULL
    assert store.scalar("PRAGMA trusted_schema") == 0
    assert store.scalar("PRAGMA busy_timeout") == 15000


def test_lock_timeout_is_the_busy_timeout(db_path, monkeypatch):
    """On PostgreSQL the busy timeout is the session's lock_timeout (15 s unless set)."""
    if not on_pg():
        pytest.skip("PostgreSQL's lock_timeout; SQLite's busy_timeout is test_pragmas")
    st = open_store(db_path, ACTOR)
    try:
        assert st.scalar("SHOW lock_timeout") == "15s"
    finally:
        st.close()
    monkeypatch.setenv("KETACLI_BUSY_TIMEOUT", "2.5")
    st = open_store(db_path, ACTOR)
    try:
        assert st.scalar("SHOW lock_timeout") == "2500ms"
    finally:
        st.close()


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
    with pytest.raises((sqlite3.IntegrityError, *pg.integrity_errors()),
                       match=r"(?i)foreign key"):
        store.conn.execute(
            "INSERT INTO followups (id, patient_id, kind, due, created_at, created_by) "
            "VALUES (1, 42, 'call', '2026-12-01', ?, 'c')", (NOW,))


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
