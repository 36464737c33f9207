"""Corrections are new rows: `void` keeps the original, every read model skips it,
and the audit log shows who voided what, when and why.

The pinned clock says 2026-11-27 09:00 America/Chicago. VD-1 was screened on Nov 1
(PHQ-9 20), had six infusions (Nov 10-20) and two PHQ-9 assessments after the sixth:
2 (remission) on Nov 22, then 20 (no response) on Nov 25 - the one later voided as
entered in error. VD-2 was only screened, and that screening is voided too.
"""

from __future__ import annotations

import json

import pytest
from helpers import counts, ok, query
from reliability_support import assert_error_shape

BASELINE = "3,3,3,3,2,2,2,2,0"   # 20
REMISSION = "0,0,0,0,0,0,1,1,0"  # 2
DAYS = (10, 12, 14, 16, 18, 20)


def _at(day: int, hhmm: str) -> str:
    return f"2026-11-{day:02d} {hhmm}"


@pytest.fixture
def course(cli):
    ok(cli("screen", "VD-1", "--name", "Void Patient", "--weight", "80", "--bp", "124/80",
           "--hr", "72", "--phq9", BASELINE, "--at", _at(1, "08:00")))
    sessions = []
    for day in DAYS:
        sid = ok(cli("start-session", "VD-1", "--bp", "124/80", "--hr", "70", "--at",
                     _at(day, "08:00"), "--json")).json["data"]["session_id"]
        sessions.append(sid)
        if day == DAYS[0]:
            alert = ok(cli("log-vitals", sid, "--bp", "185/115", "--hr", "88", "--at",
                           _at(day, "08:20"), "--json")).json["data"]
            assert {a["parameter"]: a["level"] for a in alert["alerts"]} == {
                "sbp": "critical", "dbp": "critical", "sbp_rise": "critical",
                "dbp_rise": "warning"}  # 185/115 after a pre-infusion 124/80
            kept = ok(cli("log-vitals", sid, "--bp", "132/84", "--at", _at(day, "08:25"),
                          "--json")).json["data"]
            event = ok(cli("log-event", sid, "medication", "--detail", "ondansetron 4 mg IV",
                           "--at", _at(day, "08:30"), "--json")).json["data"]
        ok(cli("discharge", sid, "--aldrete", "10", "--bp", "124/80", "--hr", "72",
               "--transport", "escort", "--at", _at(day, "09:30")))
    first = ok(cli("followup", "record", "VD-1", "--phq9", REMISSION, "--at", _at(22, "10:00"),
                   "--json")).json["data"]["assessment_id"]
    wrong = ok(cli("followup", "record", "VD-1", "--phq9", BASELINE, "--at", _at(25, "10:00"),
                   "--json")).json["data"]["assessment_id"]
    screening2 = ok(cli("screen", "VD-2", "--name", "Wrong Chart", "--weight", "70", "--bp",
                        "120/80", "--hr", "70", "--phq9", BASELINE, "--at", _at(21, "08:00"),
                        "--json")).json["data"]["screening_id"]
    return {"s1": sessions[0], "alert_obs": alert["observation_id"],
            "kept_obs": kept["observation_id"], "event": event["event_id"],
            "first_assessment": first, "wrong_assessment": wrong, "screening2": screening2}


def _export(cli, table: str) -> list[dict]:
    r = ok(cli("export", table, "--format", "json"))
    return json.loads(r.stdout)["data"]


def _void(cli, kind: str, rid: int, reason: str) -> dict:
    return ok(cli("void", kind, rid, "--reason", reason, "--json")).json["data"]


