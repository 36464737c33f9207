"""The clinic zone belongs to the database (docs/cli-contract.md, "Global settings"):
stored at creation, used by every command, another --tz refused with the hint,
`db set-tz` audited; a command that creates a database says so on stderr."""

from __future__ import annotations

import json

import pytest
from helpers import ok, query
from infusion_support import MRN, assert_error, at, open_session, screened


def zone(db_path):
    return query(db_path, "SELECT value FROM clinic_settings WHERE key = 'tz'")


def test_a_new_database_stores_the_zone_in_force_and_says_it_was_created(cli, db_path):
    r = ok(cli("patient", "add", MRN, "--name", "Ann Example"))
    assert r.stderr == f"note: created a new database at {db_path}\n"
    assert zone(db_path) == [("America/Chicago",)]
    again = ok(cli("patient", "add", "KX-2", "--name", "Bo Example"))
    assert again.stderr == ""
    [(action, detail)] = query(db_path, "SELECT action, detail FROM audit "
                                        "WHERE entity = 'clinic'")
    assert action == "set-tz" and json.loads(detail)["to"] == "America/Chicago"


def test_db_migrate_creates_with_the_note_and_the_zone(cli, db_path):
    r = ok(cli("--tz", "Europe/Paris", "db", "migrate"))
    assert "note: created a new database" in r.stderr
    assert zone(db_path) == [("Europe/Paris",)]


def test_without_tz_a_new_database_takes_the_system_zone(cli, db_path, monkeypatch):
    monkeypatch.delenv("KETACLI_TZ")
    monkeypatch.setattr("ketacli.clock.system_zone_name", lambda: "Asia/Tokyo")
    ok(cli("patient", "add", MRN, "--name", "Ann Example"))
    assert zone(db_path) == [("Asia/Tokyo",)]


def test_every_command_uses_the_stored_zone(cli, db_path, monkeypatch):
    sid = open_session(cli, MRN, when=at("07:40"))  # stored 13:40Z (Chicago)
    monkeypatch.delenv("KETACLI_TZ")  # a cron job or a shell without the clinic's zone
    r = ok(cli("board"))
    assert "Board 09:00 America/Chicago" in r.stdout
    data = ok(cli("log-vitals", sid, "--bp", "130/80", "--hr", "70", "--at", "08:00",
                  "--json")).json["data"]
    assert data["recorded_at"] == "2026-11-27T14:00:00+00:00"


def test_another_tz_is_refused_with_the_hint_and_stores_nothing(cli, db_path):
    screened(cli, MRN)
    before = query(db_path, "SELECT count(*) FROM audit")
    r = cli("--tz", "UTC", "start-session", MRN, "--bp", "130/80", "--hr", "70", "--json")
    assert_error(r, 2, json_out=True)
    assert r.json["error"]["code"] == "clinic_zone_mismatch"
    assert r.stderr.splitlines() == [
        "error: this database's clinic zone is America/Chicago; change it with "
        "'ketacli db set-tz ZONE'",
        "hint: leave out --tz / KETACLI_TZ: every command uses the stored zone"]
    assert query(db_path, "SELECT count(*) FROM audit") == before
    ok(cli("--tz", "America/Chicago", "board"))  # the same zone is fine


def test_set_tz_changes_the_zone_audited(cli, db_path):
    screened(cli, MRN)
    data = ok(cli("db", "set-tz", "America/New_York", "--reason", "the clinic moved east",
                  "--json")).json["data"]
    assert data["tz"] == "America/New_York" and data["previous"] == "America/Chicago"
    assert zone(db_path) == [("America/New_York",)]
    [(detail,)] = query(db_path, "SELECT detail FROM audit WHERE action = 'set-tz' "
                                 "ORDER BY id DESC LIMIT 1")
    assert json.loads(detail) == {"from": "America/Chicago", "to": "America/New_York",
                                  "reason": "the clinic moved east"}
    assert_error(cli("board"), 2)  # KETACLI_TZ still names Chicago
    ok(cli("--tz", "America/New_York", "board"))


@pytest.mark.parametrize("args", [["Mars/Olympus", "--reason", "a typo in the zone"],
                                  ["America/Denver"]])
def test_set_tz_needs_a_real_zone_and_a_reason(cli, db_path, args):
    screened(cli, MRN)
    assert_error(cli("db", "set-tz", *args), 2)
    assert zone(db_path) == [("America/Chicago",)]


def test_set_tz_without_a_database_exits_4(cli, db_path):
    assert_error(cli("db", "set-tz", "UTC", "--reason", "setting up the clinic"), 4)
    assert not db_path.exists()
