"""Encryption at rest (docs/cli-contract.md, "Tamper evidence and encryption at rest"):
`db encrypt` converts a database to SQLCipher with a key derived from the clinic key, every
command opens it transparently, backups stay encrypted, `db decrypt DEST` writes a plain
copy, the file holds no readable patient text, and a wrong key is one line, exit 4."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import assert_one_error, mode, ok, on_pg, query
from reliability_support import DOB, NAME, NOTE, PHQ9, assert_error_shape, open_session, real_clock, run

pytest.importorskip("sqlcipher3")

MAGIC = b"SQLite format 3\x00"


@pytest.fixture
def encrypted(cli, db_path):
    now = real_clock()
    sid = open_session(cli, "EN-1", now)
    ok(cli("log-vitals", sid, "--hr", "80", "--note", NOTE))
    ok(cli("followup", "record", "EN-1", "--phq9", PHQ9))
    before = {t: query(db_path, f"SELECT count(*) FROM {t}")[0][0]
              for t in ("patients", "sessions", "observations", "assessments")}
    r = ok(cli("db", "encrypt", "--json"))
    assert r.json["data"]["encrypted"] is True
    return db_path, sid, before


def _plain_text(path: Path) -> bytes:
    data = path.read_bytes()
    for extra in (Path(f"{path}-wal"),):
        if extra.exists():
            data += extra.read_bytes()
    return data


@pytest.mark.sqlite_only  # SQLCipher: a file's encryption
def test_the_file_holds_no_readable_patient_text(encrypted):
    db, _, _ = encrypted
    data = _plain_text(db)
    assert not data.startswith(MAGIC)
    for secret in (NAME, "Zebulon", NOTE, "Evergreen", DOB, "EN-1", "CREATE TABLE"):
        assert secret.encode() not in data, secret
    assert mode(db) == 0o600


@pytest.mark.sqlite_only  # SQLCipher: a file's encryption
def test_every_command_opens_it_transparently(cli, encrypted):
    db, sid, before = encrypted
    ok(cli("log-vitals", sid, "--hr", "84", "--note", NOTE))
    assert ok(cli("patient", "list", "--json")).json["data"][0]["mrn"] == "EN-1"
    assert ok(cli("db", "check", "--json")).json["data"]["ok"] is True
    assert ok(cli("audit", "--verify", "--json")).json["data"]["verified"] is True
    doc = json.loads(ok(cli("export", "all", "--format", "json")).stdout)["data"]
    assert len(doc["observations"]) == before["observations"] + 1
    # the console script too, and still nothing readable after the writes
    assert ok(run(db, "summary", sid, "--json")).json["data"]["session_id"] == sid
    assert NOTE.encode() not in _plain_text(db)


@pytest.mark.sqlite_only  # SQLCipher: a file's encryption
def test_backups_stay_encrypted(cli, encrypted, tmp_path, monkeypatch):
    db, _, before = encrypted
    dest = tmp_path / "backup.db"
    ok(cli("db", "backup", dest))
    assert not dest.read_bytes().startswith(MAGIC)
    assert NAME.encode() not in dest.read_bytes()
    assert not Path(f"{dest}.key").exists()  # the key never travels with a backup
    monkeypatch.setenv("KETACLI_KEY_FILE", f"{db}.key")
    r = ok(cli("--db", dest, "patient", "list", "--json"))
    assert len(r.json["data"]) == before["patients"]


@pytest.mark.sqlite_only  # SQLCipher: a file's encryption
def test_an_encrypted_backup_without_its_key_says_where_the_key_goes(cli, encrypted, tmp_path):
    """Checked where it was copied (no key beside it: none travels with a backup), it is not
    called 'not SQLite' as a corrupt file would be: the clinic key is missing."""
    dest = tmp_path / "backup.db"
    ok(cli("db", "backup", dest))
    r = cli("--db", dest, "db", "check", "--json")
    assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4, json_out=True)
    assert r.json["error"]["code"] == "clinic_key_missing"
    assert "not SQLite" not in r.stderr and "KETACLI_KEY_FILE" in r.stderr


@pytest.mark.sqlite_only  # SQLCipher: a file's encryption
def test_decrypt_writes_a_verified_plain_copy(cli, encrypted, tmp_path, monkeypatch):
    db, _, before = encrypted
    dest = tmp_path / "plain.db"
    r = ok(cli("db", "decrypt", dest, "--json"))
    assert r.json["data"]["path"] == str(dest)
    assert dest.read_bytes().startswith(MAGIC) and mode(dest) == 0o600
    for t, n in before.items():
        assert query(dest, f"SELECT count(*) FROM {t}") == [(n,)]
    assert not _plain_text(db).startswith(MAGIC)  # the database itself stays encrypted
    assert query(db.with_name("plain.db"), "SELECT count(*) FROM audit WHERE action = 'decrypt'"
                 ) == [(1,)]
    monkeypatch.setenv("KETACLI_KEY_FILE", f"{db}.key")
    assert ok(cli("--db", dest, "audit", "--verify", "--json")).json["data"]["verified"] is True
    again = cli("db", "decrypt", dest)
    assert_error_shape(again.exit_code, again.stdout, again.stderr, expect=4)


@pytest.mark.sqlite_only  # SQLCipher: a file's encryption
@pytest.mark.parametrize("args", [("patient", "list"), ("db", "check", "--json"),
                                  ("log-vitals", "1", "--hr", "80")])
def test_a_wrong_key_is_one_line(cli, encrypted, args):
    db, _, _ = encrypted
    Path(f"{db}.key").write_text("ketacli-clinic-key v1 " + "ab" * 32 + "\n")
    r = cli(*args)
    assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4, json_out="--json" in args)
    assert f"cannot open {db}: wrong clinic key or not a ketacli database" in r.stderr
    p = run(db, *args)  # the console script: nothing from SQLCipher's own logging either
    assert p.returncode == 4
    assert [ln for ln in p.stderr.splitlines() if not ln.startswith(("error:", "hint:"))] == []


@pytest.mark.sqlite_only  # SQLCipher: a file's encryption
@pytest.mark.parametrize("args", [("patient", "list"), ("db", "check", "--json"),
                                  ("db", "info")])
def test_a_missing_key_says_so_not_not_sqlite(cli, encrypted, args):
    """Moved to another machine without its key: the user learns what to bring."""
    db, _, _ = encrypted
    Path(f"{db}.key").unlink()
    r = cli(*args)
    assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4, json_out="--json" in args)
    assert f"no clinic key at {db}.key" in r.stderr
    assert "hint: put this clinic's key beside the database" in r.stderr
    if "--json" in args:
        assert r.json["error"]["code"] == "clinic_key_missing"


@pytest.mark.sqlite_only  # SQLCipher: a file's encryption
def test_encrypting_twice_or_without_the_key_is_refused(cli, encrypted, tmp_path):
    r = cli("db", "encrypt")
    assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4)
    assert "already encrypted" in r.stderr
    plain = tmp_path / "other.db"
    ok(cli("--db", plain, "patient", "add", "EN-2", "--name", "Other Patient"))
    Path(f"{plain}.key").unlink()
    r = cli("--db", plain, "db", "encrypt")
    assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4)
    assert plain.read_bytes().startswith(MAGIC)


@pytest.mark.sqlite_only  # SQLCipher: a file's encryption
def test_encrypt_is_refused_while_another_process_has_it_open(cli, db_path):
    import sqlite3

    ok(cli("patient", "add", "EN-3", "--name", "Open Elsewhere"))
    other = sqlite3.connect(db_path)
    other.execute("BEGIN")
    other.execute("SELECT count(*) FROM patients").fetchone()  # a reader holding a snapshot
    try:
        r = cli("db", "encrypt")
    finally:
        other.close()
    assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4)
    assert db_path.read_bytes().startswith(MAGIC)
    ok(cli("patient", "add", "EN-4", "--name", "Still Plain"))


def test_encrypt_and_decrypt_are_refused_on_a_server(cli, db_path, tmp_path):
    """A PostgreSQL clinic is encrypted (or not) by its server: one error line, exit 2,
    and the database goes on as it was."""
    if not on_pg():
        pytest.skip("a PostgreSQL URL")
    ok(cli("patient", "add", "EN-5", "--name", "On A Server"))
    for args in (("db", "encrypt"), ("db", "decrypt", tmp_path / "plain.db")):
        r = cli(*args)
        assert_one_error(r, 2)
        assert "PostgreSQL" in r.stderr or "server" in r.stderr, r.stderr
    assert not (tmp_path / "plain.db").exists()
    assert ok(cli("db", "check", "--json")).json["data"]["ok"] is True
