"""Storage faults: exit 4, one clear `error:` line, and nothing made worse.

A file that is not SQLite, a truncated database, a read-only database, a full disk, a
schema newer than the program, and a database locked by another process past the busy
timeout. Each through the installed console script, as a clinic would meet it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import time

import pytest
from helpers import copy_key, counts, ok, on_pg, scalar, tamper
from reliability_support import (
    assert_error_shape,
    checkpoint,
    open_session,
    real_clock,
    run,
    write_lock_held,
)

NOTE_2K = "n" * 1900  # a long note: each observation takes a page or more


def _digest(path) -> str:
    """The file's bytes; a PostgreSQL database's rows (every table and the audit chain)."""
    if on_pg(path):
        state = (counts(path), scalar(path, "SELECT group_concat(hash, '') FROM audit"),
                 scalar(path, "SELECT max(version) FROM schema_migrations"))
        return hashlib.sha256(repr(state).encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _storage_error(r, *, json_out: bool = False, words: tuple[str, ...] = ()) -> None:
    assert_error_shape(r.returncode, r.stdout, r.stderr, expect=4, json_out=json_out)
    first = r.stderr.splitlines()[0].lower()
    assert any(w in first for w in words) if words else True, r.stderr


@pytest.fixture
def seeded(cli, db_path):
    """A real database: one patient (with the distinctive PII) infusing since 10 minutes ago,
    checkpointed so that the main file alone holds everything."""
    now = real_clock()
    sid = open_session(cli, "SF-1", now)
    ok(cli("log-vitals", sid, "--hr", "82", "--note", "steady"))
    checkpoint(db_path)
    return db_path, sid


# every command line here would write (or read) if the database were healthy
def _attempts(sid: int) -> list[tuple]:
    return [
        ("log-vitals", sid, "--hr", "80", "--json"),
        ("screen", "SF-NEW", "--name", "New Person", "--weight", "70", "--bp", "120/80", "--hr", "70"),
        ("followup", "due", "--mark-notified", "--unnotified", "--format", "csv"),
        ("patient", "list", "--json"),
        ("db", "check"),
    ]


def test_a_file_that_is_not_sqlite(tmp_path):
    db = tmp_path / "notes.db"
    db.write_text("Zebulon Quixotic-Farnsworth lives at 742 Evergreen Terrace\n" * 200)
    before = _digest(db)
    for args in _attempts(1):
        r = run(db, *args)
        _storage_error(r, json_out="--json" in args, words=("not a ketacli database", "is not sqlite"))
    assert _digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]  # no -wal, no -shm


@pytest.mark.sqlite_only  # a file cut in half
def test_a_truncated_database(cli, tmp_path):
    real_clock()
    ok(cli("demo", "--patients", "25", "--json"))  # enough pages that half of them matter
    db = tmp_path / "clinic.db"
    checkpoint(db)
    cut = tmp_path / "cut.db"
    shutil.copyfile(db, cut)
    copy_key(db, cut)  # the copy is verified with the clinic key
    os.truncate(cut, cut.stat().st_size // 2)
    before = _digest(cut)
    for args in _attempts(1):
        r = run(cut, *args)
        _storage_error(r, json_out="--json" in args, words=("corrupt",))
    assert _digest(cut) == before


def test_a_schema_newer_than_the_program(seeded):
    db, sid = seeded
    if on_pg(db):
        tamper(db, "INSERT INTO schema_migrations VALUES (99, 'from a newer ketacli', "
                   "'2099-01-01T00:00:00+00:00')")
    else:
        con = sqlite3.connect(db)
        con.execute("PRAGMA user_version = 99")
        con.close()
    checkpoint(db)
    before = _digest(db)
    for args in [*_attempts(sid), ("db", "migrate")]:
        r = run(db, *args)
        _storage_error(r, json_out="--json" in args, words=("newer",))
    assert _digest(db) == before
    assert scalar(db, "SELECT max(version) FROM schema_migrations" if on_pg(db)
                  else "PRAGMA user_version") == 99


def test_a_database_path_that_cannot_be_a_database(tmp_path):
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    _storage_error(run(folder, "patient", "add", "P-1", "--name", "Dir Case"), words=("directory",))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = run(blocker / "sub" / "clinic.db", "patient", "add", "P-1", "--name", "Under A File")
    _storage_error(r, words=("cannot create",))
    assert blocker.read_text() == "x"


# -- the database locked by another process ----------------------------------------------
def test_locked_past_the_busy_timeout(seeded):
    db, sid = seeded
    before = counts(db)
    with write_lock_held(db):
        t0 = time.monotonic()
        r = run(db, "log-vitals", sid, "--hr", "91", "--json", KETACLI_BUSY_TIMEOUT="0.5")
        waited = time.monotonic() - t0
        _storage_error(r, json_out=True, words=("locked",))
        assert r.json["error"]["code"] == "database_locked"
        assert r.stderr.splitlines()[1].startswith("hint:") and "KETACLI_BUSY_TIMEOUT" in r.stderr
        assert 0.5 <= waited < 10, waited
        # a cron run meeting the lock prints no reminder, so stamps none
        cron = run(db, "followup", "due", "--mark-notified", "--unnotified", "--format", "csv",
                   KETACLI_BUSY_TIMEOUT="0.5")
        _storage_error(cron, words=("locked",))
        assert cron.stdout == ""
        screen = run(db, "screen", "SF-2", "--name", "Locked Out", "--weight", "70", "--bp",
                     "120/80", "--hr", "70", KETACLI_BUSY_TIMEOUT="0.5")
        _storage_error(screen, words=("locked",))
        # readers are not blocked by a writer (WAL; on a server, its snapshots)
        assert run(db, "patient", "list", "--json", KETACLI_BUSY_TIMEOUT="0.5").returncode == 0
    assert counts(db) == before
    assert scalar(db, "SELECT count(*) FROM observations WHERE hr = 91") == 0
    # once the lock is gone, the same write goes through
    r = run(db, "log-vitals", sid, "--hr", "91", "--json", KETACLI_BUSY_TIMEOUT="0.5")
    assert r.returncode == 0, r
    assert ok(run(db, "db", "check")).returncode == 0


# -- read-only and full file systems (root: a small tmpfs; otherwise chmod) ------------------
@contextlib.contextmanager
def tmpfs(where, size: str):
    """Mount a small tmpfs at `where` (root only), unmounted whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    where.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _remount(where, mode: str) -> None:
    done = subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot remount {mode}: {done.stderr.strip()}")


