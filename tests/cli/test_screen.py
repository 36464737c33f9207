"""`screen` (ketacli.cli.screen; docs/cli-contract.md, `screen`): the three decisions, the
suicide-risk flag, new and existing patients, the audit row, and bad input (implausible
vitals, scales, weight, unknown codes) that exits 2 and stores nothing."""

from __future__ import annotations

import json

import pytest
from helpers import counts, diff, ok, query
from infusion_support import IMPLAUSIBLE, MRN, NAME, OTHER, _with, assert_error, screen, unchanged


# -- decisions -------------------------------------------------------------------------
def test_needs_review_for_bp_med_and_phq9_item_9(cli, db_path):
    r = ok(screen(cli, MRN, "--med", "benzodiazepine", bp="165/95",
                  phq9="2,2,2,2,1,1,2,0,1"))
    d = r.json["data"]
    assert d["decision"] == "needs-review"
    assert d["suicide_risk_flag"] is True
    assert d["phq9"] == {"total": 13, "severity": "moderate"}
    joined = " | ".join(d["reasons"])
    assert len(d["reasons"]) == 3, d["reasons"]
    assert "BP 165/95" in joined
    assert "benzodiazepine" in joined
    assert "suicide risk assessment required" in joined
    assert query(db_path, "SELECT decision, suicide_risk_flag, meds FROM screenings") == [
        ("needs-review", 1, '["benzodiazepine"]')]


@pytest.mark.parametrize(("extra", "bp", "phq9", "needle"), [
    ((), "165/95", "0,0,0,0,0,0,0,0,0", "BP 165/95"),
    ((), "150/100", "0,0,0,0,0,0,0,0,0", "BP 150/100"),  # diastolic alone reaches [160, 100]
    (("--med", "lamotrigine"), "120/80", "0,0,0,0,0,0,0,0,0", "lamotrigine"),
    (("--condition", "glaucoma"), "120/80", "0,0,0,0,0,0,0,0,0", "glaucoma"),
    ((), "120/80", "0,0,0,0,0,0,0,0,3", "suicide risk"),
])
def test_each_review_reason_alone(cli, extra, bp, phq9, needle):
    d = ok(screen(cli, MRN, *extra, bp=bp, phq9=phq9)).json["data"]
    assert d["decision"] == "needs-review"
    assert len(d["reasons"]) == 1 and needle in d["reasons"][0]
    assert d["suicide_risk_flag"] is (needle == "suicide risk")


def test_suicide_risk_flag_is_prominent_in_human_output(cli):
    r = ok(screen(cli, MRN, phq9="0,0,0,0,0,0,0,0,2", json_out=False))
    first = r.stdout.splitlines()[1]  # the first line inside the panel
    assert "SUICIDE RISK FLAG" in first
    assert "NEEDS-REVIEW" in r.stdout
    # a screening without the flag shows none
    r = ok(screen(cli, "KX-200", phq9="0,0,0,0,0,0,0,0,0", json_out=False))
    assert "SUICIDE" not in r.stdout and "ELIGIBLE" in r.stdout


def test_no_phq9_never_prompts_without_a_tty(cli):
    r = ok(screen(cli, MRN, phq9=None, json_out=False))
    assert "ELIGIBLE" in r.stdout
    assert r.stderr.startswith("note: created a new database at ")  # the first command
    assert r.stderr.splitlines()[1].startswith("warning: no PHQ-9")
    r = ok(screen(cli, MRN, phq9=None, name=None))
    assert r.json["data"]["phq9"] is None and r.stderr == ""


def test_non_review_med_stays_eligible(cli):
    d = ok(screen(cli, MRN, "--med", "opioid")).json["data"]
    assert d["decision"] == "eligible" and d["reasons"] == []


@pytest.mark.parametrize(("extra", "bp", "needle"), [
    (("--condition", "pregnancy"), "120/80", "pregnancy"),
    ((), "182/90", "BP 182/90"),
])
def test_ineligible(cli, db_path, extra, bp, needle):
    r = screen(cli, MRN, *extra, bp=bp)
    assert r.exit_code == 0  # a decision is never a refusal
    d = r.json["data"]
    assert d["decision"] == "ineligible"
    assert any(needle in reason for reason in d["reasons"])
    assert query(db_path, "SELECT decision FROM screenings") == [("ineligible",)]


def test_ineligible_and_review_reasons_are_all_listed(cli):
    d = ok(screen(cli, MRN, "--condition", "pregnancy", "--med", "maoi",
                  phq9="0,0,0,0,0,0,0,0,1")).json["data"]
    assert d["decision"] == "ineligible"
    assert len(d["reasons"]) == 3


def test_scales_and_severity_bands(cli):
    d = ok(screen(cli, MRN, "--gad7", "3,3,3,3,3,3,3", "--madrs", "34", "--pcl5", "40",
                  phq9="3,3,3,3,3,3,3,3,0")).json["data"]
    assert d["phq9"] == {"total": 24, "severity": "severe"}
    assert d["gad7"] == {"total": 21, "severity": "severe"}
    assert d["madrs"] == {"total": 34, "severity": "moderate"}
    assert d["pcl5"]["total"] == 40


# -- new and existing patients ---------------------------------------------------------
def test_existing_patient_without_name(cli, db_path):
    ok(screen(cli, MRN))
    r = ok(screen(cli, MRN, name=None, bp="124/80"))
    assert r.json["data"]["patient"] == MRN
    assert r.json["data"]["screening_id"] == 2
    assert counts(db_path)["patients"] == 1
    assert counts(db_path)["screenings"] == 2


