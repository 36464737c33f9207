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
    # the scheduled infusion is done by this one
    assert query(db_path, "SELECT kind, status FROM followups ORDER BY id") == [
        ("call", "pending"), ("infusion", "done")]


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
    r = ok(start(cli, MRN, "--dose", "1.2", "--override", "reviewed by Dr. A", "--cosign", "dr.second", bp="170/95"))
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
    r = ok(start(cli, MRN, "--weight", "70", "--override", "outside records reviewed", "--cosign", "dr.second"))
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
