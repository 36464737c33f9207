"""`db restore BACKUP [--db PATH]` and WAL files that do not belong to their database
(contract: "Files, faults and hostile input", Restore). A restore replaces the database
file: SQLite's (on a PostgreSQL server it is refused, exit 2)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest
from helpers import assert_one_error, copy_key, counts, ok, on_pg, query

SCREEN = ("--weight", "70", "--bp", "120/80", "--hr", "70", "--phq9", "2,2,2,2,1,1,2,0,0")


def _mrns(db) -> list[str]:
    return [r[0] for r in query(db, "SELECT mrn FROM patients ORDER BY mrn")]


@pytest.fixture
def backed_up(cli, db_path, tmp_path):
    """A clinic with one patient, its backup, then a second patient recorded after the
    backup, whose frames are kept as a stale -wal (as a crash or a live writer leaves)."""
    ok(cli("screen", "RS-1", "--name", "Ann Example", *SCREEN))
    backup = tmp_path / "backup.db"
    ok(cli("db", "backup", backup))
    holder = sqlite3.connect(db_path)  # keeps the WAL from being folded in and removed
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    holder.execute("SELECT count(*) FROM audit").fetchall()
    ok(cli("screen", "RS-2", "--name", "Bob Example", *SCREEN))
    stale = tmp_path / "stale-wal"
    shutil.copyfile(f"{db_path}-wal", stale)
    holder.close()
    shutil.copyfile(stale, f"{db_path}-wal")  # what a crash would have left
    return backup


@pytest.mark.sqlite_only  # restore replaces the database file; WAL files
def test_a_copied_backup_never_gets_a_stale_wal_replayed(cli, db_path, backed_up):
    """The old README's restore (`cp backup.db ketacli.db`) with the -wal still there."""
    shutil.copyfile(backed_up, db_path)
    before = db_path.read_bytes()
    for args in (("patient", "list"), ("log-vitals", "--patient", "RS-1", "--hr", "80"),
                 ("db", "check")):
        r = cli(*args)
        assert_one_error(r, 4)
        assert "does not belong to the database" in r.stderr
    assert db_path.read_bytes() == before


@pytest.mark.sqlite_only  # restore replaces the database file; WAL files
def test_restore_moves_the_database_and_its_wal_aside(cli, db_path, backed_up, tmp_path):
    r = ok(cli("db", "restore", backed_up, "--json"))
    data = r.json["data"]
    aside = data["moved_aside"]
    assert [a.rsplit("before-restore-", 1)[0] for a in aside] == [f"{db_path}."] * 2
    assert [a[-4:] for a in aside[1:]] == ["-wal"]
    assert _mrns(db_path) == ["RS-1"]
    ok(cli("db", "check"))
    ok(cli("screen", "RS-3", "--name", "Cy Example", *SCREEN))
    # nothing was deleted: the earlier database, with its -wal, still opens whole
    assert _mrns(aside[0]) == ["RS-1", "RS-2"]
    actions = [r[0] for r in query(db_path, "SELECT action FROM audit ORDER BY id")]
    assert "restore" in actions
    human = ok(cli("db", "restore", backed_up))
    assert "Restored" in human.stdout and "Kept the earlier file as" in human.stdout
    assert len([p for p in tmp_path.glob("clinic.db.before-restore-*")
                if not p.name.endswith(("-wal", "-shm"))]) == 2


@pytest.mark.sqlite_only  # restore replaces the database file; WAL files
def test_restore_with_db_option_and_onto_a_new_machine(cli, backed_up, db_path, tmp_path):
    target = tmp_path / "elsewhere.db"
    # a backup belongs to the clinic key: without it there, nothing is restored
    r = cli("db", "restore", backed_up, "--db", target)
    assert_one_error(r, 4)
    assert "clinic key missing" in r.stderr and not target.exists()
    copy_key(db_path, target)  # the key brought to the new machine
    ok(cli("db", "restore", backed_up, "--db", target))
    assert _mrns(target) == ["RS-1"]


