"""`start-session` (ketacli.cli.session; docs/cli-contract.md, `start-session` and
"Overrides and co-signature"): the dose and the number in the series, every refusal rule
(exit 1, all unmet rules in one line, only an audit row stored), `--override` (never for
an ineligible screening), state conflicts (exit 3) and bad input that stores nothing."""

from __future__ import annotations

import json

import ledger_support as ledger
import pytest
from helpers import counts, diff, ok, query
from infusion_support import (
    DAY,
    IMPLAUSIBLE,
    MRN,
    OTHER,
    _with,
    assert_error,
    assert_refused,
    at,
    discharge,
    last_audit,
    screen,
    screened,
    start,
    summary_json,
    unchanged,
)


# -- the series ------------------------------------------------------------------------
def test_second_infusion_is_number_two(cli, db_path):
    screen(cli, when="2026-11-25 07:00")
    ok(start(cli, when="2026-11-25 07:40"))
    ok(discharge(cli, 1, when="2026-11-25 08:55"))
    assert query(db_path, "SELECT kind, status FROM followups ORDER BY id") == [
        ("call", "pending"), ("infusion", "pending")]
    r = ok(start(cli, when=at("07:40")))
    assert r.json["data"]["number_in_series"] == 2
    assert r.json["data"]["override"] is None
    # the scheduled infusion is done by this one, and the check-in call still pending is
    # superseded by it (done, audited so)
    assert query(db_path, "SELECT kind, status FROM followups ORDER BY id") == [
        ("call", "done"), ("infusion", "done")]
    assert query(db_path, "SELECT entity_id, json_extract(detail, '$.by') FROM audit "
                          "WHERE action = 'complete' ORDER BY id") == [
        (2, "session 2"), (1, "superseded by session 2")]


# -- refusals: exit 1, every unmet rule listed -----------------------------------------
def test_no_screening(cli, db_path):
    ok(cli("patient", "add", MRN, "--name", "Someone"))
    before = counts(db_path)
    r = start(cli, MRN, "--weight", "70")
    details = assert_refused(r, db_path, before, "session", ["screening"])
    assert "no screening" in details[0]["message"]
    assert details[0]["overridable"] is True
    assert r.json["error"]["code"] == "start_refused"


def test_needs_review_screening(cli, db_path):
    screened(cli, MRN, bp="165/95")
    before = counts(db_path)
    details = assert_refused(start(cli, MRN), db_path, before, "session", ["needs-review"])
    assert "165/95" in details[0]["message"]


def test_bp_at_hold(cli, db_path):
    screened(cli, MRN)
    before = counts(db_path)
    details = assert_refused(start(cli, MRN, bp="170/95"), db_path, before, "session", ["hold-bp"])
    assert "170/95" in details[0]["message"]
    # [160, 100] is reached by the diastolic alone
    before = counts(db_path)
    assert_refused(start(cli, MRN, bp="150/100"), db_path, before, "session", ["hold-bp"])


def test_dose_above_max(cli, db_path):
    screened(cli, MRN)
    before = counts(db_path)
    details = assert_refused(start(cli, MRN, "--dose", "1.2"), db_path, before, "session",
                             ["dose"])
    assert "1.2" in details[0]["message"]


def test_max_dose_itself_is_allowed(cli):
    screened(cli, MRN)
    d = ok(start(cli, MRN, "--dose", "1.0", "--duration", "60")).json["data"]
    assert d["dose_mg"] == pytest.approx(80) and d["rate_mg_per_h"] == pytest.approx(80)
    assert d["rate_ml_per_h"] is None  # no --concentration


def test_every_unmet_rule_one_per_line(cli, db_path):
    screened(cli, MRN, bp="165/95")
    before = counts(db_path)
    r = start(cli, MRN, "--dose", "1.2", bp="170/95")
    assert_refused(r, db_path, before, "session", ["needs-review", "hold-bp", "dose"])
    lines = r.stderr.splitlines()
    assert len(lines) == 5  # the error line, one line per rule, one hint line
    assert lines[0] == "error: cannot start the infusion: 3 unmet rules"
    assert lines[-1] == "hint: after clinician review, rerun with --override REASON --cosign NAME"
    detail = json.loads(last_audit(db_path)[4])
    assert detail["rules"] == ["needs-review", "hold-bp", "dose"]