def test_a_read_only_database(seeded, tmp_path):
    db, sid = seeded
    before = counts(db)
    if on_pg(db):  # a database the server keeps read-only
        import pg_support

        pg_support.admin(f'ALTER DATABASE "{db.dbname}" SET default_transaction_read_only = on')
        digest = _digest(db)
        # (nothing is due to be marked notified here: that run writes nothing, and succeeds)
        for args in (("log-vitals", sid, "--hr", "93", "--json"),
                     ("screen", "SF-RO", "--name", "Read Only", "--weight", "70", "--bp", "120/80",
                      "--hr", "70")):
            r = run(db, *args)
            _storage_error(r, json_out="--json" in args, words=("read-only",))
        assert _digest(db) == digest
        assert run(db, "patient", "list", "--json").returncode == 0  # reads go on
        pg_support.admin(f'ALTER DATABASE "{db.dbname}" RESET default_transaction_read_only')
        assert counts(db) == before
        check = run(db, "db", "check", "--json")
        assert check.returncode == 0, check
        return
    if os.geteuid() != 0:
        ro = tmp_path / "ro.db"
        shutil.copyfile(db, ro)
        copy_key(db, ro)  # the copy is verified with the clinic key
        ro.chmod(0o400)
        try:
            r = run(ro, "log-vitals", sid, "--hr", "93", "--json")
            _storage_error(r, json_out=True, words=("read-only", "cannot open"))
            assert counts(ro) == before
        finally:
            ro.chmod(0o600)
        return
    # root writes through chmod 0400: use a file system mounted read-only instead
    with tmpfs(tmp_path / "ro-mount", "2m") as mnt:
        target = mnt / "clinic.db"
        shutil.copyfile(db, target)
        copy_key(db, target)  # the copy is verified with the clinic key
        target.chmod(0o600)
        digest = _digest(target)
        _remount(mnt, "ro")
        for args in (("log-vitals", sid, "--hr", "93", "--json"),
                     ("screen", "SF-RO", "--name", "Read Only", "--weight", "70", "--bp", "120/80",
                      "--hr", "70"),
                     ("followup", "due", "--mark-notified", "--format", "csv")):
            r = run(target, *args)
            _storage_error(r, json_out="--json" in args, words=("read-only", "cannot open"))
        assert _digest(target) == digest
        _remount(mnt, "rw")
        assert counts(target) == before
        check = run(target, "db", "check", "--json")
        assert check.returncode == 0, check


@pytest.mark.sqlite_only  # the file on a full tmpfs (tests/reliability/test_postgresql.py: the server)
def test_a_full_disk(seeded, tmp_path):
    db, sid = seeded
    with tmpfs(tmp_path / "full-mount", "512k") as mnt:
        target = mnt / "clinic.db"
        shutil.copyfile(db, target)
        copy_key(db, target)  # the copy is verified with the clinic key
        target.chmod(0o600)
        before = counts(target)
        vfs = os.statvfs(mnt)
        filler = mnt / "filler"
        filler.write_bytes(b"\0" * (vfs.f_bavail * vfs.f_frsize - 72 * 1024))  # leave ~72 KiB
        stored, failed = 0, None
        for i in range(40):
            r = run(target, "log-vitals", sid, "--hr", 100 + i, "--note", NOTE_2K, "--json")
            if r.returncode == 0:
                stored += 1
                continue
            failed = r
            break
        assert failed is not None, "the disk never filled up"
        _storage_error(failed, json_out=True, words=("disk full",))
        assert failed.json["error"]["code"] == "disk_full"
        # a second writer meets the full disk the same way, and nothing is half-written
        again = run(target, "screen", "SF-FULL", "--name", "Disk Full", "--weight", "70",
                    "--bp", "120/80", "--hr", "70", "--note", NOTE_2K)
        assert again.returncode in (0, 4), again
        if again.returncode == 4:
            _storage_error(again)
        filler.unlink()
        after = counts(target)
        assert after["observations"] == before["observations"] + stored
        assert after["patients"] == before["patients"] + (again.returncode == 0)
        check = run(target, "db", "check", "--json")
        assert check.returncode == 0, check
        # with space again, recording goes on
        assert run(target, "log-vitals", sid, "--hr", "99").returncode == 0
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
