"""The database file (contract: "Files, faults and hostile input"): only a missing file is
created new; an existing file that is empty, not SQLite, not a ketacli database, a
directory, a FIFO or a device exits 4 at once with one line, never hangs and never creates
files beside it; an empty --db / KETACLI_DB is exit 2. Through the console script, as a
clinic would meet it (a FIFO would hang an in-process run forever)."""

from __future__ import annotations

import os
import sqlite3

import pytest
from helpers import assert_one_error, ok
from reliability_support import assert_error_shape, run

# every one would write (or read) if the database were healthy
ATTEMPTS = [
    ("db", "check"),
    ("audit", "--verify"),
    ("patient", "list", "--json"),
    ("screen", "DF-1", "--name", "New Person", "--weight", "70", "--bp", "120/80", "--hr", "70"),
    ("db", "migrate"),
]


def _refused(db, why: str) -> None:
    for args in ATTEMPTS:
        r = run(db, *args, timeout=20)  # a hang fails here instead of blocking the suite
        assert_error_shape(r.returncode, r.stdout, r.stderr, expect=4, json_out="--json" in args)
        assert r.stderr.startswith(f"error: not a ketacli database: {db} {why}"), r.stderr


def test_an_empty_file_is_not_a_new_clinic(tmp_path):
    db = tmp_path / "clinic.db"
    db.touch()
    _refused(db, "is empty")
    assert db.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clinic.db"]


def test_an_sqlite_file_that_ketacli_did_not_make(tmp_path):
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE shopping (item TEXT)")
    con.commit()
    con.close()
    before = db.read_bytes()
    _refused(db, "has no ketacli schema")
    assert db.read_bytes() == before


def test_a_fifo_never_hangs(tmp_path):
    fifo = tmp_path / "clinic.db"
    os.mkfifo(fifo)
    _refused(fifo, "is a FIFO")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clinic.db"]


def test_dev_null_leaves_nothing_in_dev():
    before = {p for p in os.listdir("/dev") if p.startswith("null")}
    _refused("/dev/null", "is a device")
    assert {p for p in os.listdir("/dev") if p.startswith("null")} == before


def test_a_directory(tmp_path):
    _refused(tmp_path, "is a directory")


@pytest.mark.parametrize("how", ["option", "env"])
def test_an_empty_db_setting_is_invalid(cli, how, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if how == "env":
        monkeypatch.setenv("KETACLI_DB", "")
        r = cli("patient", "add", "DF-2", "--name", "New Person")
    else:
        r = cli("--db", "", "patient", "add", "DF-2", "--name", "New Person")
    assert_one_error(r, 2)
    assert "empty" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_missing_file_is_created_whole(cli, tmp_path):
    """A new database appears only complete (no other process sees a 0-byte file)."""
    db = tmp_path / "new" / "clinic.db"
    ok(cli("--db", db, "patient", "add", "DF-3", "--name", "New Person"))
    assert sorted(p.name for p in db.parent.iterdir() if not p.name.endswith(("-wal", "-shm"))) \
        == ["clinic.db", "clinic.db.key"]  # and its clinic key beside it
    ok(cli("--db", db, "db", "check"))