def test_existing_patient_added_with_patient_add(cli, db_path):
    ok(cli("patient", "add", MRN, "--name", NAME))
    ok(screen(cli, MRN, name=None))
    assert query(db_path, "SELECT p.mrn FROM screenings s JOIN patients p ON p.id = s.patient_id"
                 ) == [(MRN,)]


def test_new_patient_without_name_exits_2_and_stores_nothing(cli, db_path):
    ok(screen(cli, "KX-1"))
    before = counts(db_path)
    r = screen(cli, "KX-2", name=None, json_out=False)
    assert_error(r, 2)
    assert "--name" in r.stderr and "KX-2" in r.stderr
    assert diff(before, counts(db_path)) == {}


# -- bad input: exit 2, nothing stored -------------------------------------------------
@pytest.mark.parametrize("code", ["flu", "PREGNANCY-X", ""])
def test_unknown_condition_exits_2(cli, db_path, code):
    ok(screen(cli, "KX-1"))
    before = counts(db_path)
    r = screen(cli, MRN, "--condition", code)
    assert_error(r, 2, json_out=True)
    assert r.json["error"]["code"] == "invalid_choice"
    assert diff(before, counts(db_path)) == {}


def test_unknown_med_and_indication_exit_2(cli, db_path):
    ok(screen(cli, "KX-1"))
    before = counts(db_path)
    assert_error(screen(cli, MRN, "--med", "aspirin", json_out=False), 2)
    assert_error(screen(cli, MRN, "--indication", "flu", json_out=False), 2)
    assert diff(before, counts(db_path)) == {}


@pytest.mark.parametrize("bad", IMPLAUSIBLE)
def test_screen_implausible_vitals(cli, db_path, live, bad):
    _, before = live
    args = _with({"--bp": "128/82", "--hr": "72", "--spo2": "98"}, bad)
    r = cli("screen", "KX-NEW", "--name", "New Person", "--weight", "80", *args)
    assert_error(r, 2)
    unchanged(db_path, before)


@pytest.mark.parametrize("items", ["1,1,1,1,1,1,1,1", "1,1,1,1,1,1,1,1,1,1", "1,1,1,1,4,1,1,1,1",
                                   "1,1,1,1,-1,1,1,1,1", "a,1,1,1,1,1,1,1,1", "1;1;1;1;1;1;1;1;1"])
def test_phq9_bad_items_exit_2(cli, db_path, live, items):
    _, before = live
    r = screen(cli, OTHER, name=None, phq9=items)
    assert_error(r, 2, json_out=True)
    assert "--phq9" in r.stderr
    unchanged(db_path, before)


@pytest.mark.parametrize(("opt", "value"), [("--gad7", "1,1,1,1,1,1"), ("--gad7", "1,1,1,1,1,1,4"),
                                            ("--madrs", "61"), ("--pcl5", "81")])
def test_other_scales_out_of_range_exit_2(cli, db_path, live, opt, value):
    _, before = live
    assert_error(screen(cli, OTHER, opt, value, name=None, json_out=False), 2)
    unchanged(db_path, before)


@pytest.mark.parametrize("weight", ["5", "19.9", "351"])
def test_screen_weight_out_of_range_exit_2(cli, db_path, live, weight):
    _, before = live
    r = screen(cli, OTHER, name=None, weight=weight, json_out=False)
    assert_error(r, 2)
    assert "--weight" in r.stderr
    unchanged(db_path, before)


# -- audit -----------------------------------------------------------------------------
def test_screening_audit_row(cli, db_path):
    sid = ok(screen(cli, MRN)).json["data"]["screening_id"]
    rows = query(db_path, "SELECT action, entity, entity_id, patient, detail FROM audit "
                          "WHERE entity = 'screening'")
    assert len(rows) == 1
    action, _entity, entity_id, patient, detail = rows[0]
    assert (action, entity_id, patient) == ("create", sid, MRN)
    assert json.loads(detail)["decision"] == "eligible"
    assert NAME not in detail


# -- issue 13: BMI from the height -----------------------------------------------------------
def test_bmi_from_the_height(cli, db_path):
    d = ok(screen(cli, MRN, "--height", "170", weight=86)).json["data"]
    assert d["bmi"] == 29.8
    assert ok(screen(cli, OTHER, name="Other Person")).json["data"]["bmi"] is None
    text = ok(cli("patient", "show", MRN)).stdout
    assert MRN in text


@pytest.mark.parametrize(("weight", "height", "code"), [
    (86, "40", "out_of_range"),  # height 40 cm
    (300, "120", "implausible_bmi"),  # BMI 208
    (25, "220", "implausible_bmi"),  # BMI 5.2
])
def test_an_implausible_bmi_or_height_exits_2_and_stores_nothing(cli, db_path, weight, height,
                                                                   code):
    before = counts(db_path) if db_path.exists() else None
    r = screen(cli, MRN, "--height", height, weight=weight)
    assert_error(r, 2, json_out=True)
    assert r.json["error"]["code"] == code
    if code == "implausible_bmi":
        assert r.stderr.startswith("error: BMI ") and "check --weight (kg) and --height (cm)" in r.stderr
    if before is not None:
        unchanged(db_path, before)
