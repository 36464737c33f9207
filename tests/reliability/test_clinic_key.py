"""The clinic key (docs/cli-contract.md, "Tamper evidence and encryption at rest"): created
with a new database beside it (0600) or at KETACLI_KEY_FILE; a keyed database without its
key is readable but not verifiable, and refuses writes; a database from before the key gets
one at `db migrate`, its chain continuing from its last row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from helpers import TABLES, key_file, mode, ok, on_pg, query, scalar, tamper
from reliability_support import assert_error_shape

from ketacli.store import audit, migrations


def test_a_new_database_gets_a_private_key_beside_it(cli, db_path):
    """Beside the file; on PostgreSQL, in the user-data folder, named after the database."""
    ok(cli("patient", "add", "K-1", "--name", "Key Test"))
    key = key_file(db_path)
    assert key.is_file() and mode(key) == 0o600
    text = key.read_text()
    assert text.startswith("ketacli-clinic-key v1 ") and len(text.split()[-1]) == 64
    # only its fingerprint is in the database, never the key
    (key_id, chain_from), = query(db_path, "SELECT key_id, chain_from FROM clinic_key")
    if on_pg(db_path):
        stored = repr([query(db_path, f"SELECT * FROM {t}") for t in (*TABLES, "clinic_key")])
    else:
        stored = Path(db_path).read_bytes().decode("latin-1")
    assert text.split()[-1] not in stored
    assert query(db_path, "SELECT action, entity FROM audit WHERE id = ?", (chain_from,)) == [
        ("create", "clinic_key")]
    assert len(key_id) == 32


def test_key_file_from_the_environment(cli, db_path, tmp_path, monkeypatch):
    elsewhere = tmp_path / "vault" / "clinic.key"
    elsewhere.parent.mkdir()
    monkeypatch.setenv("KETACLI_KEY_FILE", str(elsewhere))
    ok(cli("patient", "add", "K-1", "--name", "Key Test"))
    assert elsewhere.is_file() and not Path(f"{db_path}.key").exists()
    assert ok(cli("audit", "--verify", "--json")).json["data"]["verified"] is True
    monkeypatch.delenv("KETACLI_KEY_FILE")
    r = cli("audit", "--verify", "--json")
    assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4, json_out=True)
    assert r.json["error"]["code"] == "clinic_key_missing"


def test_without_its_key_a_database_is_readable_but_refuses_writes(cli, db_path):
    ok(cli("patient", "add", "K-1", "--name", "Key Test"))
    key_file(db_path).rename(Path(f"{key_file(db_path)}.away"))
    before = scalar(db_path, "SELECT count(*) FROM audit")
    assert ok(cli("patient", "list", "--json")).json["data"][0]["mrn"] == "K-1"
    for args in (("patient", "add", "K-2", "--name", "Other"), ("db", "check"),
                 ("audit", "--verify")):
        r = cli(*args)
        assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4)
        assert "clinic key missing" in r.stderr
    assert scalar(db_path, "SELECT count(*) FROM audit") == before
    assert not key_file(db_path).exists()  # a missing key is never silently replaced


def test_a_wrong_key_is_not_a_broken_chain(cli, db_path):
    ok(cli("patient", "add", "K-1", "--name", "Key Test"))
    key_file(db_path).write_text("ketacli-clinic-key v1 " + "00" * 32 + "\n")
    for args in (("db", "check", "--json"), ("audit", "--verify", "--json"),
                 ("patient", "add", "K-2", "--name", "Other", "--json")):
        r = cli(*args)
        assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4, json_out=True)
        assert "wrong clinic key" in r.stderr, r.stderr


@pytest.fixture
def legacy(cli, db_path, monkeypatch):
    """A database as the program before the clinic key left it: two patients, a follow-up.
    Then the program is upgraded: the key's migration comes last, as a new one does."""
    keyed_at = next(i for i, m in enumerate(migrations.MIGRATIONS) if "clinic_key" in m[2])
    key_migration = migrations.MIGRATIONS[keyed_at]
    keyless = [m for i, m in enumerate(migrations.MIGRATIONS) if i != keyed_at]
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", keyless)
        m.setattr(migrations, "LATEST", keyless[-1][0])
        ok(cli("patient", "add", "L-1", "--name", "Legacy One"))
        ok(cli("patient", "add", "L-2", "--name", "Legacy Two"))
        ok(cli("followup", "schedule", "L-1", "--kind", "call", "--due", "2099-01-01"))
    assert not Path(f"{db_path}.key").exists()
    upgraded = [*keyless, (keyless[-1][0] + 1, *key_migration[1:])]
    monkeypatch.setattr(migrations, "MIGRATIONS", upgraded)
    monkeypatch.setattr(migrations, "LATEST", upgraded[-1][0])
    return db_path


