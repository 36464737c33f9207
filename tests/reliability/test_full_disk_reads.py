"""A full disk lets reads still work (contract: "Files, faults and hostile input", minor
findings of issue 15): where the -shm (SQLite's shared WAL index) cannot grow, every read
command still answers, and a write fails as "disk full" (exit 4) with nothing half-written.
Root only: a small tmpfs is filled to the last byte."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess

import pytest
from helpers import copy_key, counts, ok
from reliability_support import checkpoint, run

pytestmark = pytest.mark.sqlite_only  # the file and its -shm on a full tmpfs

SCREEN = ("--weight", "70", "--bp", "120/80", "--hr", "70", "--phq9", "2,2,2,2,1,1,2,0,0")


@contextlib.contextmanager
def _tmpfs(where, size: str):
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


def test_reads_work_on_a_full_disk(cli, db_path, tmp_path):
    ok(cli("screen", "FD-1", "--name", "Ann Example", *SCREEN))
    ok(cli("followup", "schedule", "FD-1", "--kind", "call", "--due", "2026-11-28"))
    checkpoint(db_path)
    with _tmpfs(tmp_path / "full", "512k") as mnt:
        target = mnt / "clinic.db"
        shutil.copyfile(db_path, target)
        copy_key(db_path, target)  # the copy is verified with the clinic key
        target.chmod(0o600)
        before = counts(target)
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT, 0o600)  # every last byte
        try:
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * 4096):
                    pass
        finally:
            os.close(fd)
        for args in (("patient", "list", "--json"), ("patient", "show", "FD-1"),
                     ("db", "check"), ("audit", "--verify"), ("db", "info"),
                     ("followup", "due", "--within", "30", "--format", "csv"),
                     ("trend", "FD-1", "--json")):
            r = run(target, *args)
            assert r.returncode == 0, (args, r.stderr)
        assert "FD-1" in run(target, "patient", "list", "--json").stdout
        w = run(target, "patient", "add", "FD-2", "--name", "Bob Example")
        assert w.returncode == 4 and w.stderr.startswith("error: disk full"), w.stderr
        (mnt / "filler").unlink()
        assert counts(target) == before
        assert run(target, "db", "check").returncode == 0
        assert run(target, "patient", "add", "FD-2", "--name", "Bob Example").returncode == 0
