"""The suicide-risk pathway through the CLI (docs/cli-contract.md: `screen` "C-SSRS screener",
`followup record`, `start-session`'s `suicide-risk` rule, `patient show`): C-SSRS answers
stored with their risk, bad answers refused (exit 2, nothing stored), an item 9 or a C-SSRS
risk at a later assessment refusing the next start until a C-SSRS of risk none or low answers
it, and a high risk never overridable."""

from __future__ import annotations

import json

import pytest
from helpers import counts, diff, ok, query
from infusion_support import MRN, NAME, assert_error, at, screen, start, unchanged

CALM = "1,1,1,1,0,0,0,0,0"
ITEM9 = "1,1,1,1,0,0,0,0,1"
REVIEWED = ("--override", "psychiatrist reviewed today", "--cosign", "Dr Second")


def record(cli, *extra, when=at("07:20"), mrn=MRN):
    return cli("followup", "record", mrn, *extra, "--at", when, "--json")


def refused_rules(r) -> list[dict]:
    assert r.exit_code == 1, (r.stdout, r.stderr)
    return json.loads(r.stdout)["error"]["details"]


# -- screen --cssrs ----------------------------------------------------------------------
@pytest.mark.parametrize(("answers", "risk", "decision", "flag"), [
    ("n,n,-,-,-,n", "none", "needs-review", True),   # item 9 = 1 is answered; BP needs review
    ("y,n,-,-,-,n", "low", "needs-review", True),
    ("y,y,y,n,n,n", "moderate", "needs-review", True),
    ("n,n,-,-,-,y,y", "high", "ineligible", True),
])
def test_screen_stores_the_answers_and_risk(cli, db_path, answers, risk, decision, flag):
    d = ok(screen(cli, MRN, "--cssrs", answers, bp="165/95", phq9=ITEM9)).json["data"]
    assert d["cssrs"] == {"answers": answers.split(","), "risk": risk}
    assert (d["decision"], d["suicide_risk_flag"]) == (decision, flag)
    joined = " | ".join(d["reasons"])
    assert "suicide risk assessment required" not in joined  # the C-SSRS answered item 9
    assert query(db_path, "SELECT cssrs_answers, cssrs_risk FROM screenings") == [
        (json.dumps(answers.split(","), separators=(",", ":")), risk)]


def test_screen_without_cssrs_has_it_null(cli, db_path):
    d = ok(screen(cli, MRN)).json["data"]
    assert d["cssrs"] is None
    assert query(db_path, "SELECT cssrs_answers, cssrs_risk FROM screenings") == [(None, None)]


def test_a_cssrs_risk_is_recorded_with_item9_at_0(cli):
    d = ok(screen(cli, MRN, "--cssrs", "y,y,n,n,y,n", phq9=CALM)).json["data"]
    assert d["decision"] == "ineligible"
    assert d["reasons"] == ["C-SSRS high risk: same-day crisis evaluation, not an infusion"]
    assert d["suicide_risk_flag"] is True


def test_screen_panel_shows_item9_and_the_cssrs_with_short_labels(cli):
    r = ok(screen(cli, MRN, "--cssrs", "y,y,y,n,n,n", phq9=ITEM9, json_out=False))
    first = " ".join(r.stdout.splitlines()[1:3])
    assert "SUICIDE RISK FLAG" in first and "PHQ-9 item 9 = 1" in first
    assert "C-SSRS moderate risk" in first and "thoughts of method" in first
    assert f"{NAME} ({MRN})" in r.stdout.splitlines()[0]


BAD = [
    pytest.param("n,n,-,-,-", id="5-answers"),
    pytest.param("n,n,-,-,-,y,y,n", id="8-answers"),
    pytest.param("x,n,-,-,-,n", id="x"),
    pytest.param("n,n,-,-,-,n,n", id="7th-when-6-is-n"),
    pytest.param("y,y,-,-,-,n", id="dash-for-3-5-when-2-is-y"),
    pytest.param("n,n,-,-,-,y", id="no-7th-when-6-is-y"),
]


@pytest.mark.parametrize("answers", BAD)
def test_screen_refuses_bad_answers(cli, db_path, answers):
    before = counts(db_path)
    r = screen(cli, MRN, "--cssrs", answers, json_out=False)
    assert_error(r, 2)
    assert "--cssrs" in r.stderr
    unchanged(db_path, before)


