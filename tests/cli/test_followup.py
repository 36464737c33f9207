"""The `followup` group through the CLI (ketacli.cli.followup; docs/cli-contract.md,
`followup` group and "Clinic protocol"): schedule, list, done, cancel and record; and the
follow-ups a discharge schedules. `followup due`, the cron entry point, is in
test_followup_due.py.

The clock is pinned to 2026-11-27 09:00 America/Chicago; follow-ups due in the past
are scheduled with the clock pinned a week earlier (`followup schedule` refuses a
past --due, as it should).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from helpers import FIXED_NOW, query, scalar
from outcome_support import A_WEEK_AGO, NOW_ISO, assess, fails, infusion, ok, phq9, schedule, screen

from ketacli.clock import CLOCK

FOLLOWUP_KEYS = {"followup_id", "patient", "kind", "due", "status", "session_id", "note",
                 "created_at", "created_by", "closed_at", "closed_by", "cancel_reason",
                 "notified_at"}


def status_of(db_path, fid):
    return scalar(db_path, "SELECT status FROM followups WHERE id = ?", (fid,))


@pytest.fixture
def patient(cli):
    ok(cli("patient", "add", "FU-1", "--name", "Ann Able", "--phone", "555-0101"))
    return "FU-1"


# --------------------------------------------------------------------------- schedule / list
def test_schedule_then_list(cli, db_path, patient):
    d = schedule(cli, patient, "call", "2026-11-30", "--note", "ask about sleep")
    assert set(d) == FOLLOWUP_KEYS
    assert d["patient"] == "FU-1" and d["kind"] == "call" and d["due"] == "2026-11-30"
    assert d["status"] == "pending"
    assert d["note"] == "ask about sleep"
    assert d["created_at"] == NOW_ISO and d["created_by"] == "nurse.test"
    assert d["closed_at"] is None and d["notified_at"] is None and d["session_id"] is None

    r = cli("followup", "schedule", patient, "--kind", "Assessment", "--due", "2026-11-27")
    assert r.exit_code == 0, r.stderr  # today (clinic zone) is not the past; kind is case-blind
    assert "assessment" in r.stdout and "2026-11-27" in r.stdout

    rows = ok(cli("followup", "list", patient, "--json"))
    assert [(x["kind"], x["due"], x["status"]) for x in rows] == [
        ("assessment", "2026-11-27", "pending"), ("call", "2026-11-30", "pending")]
    assert all(set(x) == FOLLOWUP_KEYS for x in rows)
    audit = query(db_path, "SELECT action, entity, entity_id, patient FROM audit "
                           "WHERE entity = 'followup' ORDER BY id")
    assert audit == [("schedule", "followup", d["followup_id"], "FU-1"),
                     ("schedule", "followup", rows[0]["followup_id"], "FU-1")]

    human = cli("followup", "list", patient)
    assert human.exit_code == 0
    assert "Follow-ups of FU-1" in human.stdout
    assert "pending" in human.stdout and "2026-11-30" in human.stdout


def test_list_shows_every_status(cli, patient):
    a = schedule(cli, patient, "call", "2026-11-28")["followup_id"]
    b = schedule(cli, patient, "infusion", "2026-11-29")["followup_id"]
    c = schedule(cli, patient, "assessment", "2026-11-30")["followup_id"]
    done = ok(cli("followup", "done", str(a), "--json"))
    assert done["status"] == "done" and done["closed_at"] == NOW_ISO
    assert done["closed_by"] == "nurse.test"
    cancelled = ok(cli("followup", "cancel", str(b), "--reason", "patient moved", "--json"))
    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "patient moved"
    rows = ok(cli("followup", "list", patient, "--json"))
    assert [(x["followup_id"], x["status"]) for x in rows] == [
        (a, "done"), (b, "cancelled"), (c, "pending")]


def test_done_and_cancel_write_audit_rows(cli, db_path, patient):
    a = schedule(cli, patient, "call", "2026-11-28")["followup_id"]
    b = schedule(cli, patient, "call", "2026-11-29")["followup_id"]
    assert cli("followup", "done", str(a)).stdout.strip() == f"Follow-up {a} done."
    assert cli("followup", "cancel", str(b), "--reason", "duplicate").stdout.strip() == (
        f"Follow-up {b} cancelled.")
    rows = query(db_path, "SELECT action, entity_id, patient, detail FROM audit "
                          "WHERE entity = 'followup' AND action != 'schedule' ORDER BY id")
    assert [(x[0], x[1], x[2]) for x in rows] == [("complete", a, "FU-1"), ("cancel", b, "FU-1")]
    # the reason, and the seal of the follow-up as it now stands (a later raw UPDATE shows)
    assert json.loads(rows[1][3]).keys() == {"reason", "row_sha256"}
    assert json.loads(rows[1][3])["reason"] == "duplicate"


def test_schedule_refusals(cli, db_path, patient):
    before = scalar(db_path, "SELECT count(*) FROM followups")
    fails(cli("followup", "schedule", patient, "--kind", "call", "--due", "2026-13-01"), 2)
    fails(cli("followup", "schedule", patient, "--kind", "call", "--due", "tomorrow"), 2)
    fails(cli("followup", "schedule", patient, "--kind", "call", "--due", "2026-11-26"), 2)
    fails(cli("followup", "schedule", patient, "--kind", "visit", "--due", "2026-11-30"), 2)
    fails(cli("followup", "schedule", "NOPE-9", "--kind", "call", "--due", "2026-11-30"), 3)
    fails(cli("followup", "schedule", "bad mrn!", "--kind", "call", "--due", "2026-11-30"), 2)
    fails(cli("followup", "list", "NOPE-9"), 3)
    assert scalar(db_path, "SELECT count(*) FROM followups") == before

    r = cli("followup", "schedule", patient, "--kind", "call", "--due", "2026-11-26", "--json")
    assert r.exit_code == 2
    assert r.json["error"]["code"] == "past_date"


def test_done_and_cancel_errors(cli, db_path, patient):
    fid = schedule(cli, patient, "call", "2026-11-28")["followup_id"]
    fails(cli("followup", "done", "999"), 3)
    fails(cli("followup", "cancel", "999", "--reason", "x"), 3)
    r = cli("followup", "done", "999", "--json")
    assert r.exit_code == 3 and r.json["error"]["code"] == "followup_not_found"

    fails(cli("followup", "cancel", str(fid)), 2)            # no --reason
    fails(cli("followup", "cancel", str(fid), "--reason", "   "), 2)
    assert status_of(db_path, fid) == "pending"

    assert cli("followup", "done", str(fid)).exit_code == 0
    audit_rows = scalar(db_path, "SELECT count(*) FROM audit")
    fails(cli("followup", "done", str(fid)), 3)              # done twice
    fails(cli("followup", "cancel", str(fid), "--reason", "late"), 3)
    r = cli("followup", "done", str(fid), "--json")
    assert r.exit_code == 3 and r.json["error"]["code"] == "followup_closed"
    assert status_of(db_path, fid) == "done"
    assert scalar(db_path, "SELECT count(*) FROM audit") == audit_rows

    other = schedule(cli, patient, "call", "2026-11-29")["followup_id"]
    assert cli("followup", "cancel", str(other), "--reason", "no need").exit_code == 0
    fails(cli("followup", "done", str(other)), 3)            # cancelled, then done
    assert status_of(db_path, other) == "cancelled"


def test_due_dates_are_days_in_the_clinic_zone(cli, monkeypatch, patient):
    # 2026-11-28 03:00 UTC is still 2026-11-27 (21:00) in Chicago
    CLOCK.pin(datetime(2026, 11, 28, 3, 0, tzinfo=UTC))
    today = schedule(cli, patient, "call", "2026-11-27")["followup_id"]
    tomorrow = schedule(cli, patient, "call", "2026-11-28")["followup_id"]
    rows = ok(cli("followup", "due", "--json"))
    assert [(x["followup_id"], x["overdue"]) for x in rows] == [(today, False)]

    # the clinic zone is the database's: in UTC it is already the 28th
    ok(cli("db", "set-tz", "UTC", "--reason", "the clinic runs on UTC now"))
    monkeypatch.setenv("KETACLI_TZ", "UTC")
    rows = ok(cli("followup", "due", "--json"))
    assert [(x["followup_id"], x["overdue"]) for x in rows] == [(today, True), (tomorrow, False)]
    fails(cli("followup", "schedule", patient, "--kind", "call", "--due", "2026-11-27"), 2)


# --------------------------------------------------------------------------- record
@pytest.fixture
def screened(cli):
    """FU-R screened on 2026-11-01 with PHQ-9 20 and GAD-7 15; assessment follow-ups due
    2026-11-22 and 2026-11-25, a call due 2026-11-21, another assessment due 2026-11-30."""
    screen(cli, "FU-R", "2026-11-01", extra=["--gad7", "3,3,3,3,3,0,0"])
    CLOCK.pin(A_WEEK_AGO)
    ids = {
        "call": schedule(cli, "FU-R", "call", "2026-11-21")["followup_id"],
        "late": schedule(cli, "FU-R", "assessment", "2026-11-25")["followup_id"],
        "early": schedule(cli, "FU-R", "assessment", "2026-11-22")["followup_id"],
        "future": schedule(cli, "FU-R", "assessment", "2026-11-30")["followup_id"],
    }
    CLOCK.pin(FIXED_NOW)
    return ids


def test_record_scores_like_screen_and_completes_the_earliest_assessment(cli, db_path, screened):
    r = cli("followup", "record", "FU-R", "--phq9", "2,2,2,2,1,1,1,0,0", "--gad7",
            "1,1,1,1,0,0,0", "--madrs", "18", "--pcl5", "40", "--at", "2026-11-24 10:00", "--json")
    d = ok(r)
    assert set(d) == {"assessment_id", "patient", "at", "completed_followup_id", "suicide_risk_flag",
                      "phq9", "gad7", "cssrs",
                      "madrs", "pcl5"}
    assert d["patient"] == "FU-R"
    assert d["at"] == "2026-11-24T16:00:00+00:00"
    assert d["completed_followup_id"] == screened["early"]
    assert d["phq9"] == {"total": 11, "severity": "moderate", "baseline": 20, "change_pct": -45.0,
                         "status": "partial-response"}
    assert d["gad7"] == {"total": 4, "severity": "minimal", "baseline": 15, "change_pct": -73.3,
                         "status": "remission"}
    # no MADRS/PCL-5 at screening: scored, but no baseline to compare with
    assert d["madrs"] == {"total": 18, "severity": "mild"}
    assert d["pcl5"]["total"] == 40 and "status" not in d["pcl5"]

    assert status_of(db_path, screened["early"]) == "done"
    for key in ("call", "late", "future"):
        assert status_of(db_path, screened[key]) == "pending", key
    row = query(db_path, "SELECT followup_id, phq9_items, phq9_total, gad7_total, madrs_total, "
                         "pcl5_total, clinician FROM assessments")
    assert row == [(screened["early"], "[2,2,2,2,1,1,1,0,0]", 11, 4, 18, 40, "nurse.test")]
    audit = query(db_path, "SELECT action, entity, entity_id, detail FROM audit "
                           "WHERE entity IN ('assessment', 'followup') AND action != 'schedule' "
                           "ORDER BY id")
    assert [a[:3] for a in audit] == [("create", "assessment", d["assessment_id"]),
                                      ("complete", "followup", screened["early"])]
    assert json.loads(audit[1][3])["by"] == f"assessment {d['assessment_id']}"
    assert "row_sha256" in json.loads(audit[1][3])  # the follow-up sealed as it now stands


def test_record_completes_one_at_a_time_and_only_up_to_that_day(cli, db_path, screened):
    first = assess(cli, "FU-R", "2026-11-26 09:00", 12)
    assert first["completed_followup_id"] == screened["early"]
    second = assess(cli, "FU-R", "2026-11-26 10:00", 10)
    assert second["completed_followup_id"] == screened["late"]
    third = assess(cli, "FU-R", "2026-11-27 08:00", 9)   # the remaining one is due 11-30
    assert third["completed_followup_id"] is None
    assert status_of(db_path, screened["future"]) == "pending"
    assert status_of(db_path, screened["call"]) == "pending"  # never a call
    assert scalar(db_path, "SELECT count(*) FROM assessments") == 3


def test_record_on_a_day_before_any_due_completes_none(cli, db_path, screened):
    d = assess(cli, "FU-R", "2026-11-21 23:30", 14)  # 11-22 05:30 UTC, still the 21st in Chicago
    assert d["completed_followup_id"] is None
    assert d["phq9"]["status"] == "partial-response" and d["phq9"]["change_pct"] == -30.0
    assert scalar(db_path, "SELECT count(*) FROM followups WHERE status = 'done'") == 0
    d = assess(cli, "FU-R", "2026-11-22 00:30", 14)  # the due day itself
    assert d["completed_followup_id"] == screened["early"]


def test_record_compares_a_back_dated_assessment_with_the_baseline_too(cli):
    screen(cli, "FU-T", "2026-11-01")                       # baseline 20, 2026-11-01 08:00
    assert assess(cli, "FU-T", "2026-11-20 10:00", 8)["phq9"]["status"] == "response"
    late_entry = assess(cli, "FU-T", "2026-11-10 10:00", 14)  # entered after a later one
    assert late_entry["phq9"] == {"total": 14, "severity": "moderate", "baseline": 20,
                                  "change_pct": -30.0, "status": "partial-response"}
    before = assess(cli, "FU-T", "2026-10-30 10:00", 22)     # before the screening: no baseline
    assert before["phq9"] == {"total": 22, "severity": "severe"}
    trend = ok(cli("trend", "FU-T", "--json"))
    assert [(p["total"], p["status"]) for p in trend["points"]] == [
        (20, "baseline"), (14, "partial-response"), (8, "response")]


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


def test_record_human_output(cli, screened):
    r = cli("followup", "record", "FU-R", "--phq9", phq9(8), "--at", "2026-11-27 08:30")
    assert r.exit_code == 0, r.stderr
    assert f"(completed follow-up {screened['early']})" in r.stdout
    assert "PHQ-9 8 (mild)" in r.stdout
    assert "-60% from baseline 20: response" in r.stdout


def test_record_without_any_pending_followup(cli, db_path):
    screen(cli, "FU-S")
    d = assess(cli, "FU-S", "2026-11-10 10:00", 4)
    assert d["completed_followup_id"] is None
    assert d["phq9"]["status"] == "remission"
    assert scalar(db_path, "SELECT followup_id FROM assessments") is None


def test_record_refusals_store_nothing(cli, db_path, screened):
    def count():
        return (scalar(db_path, "SELECT count(*) FROM assessments"),
                scalar(db_path, "SELECT count(*) FROM followups WHERE status = 'done'"),
                scalar(db_path, "SELECT count(*) FROM audit"))

    before = count()
    fails(cli("followup", "record", "NOPE-1", "--phq9", phq9(5)), 3)
    fails(cli("followup", "record", "FU-R"), 2)                                  # no score
    fails(cli("followup", "record", "FU-R", "--note", "felt fine"), 2)
    fails(cli("followup", "record", "FU-R", "--phq9", "1,1,1"), 2)                # 3 items
    fails(cli("followup", "record", "FU-R", "--phq9", "1,1,1,1,1,1,1,1,4"), 2)    # item > 3
    fails(cli("followup", "record", "FU-R", "--phq9", "a,b,c,d,e,f,g,h,i"), 2)
    fails(cli("followup", "record", "FU-R", "--gad7", "1,1,1,1,1,1,1,1"), 2)      # 8 items
    fails(cli("followup", "record", "FU-R", "--madrs", "61"), 2)
    fails(cli("followup", "record", "FU-R", "--pcl5", "-1"), 2)
    fails(cli("followup", "record", "FU-R", "--phq9", phq9(5), "--at", "2026-11-27 12:00"), 2)
    fails(cli("followup", "record", "FU-R", "--phq9", phq9(5), "--at", "yesterday"), 2)
    assert count() == before
    r = cli("followup", "record", "FU-R", "--json")
    assert r.exit_code == 2 and r.json["error"]["code"] == "missing_value"
    r = cli("followup", "record", "NOPE-1", "--phq9", phq9(5), "--json")
    assert r.exit_code == 3 and "error" in r.json


def test_record_flags_suicide_risk_like_screen(cli):
    r = cli("screen", "SR-1", "--name", "Risk Test", "--weight", "70", "--bp", "120/80",
            "--hr", "70", "--phq9", "2,2,2,2,2,2,2,2,0", "--at", "2026-11-20 08:00")
    assert r.exit_code == 0, r.stderr
    r = cli("followup", "record", "SR-1", "--phq9", "1,1,1,1,0,0,1,0,2",
            "--at", "2026-11-26 10:00", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json["data"]["suicide_risk_flag"] is True
    assert "suicide risk assessment is required" in r.stderr
    human = cli("followup", "record", "SR-1", "--phq9", "1,1,1,1,0,0,1,0,1",
                "--at", "2026-11-26 11:00")
    assert "SUICIDE RISK FLAG" in human.stdout
    r = cli("followup", "record", "SR-1", "--phq9", "1,1,1,1,0,0,1,0,0",
            "--at", "2026-11-26 12:00", "--json")
    assert r.json["data"]["suicide_risk_flag"] is False


# --------------------------------------------------------------------------- discharge
def test_discharge_schedule_through_the_induction_series(cli, db_path):
    """Infusions every other day from 2026-11-02; after infusion n < 6 a call at +1 and the
    next infusion at +2; after infusion 6 a call at +1, an assessment at +7 and the first
    maintenance infusion at +28, which falls after the screening's last valid day (12-01):
    a screening follow-up due that day, so that start is not refused by surprise."""
    screen(cli, "FU-6", "2026-11-01")
    days = ["2026-11-02", "2026-11-04", "2026-11-06", "2026-11-08", "2026-11-10", "2026-11-12"]
    for n, day in enumerate(days, start=1):
        started, discharged = infusion(cli, "FU-6", day)
        assert started["number_in_series"] == n
        got = [(f["kind"], f["due"]) for f in discharged["followups"]]
        nxt = f"2026-11-{int(day[-2:]) + 1:02d}"
        if n < 6:
            assert got == [("call", nxt), ("infusion", f"2026-11-{int(day[-2:]) + 2:02d}")], n
        else:
            assert got == [("call", "2026-11-13"), ("assessment", "2026-11-19"),
                           ("infusion", "2026-12-10"), ("screening", "2026-12-01")]
    last = discharged["followups"]
    rows = query(db_path, "SELECT id, kind, due, status, session_id FROM followups "
                          "WHERE session_id = ? ORDER BY id", (discharged["session_id"],))
    assert rows == [(f["followup_id"], f["kind"], f["due"], "pending", discharged["session_id"])
                    for f in last]
    listed = ok(cli("followup", "list", "FU-6", "--json"))
    assert len(listed) == 5 * 2 + 4

    # the assessment at +7 is what `followup record` completes
    d = assess(cli, "FU-6", "2026-11-19 10:00", 9)
    assert d["completed_followup_id"] == last[1]["followup_id"]
    assert d["phq9"]["status"] == "response"


def test_discharge_no_schedule(cli, db_path):
    screen(cli, "FU-7", "2026-11-01")
    _, discharged = infusion(cli, "FU-7", "2026-11-02", no_schedule=True)
    assert discharged["followups"] == []
    assert scalar(db_path, "SELECT count(*) FROM followups") == 0
