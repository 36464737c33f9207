"""Files written for the user in a folder another user can write (contract: "Files, faults
and hostile input"): the temporary file is created exclusively with an unpredictable name
(a symlink planted at the temporary path is never followed), a symlink at the destination
is replaced, nothing is left behind on an error, a temporary file left by a killed process
is removed by the next run, and no output path may be the database or its -wal/-shm.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from helpers import assert_one_error, key_file, mode, ok

from ketacli import safefile

PLANTED = 12  # the first names mkstemp will try: every one of them is a planted symlink


@pytest.fixture
def clinic(cli):
    ok(cli("screen", "SAFE-1", "--name", "Ann Example", "--weight", "70", "--bp", "120/80",
           "--hr", "70", "--phq9", "2,2,2,2,1,1,2,0,0"))


@pytest.fixture
def planted(monkeypatch, tmp_path):
    """Symlinks at every temporary path the next writes will try (the random names are
    made predictable here, as an attacker who guessed them would see them), each pointing
    at a victim file the attacker wants overwritten, or at a file they want to receive."""
    names = [f"guess{i:03d}" for i in range(400)]
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()

    def candidates():
        return iter(names)

    monkeypatch.setattr(tempfile, "_get_candidate_names", candidates)

    def plant(dest):
        prefix = f".{dest.name}.{os.getpid()}."
        for name in names[:PLANTED]:
            (dest.parent / f"{prefix}{name}{safefile.SUFFIX}").symlink_to(victim)
    return out, victim, plant


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()
                  if p.name.endswith(safefile.SUFFIX) and not p.is_symlink())


def _links_intact(folder, victim) -> None:
    assert victim.read_text() == "precious\n"
    links = [p for p in folder.iterdir() if p.is_symlink() and p.name.endswith(safefile.SUFFIX)]
    assert len(links) == PLANTED and all(os.readlink(p) == str(victim) for p in links)


def test_export_output_never_follows_a_planted_temp_symlink(cli, clinic, planted):
    out, victim, plant = planted
    dest = out / "patients.csv"
    plant(dest)
    ok(cli("export", "patients", "--format", "csv", "--output", dest))
    assert "SAFE-1" in dest.read_text() and not dest.is_symlink() and mode(dest) == 0o600
    _links_intact(out, victim)
    assert _leftovers(out) == []


def test_backup_never_follows_a_planted_temp_symlink(cli, clinic, planted):
    out, victim, plant = planted
    dest = out / "copy.db"
    plant(dest)
    ok(cli("db", "backup", dest))
    assert dest.read_bytes()[:16] == b"SQLite format 3\x00" and mode(dest) == 0o600
    _links_intact(out, victim)
    assert _leftovers(out) == []


def test_trend_svg_never_follows_a_planted_temp_symlink(cli, clinic, planted):
    out, victim, plant = planted
    ok(cli("followup", "record", "SAFE-1", "--phq9", "1,1,1,1,1,1,0,0,0"))
    dest = out / "trend.svg"
    plant(dest)
    ok(cli("trend", "SAFE-1", "--svg", dest))
    assert dest.read_text().startswith("<svg") and mode(dest) == 0o600
    _links_intact(out, victim)


def test_a_symlink_at_the_destination_is_replaced_not_followed(cli, clinic, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    for args, dest in ((("export", "patients", "--format", "json", "--output"), "a.json"),
                       (("db", "backup"), "b.db")):
        link = tmp_path / dest
        link.symlink_to(victim)
        ok(cli(*args, link))
        assert not link.is_symlink() and link.stat().st_size > 0
        assert victim.read_text() == "precious\n"


def test_a_failed_write_leaves_no_temporary_file(cli, clinic, tmp_path, monkeypatch):
    from ketacli.render import export as engine

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine, "write_stream", boom)
    dest = tmp_path / "out.csv"
    assert_one_error(cli("export", "patients", "--format", "csv", "--output", dest), 4)
    assert not dest.exists() and _leftovers(tmp_path) == []


def test_a_temporary_file_of_a_killed_process_is_removed_by_the_next_write(cli, clinic, tmp_path):
    dead = 2 ** 22 + 12345  # beyond pid_max: no such process
    stale = tmp_path / f".out.csv.{dead}.abcdefgh{safefile.SUFFIX}"
    stale.write_text("SAFE-1,Ann Example\n")
    stale_dir = tmp_path / f".copy.db.{dead}.ijklmnop{safefile.SUFFIX}"
    stale_dir.mkdir()
    (stale_dir / "backup.db").write_bytes(b"x")
    mine = tmp_path / f".other.{os.getpid()}.qrstuvwx{safefile.SUFFIX}"  # a live writer's
    mine.write_text("in progress")
    ok(cli("export", "patients", "--format", "csv", "--output", tmp_path / "out.csv"))
    assert not stale.exists() and not stale_dir.exists() and mine.exists()


@pytest.mark.sqlite_only  # the database file and its -wal/-shm (a server has no such file)
@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_no_output_path_may_be_the_database(cli, clinic, db_path, suffix):
    target = f"{db_path}{suffix}"
    ok(cli("followup", "record", "SAFE-1", "--phq9", "1,1,1,1,1,1,0,0,0"))
    before = db_path.read_bytes()
    for args in (("export", "patients", "--format", "csv", "--output", target),
                 ("db", "backup", target), ("trend", "SAFE-1", "--svg", target),
                 ("trend", "SAFE-1", "--html", target)):
        r = cli(*args)
        assert_one_error(r, 2)
    assert db_path.read_bytes() == before


@pytest.mark.parametrize("where", ["beside", "KETACLI_KEY_FILE"])
def test_no_output_path_may_be_the_clinic_key(cli, clinic, db_path, tmp_path, monkeypatch, where):
    """Writing over the key would leave the chain unverifiable and an encrypted database
    unreadable: refused like the database itself."""
    key = key_file(db_path)  # beside the file; for a PostgreSQL clinic, in the user-data folder
    if where == "KETACLI_KEY_FILE":
        moved = tmp_path / "secure" / "clinic.key"
        moved.parent.mkdir()
        shutil.move(key, moved)  # the user-data folder may be another file system
        monkeypatch.setenv("KETACLI_KEY_FILE", str(moved))
        key = moved
    ok(cli("followup", "record", "SAFE-1", "--phq9", "1,1,1,1,1,1,0,0,0"))
    before = key.read_bytes()
    for args in (("export", "patients", "--format", "csv", "--output", key),
                 ("db", "backup", key), ("followup", "due", "--output", key),
                 ("trend", "SAFE-1", "--svg", key)):
        r = cli(*args)
        assert_one_error(r, 2)
        assert "--output is the clinic key file" in r.stderr
    assert key.read_bytes() == before
    assert ok(cli("db", "check", "--json")).json["data"]["ok"] is True
