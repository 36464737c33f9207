"""`db info | check | backup | migrate`, and storage faults seen through any command."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from helpers import assert_one_error, key_file, mode, new_database_actions, on_pg, query, tamper

from ketacli.store import migrations, pgschema
from ketacli.store.db import _statements

# A new database starts with one 'migrate' audit row per schema migration.
# a new database's own rows: migrations, the clinic key's, the clinic zone's
NEW = new_database_actions()
M = len(NEW)


@pytest.fixture(autouse=True)
def _new_rows(engine):
    """NEW and M for this test's engine (PostgreSQL starts from one baseline migration)."""
    global NEW, M
    NEW = new_database_actions()
    M = len(NEW)


@pytest.fixture
def three_patients(cli, db_path):
    """Audit rows: 1..M a new database's own (migrations, clinic key, set-tz), M+1..M+3 the
    three patient creations."""
    for i, name in enumerate(("Ann One", "Bob Two", "Cy Three"), 1):
        r = cli("patient", "add", f"P-{i}", "--name", name)
        assert r.exit_code == 0, r.stderr
    return db_path


# -- info ---------------------------------------------------------------------------
def test_info_json(cli, three_patients):
    r = cli("db", "info", "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json["data"]
    assert data["path"] == str(three_patients)
    assert data["schema_version"] == migrations.LATEST
    if on_pg():  # no file: the server, its role, the database's size
        assert (data["engine"], data["journal_mode"], data["mode"]) == ("postgresql", None, None)
        assert data["server"].startswith("PostgreSQL") and data["role"]
        assert data["size_bytes"] > 0
    else:
        assert data["journal_mode"] == "wal"
        assert data["mode"] == "0o600"
        assert data["size_bytes"] >= three_patients.stat().st_size > 0
    assert data["counts"]["patients"] == 3
    assert data["counts"]["audit"] == M + 3
    assert data["counts"]["sessions"] == 0
    assert set(data["counts"]) >= {"patients", "screenings", "sessions", "observations",
                                   "events", "assessments", "followups", "voids", "audit"}
    scripts = pgschema.PG_MIGRATIONS if on_pg() else migrations.MIGRATIONS
    assert [m["version"] for m in data["migrations"]] == [v for v, _, _ in scripts]
    assert data["clinic_tz"] == "America/Chicago"  # trial2: the stored zone, shown nowhere


def test_info_counts_the_correction_tables(cli, three_patients):
    """wastes and patient_changes (issue 14/16 tables) are counted like every clinical table
    (and so checked in the copies db encrypt/decrypt verify by counts)."""
    r = cli("patient", "edit", "P-1", "--phone", "555 0101", "--reason", "typo")
    assert r.exit_code == 0, r.stderr
    counts = cli("db", "info", "--json").json["data"]["counts"]
    assert (counts["patient_changes"], counts["wastes"]) == (1, 0)


def test_info_human(cli, three_patients):
    r = cli("db", "info")
    assert r.exit_code == 0, r.stderr
    assert f"version {migrations.LATEST}" in r.stdout
    if on_pg():
        assert "Server    PostgreSQL" in r.stdout and "(wal)" not in r.stdout
    else:
        assert "(wal)" in r.stdout
        assert "0o600" in r.stdout
    assert "Zone      America/Chicago (the clinic zone; 'ketacli db set-tz')" in r.stdout
    row = next(line for line in r.stdout.splitlines() if "patients" in line)
    assert "3" in row


def test_info_on_missing_database_exits_4_and_creates_nothing(cli, db_path):
    assert_one_error(cli("db", "info"), 4)
    assert not db_path.exists()


# -- check --------------------------------------------------------------------------
def test_check_ok(cli, three_patients):
    r = cli("db", "check", "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json["data"]
    assert data["ok"] is True
    assert {c["name"] for c in data["checks"]} == {
        "integrity", "foreign_keys", "audit_chain", "clinical_rows", "unaudited_rows",
        "updated_rows", "schema", "append_only", "permissions"}
    assert all(c["ok"] for c in data["checks"])
    chain = next(c for c in data["checks"] if c["name"] == "audit_chain")
    assert chain["detail"].startswith(f"{M + 3} rows")

    r = cli("db", "check")
    assert r.exit_code == 0
    assert len([line for line in r.stdout.splitlines() if line.startswith("ok")]) == 9
    assert "FAIL" not in r.stdout


@pytest.mark.sqlite_only  # the database file's mode
def test_check_fails_on_loose_permissions(cli, three_patients):
    os.chmod(three_patients, 0o644)
    r = cli("db", "check", "--json")
    assert_one_error(r, 4)
    assert "permissions" in r.stderr
    assert r.json["error"]["code"] == "check_failed"
    failed = [d["name"] for d in r.json["error"]["details"] if not d["ok"]]
    assert failed == ["permissions"]


def test_check_fails_on_a_clinic_key_readable_by_others(cli, three_patients):
    key = key_file(three_patients)
    os.chmod(key, 0o644)
    r = cli("db", "check", "--json")
    assert_one_error(r, 4)
    assert f"chmod 600 {key}" in r.stderr
    failed = [d["name"] for d in r.json["error"]["details"] if not d["ok"]]
    assert failed == ["permissions"]


def test_check_without_the_clinic_key_says_where_to_set_it(cli, three_patients):
    key_file(three_patients).unlink()
    r = cli("db", "check")
    assert r.exit_code == 4
    assert "chain not verifiable: clinic key missing" in r.stderr
    assert "hint: set KETACLI_KEY_FILE to this clinic's key file" in r.stderr


def test_check_fails_on_dangling_foreign_key(cli, three_patients):
    # PostgreSQL enforces the key: a superuser bypasses it in replica mode (no triggers)
    bypass = ("SET session_replication_role = replica",) if on_pg() else ()
    tamper(three_patients, *bypass,
           "INSERT INTO followups (id, patient_id, kind, due, created_at, created_by) "
           "VALUES (1, 999, 'call', '2026-12-01', '2026-11-27T15:00:00+00:00', 'x')")
    r = cli("db", "check")
    assert_one_error(r, 4)
    assert "foreign_keys" in r.stderr


def test_check_finds_the_clinic_zone_changed_outside_ketacli(cli, three_patients, monkeypatch):
    """The zone decides how every 'HH:MM' is read and every time shown: a raw UPDATE of it
    is a finding; a `db set-tz` (audited) afterwards makes the check pass again."""
    monkeypatch.delenv("KETACLI_TZ", raising=False)  # the stored zone, whatever it is
    tamper(three_patients, "UPDATE clinic_settings SET value = 'Asia/Tokyo' WHERE key = 'tz'")
    r = cli("db", "check", "--json")
    assert_one_error(r, 4)
    failed = [d["name"] for d in r.json["error"]["details"] if not d["ok"]]
    assert failed == ["updated_rows"]
    assert "updated_rows: the clinic zone does not match its latest audit row" in r.stderr
    assert cli("db", "set-tz", "Asia/Tokyo", "--reason", "as found").exit_code == 0
    assert cli("db", "check").exit_code == 0


# -- backup -------------------------------------------------------------------------
def test_backup_is_a_verified_private_copy(cli, three_patients, tmp_path, monkeypatch):
    dest = tmp_path / "backups" / "copy.db"
    dest.parent.mkdir()
    r = cli("db", "backup", dest, "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json["data"]
    assert data["backup"] == str(dest)
    assert data["integrity"] == "ok"
    assert data["audit_rows"] == M + 3
    assert data["size_bytes"] == dest.stat().st_size

    assert dest.is_file()
    assert mode(dest) == 0o600
    assert query(dest, "PRAGMA integrity_check") == [("ok",)]
    assert query(dest, "PRAGMA journal_mode") == [("delete",)]
    original = query(three_patients, "SELECT mrn, name, dob FROM patients ORDER BY mrn")
    assert query(dest, "SELECT mrn, name, dob FROM patients ORDER BY mrn") == original
    assert len(original) == 3
    assert query(dest, "PRAGMA user_version") == [(migrations.LATEST,)]
    # no temporary file left beside it
    assert sorted(p.name for p in dest.parent.iterdir()) == ["copy.db"]
    # the backup itself is audited in the original
    assert query(three_patients, "SELECT action FROM audit ORDER BY id DESC LIMIT 1") == [
        ("backup",)]
    # no key is written beside a backup: without the clinic's key its chain is not verifiable
    assert not Path(f"{dest}.key").exists()
    r = cli("--db", dest, "db", "check")
    assert r.exit_code == 4 and "chain not verifiable: clinic key missing" in r.stderr
    # and with the clinic's key the copy is a working ketacli database
    monkeypatch.setenv("KETACLI_KEY_FILE", str(key_file(three_patients)))
    r = cli("--db", dest, "db", "check")
    assert r.exit_code == 0, r.stderr


@pytest.mark.parametrize("how", ["folder", "slash", "missing-slash"])
def test_backup_to_a_folder_exits_2_and_writes_nothing(cli, three_patients, tmp_path, how):
    """DEST names the backup file: a folder (existing, or any path ending in a slash) is a
    clear exit 2, never a file named like the folder, nothing audited."""
    target = tmp_path / "bk"
    if how == "folder":
        target.mkdir()
    arg = str(target) + ("/" if how != "folder" else "")
    r = cli("db", "backup", arg, "--json")
    assert_one_error(r, 2)
    assert r.json["error"]["code"] == "invalid_backup_path"
    assert "is a folder: name the backup file" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("bk")) == (
        ["bk"] if how == "folder" else [])
    if how == "folder":
        assert list(target.iterdir()) == []
    assert query(three_patients, "SELECT count(*) FROM audit") == [(M + 3,)]


def test_backup_never_overwrites(cli, three_patients, tmp_path):
    dest = tmp_path / "exists.db"
    dest.write_text("precious")
    r = cli("db", "backup", dest, "--json")
    assert_one_error(r, 4)
    assert r.json["error"]["code"] == "destination_exists"
    assert dest.read_text() == "precious"
    # refused before anything was audited
    assert query(three_patients, "SELECT count(*) FROM audit") == [(M + 3,)]


def test_backup_to_a_missing_folder_exits_2(cli, three_patients, tmp_path):
    r = cli("db", "backup", tmp_path / "no" / "such" / "dir" / "copy.db")
    assert_one_error(r, 2)
    assert "folder of the backup destination does not exist" in r.stderr
    assert not (tmp_path / "no").exists()


def test_backup_of_a_missing_database_exits_4(cli, db_path, tmp_path):
    assert_one_error(cli("db", "backup", tmp_path / "copy.db"), 4)
    assert not db_path.exists()
    assert not (tmp_path / "copy.db").exists()


# -- migrate ------------------------------------------------------------------------
def test_migrate_creates_a_new_database_at_the_latest_version(cli, tmp_path):
    path = tmp_path / "new" / "clinic.db"
    r = cli("--db", path, "db", "migrate", "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json["data"]
    assert data["path"] == str(path)
    assert data["from_version"] == 0
    assert data["schema_version"] == migrations.LATEST
    assert data["applied"] == [v for v, _, _ in migrations.MIGRATIONS]
    assert path.is_file()
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert query(path, "PRAGMA user_version") == [(migrations.LATEST,)]
    assert query(path, "SELECT version FROM schema_migrations") == [
        (v,) for v, _, _ in migrations.MIGRATIONS]

    again = cli("--db", path, "db", "migrate", "--json")
    assert again.exit_code == 0
    assert again.json["data"]["applied"] == []
    assert again.json["data"]["from_version"] == migrations.LATEST
    human = cli("--db", path, "db", "migrate")
    assert "up to date" in human.stdout
    assert query(path, "SELECT count(*) FROM schema_migrations") == [(len(migrations.MIGRATIONS),)]


def test_migrate_human_output(cli, tmp_path):
    r = cli("--db", tmp_path / "m.db", "db", "migrate")
    assert r.exit_code == 0, r.stderr
    assert f"to {migrations.LATEST}" in r.stdout


# -- faults: any command ----------------------------------------------------------------
ANY_COMMAND = [
    ["patient", "list"],
    ["patient", "list", "--json"],
    ["patient", "show", "P-1"],
    ["patient", "add", "P-9", "--name", "New Person"],
    ["db", "info"],
    ["db", "check"],
    ["db", "migrate"],
    ["audit"],
    ["audit", "--verify"],
]


@pytest.mark.sqlite_only  # a file's content
@pytest.mark.parametrize("args", ANY_COMMAND, ids=" ".join)
def test_a_file_that_is_not_sqlite_exits_4(cli, db_path, args):
    db_path.write_text("these are my notes, not a database\n" * 20)
    before = db_path.read_bytes()
    r = cli(*args)
    assert_one_error(r, 4)
    assert "not" in r.stderr and "SQLite" in r.stderr
    assert db_path.read_bytes() == before
    if "--json" in args:
        assert r.json["error"]["code"] == "database_corrupt"


@pytest.mark.parametrize("args", [["patient", "list"], ["db", "check"], ["audit", "--verify"]],
                         ids=" ".join)
@pytest.mark.sqlite_only  # a file's pages
def test_a_corrupt_sqlite_file_exits_4(cli, three_patients, args):
    data = three_patients.read_bytes()
    three_patients.write_bytes(data[:100] + b"\xff" * (len(data) - 100))  # header kept
    r = cli(*args)
    assert_one_error(r, 4)
    assert "corrupt" in r.stderr


@pytest.mark.sqlite_only  # a file's content
def test_backup_of_a_non_sqlite_file_exits_4(cli, db_path, tmp_path):
    db_path.write_text("plain text")
    assert_one_error(cli("db", "backup", tmp_path / "copy.db"), 4)
    assert not (tmp_path / "copy.db").exists()


@pytest.mark.parametrize("args", [["patient", "add", "P-1", "--name", "A B"], ["db", "migrate"],
                                  ["patient", "list"]], ids=" ".join)
def test_a_path_that_cannot_be_created_exits_4(cli, tmp_path, args):
    blocker = tmp_path / "x" / "file"
    blocker.parent.mkdir()
    blocker.write_text("a regular file")
    r = cli("--db", blocker / "db.sqlite", *args)
    assert_one_error(r, 4)
    assert blocker.read_text() == "a regular file"


def test_a_directory_as_database_exits_4(cli, tmp_path):
    r = cli("--db", tmp_path, "patient", "list")
    assert_one_error(r, 4)
    assert "directory" in r.stderr


@pytest.mark.parametrize("args", ANY_COMMAND, ids=" ".join)
def test_a_schema_newer_than_the_program_exits_4(cli, three_patients, args):
    if on_pg():  # the version is the latest schema_migrations row
        version = "SELECT max(version) FROM schema_migrations"
        tamper(three_patients, "INSERT INTO schema_migrations (version, description, applied_at)"
                               " VALUES (99, 'from a later ketacli', '2027-01-01T00:00:00Z')")
    else:
        version = "PRAGMA user_version"
        tamper(three_patients, "PRAGMA user_version = 99")
    r = cli(*args, "--json")
    assert_one_error(r, 4)
    assert "newer" in r.stderr
    assert r.json["error"]["code"] == "schema_too_new"
    assert query(three_patients, version) == [(99,)]
    assert query(three_patients, "SELECT count(*) FROM patients") == [(3,)]


def test_a_locked_database_exits_4_and_stores_nothing(cli, three_patients, monkeypatch):
    monkeypatch.setenv("KETACLI_BUSY_TIMEOUT", "0")
    if on_pg():  # another writer inside its transaction holds the write lock
        from ketacli.store import pg

        holder = pg.connect(str(three_patients), busy_timeout_s=30)
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(?)", (pg.WRITE_LOCK,))
    else:
        holder = sqlite3.connect(three_patients, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    try:
        r = cli("patient", "add", "P-9", "--name", "Late Comer", "--json")
        assert_one_error(r, 4)
        assert "locked" in r.stderr
        assert r.json["error"]["code"] == "database_locked"
        assert "Late" not in r.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert query(three_patients, "SELECT count(*) FROM patients") == [(3,)]


# -- the audit chain, edited outside the program ----------------------------------------
def _assert_chain_broken(cli, first_row: int) -> None:
    r = cli("audit", "--verify", "--json")
    assert_one_error(r, 4)
    assert r.json["error"]["code"] == "audit_chain_broken"
    assert f"audit row {first_row}" in r.stderr
    assert r.json["error"]["details"][0]["id"] == first_row

    r = cli("db", "check", "--json")
    assert_one_error(r, 4)
    assert "audit_chain" in r.stderr
    chain = next(c for c in r.json["error"]["details"] if c["name"] == "audit_chain")
    assert chain["ok"] is False


def test_verify_passes_before_tampering(cli, three_patients):
    r = cli("audit", "--verify", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json == {"data": {"verified": True, "rows": M + 3}}


def test_an_edited_audit_row_is_detected(cli, three_patients):
    tamper(three_patients, f"UPDATE audit SET action = 'view' WHERE id = {M + 2}",
           drop=("audit_no_update",))
    _assert_chain_broken(cli, M + 2)


def test_an_edited_patient_column_is_detected(cli, three_patients):
    tamper(three_patients, f"UPDATE audit SET patient = 'P-9' WHERE id = {M + 1}",
           drop=("audit_no_update",))
    _assert_chain_broken(cli, M + 1)


def test_a_deleted_middle_row_is_detected(cli, three_patients):
    tamper(three_patients, "DELETE FROM audit WHERE id = 2", drop=("audit_no_delete",))
    _assert_chain_broken(cli, 3)


def test_swapped_rows_are_detected(cli, three_patients):
    cols = ("at", "clinician", "os_user", "action", "entity", "entity_id", "patient", "detail")
    a = query(three_patients, f"SELECT {', '.join(cols)} FROM audit WHERE id = 2")[0]
    b = query(three_patients, f"SELECT {', '.join(cols)} FROM audit WHERE id = 3")[0]
    sets = ", ".join(f"{c} = ?" for c in cols)
    tamper(three_patients, f"UPDATE audit SET {sets} WHERE id = 2",
           f"UPDATE audit SET {sets} WHERE id = 3", drop=("audit_no_update",), params=(b, a))
    _assert_chain_broken(cli, 2)


def test_swapped_ids_are_detected(cli, three_patients):
    """Renumbering rows (hashes and all) breaks the links."""
    tamper(three_patients, "UPDATE audit SET id = 100 WHERE id = 2",
           "UPDATE audit SET id = 2 WHERE id = 3",
           "UPDATE audit SET id = 3 WHERE id = 100", drop=("audit_no_update",))
    _assert_chain_broken(cli, 2)


def _failed_checks(cli) -> dict[str, str]:
    """`db check --json` must exit 4; the failed checks by name, with their detail."""
    r = cli("db", "check", "--json")
    assert r.exit_code == 4
    return {c["name"]: c["detail"] for c in r.json["error"]["details"] if not c["ok"]}


def _guard(table: str, op: str) -> str:
    """The append-only guard trigger put back after an edit exactly as the migration wrote it
    (so only the seal can tell)."""
    if on_pg():
        statements = pgschema._append_only(table).split(";")
    else:
        statements = _statements(migrations._append_only(table))
    return next(st for st in statements if f"BEFORE {op} ON {table}" in st)


def test_check_finds_a_removed_guard_trigger(cli, db_path):
    assert cli("patient", "add", "G-1", "--name", "Guard Test").exit_code == 0
    tamper(db_path, drop=("observations_no_update",))
    failed = _failed_checks(cli)
    assert list(failed) == ["append_only"]
    assert "observations_no_update" in failed["append_only"]


def test_check_finds_a_clinical_row_changed_behind_the_programs_back(cli, db_path):
    assert cli("screen", "S-1", "--name", "Seal Test", "--weight", "80", "--bp", "120/80",
               "--hr", "70", "--at", "2026-11-27 08:00").exit_code == 0
    assert cli("db", "check").exit_code == 0
    tamper(db_path, "UPDATE screenings SET weight_kg = 95 WHERE id = 1",
           _guard("screenings", "UPDATE"), drop=("screenings_no_update",))
    failed = _failed_checks(cli)
    assert list(failed) == ["clinical_rows"]
    assert "screening 1" in failed["clinical_rows"]


def test_check_finds_a_discharge_changed_behind_the_programs_back(cli, db_path):
    base = ("--weight", "80", "--bp", "120/80", "--hr", "70")
    assert cli("screen", "D-1", "--name", "Seal Discharge", *base,
               "--at", "2026-11-27 06:00").exit_code == 0
    assert cli("start-session", "D-1", "--bp", "120/80", "--hr", "70", "--drawn-mg", "50",
               "--at", "2026-11-27 06:30").exit_code == 0
    r = cli("discharge", "--patient", "D-1", "--aldrete", "10", "--bp", "120/80", "--hr", "70",
            "--transport", "escort", "--wasted-mg", "10", "--waste-witness", "rn.two",
            "--side-effect", "nausea", "--at", "2026-11-27 08:00")
    assert r.exit_code == 0, r.stderr
    assert cli("db", "check").exit_code == 0
    tamper(db_path, "UPDATE discharges SET wasted_mg = 0, waste_witness = NULL",
           _guard("discharges", "UPDATE"), "DELETE FROM side_effects",
           _guard("side_effects", "DELETE"),
           drop=("discharges_no_update", "side_effects_no_delete"))
    failed = _failed_checks(cli)
    assert list(failed) == ["clinical_rows"]
    assert "discharge of session 1" in failed["clinical_rows"]
