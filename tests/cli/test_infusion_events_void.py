"""`log-event` (pause, resume, rate-change, stop, medication, adverse), how events shape
the delivered dose and the infusion end, and `void` (entered-in-error, never erased)."""

from __future__ import annotations

import json

import pytest
from helpers import counts, diff, ok, query
from infusion_support import (
    MRN,
    assert_error,
    at,
    closed_session,
    discharge,
    event,
    last_audit,
    open_session,
    screened,
    start,
    summary_json,
    utc,
    vitals,
)

EVENT_KEYS = {"event_id", "session_id", "kind", "at", "minutes_into_infusion", "detail",
              "rate_mg_per_h"}


@pytest.fixture
def sid(cli):
    """Open session: 80 kg, 40 mg at 60 mg/h from 07:40 (planned end 08:20)."""
    return open_session(cli, MRN)


# -- 6. log-event -------------------------------------------------------------------
def test_every_kind(cli, db_path, sid):
    steps = [
        ("07:50", "pause", ()),
        ("08:00", "resume", ()),
        ("08:05", "rate-change", ("--rate", "30")),
        ("08:10", "medication", ("--detail", "ondansetron 4 mg IV")),
        ("08:12", "adverse", ("--detail", "nausea, settled")),
        ("08:30", "stop", ()),
    ]
    results = [ok(event(cli, sid, kind, *extra, when=at(t))).json["data"]
               for t, kind, extra in steps]
    for d, (t, kind, _) in zip(results, steps, strict=True):
        assert set(d) >= EVENT_KEYS
        assert (d["session_id"], d["kind"], d["at"]) == (sid, kind, utc(t))
    assert [d["minutes_into_infusion"] for d in results] == [10, 20, 25, 30, 32, 50]
    assert results[2]["rate_mg_per_h"] == 30
    assert results[3]["detail"] == "ondansetron 4 mg IV"
    assert query(db_path, "SELECT kind, rate_mg_per_h, detail FROM events ORDER BY id") == [
        ("pause", None, None), ("resume", None, None), ("rate-change", 30.0, None),
        ("medication", None, "ondansetron 4 mg IV"), ("adverse", None, "nausea, settled"),
        ("stop", None, None)]
    assert query(db_path, "SELECT count(*) FROM audit WHERE action = 'create' AND "
                          "entity = 'event'") == [(6,)]

    s = summary_json(cli, sid)
    assert [e["kind"] for e in s["events"]] == [k for _, k, _ in steps]
    # 10 min at 60 (10 mg), paused 10 min, 5 min at 60 (5 mg), 25 min at 30 (12.5 mg), stop
    assert s["paused_min"] == 10
    assert s["stopped_early"] is True
    assert s["infusion_end"] == utc("08:30")
    assert s["delivered_mg"] == pytest.approx(27.5)

    r = ok(discharge(cli, sid, when=at("09:00")))
    dis = r.json["data"]["summary"]
    assert dis["delivered_mg"] == pytest.approx(27.5)
    assert dis["infusion_end"] == utc("08:30")
    text = ok(cli("summary", sid)).stdout
    assert "paused 10 min" in text and "stopped early" in text
    assert "ondansetron 4 mg IV" in text and "30 mg/h" in text


def test_patient_form(cli, db_path, sid):
    r = ok(cli("log-event", "--patient", MRN, "pause", "--at", at("07:50"), "--json"))
    assert (r.json["data"]["session_id"], r.json["data"]["kind"]) == (sid, "pause")
    r = ok(cli("log-event", "--patient", MRN, "resume", "--at", at("07:55")))
    assert r.stdout.startswith("Event 2: resume at 15 min")
    assert MRN in r.stdout
    r = ok(cli("log-vitals", "--patient", MRN, "--hr", "80", "--at", at("08:00"), "--json"))
    assert r.json["data"]["session_id"] == sid
    assert counts(db_path)["events"] == 2


@pytest.mark.parametrize(("history", "kind", "extra"), [
    ((), "resume", ()),
    ((("07:50", "pause"),), "pause", ()),
    ((("07:50", "pause"), ("07:55", "resume")), "resume", ()),
    ((("08:00", "stop"),), "stop", ()),
    ((("08:00", "stop"),), "rate-change", ("--rate", "30")),
    ((("08:00", "stop"),), "pause", ()),
    ((("08:00", "stop"),), "resume", ()),
])
def test_event_out_of_state_exits_3(cli, db_path, sid, history, kind, extra):
    for t, k in history:
        ok(event(cli, sid, k, when=at(t)))
    before = counts(db_path)
    r = event(cli, sid, kind, *extra, when=at("08:10"))
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "event_state"
    assert diff(before, counts(db_path)) == {}


