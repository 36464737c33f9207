"""Tamper evidence: the database refuses edits itself; edits made around it are detected.

Clinical tables and the audit log are append-only (BEFORE UPDATE/DELETE triggers), so a
plain sqlite3 UPDATE or DELETE fails. Someone who drops a trigger and edits, deletes
or reorders audit rows breaks the hash chain: `audit --verify` and `db check` exit 4.
"""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from helpers import counts, ok, scalar, tamper
from reliability_support import NOTE, PHQ9, assert_error_shape, assert_no_pii, open_session, real_clock

from ketacli.store.audit import row_hash


@pytest.fixture
def clinic(cli, db_path):
    """A patient with a session, vitals, an event and an assessment: a few dozen audit rows."""
    now = real_clock()
    sid = open_session(cli, "TE-1", now)
    for hr in (80, 84, 88):
        ok(cli("log-vitals", sid, "--hr", hr, "--note", NOTE))
    ok(cli("log-event", sid, "medication", "--detail", "ondansetron 4 mg IV"))
    ok(cli("followup", "record", "TE-1", "--phq9", PHQ9))
    ok(cli("void", "observation", "3", "--reason", "wrong patient"))
    ok(cli("followup", "schedule", "TE-1", "--kind", "call", "--due", "2099-01-01"))
    rows = scalar(db_path, "SELECT count(*) FROM audit")
    assert rows >= 10
    return db_path, sid


def _copy(db, tmp_path, name: str):
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    target = tmp_path / f"{name}.db"
    shutil.copyfile(db, target)
    target.chmod(0o600)  # only the chain is under test, not the copy's permissions
    return target


def _tamper(db, *statements: str, drop: tuple[str, ...] = ("audit_no_update", "audit_no_delete"),
            params=()) -> None:
    """What someone with the sqlite3 shell could do: drop the guards and edit."""
    tamper(db, *statements, drop=drop, params=params)


def _detected(cli, db, *, problem: str) -> None:
    for args in (("audit", "--verify"), ("audit", "--verify", "--json"), ("db", "check"),
                 ("db", "check", "--json")):
        r = cli("--db", str(db), *args)
        json_out = "--json" in args
        assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4, json_out=json_out)
        if args[0] == "audit":
            assert "audit chain broken" in r.stderr, r.stderr
            if json_out:
                assert r.json["error"]["code"] == "audit_chain_broken"
                assert any(problem in d["problem"] for d in r.json["error"]["details"]), r.stdout
        else:
            assert "audit_chain" in r.stderr, r.stderr
            if json_out:
                failed = {c["name"] for c in r.json["error"]["details"] if not c["ok"]}
                # the broken chain (and, where a guard trigger was dropped for the edit, that)
                assert "audit_chain" in failed, r.stdout
                assert failed <= {"audit_chain", "append_only"}, r.stdout


def test_the_untouched_chain_verifies(cli, clinic):
    db, _ = clinic
    r = ok(cli("audit", "--verify", "--json"))
    assert r.json["data"] == {"verified": True, "rows": scalar(db, "SELECT count(*) FROM audit")}
    assert ok(cli("db", "check", "--json")).json["data"]["ok"] is True


def test_an_edited_audit_row_is_detected(cli, clinic, tmp_path):
    db, _ = clinic
    copy = _copy(db, tmp_path, "edited")
    _tamper(copy, "UPDATE audit SET clinician = 'someone.else' WHERE id = 5")
    _detected(cli, copy, problem="content does not match")


def test_an_edited_row_with_its_hash_recomputed_is_detected(cli, clinic, tmp_path):
    """Recomputing the edited row's own hash does not help: the next row's link breaks."""
    db, _ = clinic
    copy = _copy(db, tmp_path, "rehashed")
    con = sqlite3.connect(copy)
    row = con.execute("SELECT id, at, clinician, os_user, action, entity, entity_id, patient, "
                      "detail, prev_hash FROM audit WHERE id = 6").fetchone()
    con.close()
    values = [row[0], row[1], "someone.else", *row[3:9]]
    forged = row_hash(row[9], values)
    _tamper(copy, "UPDATE audit SET clinician = 'someone.else', hash = ? WHERE id = 6",
            params=[(forged,)])
    _detected(cli, copy, problem="link to the previous row is broken")


def test_a_deleted_audit_row_is_detected(cli, clinic, tmp_path):
    db, _ = clinic
    copy = _copy(db, tmp_path, "deleted")
    _tamper(copy, "DELETE FROM audit WHERE id = 4")
    _detected(cli, copy, problem="gap")


def test_reordered_audit_rows_are_detected(cli, clinic, tmp_path):
    db, _ = clinic
    copy = _copy(db, tmp_path, "reordered")
    _tamper(copy,
            "UPDATE audit SET id = -1 WHERE id = 7",
            "UPDATE audit SET id = 7 WHERE id = 8",
            "UPDATE audit SET id = 8 WHERE id = -1")
    _detected(cli, copy, problem="link to the previous row is broken")


def test_a_forged_row_appended_with_a_wrong_link_is_detected(cli, clinic, tmp_path):
    db, _ = clinic
    copy = _copy(db, tmp_path, "forged")
    last = scalar(copy, "SELECT max(id) FROM audit")
    _tamper(copy, "INSERT INTO audit (id, at, clinician, os_user, action, entity, entity_id, "
                  "patient, detail, prev_hash, hash) VALUES (?, '2026-11-27T15:00:00+00:00', "
                  "'x', 'x', 'void', 'observation', 2, 'TE-1', NULL, ?, ?)",
            drop=(), params=[(last + 1, "0" * 64, "f" * 64)])
    _detected(cli, copy, problem="link to the previous row is broken")


APPEND_ONLY = {
    "observations": "hr = 1", "assessments": "phq9_total = 0", "events": "detail = 'x'",
    "audit": "clinician = 'x'", "screenings": "weight_kg = 20", "sessions": "dose_mg = 1",
    "voids": "reason = 'x'",
}


@pytest.mark.parametrize("table", sorted(APPEND_ONLY))
def test_update_and_delete_are_refused_by_the_database(clinic, table):
    db, _ = clinic
    before = counts(db)
    digest = scalar(db, "SELECT group_concat(hash, '') FROM audit")
    con = sqlite3.connect(db, isolation_level=None)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only") as update:
            con.execute(f"UPDATE {table} SET {APPEND_ONLY[table]}")
        assert isinstance(update.value, sqlite3.IntegrityError)
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(f"DELETE FROM {table}")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute(f"DELETE FROM {table} WHERE rowid = (SELECT max(rowid) FROM {table})")
    finally:
        con.close()
    assert counts(db) == before
    assert scalar(db, "SELECT group_concat(hash, '') FROM audit") == digest


def test_patients_and_followups_are_never_deleted(clinic):
    db, _ = clinic
    con = sqlite3.connect(db, isolation_level=None)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
            con.execute("DELETE FROM patients")
        with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
            con.execute("DELETE FROM followups")
    finally:
        con.close()


def test_tamper_reports_name_rows_not_patients(cli, clinic, tmp_path):
    """The chain report names audit row ids; the patient's note never shows."""
    db, _ = clinic
    copy = _copy(db, tmp_path, "noted")
    _tamper(copy, "UPDATE audit SET detail = '{\"note\":\"lives at 742 Evergreen Terrace\"}' "
                  "WHERE id = 3")
    r = cli("--db", str(copy), "audit", "--verify", "--json")
    assert r.exit_code == 4
    assert_no_pii(r.stdout, r.stderr)
