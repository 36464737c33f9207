"""What a hostile environment or a careless operator gives ketacli (contract: "Files, faults
and hostile input"): the OS user from the real uid (not $USER/$LOGNAME), KETACLI_BUSY_TIMEOUT
bounded and reported truthfully, --at before 2000-01-01 and dates of birth before 1900
refused, and a warning on stderr when an --at falls in the hour repeated at DST fall-back."""

from __future__ import annotations

import os
import pwd

import pytest
from helpers import assert_one_error, ok, query
from reliability_support import run, write_lock_held

SCREEN = ("--weight", "70", "--bp", "120/80", "--hr", "70")


def test_the_os_user_comes_from_the_real_uid(tmp_path):
    db = tmp_path / "clinic.db"
    r = run(db, "patient", "add", "ENV-1", "--name", "Ann Example", USER="mallory",
            LOGNAME="mallory", LNAME="mallory", USERNAME="mallory")
    assert r.returncode == 0, r.stderr
    me = pwd.getpwuid(os.getuid()).pw_name
    assert {row[0] for row in query(db, "SELECT os_user FROM audit")} == {me}


def test_the_default_clinician_is_the_real_os_user(cli, db_path, monkeypatch):
    monkeypatch.delenv("KETACLI_CLINICIAN")
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    ok(cli("patient", "add", "ENV-2", "--name", "Ann Example"))
    me = pwd.getpwuid(os.getuid()).pw_name
    assert query(db_path, "SELECT DISTINCT clinician, os_user FROM audit WHERE action != "
                          "'migrate'") == [(me, me)]


@pytest.mark.parametrize("value", ["-1", "601", "1e9", "nan", "inf", "soon", "15s"])
def test_busy_timeout_out_of_bounds_is_exit_2(cli, db_path, monkeypatch, value):
    monkeypatch.setenv("KETACLI_BUSY_TIMEOUT", value)
    r = cli("patient", "add", "ENV-3", "--name", "Ann Example")
    assert_one_error(r, 2)
    assert "KETACLI_BUSY_TIMEOUT must be 0-600 seconds" in r.stderr
    assert value not in r.stderr.replace("600", "")  # nothing typed is echoed
    assert not db_path.exists()


@pytest.mark.parametrize("value", ["0", "600", "0.5", " 2 "])
def test_busy_timeout_within_bounds(cli, monkeypatch, value):
    monkeypatch.setenv("KETACLI_BUSY_TIMEOUT", value)
    ok(cli("patient", "add", "ENV-4", "--name", "Ann Example"))


def test_the_lock_message_says_how_long_it_waited(cli, db_path, monkeypatch):
    ok(cli("patient", "add", "ENV-5", "--name", "Ann Example"))
    monkeypatch.setenv("KETACLI_BUSY_TIMEOUT", "0.2")
    with write_lock_held(db_path):
        r = cli("patient", "add", "ENV-6", "--name", "Bob Example")
    assert_one_error(r, 4)
    assert "gave up after 0.2 s" in r.stderr


@pytest.mark.parametrize("at", ["0001-01-02 10:00", "1999-12-31 10:00",
                                "1970-01-01T00:00:00+00:00", "0001-01-02T00:00:00+14:00"])
def test_at_before_2000_is_refused(cli, db_path, at):
    r = cli("screen", "ENV-7", "--name", "Ann Example", *SCREEN, "--at", at)
    assert_one_error(r, 2)
    assert "before 2000-01-01" in r.stderr
    assert not db_path.exists() or query(db_path, "SELECT count(*) FROM screenings") == [(0,)]


def test_a_date_of_birth_before_1900_is_refused(cli):
    assert_one_error(cli("patient", "add", "ENV-8", "--name", "Ann Example",
                         "--dob", "1899-12-31"), 2)
    ok(cli("patient", "add", "ENV-8", "--name", "Ann Example", "--dob", "1900-01-01"))


def test_an_at_in_the_repeated_hour_is_warned_about(cli):
    """2026-11-01 01:30 happens twice in America/Chicago (CDT, then CST)."""
    r = ok(cli("screen", "ENV-9", "--name", "Ann Example", *SCREEN, "--at", "2026-11-01 01:30",
               "--json"))
    assert r.json["data"]["screening_id"] == 1
    assert r.stderr.startswith("warning: --at 2026-11-01 01:30 occurs twice in the clinic zone")
    assert "taken as 01:30-05:00" in r.stderr
    quiet = ok(cli("screen", "ENV-9", *SCREEN, "--at", "2026-11-01T01:30:00-06:00", "--json"))
    assert "warning" not in quiet.stderr
    gap = ok(cli("screen", "ENV-9", *SCREEN, "--at", "2026-11-02 01:30", "--json"))
    assert "occurs twice" not in gap.stderr