@pytest.mark.parametrize("answers", BAD)
def test_followup_record_refuses_bad_answers(cli, db_path, answers):
    ok(screen(cli, MRN))
    before = counts(db_path)
    r = record(cli, "--cssrs", answers)
    assert r.exit_code == 2
    unchanged(db_path, before)


# -- followup record --cssrs -------------------------------------------------------------
def test_followup_record_takes_a_cssrs_alone(cli, db_path):
    ok(screen(cli, MRN))
    d = ok(record(cli, "--cssrs", "y,n,-,-,-,n")).json["data"]
    assert d["cssrs"] == {"answers": ["y", "n", "-", "-", "-", "n"], "risk": "low"}
    assert d["suicide_risk_flag"] is False and d["phq9"] is None
    assert query(db_path, "SELECT phq9_total, cssrs_risk FROM assessments") == [(None, "low")]


def test_followup_record_without_any_score_names_cssrs(cli):
    ok(screen(cli, MRN))
    r = cli("followup", "record", MRN)
    assert r.exit_code == 2 and "--cssrs" in r.stderr


# -- the suicide-risk start rule ---------------------------------------------------------
def test_item9_before_the_screening_does_not_count(cli):
    ok(screen(cli, MRN, when=at("07:00", "2026-11-26")))
    ok(record(cli, "--phq9", ITEM9, when=at("06:00", "2026-11-26")))
    ok(start(cli))


def test_item9_after_the_screening_refuses_the_start(cli, db_path):
    ok(screen(cli, MRN))
    aid = ok(record(cli, "--phq9", ITEM9)).json["data"]["assessment_id"]
    before = counts(db_path)
    r = start(cli)
    [rule] = refused_rules(r)
    assert rule["name"] == "suicide-risk" and rule["overridable"] is True
    assert rule["message"] == (f"suicide risk flagged on assessment {aid} (2026-11-27): a suicide "
                               "risk assessment is needed before the next infusion")
    assert diff(before, counts(db_path)) == {"audit": 1}  # the refusal's audit row only
    human = start(cli, json_out=False)
    assert human.exit_code == 1 and "suicide-risk: suicide risk flagged" in human.stderr


def test_it_is_overridable_with_a_reason_and_a_cosigner(cli):
    ok(screen(cli, MRN))
    ok(record(cli, "--phq9", ITEM9))
    d = ok(start(cli, MRN, *REVIEWED)).json["data"]
    assert d["overridden"] == ["suicide-risk"] and d["cosign"] == "Dr Second"


def test_an_assessment_at_the_screenings_own_instant_counts(cli):
    """Recorded in the same second as the screening (both default to now, or both --at 07:00)
    it is not before the screening: its item 9 refuses the start (and patient show says so)."""
    ok(screen(cli, MRN, when=at("07:00")))
    ok(record(cli, "--phq9", ITEM9, when=at("07:00")))
    assert refused_rules(start(cli))[0]["name"] == "suicide-risk"
    shown = ok(cli("patient", "show", MRN, "--json")).json["data"]["suicide_risk"]
    assert shown["rule"] == "suicide-risk"


def test_a_later_none_or_low_cssrs_answers_it(cli):
    ok(screen(cli, MRN))
    ok(record(cli, "--phq9", ITEM9, when=at("07:10")))
    assert refused_rules(start(cli))[0]["name"] == "suicide-risk"
    ok(record(cli, "--cssrs", "y,n,-,-,-,n", when=at("07:20")))
    ok(start(cli))


def test_item9_with_a_low_cssrs_in_the_same_assessment_does_not_refuse(cli):
    ok(screen(cli, MRN))
    ok(record(cli, "--phq9", ITEM9, "--cssrs", "n,y,n,n,n,n"))
    ok(start(cli))


def test_a_moderate_cssrs_refuses(cli):
    ok(screen(cli, MRN))
    ok(record(cli, "--cssrs", "y,y,y,n,n,n"))
    assert [r["name"] for r in refused_rules(start(cli))] == ["suicide-risk"]


def test_a_voided_assessment_does_not_count(cli):
    ok(screen(cli, MRN))
    aid = ok(record(cli, "--phq9", ITEM9)).json["data"]["assessment_id"]
    assert cli("void", "assessment", str(aid), "--reason", "wrong patient's form").exit_code == 0
    ok(start(cli))


