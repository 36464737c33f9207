"""Clinical refusals (exit 1): start-session's rules and discharge criteria.

Each refusal lists every unmet rule in its one error line and in the JSON details,
stores nothing but an audit row of the refusal, and `--override REASON` proceeds
except where the contract says never (an ineligible screening, a driving patient).
"""

from __future__ import annotations

import json

import pytest
from helpers import counts, diff, ok, query
from infusion_support import (
    MRN,
    assert_error,
    at,
    discharge,
    last_audit,
    open_session,
    screen,
    screened,
    start,
    summary_json,
    vitals,
)


def assert_refused(r, db_path, before, entity: str, names: list[str]) -> list[dict]:
    """Exit 1 with the JSON envelope; only an audit 'refuse' row was stored."""
    assert_error(r, 1, json_out=True)
    details = r.json["error"]["details"]
    assert [d["name"] for d in details] == names
    line = r.stderr.splitlines()[0]
    for d in details:
        assert (d.get("message") or d.get("detail")) in line
    assert diff(before, counts(db_path)) == {"audit": 1}
    action, ent, _eid, patient, _detail = last_audit(db_path)
    assert (action, ent, patient) == ("refuse", entity, MRN)
    return details


# -- 4. start-session refusals --------------------------------------------------------------
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
    details = assert_refused(start(cli, MRN), db_path, before, "session", ["review"])
    assert "165/95" in details[0]["message"]


def test_bp_at_hold(cli, db_path):
    screened(cli, MRN)
    before = counts(db_path)
    details = assert_refused(start(cli, MRN, bp="170/95"), db_path, before, "session", ["bp"])
    assert "170/95" in details[0]["message"]
    # [160, 100] is reached by the diastolic alone
    before = counts(db_path)
    assert_refused(start(cli, MRN, bp="150/100"), db_path, before, "session", ["bp"])


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