@pytest.mark.sqlite_only  # SQLite's migrations from before the key (PG starts keyed)
def test_an_old_database_is_keyed_at_migrate_and_its_chain_continues(cli, legacy):
    old = query(legacy, "SELECT id, hash FROM audit ORDER BY id")
    r = ok(cli("db", "migrate", "--json"))
    assert r.json["data"]["schema_version"] == migrations.LATEST
    assert Path(f"{legacy}.key").is_file()
    # the old rows are untouched; the keyed chain starts right after them
    assert query(legacy, f"SELECT id, hash FROM audit WHERE id <= {len(old)} ORDER BY id") == old
    (chain_from,) = query(legacy, "SELECT chain_from FROM clinic_key")[0]
    assert chain_from == len(old) + 2  # after the migration's own (unkeyed) row
    assert query(legacy, "SELECT prev_hash FROM audit WHERE id = ?", (chain_from,))[0][0] == (
        query(legacy, "SELECT hash FROM audit WHERE id = ?", (chain_from - 1,))[0][0])
    # every patient and follow-up is sealed as it stands
    assert {(e, i) for e, i in query(legacy, "SELECT entity, entity_id FROM audit "
                                            "WHERE action = 'seal'")} == {
        ("patient", 1), ("patient", 2), ("followup", 1)}
    assert ok(cli("db", "check", "--json")).json["data"]["ok"] is True
    ok(cli("patient", "add", "L-3", "--name", "After The Key"))
    assert ok(cli("audit", "--verify", "--json")).json["data"]["verified"] is True


@pytest.mark.sqlite_only  # SQLite's migrations from before the key (PG starts keyed)
def test_after_keying_an_old_row_cannot_be_rehashed(cli, legacy):
    ok(cli("db", "migrate"))
    tamper(legacy, "UPDATE audit SET clinician = 'mallory' WHERE id = 2",
           drop=("audit_no_update",))
    con = sqlite3.connect(legacy, isolation_level=None)
    prev = audit.GENESIS
    for row in con.execute("SELECT id, at, clinician, os_user, action, entity, entity_id, "
                           "patient, detail FROM audit ORDER BY id").fetchall():
        digest = audit.row_hash(prev, list(row))
        con.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", (prev, digest, row[0]))
        prev = digest
    con.close()
    r = cli("audit", "--verify", "--json")
    assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4, json_out=True)
    assert r.json["error"]["code"] == "audit_chain_broken"


@pytest.mark.sqlite_only  # SQLite's migrations from before the key (PG starts keyed)
def test_a_legacy_patient_updated_after_keying_is_found(cli, legacy):
    ok(cli("db", "migrate"))
    tamper(legacy, "UPDATE patients SET name = 'Someone Else' WHERE mrn = 'L-2'")
    r = cli("db", "check", "--json")
    assert r.exit_code == 4
    assert "updated_rows: patient 2 does not match its latest audit row" in r.stderr


@pytest.mark.sqlite_only  # SQLite's migrations from before the key (PG starts keyed)
def test_a_key_file_is_never_put_on_an_unkeyed_old_database_silently(cli, legacy):
    """A key that exists while the database has no keyed chain: a copy from before the key
    or a downgraded database; refused rather than keyed anew over whatever it holds."""
    Path(f"{legacy}.key").write_text("ketacli-clinic-key v1 " + "11" * 32 + "\n")
    r = cli("db", "migrate")
    assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4)
    assert "no keyed chain" in r.stderr
    # and it stays refused: the database is never left writing an unkeyed chain
    r = cli("patient", "add", "L-9", "--name", "Not Written")
    assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4)
    assert scalar(legacy, "SELECT count(*) FROM patients WHERE mrn = 'L-9'") == 0


def test_a_removed_key_record_is_refused(cli, db_path):
    ok(cli("patient", "add", "K-1", "--name", "Key Test"))
    tamper(db_path, "DELETE FROM clinic_key", drop=("clinic_key_no_delete",))
    for args in (("db", "check"), ("audit", "--verify"), ("patient", "list")):
        r = cli(*args)
        assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4)
        assert "no keyed chain" in r.stderr