def test_second_infusion_too_soon(cli, db_path):
    # the first infusion the evening before, discharged; the second 10 hours after its start
    screened(cli, MRN, when="2026-11-26 21:00")
    sid = ok(start(cli, MRN, when="2026-11-26 22:00")).json["data"]["session_id"]
    r = ok(discharge(cli, sid, when="2026-11-26 23:30"))
    # 23:30 in Chicago is already the 27th in UTC: follow-ups count from the clinic day
    assert [(f["kind"], f["due"]) for f in r.json["data"]["followups"]] == [
        ("call", "2026-11-27"), ("infusion", "2026-11-28")]
    before = counts(db_path)
    r = start(cli, MRN, when=at("08:00"))
    details = assert_refused(r, db_path, before, "session", ["interval"])
    assert "10.0 h" in details[0]["message"] and "24" in details[0]["message"]

    r = ok(start(cli, MRN, "--override", "protocol deviation approved by Dr. B", "--cosign", "dr.second",
                 when=at("08:00")))
    d = r.json["data"]
    assert d["override"] == "protocol deviation approved by Dr. B"
    assert d["number_in_series"] == 2


def test_expired_screening(cli, db_path):
    # 40 days before the pinned day, an ISO time with offset
    screened(cli, MRN, when="2026-10-18T08:00:00-05:00")
    before = counts(db_path)
    details = assert_refused(start(cli, MRN, when=at("08:00")), db_path, before, "session",
                             ["screening"])
    assert "expired on 2026-11-17" in details[0]["message"]
    # a new screening today makes it startable
    screened(cli, MRN, name=None, when=at("08:10"))
    ok(start(cli, MRN, when=at("08:20")))


def test_screening_valid_on_its_last_day(cli):
    screened(cli, MRN, when="2026-10-28 08:00")  # valid until 2026-11-27
    ok(start(cli, MRN, when=at("08:00")))


def test_expired_and_needs_review_are_both_listed(cli):
    r = cli("screen", "E-1", "--name", "Expired Review", "--weight", "70", "--bp", "120/80",
            "--hr", "70", "--med", "maoi", "--at", "2026-09-01 08:00")
    assert r.exit_code == 0 and r.json is None
    r = cli("start-session", "E-1", "--bp", "120/80", "--hr", "70", "--json")
    assert r.exit_code == 1
    names = {d["name"] for d in r.json["error"]["details"]}
    assert names == {"screening", "needs-review"}
    r = cli("start-session", "E-1", "--bp", "120/80", "--hr", "70", "--override",
            "reviewed by Dr. A; rescreen booked", "--cosign", "dr.second", "--json")
    assert r.exit_code == 0
    assert set(r.json["data"]["overridden"]) == {"screening", "needs-review"}


# -- --override ------------------------------------------------------------------------
def test_override_proceeds_and_is_audited(cli, db_path):
    screened(cli, MRN, bp="165/95")
    r = ok(start(cli, MRN, "--dose", "1.2", "--override", "reviewed by Dr. A", "--cosign",
                 "dr.second", bp="170/95"))
    d = r.json["data"]
    assert d["override"] == "reviewed by Dr. A"
    assert d["overridden"] == ["needs-review", "hold-bp", "dose"]
    [(reason, overridden)] = query(db_path, "SELECT override, overridden FROM sessions")
    assert reason == "reviewed by Dr. A"
    assert json.loads(overridden) == ["needs-review", "hold-bp", "dose"]
    # the start is audited together with its pre-infusion observation
    rows = query(db_path, "SELECT action, entity, detail FROM audit WHERE entity = 'session'")
    assert rows[-1][0] == "start"
    assert json.loads(rows[-1][2])["overridden"] == ["needs-review", "hold-bp", "dose"]
    r = ok(cli("summary", d["session_id"]))
    assert "override" in r.stdout.lower() and "reviewed by Dr. A" in r.stdout