def test_a_high_cssrs_is_never_overridable_until_a_new_screening(cli):
    ok(screen(cli, MRN, when=at("06:00")))
    ok(record(cli, "--cssrs", "y,y,n,y,n,n", when=at("06:30")))
    ok(record(cli, "--cssrs", "n,n,-,-,-,n", when=at("06:40")))  # a later none: still stands
    r = start(cli, MRN, *REVIEWED)
    [rule] = refused_rules(r)
    assert (rule["name"], rule["overridable"]) == ("suicide-risk", False)
    human = start(cli, MRN, *REVIEWED, json_out=False)
    assert "(not overridable)" in human.stderr and "a new screening is needed" in human.stderr
    ok(screen(cli, MRN, "--cssrs", "n,n,-,-,-,n", when=at("07:00")))
    ok(start(cli))


def test_patient_show_says_so_before_anyone_tries(cli):
    ok(screen(cli, MRN))
    aid = ok(record(cli, "--phq9", ITEM9)).json["data"]["assessment_id"]
    d = ok(cli("patient", "show", MRN, "--json")).json["data"]
    assert d["suicide_risk"]["rule"] == "suicide-risk"
    assert d["suicide_risk"]["assessment_id"] == aid and d["suicide_risk"]["overridable"] is True
    assert d["assessments"][0]["phq9_item9"] == 1 and d["assessments"][0]["cssrs"] is None
    text = ok(cli("patient", "show", MRN)).stdout
    assert "NEXT START REFUSED (suicide-risk)" in text
    ok(record(cli, "--cssrs", "n,n,-,-,-,n", when=at("07:30")))
    d = ok(cli("patient", "show", MRN, "--json")).json["data"]
    assert d["suicide_risk"] is None
    assert d["assessments"][-1]["cssrs"] == {"answers": ["n", "n", "-", "-", "-", "n"],
                                             "risk": "none"}
    assert "NEXT START REFUSED" not in ok(cli("patient", "show", MRN)).stdout


# -- shown in summary and trend ------------------------------------------------------------
def test_summary_shows_item9_the_cssrs_and_a_suicide_risk_override(cli):
    ok(screen(cli, MRN, "--cssrs", "y,n,-,-,-,n", phq9=ITEM9))
    ok(record(cli, "--phq9", ITEM9))
    sid = ok(start(cli, MRN, *REVIEWED)).json["data"]["session_id"]
    d = ok(cli("summary", str(sid), "--json")).json["data"]
    assert d["screening"]["phq9_item9"] == 1
    assert d["screening"]["cssrs"] == {"answers": ["y", "n", "-", "-", "-", "n"], "risk": "low"}
    text = ok(cli("summary", str(sid))).stdout
    assert "PHQ-9 item 9 = 1; answered by C-SSRS low risk (wish to be dead)" in " ".join(
        line.strip("│ ") for line in text.splitlines())
    assert "Started over a suicide-risk refusal" in text


def test_trend_lists_item9_and_cssrs_over_time(cli):
    ok(screen(cli, MRN, when=at("07:00", "2026-11-20")))
    ok(record(cli, "--phq9", ITEM9, when=at("07:00", "2026-11-25")))
    ok(record(cli, "--cssrs", "y,y,y,n,n,n", when=at("07:00", "2026-11-26")))
    d = ok(cli("trend", MRN.lower(), "--json")).json["data"]
    assert d["patient"] == MRN
    assert [(r["source"], r["phq9_item9"], r["cssrs"] and r["cssrs"]["risk"])
            for r in d["suicide_risk"]] == [("assessment", 1, None), ("assessment", None, "moderate")]
    text = " ".join(line.strip("│ ") for line in ok(cli("trend", MRN)).stdout.splitlines())
    assert "2026-11-25 assessment 1: PHQ-9 item 9 = 1" in text
    assert ("2026-11-26 assessment 2: C-SSRS moderate risk (wish to be dead, suicidal "
            "thoughts, thoughts of method)") in text


def test_the_board_marks_a_start_made_over_a_suicide_risk_refusal(cli):
    ok(screen(cli, MRN))
    ok(record(cli, "--phq9", ITEM9))
    ok(start(cli, MRN, *REVIEWED))
    [row] = ok(cli("board", "--json")).json["data"]
    assert row["start_overrides"] == ["suicide-risk"]
    text = ok(cli("board")).stdout
    assert "suicide-risk" in text and "override" in text


def test_the_board_of_an_ordinary_start_has_no_override(cli):
    ok(screen(cli, MRN))
    ok(start(cli, MRN))
    [row] = ok(cli("board", "--json")).json["data"]
    assert row["start_overrides"] == []
    assert "override" not in ok(cli("board")).stdout