def test_void_keeps_the_original_and_every_view_skips_it(cli, db_path, course):
    c = course
    outcomes = ok(cli("report", "outcomes", "--json")).json["data"]
    assert outcomes["patients_screened"] == 2
    assert outcomes["sessions_with_alert"] == 1
    assert outcomes["patients_completed_induction"] == 1
    assert outcomes["response_rate"] == 0.0 and outcomes["remission_rate"] == 0.0
    assert ok(cli("trend", "VD-1", "--json")).json["data"]["latest_status"] == "no-response"

    voids = [
        _void(cli, "observation", c["alert_obs"], "entered on the wrong patient"),
        _void(cli, "event", c["event"], "ondansetron was not given"),
        _void(cli, "assessment", c["wrong_assessment"], "baseline copied by mistake"),
        _void(cli, "screening", c["screening2"], "wrong chart"),
    ]

    # the originals stay, unchanged
    assert query(db_path, "SELECT sbp, dbp FROM observations WHERE id = ?",
                 (c["alert_obs"],)) == [(185, 115)]
    assert query(db_path, "SELECT detail FROM events WHERE id = ?",
                 (c["event"],)) == [("ondansetron 4 mg IV",)]
    assert query(db_path, "SELECT phq9_total FROM assessments WHERE id = ?",
                 (c["wrong_assessment"],)) == [(20,)]
    assert query(db_path, "SELECT count(*) FROM screenings WHERE id = ?",
                 (c["screening2"],)) == [(1,)]

    # summary --json
    summ = ok(cli("summary", c["s1"], "--json")).json["data"]
    ids = [o["observation_id"] for o in summ["observations"]]
    assert c["alert_obs"] not in ids and c["kept_obs"] in ids
    assert summ["events"] == []
    assert summ["alert_counts"] == {"warning": 0, "critical": 0}
    assert "185" not in json.dumps(summ["vitals_range"]), summ["vitals_range"]

    # export
    assert c["alert_obs"] not in [r["observation_id"] for r in _export(cli, "observations")]
    assert c["kept_obs"] in [r["observation_id"] for r in _export(cli, "observations")]
    assert c["event"] not in [r["event_id"] for r in _export(cli, "events")]
    kept = [r["assessment_id"] for r in _export(cli, "assessments")]
    assert c["wrong_assessment"] not in kept and c["first_assessment"] in kept
    assert c["screening2"] not in [r["screening_id"] for r in _export(cli, "screenings")]
    ndjson = ok(cli("export", "observations", "--format", "ndjson")).stdout.splitlines()
    assert c["alert_obs"] not in [json.loads(line)["observation_id"] for line in ndjson]
    fhir = ok(cli("export", "observations", "--format", "fhir")).stdout
    assert '"value": 185,' not in fhir and '"value": 132,' in fhir  # systolics: voided, kept

    # trend: the voided PHQ-9 of 20 is gone; the latest is the remission
    trend = ok(cli("trend", "VD-1", "--json")).json["data"]
    assert [p["total"] for p in trend["points"]] == [20, 2]
    assert trend["latest_status"] == "remission"

    # report outcomes
    outcomes = ok(cli("report", "outcomes", "--json")).json["data"]
    assert outcomes["sessions_with_alert"] == 0
    assert outcomes["response_rate"] == 1.0 and outcomes["remission_rate"] == 1.0
    assert outcomes["patients_screened"] == 1

    # audit --json: who voided what, when and why
    rows = [r for r in ok(cli("audit", "--json")).json["data"] if r["action"] == "void"]
    assert [(r["entity"], r["entity_id"], r["detail"]["reason"]) for r in rows] == [
        ("observation", c["alert_obs"], "entered on the wrong patient"),
        ("event", c["event"], "ondansetron was not given"),
        ("assessment", c["wrong_assessment"], "baseline copied by mistake"),
        ("screening", c["screening2"], "wrong chart"),
    ]
    for r, v in zip(rows, voids, strict=True):
        assert r["clinician"] == "nurse.test"
        assert r["at"] == v["voided_at"] == "2026-11-27T15:00:00+00:00"
        assert r["detail"]["void_id"] == v["void_id"]
        assert r["patient"] == ("VD-2" if r["entity"] == "screening" else "VD-1")
    assert ok(cli("audit", "--verify")).exit_code == 0


def test_a_void_is_once_and_needs_a_reason(cli, db_path, course):
    c = course
    _void(cli, "observation", c["kept_obs"], "duplicate entry")
    before = counts(db_path)
    again = cli("void", "observation", c["kept_obs"], "--reason", "again", "--json")
    assert_error_shape(again.exit_code, again.stdout, again.stderr, expect=3, json_out=True)
    assert again.json["error"]["code"] == "already_voided"
    for args in (("void", "observation", c["alert_obs"], "--reason", " "),
                 ("void", "observation", c["alert_obs"]),
                 ("void", "discharge", c["s1"], "--reason", "no such kind"),
                 ("void", "observation", 999, "--reason", "missing")):
        r = cli(*args)
        assert r.exit_code in (2, 3), (args, r.stderr)
        assert_error_shape(r.exit_code, r.stdout, r.stderr)
    assert counts(db_path) == before