def test_override_without_a_screening_needs_a_weight(cli, db_path):
    ok(cli("patient", "add", MRN, "--name", "Someone"))
    r = ok(start(cli, MRN, "--weight", "70", "--override", "outside records reviewed",
                 "--cosign", "dr.second"))
    assert r.json["data"]["overridden"] == ["screening"]
    assert r.json["data"]["dose_mg"] == pytest.approx(35)
    assert summary_json(cli, r.json["data"]["session_id"])["screening"] is None


def test_ineligible_is_never_overridable(cli, db_path):
    screened(cli, MRN, "--condition", "pregnancy")
    for extra in ((), ("--override", "patient insists", "--cosign", "dr.second")):
        before = counts(db_path)
        r = start(cli, MRN, *extra)
        details = assert_refused(r, db_path, before, "session", ["screening"])
        assert details[0]["overridable"] is False
        assert "not overridable" in r.stderr
        assert "--override" not in r.stderr  # no hint to override what cannot be
    assert counts(db_path)["sessions"] == 0


def test_override_text_is_validated(cli, db_path):
    screened(cli, MRN, bp="165/95")
    before = counts(db_path)
    assert_error(start(cli, MRN, "--override", "x", "--cosign", "dr.second" * 501, json_out=False), 2)
    assert diff(before, counts(db_path)) == {}


def test_screen_then_start_refusal_keeps_name_out_of_audit(cli, db_path):
    screen(cli, MRN, bp="165/95")
    start(cli, MRN)
    assert "Quill" not in "".join(str(row) for row in query(db_path, "SELECT * FROM audit"))


# -- state conflicts: exit 3 -----------------------------------------------------------
def test_second_start_while_open_exits_3(cli, db_path, live):
    _, before = live
    r = start(cli, MRN, when=at("08:30"))
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "open_session_exists"
    # even with an override: a state conflict is not a clinical rule
    assert_error(start(cli, MRN, "--override", "double booking", "--cosign", "dr.second", json_out=False), 3)
    unchanged(db_path, before)


# -- bad input: exit 2, nothing stored -------------------------------------------------
@pytest.mark.parametrize("bad", IMPLAUSIBLE)
def test_start_session_implausible_vitals(cli, db_path, live, bad):
    _, before = live
    args = _with({"--bp": "128/82", "--hr": "72", "--spo2": "98"}, bad)
    r = cli("start-session", OTHER, *args, "--json")
    assert_error(r, 2, json_out=True)
    assert r.json["error"]["code"] in ("implausible_vital", "invalid_bp")
    unchanged(db_path, before)


@pytest.mark.parametrize(("opt", "value"), [
    ("--dose", "9"), ("--dose", "0"), ("--dose", "-0.5"), ("--weight", "5"),
    ("--duration", "1000"), ("--duration", "1"), ("--concentration", "0"), ("--drawn-mg", "10"),
    ("--lot", "L\u00f6t"),
])
def test_start_session_bad_numbers_exit_2(cli, db_path, live, opt, value):
    _, before = live
    r = start(cli, OTHER, opt, value, when=at("07:40"))
    assert_error(r, 2, json_out=True)
    unchanged(db_path, before)


@pytest.mark.parametrize("lot", ["LOT-\u00e9", "LOT\x07", "", "X" * 41])
def test_lot_must_be_printable_ascii(cli, db_path, lot):
    ledger.screen(cli, "L-1")
    r = cli("start-session", "L-1", "--bp", "124/80", "--hr", "72", "--lot", lot,
            "--at", f"{DAY} 06:00")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: --lot")
    assert query(db_path, "SELECT count(*) FROM sessions")[0][0] == 0


def test_negative_drawn_is_refused(cli, db_path):
    ledger.screen(cli, "N-1")
    r = cli("start-session", "N-1", "--bp", "124/80", "--hr", "72", "--drawn-mg", "-40",
            "--at", f"{DAY} 06:00")
    assert r.exit_code == 2
    assert query(db_path, "SELECT count(*) FROM sessions")[0][0] == 0


# -- issue 13: overrides with a co-signer, dosing weight, soft and hard limits, holds -------
COSIGN = ("--override", "reviewed with the attending at the chair", "--cosign", "dr.second")