@pytest.mark.parametrize(("history", "kind", "when"), [
    # the infusion was running at 07:55: nothing to resume then (the pause came at 08:00)
    ((("08:00", "pause"),), "resume", "07:55"),
    # a pause slipped in before a recorded pause/resume pair would leave it never resumed
    ((("08:00", "pause"), ("08:10", "resume")), "pause", "07:50"),
    ((("08:00", "stop"),), "pause", "07:50"),
    ((("08:00", "pause"),), "stop", "07:50"),
])
def test_backdated_state_events_are_judged_at_their_time(cli, db_path, sid, history, kind, when):
    """'resume when not paused' means not paused at the resume's own --at."""
    for t, k in history:
        ok(event(cli, sid, k, when=at(t)))
    before = counts(db_path)
    r = event(cli, sid, kind, when=at(when))
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] in ("event_state", "event_order")
    assert diff(before, counts(db_path)) == {}


def test_backdated_events_that_fit_are_accepted(cli, sid):
    ok(event(cli, sid, "pause", when=at("08:00")))
    ok(event(cli, sid, "medication", "--detail", "ondansetron", when=at("07:50")))
    ok(event(cli, sid, "resume", when=at("08:10")))
    ok(event(cli, sid, "rate-change", "--rate", "30", when=at("08:05")))  # set while paused
    s = summary_json(cli, sid)
    assert [e["kind"] for e in s["events"]] == ["medication", "pause", "rate-change", "resume"]
    # the contract's default end: start + duration (pauses do not extend it); 20 mg in
    # the first 20 min, paused 10, then 30 mg/h for the last 10 min = 25 mg
    assert s["infusion_end"] == utc("08:20")
    assert s["delivered_mg"] == pytest.approx(25)


def test_medication_after_stop_is_allowed(cli, sid):
    ok(event(cli, sid, "stop", when=at("08:00")))
    ok(event(cli, sid, "medication", "--detail", "ondansetron", when=at("08:05")))


# The contract's defaults: the infusion ends at the stop event, else at start + duration
# (pauses do not extend it), and the delivered dose is pro-rated for pauses, rate changes
# and an early stop.
@pytest.mark.parametrize(("events", "end", "delivered", "paused"), [
    ([], "08:20", 40, 0),
    # paused 10 minutes: ends on time, 10 minutes' worth (10 mg) not delivered
    ([("07:50", "pause"), ("08:00", "resume")], "08:20", 30, 10),
    # paused, resumed, stopped: 10 mg + 10 mg
    ([("07:50", "pause"), ("08:00", "resume"), ("08:10", "stop")], "08:10", 20, 10),
    # paused and never resumed: 10 mg, paused for the rest of the planned time
    ([("07:50", "pause")], "08:20", 10, 30),
    # halved rate after 20 minutes: 20 mg + 10 mg by the planned end
    ([("08:00", "rate-change", "30")], "08:20", 30, 0),
])
def test_events_pro_rate_the_discharge_defaults(cli, sid, events, end, delivered, paused):
    for t, kind, *rate in events:
        ok(event(cli, sid, kind, *(("--rate", rate[0]) if rate else ()), when=at(t)))
    before = summary_json(cli, sid)
    assert before["infusion_end"] == utc(end)
    assert before["infusion_end_estimated"] is True
    r = ok(discharge(cli, sid, "--override", "timing checked", when=at("09:00")))
    s = r.json["data"]["summary"]
    assert s["infusion_end"] == utc(end)
    assert s["infusion_end_estimated"] is False
    assert s["delivered_mg"] == pytest.approx(delivered)
    assert s["discharge"]["delivered_mg"] == pytest.approx(delivered)
    if paused is not None:
        assert s["paused_min"] == paused
    obs = next(c for c in r.json["data"]["criteria"] if c["name"] == "observation")
    h, m = map(int, end.split(":"))
    assert obs["detail"].startswith(f"{(9 * 60) - (h * 60 + m)} min since infusion end")


def test_pause_does_not_move_the_observation_window(cli, db_path, sid):
    ok(event(cli, sid, "pause", when=at("07:50")))
    ok(event(cli, sid, "resume", when=at("08:00")))
    # the infusion still ends at 08:20 (start + duration); 08:45 is only 25 minutes after
    r = discharge(cli, sid, when=at("08:45"))
    assert_error(r, 1, json_out=True)
    assert [d["name"] for d in r.json["error"]["details"]] == ["observation"]
    # 08:50 is 30 minutes after: discharged, with the paused 10 minutes not delivered
    r = ok(discharge(cli, sid, when=at("08:50")))
    assert r.json["data"]["summary"]["delivered_mg"] == pytest.approx(30)


def test_explicit_infusion_end_and_delivered_dose(cli, db_path, sid):
    r = ok(discharge(cli, sid, "--infusion-end", at("08:15"), "--delivered-mg", "36",
                     when=at("08:50")))
    s = r.json["data"]["summary"]
    assert s["infusion_end"] == utc("08:15")
    assert s["delivered_mg"] == 36
    assert_error(discharge(cli, open_session(cli, "KX-300"), "--infusion-end", at("07:30"),
                           when=at("08:55"), json_out=False), 2)


# -- 7. void ----------------------------------------------------------------------
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
    ("session", "1", "--reason", "typo"),
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
