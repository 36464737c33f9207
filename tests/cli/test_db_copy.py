"""`db copy SRC DEST` between SQLite and PostgreSQL, and `db backup` of a PostgreSQL clinic
(docs/cli-contract.md, "Running on PostgreSQL"): every row with its id, the chain verified
on both sides, the clinic key going with the copy; a destination that is not new, a source
whose chain is broken or a key file of another clinic stores nothing."""

from __future__ import annotations

import sqlite3

import pg_support
import pytest
from helpers import assert_one_error, ok, query, tamper

pytestmark = pytest.mark.postgresql_only  # both engines in every test: needs the server

TABLES = ("patients", "screenings", "sessions", "observations", "events", "discharges",
          "side_effects", "assessments", "followups", "voids", "audit")


@pytest.fixture
def clinic(cli, db_path):
    """A small demo clinic on PostgreSQL (the test's database), a voided observation too."""
    ok(cli("demo", "--patients", "3", "--seed", "4", "--json"))
    return db_path


def rows(db, table: str) -> list[tuple]:
    return query(db, f"SELECT * FROM {table} ORDER BY 1")


def test_postgresql_to_sqlite_and_back_keeps_every_row_and_the_chain(cli, clinic, tmp_path):
    file = tmp_path / "moved.db"
    data = ok(cli("db", "copy", clinic, file, "--json")).json["data"]
    assert data["dest"] == str(file) and data["engine"] == "sqlite"
    assert data["chain"] == "verified on both sides"
    assert (tmp_path / "moved.db.key").exists()  # the clinic key beside the new file
    for t in TABLES:
        assert rows(file, t) == rows(clinic, t)[:len(rows(file, t))], t
    # the copy is the source before its own 'copy' audit row
    assert len(rows(file, "audit")) == len(rows(clinic, "audit")) - 1
    ok(cli("--db", file, "db", "check"))
    ok(cli("--db", file, "audit", "--verify"))

    back = pg_support.fresh()
    try:
        before = {t: rows(file, t) for t in TABLES}
        ok(cli("db", "copy", file, back))
        ok(cli("--db", back, "db", "check"))
        for t in TABLES:
            assert rows(back, t) == before[t], t
        # the same session reads the same on all three
        summaries = [ok(cli("--db", db, "summary", "1", "--json")).json["data"]
                     for db in (clinic, file, back)]
        assert summaries[0] == summaries[1] == summaries[2]
    finally:
        pg_support.release(back)


def test_a_destination_that_is_not_new_is_refused(cli, clinic, tmp_path):
    taken = tmp_path / "taken.db"
    taken.write_bytes(b"")
    assert_one_error(cli("db", "copy", clinic, taken), 4)
    assert taken.read_bytes() == b""
    other = pg_support.fresh()
    try:  # a database of another program: never mixed with a clinic
        tamper(other, "CREATE TABLE notes (id integer PRIMARY KEY, body text)",
               "INSERT INTO notes VALUES (1, 'kept')")
        r = cli("db", "copy", clinic, other, "--json")
        assert r.exit_code == 4 and r.json["error"]["code"] == "destination_exists"
        assert query(other, "SELECT * FROM notes") == [(1, "kept")]
        assert not other.exists() and not other.key.exists()
    finally:
        pg_support.release(other)


def test_a_broken_chain_is_not_copied_on(cli, clinic, tmp_path):
    tamper(clinic, "UPDATE audit SET clinician = 'someone.else' WHERE id = 3",
           drop=("audit_no_update",))
    r = cli("db", "copy", clinic, tmp_path / "copy.db", "--json")
    assert r.exit_code == 4 and r.json["error"]["code"] == "audit_chain_broken", r.stdout
    assert not (tmp_path / "copy.db").exists()


def test_a_key_file_of_another_clinic_at_the_destination_is_refused(cli, clinic, tmp_path):
    other = tmp_path / "other.db"
    ok(cli("--db", other, "patient", "add", "OTHER-1", "--name", "Other Person"))
    (tmp_path / "copy.db.key").write_bytes((tmp_path / "other.db.key").read_bytes())
    r = cli("db", "copy", clinic, tmp_path / "copy.db", "--json")
    assert r.exit_code == 4 and r.json["error"]["code"] == "clinic_key_wrong"
    assert not (tmp_path / "copy.db").exists()


def test_backup_of_a_server_clinic_is_a_verified_sqlite_file(cli, clinic, tmp_path, monkeypatch):
    dest = tmp_path / "backup.db"
    data = ok(cli("db", "backup", dest, "--json")).json["data"]
    assert data["integrity"] == "ok" and data["audit_rows"] == len(rows(dest, "audit"))
    con = sqlite3.connect(dest)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    assert not (tmp_path / "backup.db.key").exists()  # a backup belongs to the clinic's key
    monkeypatch.setenv("KETACLI_KEY_FILE", str(clinic.key))
    ok(cli("--db", dest, "db", "check"))
    for t in TABLES:
        assert rows(dest, t) == rows(clinic, t)[:len(rows(dest, t))], t