@pytest.mark.parametrize(("extra", "code"), [
    (("--override", "ok", "--cosign", "dr.second"), "invalid_override"),
    (("--override", "   o k    ", "--cosign", "dr.second"), "invalid_override"),
    (("--override", "reviewed with the attending", "--cosign", "tester"), "invalid_cosign"),
    (("--cosign", "dr.second"), "invalid_option"),
    (("--weight", "0"), "out_of_range"),
    (("--weight", "400"), "out_of_range"),
])
def test_bad_override_or_weight_exits_2_and_stores_nothing(cli, db_path, extra, code):
    screened(cli, MRN, bp="165/95")
    before = counts(db_path)
    r = cli("--clinician", "tester", "start-session", MRN, "--bp", "130/80", "--hr", "70",
            *extra, "--at", at("07:40"), "--json")
    assert_error(r, 2, json_out=True)
    assert r.json["error"]["code"] == code
    unchanged(db_path, before)


def test_an_override_ok_reason_says_why(cli, db_path):
    screened(cli, MRN, bp="165/95")
    r = start(cli, MRN, "--override", "ok", "--cosign", "dr.second", json_out=False)
    assert r.exit_code == 2
    assert r.stderr == "error: an override reason must say why (at least 10 characters)\n"


def test_an_override_without_a_cosigner_is_refused_and_audited(cli, db_path):
    screened(cli, MRN, bp="165/95")
    before = counts(db_path)
    r = start(cli, MRN, "--override", "reviewed with the attending")
    assert_refused(r, db_path, before, "session", ["needs-review"])
    assert r.stderr.splitlines()[0] == (
        "error: cannot start the infusion: an override needs a second clinician: --cosign NAME")
    detail = json.loads(last_audit(db_path)[4])
    assert detail == {"rules": ["needs-review"], "override_offered": True, "cosign_offered": False}


def test_a_cosigned_override_is_stored_shown_and_audited(cli, db_path):
    screened(cli, MRN, bp="165/95")
    d = ok(start(cli, MRN, *COSIGN)).json["data"]
    assert (d["override"], d["cosign"], d["overridden"]) == (
        "reviewed with the attending at the chair", "dr.second", ["needs-review"])
    assert query(db_path, "SELECT override, cosign, overridden FROM sessions") == [
        ("reviewed with the attending at the chair", "dr.second", '["needs-review"]')]
    (detail,) = query(db_path, "SELECT detail FROM audit WHERE action = 'start'")
    assert json.loads(detail[0])["cosign"] == "dr.second"
    screened(cli, OTHER, bp="165/95")
    text = ok(start(cli, OTHER, *COSIGN, json_out=False)).stdout
    assert "OVERRIDE of needs-review (co-signed by dr.second)" in text