@pytest.mark.sqlite_only  # restore replaces the database file; WAL files
def test_restore_refuses_a_backup_that_fails_verification(cli, db_path, tmp_path):
    ok(cli("screen", "RS-1", "--name", "Ann Example", *SCREEN))
    bad = tmp_path / "bad.db"
    ok(cli("db", "backup", bad))
    con = sqlite3.connect(bad)
    con.execute("DROP TRIGGER audit_no_update")
    con.execute("UPDATE audit SET action = 'x' WHERE id = 2")
    con.commit()
    con.close()
    before = db_path.read_bytes()
    assert_one_error(cli("db", "restore", bad), 4)
    empty = tmp_path / "empty.db"
    empty.touch()
    assert_one_error(cli("db", "restore", empty), 4)
    assert db_path.read_bytes() == before
    assert not list(tmp_path.glob("*.before-restore-*"))


@pytest.mark.sqlite_only  # restore replaces the database file; WAL files
def test_restore_refuses_while_another_process_has_the_database_open(cli, db_path, tmp_path):
    ok(cli("screen", "RS-1", "--name", "Ann Example", *SCREEN))
    backup = tmp_path / "backup.db"
    ok(cli("db", "backup", backup))
    code = ("import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('SELECT count(*) FROM audit').fetchall(); print('ready', flush=True); "
            "time.sleep(60)")
    other = subprocess.Popen([sys.executable, "-c", code, str(db_path)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert other.stdout.readline().strip() == "ready"
        r = cli("db", "restore", backup)
        assert_one_error(r, 4)
        assert "open in another process" in r.stderr
        assert not list(tmp_path.glob("*.before-restore-*"))
    finally:
        other.kill()
        other.wait()
    ok(cli("db", "restore", backup))


@pytest.mark.sqlite_only  # restore replaces the database file; WAL files
def test_restore_replaces_a_damaged_database_but_never_a_fifo(cli, db_path, tmp_path):
    ok(cli("screen", "RS-1", "--name", "Ann Example", *SCREEN))
    backup = tmp_path / "backup.db"
    ok(cli("db", "backup", backup))
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"\0" * 4096)
    copy_key(db_path, damaged)
    ok(cli("db", "restore", backup, "--db", damaged))
    assert _mrns(damaged) == ["RS-1"]
    fifo = tmp_path / "fifo.db"
    os.mkfifo(fifo)
    r = cli("db", "restore", backup, "--db", fifo)
    assert_one_error(r, 4)
    assert "is a FIFO" in r.stderr
    assert fifo.is_fifo() and not list(tmp_path.glob("fifo.db.before-restore-*"))


@pytest.mark.sqlite_only  # restore replaces the database file; WAL files
def test_a_wal_for_pages_of_another_size_is_refused(cli, db_path, tmp_path):
    ok(cli("screen", "RS-1", "--name", "Ann Example", *SCREEN))
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("PRAGMA page_size = 8192")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA wal_autocheckpoint = 0")
    con.execute("CREATE TABLE t (x)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    shutil.copyfile(f"{other}-wal", f"{db_path}-wal")  # while `other` is still open
    con.close()
    before = db_path.read_bytes()
    r = cli("patient", "list")
    assert_one_error(r, 4)
    assert "does not belong to the database" in r.stderr
    assert db_path.read_bytes() == before


def test_restore_is_refused_on_a_server(cli, db_path, tmp_path):
    """On PostgreSQL there is no file to replace: exit 2, one error line, nothing changed
    (a server's database is restored with the server's own tools)."""
    if not on_pg():
        pytest.skip("on a file, restore is tested above")
    ok(cli("screen", "RS-1", "--name", "Ann Example", *SCREEN))
    backup = tmp_path / "backup.db"
    ok(cli("db", "backup", backup))
    ok(cli("screen", "RS-2", "--name", "Bob Example", *SCREEN))
    before = counts(db_path)
    r = cli("db", "restore", backup)
    assert_one_error(r, 2)
    assert "PostgreSQL" in r.stderr
    assert counts(db_path) == before and _mrns(db_path) == ["RS-1", "RS-2"]
