"""Regression tests for points found in review."""

from __future__ import annotations

import json


def test_format_json_errors_print_the_json_envelope(cli):
    assert cli("patient", "add", "J-1", "--name", "Json Test").exit_code == 0
    for args in (("followup", "due", "--format", "json", "--date", "2026-13-01"),
                 ("report", "controlled", "--format", "json", "--since", "nope")):
        r = cli(*args)
        assert r.exit_code == 2
        assert json.loads(r.stdout)["error"]["code"]
        assert r.stderr.startswith("error:")


def test_expired_and_needs_review_are_both_listed(cli):
    r = cli("screen", "E-1", "--name", "Expired Review", "--weight", "70", "--bp", "120/80",
            "--hr", "70", "--med", "maoi", "--at", "2026-09-01 08:00")
    assert r.exit_code == 0 and r.json is None
    r = cli("start-session", "E-1", "--bp", "120/80", "--hr", "70", "--json")
    assert r.exit_code == 1
    names = {d["name"] for d in r.json["error"]["details"]}
    assert names == {"screening", "review"}
    r = cli("start-session", "E-1", "--bp", "120/80", "--hr", "70", "--override",
            "reviewed by Dr. A; rescreen booked", "--json")
    assert r.exit_code == 0
    assert set(r.json["data"]["overridden"]) == {"screening", "review"}


def test_protocol_show_prints_brackets_literally(cli):
    r = cli("protocol", "show")
    assert r.exit_code == 0
    assert "[warning, critical]" in r.stdout.replace("\n", " ") or "[warning," in r.stdout


def test_baseline_is_the_screening_that_cleared_the_patient(cli):
    base = ("--name", "Rescreen", "--weight", "70", "--bp", "120/80", "--hr", "70")
    assert cli("screen", "RS-1", *base, "--phq9", "3,3,2,2,2,2,2,1,1",
               "--at", "2026-11-10 08:00").exit_code == 0  # needs review (item 9)
    assert cli("screen", "RS-1", "--weight", "70", "--bp", "120/80", "--hr", "70",
               "--phq9", "2,2,2,2,2,2,2,0,0", "--at", "2026-11-12 08:00").exit_code == 0
    r = cli("start-session", "RS-1", "--bp", "120/80", "--hr", "70", "--at", "2026-11-13 08:00")
    assert r.exit_code == 0, r.stderr
    assert cli("discharge", "--patient", "RS-1", "--aldrete", "10", "--bp", "120/80", "--hr",
               "70", "--transport", "escort", "--at", "2026-11-13 09:30").exit_code == 0
    r = cli("followup", "record", "RS-1", "--phq9", "1,1,1,1,1,1,1,0,0",
            "--at", "2026-11-14 09:00", "--json")
    assert r.json["data"]["phq9"]["baseline"] == 14
    t = cli("trend", "RS-1", "--json").json["data"]
    assert t["baseline"] == 14
    assert t["points"][-1]["change_pct"] == -50.0 and t["latest_status"] == "response"
