"""No patient data where it does not belong: errors, tracebacks, file modes.

A patient with a distinctive name, date of birth and note; then many wrong command
lines (with and without --json), including that patient's own data typed into the
wrong slot. Neither stderr nor the JSON error on stdout may show the name, the date
of birth or the note, and no traceback ever shows without KETACLI_DEBUG=1. Every file
ketacli creates holding patient data is 0600 (directories 0700), even under umask 022.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import counts, mode, ok
from reliability_support import (
    DOB,
    NAME,
    NOTE,
    PHQ9,
    assert_no_pii,
    env_for,
    iso,
    open_session,
    real_clock,
    run,
)

MRN = "LK-1"


@pytest.fixture
def patient(cli, db_path):
    """LK-1 (the distinctive patient) infusing since 10 minutes ago, notes everywhere."""
    now = real_clock()
    sid = open_session(cli, MRN, now)
    ok(cli("log-vitals", sid, "--hr", "84", "--note", NOTE))
    ok(cli("log-event", sid, "adverse", "--detail", NOTE))
    ok(cli("patient", "add", "LK-2", "--name", NAME, "--dob", DOB, "--phone", "+1 555 0199"))
    return sid, now


def _wrong_lines(sid: int, now) -> list[tuple]:
    soon = iso(now + timedelta(hours=2))
    return [
        # the patient's own data in the wrong slot
        ("patient", "show", NAME),
        ("patient", "add", NAME, "--name", NAME),
        ("patient", "add", MRN, "--name", NAME, "--dob", DOB),           # exists (exit 3)
        ("patient", "add", "LK-3", "--name", NAME, "--dob", "1931-05-32"),
        ("patient", "add", "LK-3", "--name", NAME, "--dob", "2931-05-17"),
        ("patient", "add", "LK-3", "--name", NAME, "--phone", NOTE),
        ("patient", "add", "LK-3", "--name", NAME + "\x07"),
        ("patient", "add", "LK-3", "--name", NAME * 10),
        ("patient", "add", "LK-3", "--name", NAME, "Quixotic", "Farnsworth"),  # unquoted
        ("screen", MRN, "--weight", NAME, "--bp", "120/80", "--hr", "70"),
        ("screen", MRN, "--weight", "80", "--bp", DOB, "--hr", "70"),
        ("screen", MRN, "--weight", "80", "--bp", "120/80", "--hr", "70", "--condition", NOTE),
        ("screen", MRN, "--weight", "80", "--bp", "120/80", "--hr", "70", "--med", NAME),
        ("screen", MRN, "--weight", "80", "--bp", "120/80", "--hr", "70", "--indication", NOTE),
        ("screen", MRN, "--weight", "80", "--bp", "120/80", "--hr", "70", "--at", DOB),
        ("screen", MRN, "--weight", "80", "--bp", "120/80", "--hr", "70", "--note", NOTE + "\x00"),
        ("screen", "LK-NEW", "--weight", "80", "--bp", "120/80", "--hr", "70", "--dob", DOB),
        ("screen", "LK-NEW", "--name", NAME, "--weight", "80", "--bp", "120/80", "--hr", "70",
         "--dob", "17/05/1931"),
        ("screen", MRN, "--weight", "80", "--bp", "120/80", "--hr", "70", "--phq9", NOTE),
        ("log-vitals", sid, "--hr", "84", "--at", NOTE),
        ("log-vitals", sid, "--hr", "84", "--at", DOB),
        ("log-vitals", sid, "--hr", "84", "--at", soon),
        ("log-vitals", sid, "--bp", NOTE),
        ("log-vitals", sid, "--hr", "999", "--note", NOTE),
        ("log-vitals", sid, "--note", NOTE),
        ("log-vitals", "--patient", NAME, "--hr", "80"),
        ("log-vitals", "--patient", "LK-2", "--hr", "80"),                # no open session
        ("log-vitals", "4242", "--hr", "80", "--note", NOTE),             # no such session
        ("log-event", sid, NOTE),
        ("log-event", sid, "adverse"),
        ("log-event", sid, "medication", "--detail", NOTE + "\x1b[2J"),
        ("log-event", sid, "resume", "--detail", NOTE),                   # not paused (exit 3)
        ("log-event", NAME, "pause"),
        ("start-session", MRN, "--bp", "120/80", "--hr", "70"),           # already open (exit 3)
        ("start-session", "LK-2", "--bp", "120/80", "--hr", "70", "--weight", "80", "--site",
         NOTE),                                                            # no screening (1)
        ("start-session", "LK-2", "--bp", "120/80", "--hr", "70", "--lot", NOTE * 3),
        ("discharge", sid, "--aldrete", "10", "--bp", "120/80", "--hr", "70", "--transport",
         "self-drive", "--escort", NAME, "--note", NOTE),                  # refused (1)
        ("discharge", sid, "--aldrete", "10", "--bp", "120/80", "--hr", "70", "--transport",
         "escort", "--side-effect", NOTE),
        ("discharge", sid, "--aldrete", "10", "--bp", "120/80", "--hr", "70", "--transport", NAME),
        ("discharge", sid, "--aldrete", "10", "--bp", "120/80", "--hr", "70", "--transport",
         "escort", "--wasted-mg", "5", "--waste-witness", "nurse.reliability"),
        ("discharge", sid, "--aldrete-items", NOTE, "--bp", "120/80", "--hr", "70"),
        ("discharge", sid, "--aldrete", "10", "--bp", "120/80", "--hr", "70", "--transport",
         "escort", "--infusion-end", NOTE),
        ("summary", "4242"),
        ("void", "observation", "4242", "--reason", NOTE),
        ("void", NOTE, "1", "--reason", "wrong patient"),
        ("void", "observation", "2", "--reason", "   "),
        ("followup", "schedule", MRN, "--kind", "call", "--due", DOB, "--note", NOTE),
        ("followup", "schedule", MRN, "--kind", NOTE, "--due", "2099-01-01"),
        ("followup", "schedule", MRN, "--kind", "call", "--due", NOTE),
        ("followup", "record", MRN, "--phq9", DOB, "--note", NOTE),
        ("followup", "record", MRN, "--note", NOTE),
        ("followup", "cancel", "4242", "--reason", NOTE),
        ("followup", "due", "--date", DOB, "--within", "400"),
        ("followup", "due", "--date", NAME),
        ("followup", "due", "--overdue", "--date", NOTE),
        ("trend", MRN, "--measure", NOTE),
        ("trend", "LK-2"),                                                 # no scores (exit 3)
        ("report", "outcomes", "--since", NOTE),
        ("report", "outcomes", "--since", "2026-02-01", "--until", DOB),
        ("report", "controlled", "--until", NAME),
        ("audit", "--patient", NAME),
        ("audit", "--since", DOB + "x"),
        ("audit", "--limit", "0"),
        ("export", "patients", "--format", NOTE),
        ("export", "patients", "--since", NAME),
        ("db", "backup", "/nonexistent-dir/backup.db"),
        ("demo", "--patients", "5"),                                       # real patients here
        ("protocol", "show", NOTE),
        ("no-such-command", NAME),
    ]


def test_errors_never_show_name_dob_or_note(cli, db_path, patient):
    sid, now = patient
    lines = _wrong_lines(sid, now)
    seen: dict[int, int] = {}
    for args in lines:
        for json_out in (False, True):
            full = [str(a) for a in args] + (["--json"] if json_out else [])
            before = counts(db_path)
            r = cli(*full)
            assert r.exception is None or isinstance(r.exception, SystemExit), (full, r.exception)
            assert r.exit_code in (1, 2, 3, 4), (full, r.exit_code, r.stdout, r.stderr)
            assert "Traceback" not in r.output
            assert_no_pii(r.stderr, r.stdout)
            lines_err = r.stderr.splitlines()
            assert lines_err and lines_err[0].startswith("error: "), (full, r.stderr)
            if not json_out:
                assert r.stdout == "", (full, r.stdout)
            elif r.stdout:
                assert set(r.json) == {"error"}, (full, r.stdout)
            after = counts(db_path)
            if r.exit_code == 1:
                assert {t for t in after if after[t] != before[t]} == {"audit"}, full
            else:
                assert after == before, full
            seen[r.exit_code] = seen.get(r.exit_code, 0) + 1
    assert set(seen) >= {1, 2, 3}, seen
    print(f"\n{2 * len(lines)} wrong command lines: exit codes {dict(sorted(seen.items()))}")


def test_console_script_never_shows_a_traceback(cli, db_path, patient):
    """The same through the installed script with KETACLI_DEBUG unset (and set to 0)."""
    sid, now = patient
    lines = [a for a in _wrong_lines(sid, now) if not any("\x00" in str(x) for x in a)]
    for i, args in enumerate(lines[::5]):
        for extra in ({"KETACLI_DEBUG": "0"} if i % 3 == 0 else {},):
            r = run(db_path, *args, **extra)
            assert r.returncode in (1, 2, 3, 4), r
            assert "Traceback" not in r.stdout + r.stderr, r
            assert_no_pii(r.stdout, r.stderr)
            assert r.stderr.startswith("error: "), r


def test_files_are_0600_and_new_directories_0700(cli, tmp_path, umask_022):
    now = real_clock()
    # a database in directories that do not exist yet (through the real script)
    db = tmp_path / "new" / "deeper" / "clinic.db"
    r = run(db, "screen", "FM-1", "--name", NAME, "--dob", DOB, "--weight", "80", "--bp",
            "124/80", "--hr", "72", "--phq9", PHQ9, "--note", NOTE,
            "--at", iso(now - timedelta(hours=1)))
    assert r.returncode == 0, r
    assert mode(db) == 0o600
    assert mode(tmp_path / "new") == 0o700
    assert mode(tmp_path / "new" / "deeper") == 0o700
    for side in (db.with_name("clinic.db-wal"), db.with_name("clinic.db-shm")):
        if side.exists():
            assert mode(side) == 0o600, side
    ok(run(db, "followup", "record", "FM-1", "--phq9", "1,1,1,1,1,1,1,0,0"))

    # the default location (platformdirs under XDG_DATA_HOME): directory 0700, file 0600
    env = env_for(None, XDG_DATA_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path / "home"))
    r = run(None, "patient", "add", "FM-2", "--name", NAME, env=env)
    assert r.returncode == 0, r
    default_db = tmp_path / "xdg" / "ketacli" / "ketacli.db"
    assert mode(default_db) == 0o600
    assert mode(default_db.parent) == 0o700

    # backups, exports and charts
    backup = tmp_path / "backup.db"
    assert run(db, "db", "backup", backup).returncode == 0
    assert mode(backup) == 0o600
    out = tmp_path / "patients.csv"
    assert run(db, "export", "patients", "--output", out).returncode == 0
    assert mode(out) == 0o600 and NAME in out.read_text()
    folder = tmp_path / "exports" / "nightly"
    assert run(db, "export", "all", "--format", "csv", "--output", folder).returncode == 0
    assert mode(tmp_path / "exports") == 0o700 and mode(folder) == 0o700
    assert sorted(p.name for p in folder.iterdir())
    for f in folder.iterdir():
        assert mode(f) == 0o600, f
    fhir = tmp_path / "bundle.json"
    assert run(db, "export", "all", "--format", "fhir", "--output", fhir).returncode == 0
    assert mode(fhir) == 0o600
    svg, html = tmp_path / "trend.svg", tmp_path / "trend.html"
    r = run(db, "trend", "FM-1", "--svg", svg, "--html", html)
    assert r.returncode == 0, r
    assert mode(svg) == 0o600 and mode(html) == 0o600
    # an existing chart file that was world-readable is tightened when rewritten
    svg.chmod(0o644)
    assert run(db, "trend", "FM-1", "--svg", svg).returncode == 0
    assert mode(svg) == 0o600
    # nothing else was left behind (no .partial files)
    assert not [p for p in tmp_path.rglob("*partial*")] + list(tmp_path.rglob("*.ketacli-tmp"))
    assert_no_pii(*(p.name for p in tmp_path.rglob("*")))
