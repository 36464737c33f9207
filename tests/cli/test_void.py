"""`void` (ketacli.cli.void; docs/cli-contract.md, "Records and safety"): a record marked
entered-in-error stays stored, is marked in the voids table and the audit log, and leaves
the summary, the infusion's course and the start rules; voiding twice, an unknown id or a
bad kind stores nothing."""

from __future__ import annotations

import json

import pytest
from helpers import counts, diff, ok, query
from infusion_support import (
    MRN,
    assert_error,
    at,
    closed_session,
    event,
    last_audit,
    screened,
    start,
    summary_json,
    utc,
    vitals,
)

VOID_KEYS = {"void_id", "kind", "id", "patient", "voided_at", "reason"}


def test_void_an_observation(cli, db_path, sid):
    oid = ok(vitals(cli, sid, "--bp", "185/95", "--hr", "80", when=at("08:00"))).json[
        "data"]["observation_id"]
    assert summary_json(cli, sid)["alert_counts"]["critical"] == 1
    before = counts(db_path)

    r = ok(cli("void", "observation", oid, "--reason", "cuff on the wrong patient", "--json"))
    d = r.json["data"]
    assert set(d) >= VOID_KEYS
    assert (d["kind"], d["id"], d["patient"]) == ("observation", oid, MRN)
    assert diff(before, counts(db_path)) == {"voids": 1, "audit": 1}

    s = summary_json(cli, sid)
    assert oid not in [o["observation_id"] for o in s["observations"]]
    assert s["alert_counts"]["critical"] == 0
    assert "185" not in ok(cli("summary", sid)).stdout
    # the original stays, marked in the voids table and the audit log
    assert query(db_path, "SELECT sbp FROM observations WHERE id = ?", (oid,)) == [(185,)]
    assert query(db_path, "SELECT kind, target_id, reason, clinician FROM voids") == [
        ("observation", oid, "cuff on the wrong patient", "nurse.test")]
    action, entity, entity_id, patient, detail = last_audit(db_path)
    assert (action, entity, entity_id, patient) == ("void", "observation", oid, MRN)
    assert json.loads(detail)["reason"] == "cuff on the wrong patient"


def test_void_human_output(cli, sid):
    r = ok(cli("void", "observation", 1, "--reason", "typo"))
    assert "Voided observation 1" in r.stdout


def test_void_twice_exits_3(cli, db_path, sid):
    ok(cli("void", "observation", 1, "--reason", "typo"))
    before = counts(db_path)
    r = cli("void", "observation", 1, "--reason", "typo again", "--json")
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "already_voided"
    assert diff(before, counts(db_path)) == {}


@pytest.mark.parametrize("kind", ["observation", "event", "screening", "assessment"])
def test_void_unknown_id_exits_3(cli, db_path, sid, kind):
    before = counts(db_path)
    r = cli("void", kind, 999, "--reason", "typo")
    assert_error(r, 3)
    assert "999" in r.stderr
    assert diff(before, counts(db_path)) == {}


@pytest.mark.parametrize("args", [
    ("vitals", "1", "--reason", "typo"),
    ("discharge", "1", "--reason", "typo"),
    ("observation", "1"),
    ("observation", "1", "--reason", "  "),
    ("observation", "one", "--reason", "typo"),
])
def test_void_usage_exits_2(cli, db_path, sid, args):
    before = counts(db_path)
    assert_error(cli("void", *args), 2)
    assert diff(before, counts(db_path)) == {}


def test_void_an_event_recomputes_the_course(cli, sid):
    eid = ok(event(cli, sid, "stop", when=at("08:00"))).json["data"]["event_id"]
    assert summary_json(cli, sid)["infusion_end"] == utc("08:00")
    ok(cli("void", "event", eid, "--reason", "stop was for another chair"))
    s = summary_json(cli, sid)
    assert s["events"] == [] and s["infusion_end"] == utc("08:20")
    # and the state machine no longer sees it: a pause is possible again
    ok(event(cli, sid, "pause", when=at("08:05")))


def test_void_the_screening_refuses_the_start(cli, db_path):
    scid = screened(cli, MRN)
    ok(cli("void", "screening", scid, "--reason", "wrong chart"))
    r = start(cli, MRN, "--weight", "80")
    assert_error(r, 1, json_out=True)
    assert [d["name"] for d in r.json["error"]["details"]] == ["screening"]


def test_void_on_a_closed_session(cli, db_path):
    sid = closed_session(cli, MRN)
    oid = summary_json(cli, sid)["observations"][0]["observation_id"]
    ok(cli("void", "observation", oid, "--reason", "duplicate entry"))
    assert oid not in [o["observation_id"] for o in summary_json(cli, sid)["observations"]]
