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