def test_every_unmet_rule_in_one_line(cli, db_path):
    screened(cli, MRN, bp="165/95")
    before = counts(db_path)
    r = start(cli, MRN, "--dose", "1.2", bp="170/95")
    assert_refused(r, db_path, before, "session", ["review", "bp", "dose"])
    assert r.stderr.count("\n") == 2  # the error line and one hint line
    assert r.stderr.splitlines()[1].startswith("hint:") and "--override" in r.stderr
    detail = json.loads(last_audit(db_path)[4])
    assert detail["rules"] == ["review", "bp", "dose"]


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

    r = ok(start(cli, MRN, "--override", "protocol deviation approved by Dr. B",
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


def test_override_proceeds_and_is_audited(cli, db_path):
    screened(cli, MRN, bp="165/95")
    r = ok(start(cli, MRN, "--dose", "1.2", "--override", "reviewed by Dr. A", bp="170/95"))
    d = r.json["data"]
    assert d["override"] == "reviewed by Dr. A"
    assert d["overridden"] == ["review", "bp", "dose"]
    [(reason, overridden)] = query(db_path, "SELECT override, overridden FROM sessions")
    assert reason == "reviewed by Dr. A"
    assert json.loads(overridden) == ["review", "bp", "dose"]
    # the start is audited together with its pre-infusion observation
    rows = query(db_path, "SELECT action, entity, detail FROM audit WHERE entity = 'session'")
    assert rows[-1][0] == "start"
    assert json.loads(rows[-1][2])["overridden"] == ["review", "bp", "dose"]
    r = ok(cli("summary", d["session_id"]))
    assert "override" in r.stdout.lower() and "reviewed by Dr. A" in r.stdout


def test_override_without_a_screening_needs_a_weight(cli, db_path):
    ok(cli("patient", "add", MRN, "--name", "Someone"))
    r = ok(start(cli, MRN, "--weight", "70", "--override", "outside records reviewed"))
    assert r.json["data"]["overridden"] == ["screening"]
    assert r.json["data"]["dose_mg"] == pytest.approx(35)
    assert summary_json(cli, r.json["data"]["session_id"])["screening"] is None


def test_ineligible_is_never_overridable(cli, db_path):
    screened(cli, MRN, "--condition", "pregnancy")
    for extra in ((), ("--override", "patient insists")):
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
    assert_error(start(cli, MRN, "--override", "x" * 501, json_out=False), 2)
    assert diff(before, counts(db_path)) == {}


# -- 5. discharge criteria -------------------------------------------------------------------
@pytest.fixture
def running(cli, db_path):
    """An open session: started 07:40, 40 mg over 40 min, infusion end 08:20."""
    return open_session(cli, MRN)


ALL_BAD = dict(aldrete=8, bp="165/90", hr=115, transport="self-drive", when=at("08:30"))


def test_every_unmet_criterion_at_once(cli, db_path, running):
    before = counts(db_path)
    r = discharge(cli, running, **ALL_BAD)
    details = assert_refused(r, db_path, before, "discharge",
                             ["aldrete", "observation", "bp", "hr", "transport"])
    assert all(d["met"] is False for d in details)
    assert "no driving until the next day" in r.stderr
    assert "10 min since infusion end" in r.stderr
    assert r.json["error"]["code"] == "discharge_refused"
    # still open: nothing was closed, no observation, no follow-up
    assert summary_json(cli, running)["status"] == "open"
    ok(vitals(cli, running, "--hr", "80", when=at("08:40")))


@pytest.mark.parametrize(("kw", "name"), [
    ({"aldrete": 8}, "aldrete"),
    ({"when": at("08:45")}, "observation"),  # 25 minutes after the 08:20 end
    ({"bp": "165/90"}, "bp"),
    ({"bp": "150/100"}, "bp"),
    ({"hr": 115}, "hr"),
    ({"hr": 110}, "hr"),  # must be below 110
    ({"transport": "self-drive"}, "transport"),
])
def test_each_criterion_alone(cli, db_path, running, kw, name):
    before = counts(db_path)
    args = {"when": at("08:55"), **kw}
    assert_refused(discharge(cli, running, **args), db_path, before, "discharge", [name])


def test_criteria_boundaries(cli, db_path, running):
    # 29.6 minutes after the 08:20 end is not yet 30 (and must not read "30 min")
    r = discharge(cli, running, aldrete=9, bp="159/99", hr=109,
                  when="2026-11-27T08:49:36-06:00")
    assert_error(r, 1, json_out=True)
    assert [d["name"] for d in r.json["error"]["details"]] == ["observation"]
    assert "29 min since infusion end" in r.stderr
    # exactly 30 minutes, Aldrete 9, BP and HR just below the limits: discharged
    r = ok(discharge(cli, running, aldrete=9, bp="159/99", hr=109, when=at("08:50")))
    assert all(c["met"] for c in r.json["data"]["criteria"])


def test_override_discharges_except_self_drive(cli, db_path, running):
    before = counts(db_path)
    r = discharge(cli, running, "--override", "physician at bedside", **ALL_BAD)
    assert_refused(r, db_path, before, "discharge",
                   ["aldrete", "observation", "bp", "hr", "transport"])
    assert "not overridable" in r.stderr
    detail = json.loads(last_audit(db_path)[4])
    assert detail["override_offered"] is True

    kw = {**ALL_BAD, "transport": "escort"}
    r = ok(discharge(cli, running, "--override", "physician at bedside", **kw))
    d = r.json["data"]
    assert d["override"] == "physician at bedside"
    assert [c["name"] for c in d["criteria"] if not c["met"]] == ["aldrete", "observation",
                                                                   "bp", "hr"]
    assert d["summary"]["discharge"]["override"] == "physician at bedside"
    assert query(db_path, "SELECT override FROM discharges") == [("physician at bedside",)]
    text = ok(cli("summary", running)).stdout
    assert "NOT MET" in text and "Discharge override: physician at bedside" in text


def test_aldrete_items(cli, db_path, running):
    r = ok(discharge(cli, running, "--aldrete-items", "2,2,2,2,2", aldrete=None))
    assert r.json["data"]["summary"]["discharge"]["aldrete"] == 10
    assert r.json["data"]["summary"]["discharge"]["aldrete_items"] == [2, 2, 2, 2, 2]
    [(total, items)] = query(db_path, "SELECT aldrete_total, aldrete_items FROM discharges")
    assert (total, json.loads(items)) == (10, [2, 2, 2, 2, 2])


def test_aldrete_items_below_nine_are_refused(cli, db_path, running):
    before = counts(db_path)
    r = discharge(cli, running, "--aldrete-items", "2,2,1,1,2", aldrete=None)
    assert_refused(r, db_path, before, "discharge", ["aldrete"])
    assert "Aldrete 8" in r.stderr


@pytest.mark.parametrize("extra", [
    ("--aldrete", "11"),
    ("--aldrete", "-1"),
    ("--aldrete-items", "2,2,2,2,3"),
    ("--aldrete-items", "2,2,2,2"),
    ("--aldrete", "10", "--aldrete-items", "2,2,2,2,2"),
    (),
])
def test_bad_aldrete_exits_2(cli, db_path, running, extra):
    before = counts(db_path)
    r = discharge(cli, running, *extra, aldrete=None)
    assert_error(r, 2, json_out=True)
    assert diff(before, counts(db_path)) == {}


@pytest.mark.parametrize(("extra", "transport"), [
    (("--wasted-mg", "5"), "escort"),  # no witness
    (("--delivered-mg", "40", "--wasted-mg", "5", "--waste-witness", "RN Second"), "escort"),
    (("--delivered-mg", "41"), "escort"),
    (("--wasted-mg", "5", "--waste-witness", "nurse.test", "--delivered-mg", "30"), "escort"),
    ((), None),  # missing --transport
    ((), "bicycle"),
    (("--side-effect", "hiccups"), "escort"),
    (("--side-effect", "nausea:extreme"), "escort"),
])
def test_discharge_invalid_input_exits_2(cli, db_path, running, extra, transport):
    before = counts(db_path)
    r = discharge(cli, running, *extra, transport=transport)
    assert_error(r, 2, json_out=True)
    assert diff(before, counts(db_path)) == {}


def test_missing_transport_message(cli, running):
    r = discharge(cli, running, transport=None, json_out=False)
    assert "--transport" in r.stderr and "no driving until the next day" in r.stderr


def test_waste_with_witness_is_recorded(cli, db_path):
    screened(cli, MRN)
    sid = ok(start(cli, MRN, "--drawn-mg", "50", "--lot", "L-9")).json["data"]["session_id"]
    r = ok(discharge(cli, sid, "--wasted-mg", "10", "--waste-witness", "RN Second"))
    dis = r.json["data"]["summary"]["discharge"]
    assert (dis["delivered_mg"], dis["wasted_mg"], dis["waste_witness"]) == (40, 10, "RN Second")
    assert "wasted 10 mg, witness RN Second" in ok(cli("summary", sid)).stdout


def test_refused_discharge_can_be_retried(cli, db_path, running):
    assert discharge(cli, running, when=at("08:30")).exit_code == 1
    r = ok(discharge(cli, running, when=at("08:55")))
    assert r.json["data"]["override"] is None
    assert counts(db_path)["discharges"] == 1
    assert [a for (a,) in query(db_path, "SELECT action FROM audit WHERE entity_id = ? AND "
                                         "action IN ('refuse', 'discharge')", (running,))] == [
        "refuse", "discharge"]


def test_screen_then_start_refusal_keeps_name_out_of_audit(cli, db_path):
    screen(cli, MRN, bp="165/95")
    start(cli, MRN)
    assert "Quill" not in "".join(str(row) for row in query(db_path, "SELECT * FROM audit"))