def test_cosign_can_be_switched_off_by_the_protocol(cli, db_path, tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("[overrides]\ncosign = false\n")
    screened(cli, MRN, bp="165/95")
    r = ok(cli("--protocol", f, "start-session", MRN, "--bp", "130/80", "--hr", "70", "--override",
               "reviewed with the attending", "--at", at("07:40"), "--json"))
    assert (r.json["data"]["cosign"], r.json["data"]["overridden"]) == (None, ["needs-review"])


def test_result_keys_of_the_dose_plan(cli):
    screened(cli, MRN, "--height", "170")
    d = ok(start(cli, MRN, "--concentration", "10")).json["data"]
    assert {"weight_kg", "dosing_weight_kg", "weight_basis", "bmi", "volume_ml", "chair",
            "override", "cosign", "overridden"} <= set(d)
    # the check vector: 80 kg x 0.5 mg/kg over 40 min = 40 mg, 60 mg/h, 6 mL/h, 4 mL to draw
    assert (d["weight_kg"], d["dosing_weight_kg"], d["weight_basis"], d["bmi"]) == (
        80, 80, "actual", 27.7)
    assert (d["dose_mg"], d["rate_mg_per_h"], d["rate_ml_per_h"], d["volume_ml"]) == (
        pytest.approx(40), pytest.approx(60), pytest.approx(6), pytest.approx(4))


def test_pounds_typed_as_kilograms_are_refused(cli, db_path):
    screened(cli, MRN, weight=86)
    before = counts(db_path)
    r = start(cli, MRN, "--weight", "190")
    (d,) = assert_refused(r, db_path, before, "session", ["weight-change"])
    assert d["message"] == ("weight 190 kg differs from the screening weight 86 kg by 121% "
                            "(limit 10%): check the units (kg)")
    assert d["overridable"] is True
    ok(start(cli, MRN, "--weight", "90"))  # within 10 %: fine


def test_ideal_body_weight_basis_from_the_protocol(cli, tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[dose]\nweight_basis = "ideal"\n')
    ok(cli("screen", MRN, "--name", "Tall Man", "--sex", "M", "--weight", "120", "--height", "170",
           "--bp", "128/82", "--hr", "72", "--at", at("07:00")))
    d = ok(cli("--protocol", f, "start-session", MRN, "--bp", "130/80", "--hr", "70",
               "--at", at("07:40"), "--json")).json["data"]
    assert (d["weight_basis"], d["dosing_weight_kg"], d["bmi"]) == ("ideal", 65.9, 41.5)
    assert d["dose_mg"] == pytest.approx(0.5 * 65.937, abs=0.01)
    text = ok(cli("--protocol", f, "summary", d["session_id"])).stdout
    assert "40 min" in text


def test_ideal_basis_without_a_height_warns_and_uses_the_actual_weight(cli, tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[dose]\nweight_basis = "ideal"\n')
    screened(cli, MRN)
    r = ok(cli("--protocol", f, "start-session", MRN, "--bp", "130/80", "--hr", "70",
               "--at", at("07:40"), "--json"))
    assert r.json["data"]["weight_basis"] == "actual"
    assert "warning: dosed on the actual weight: no height on the screening" in r.stderr


@pytest.mark.parametrize(("extra", "rules"), [
    (("--dose", "1.0"), []),
    (("--dose", "1.01"), ["dose"]),
    (("--dose", "1.5", *COSIGN), []),
    (("--dose", "1.51", *COSIGN), ["dose-hard-limit"]),
])
def test_dose_exactly_at_each_limit_is_allowed(cli, db_path, extra, rules):
    screened(cli, MRN)
    before = counts(db_path)
    r = start(cli, MRN, *extra)
    if rules:
        assert_refused(r, db_path, before, "session", rules)
    else:
        ok(r)


def test_the_hard_limit_in_mg(cli, db_path):
    screened(cli, OTHER, weight=100)
    ok(start(cli, OTHER, "--dose", "1.5", *COSIGN))  # 150 mg: at the limit
    screened(cli, MRN, weight=100.01)
    before = counts(db_path)
    r = start(cli, MRN, "--dose", "1.5", *COSIGN)  # 150.015 mg
    assert_refused(r, db_path, before, "session", ["dose-hard-limit"])
    assert "(not overridable)" in r.stderr and "hint:" not in r.stderr


def test_the_issues_ten_fold_dose_is_never_started(cli, db_path):
    # --dose 5 --weight 176 --override ok: 880 mg
    screened(cli, MRN, weight=176)
    before = counts(db_path)
    r = start(cli, MRN, "--dose", "5", "--weight", "176", *COSIGN)
    assert_refused(r, db_path, before, "session", ["dose-hard-limit"])
    assert "hint:" not in r.stderr


@pytest.mark.parametrize(("bp", "hr", "spo2", "rules"), [
    ("160/90", 70, None, ["hold-bp"]), ("159/99", 70, None, []),
    ("90/60", 70, None, []), ("89/60", 70, None, ["hold-sbp-low"]),
    ("130/80", 50, None, []), ("130/80", 49, None, ["hold-hr"]),
    ("130/80", 109, None, []), ("130/80", 110, None, ["hold-hr"]),
    ("130/80", 70, 92, []), ("130/80", 70, 91, ["hold-spo2"]),
    ("130/80", 135, 85, ["hold-hr", "hold-spo2"]),
])
def test_a_bp_hr_spo2_exactly_at_each_hold(cli, db_path, bp, hr, spo2, rules):
    screened(cli, MRN)
    before = counts(db_path)
    extra = ("--spo2", spo2) if spo2 is not None else ()
    r = start(cli, MRN, *extra, bp=bp, hr=hr)
    if rules:
        details = assert_refused(r, db_path, before, "session", rules)
        assert all(d["overridable"] for d in details)
    else:
        ok(r)
