"""`log-vitals` and `log-event` (ketacli.cli.vitals; docs/cli-contract.md, `log-vitals` and
`log-event`): alerts (a critical one is prominent and still exit 0), every event kind and
what it does to the infusion's course, events judged in the pump's state at their own
time, and bad input or an out-of-state event that stores nothing.

Behaviour shared with the other recording commands (a future --at, an unknown or closed
session) is in test_options.py; how events shape the discharge is in test_discharge.py."""

from __future__ import annotations

import json

import pytest
from helpers import counts, diff, ok, query
from infusion_support import (
    IMPLAUSIBLE,
    MRN,
    NAME,
    assert_error,
    at,
    discharge,
    event,
    screen,
    start,
    summary_json,
    unchanged,
    utc,
    vitals,
)


# -- log-vitals ------------------------------------------------------------------------
def test_critical_alert_is_prominent_and_exit_0(cli, db_path):
    screen(cli)
    sid = ok(start(cli)).json["data"]["session_id"]
    r = ok(vitals(cli, sid, "--bp", "186/96", "--hr", "90", when=at("08:00"), json_out=False))
    assert "!! CRITICAL" in r.stdout and "SBP 186" in r.stdout
    assert r.stderr == ""
    r = ok(vitals(cli, sid, "--bp", "138/84", "--hr", "80", when=at("08:10"), json_out=False))
    assert "no alerts" in r.stdout and "CRITICAL" not in r.stdout
    # low-side thresholds: SpO2 93 warns, 89 is critical; MOAA/S 2 warns, 1 is critical
    r = ok(vitals(cli, sid, "--spo2", "89", "--moaas", "2", "--rr", "9", when=at("08:12")))
    got = {(a["parameter"], a["level"], a["threshold"]) for a in r.json["data"]["alerts"]}
    assert got == {("spo2", "critical", 90), ("moaas", "warning", 3), ("rr", "warning", 10)}
    assert query(db_path, "SELECT count(*) FROM observations WHERE session_id = ?", (sid,)) == [(4,)]


def test_the_observation_line_names_the_patient_and_keeps_values_together(cli, live):
    """trial2: at 80 columns the line broke between BP and HR; the patient is named so a
    wrong session id is caught at the chair."""
    sid, _ = live
    r = ok(vitals(cli, sid, "--bp", "130/85", "--hr", "78", "--spo2", "97", when=at("07:50"),
                  json_out=False))
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Observation ") and f"session {sid}, {NAME} ({MRN})" in lines[0]
    assert lines[1].strip() == "BP 130/85  HR 78  SpO2 97"
    assert all(len(line) <= 80 for line in lines)


def test_five_minutes_ahead_is_tolerated(cli, live):
    sid, _ = live
    r = ok(vitals(cli, sid, "--hr", "80", when=at("09:05")))
    assert r.json["data"]["recorded_at"] == "2026-11-27T15:05:00+00:00"


# -- log-vitals: bad input, exit 2, nothing stored -------------------------------------
@pytest.mark.parametrize("bad", [*IMPLAUSIBLE,
                                 pytest.param(("--rr", "61"), id="rr-61"),
                                 pytest.param(("--rr", "-1"), id="rr-neg"),
                                 pytest.param(("--etco2", "101"), id="etco2-101"),
                                 pytest.param(("--moaas", "6"), id="moaas-6"),
                                 pytest.param(("--dissociation", "11"), id="dissociation-11")])
def test_log_vitals_implausible(cli, db_path, live, bad):
    sid, before = live
    r = vitals(cli, sid, *bad, when=at("08:00"), json_out=False)
    assert_error(r, 2)
    unchanged(db_path, before)


def test_implausible_message_names_the_value(cli, live):
    sid, _ = live
    r = vitals(cli, sid, "--bp", "400/80", json_out=False)
    assert "400" in r.stderr and "50-300" in r.stderr


@pytest.mark.parametrize("when", ["yesterday", "2026-13-01 08:00", "25:00", "2026-11-27"])
def test_unparseable_at_exits_2(cli, db_path, live, when):
    sid, before = live
    assert_error(vitals(cli, sid, "--hr", "80", when=when, json_out=False), 2)
    unchanged(db_path, before)


def test_vitals_before_the_start_exit_2(cli, db_path, live):
    sid, before = live
    assert_error(vitals(cli, sid, "--hr", "80", when=at("07:30"), json_out=False), 2)
    assert_error(event(cli, sid, "pause", when=at("07:30"), json_out=False), 2)
    unchanged(db_path, before)


def test_log_vitals_needs_a_measure(cli, db_path, live):
    sid, before = live
    r = vitals(cli, sid, when=at("08:00"))
    assert_error(r, 2, json_out=True)
    assert r.json["error"]["code"] == "missing_value"
    unchanged(db_path, before)


def test_log_vitals_needs_exactly_one_target(cli, db_path, live):
    sid, before = live
    assert_error(cli("log-vitals", "--hr", "80"), 2)
    assert_error(cli("log-vitals", sid, "--patient", MRN, "--hr", "80"), 2)
    unchanged(db_path, before)


# -- the phase a reading is charted in: the pump's end ---------------------------------
@pytest.mark.parametrize(("events", "when", "phase"), [
    ([], "08:20", "intra"),
    ([], "08:21", "post"),
    # paused 5 minutes: the infusion ends at 08:25, not at the planned 08:20
    ([("07:50", "pause"), ("07:55", "resume")], "08:22", "intra"),
    ([("07:50", "pause"), ("07:55", "resume")], "08:25", "intra"),
    ([("07:50", "pause"), ("07:55", "resume")], "08:26", "post"),
    # half the rate from 08:00: the other 20 mg take 40 minutes, to 08:40
    ([("08:00", "rate-change", "30")], "08:35", "intra"),
    ([("08:00", "rate-change", "30")], "08:41", "post"),
    # paused and not (yet) resumed: the pump may still resume
    ([("08:00", "pause")], "08:30", "intra"),
    # a stop ends it
    ([("08:00", "stop")], "08:05", "post"),
])
def test_the_phase_follows_the_pumps_end(cli, db_path, sid, events, when, phase):
    for t, kind, *rate in events:
        ok(event(cli, sid, kind, *(("--rate", rate[0]) if rate else ()), when=at(t)))
    d = ok(vitals(cli, sid, "--hr", "80", when=at(when))).json["data"]
    assert d["phase"] == phase
    assert query(db_path, "SELECT phase FROM observations WHERE id = ?",
                 (d["observation_id"],)) == [(phase,)]
    human = ok(vitals(cli, sid, "--spo2", "98", when=at(when), json_out=False)).stdout
    assert f"({phase})" in human


def test_unknown_option_is_one_error_line(cli, db_path, live):
    sid, before = live
    r = cli("log-vitals", sid, "--hr", "80", "--bogus")
    assert_error(r, 2)
    r = cli("log-vitals", sid, "--hr", "eighty")
    assert_error(r, 2)
    unchanged(db_path, before)


# -- log-event -------------------------------------------------------------------------
EVENT_KEYS = {"event_id", "session_id", "kind", "at", "minutes_into_infusion", "detail",
              "rate_mg_per_h"}


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

    # 40 mg drawn, 27.5 given: the rest is wasted (accounted) before the discharge closes
    r = discharge(cli, sid, when=at("09:00"))
    assert r.exit_code == 1 and "12.5 mg drawn is neither given nor wasted" in r.stderr
    r = ok(discharge(cli, sid, "--wasted-mg", "12.5", "--waste-witness", "rn.witness",
                     when=at("09:00")))
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
    # the pump: 20 mg in the first 20 min, paused 10 (the rate change set the rate for the
    # resume), then the other 20 mg at 30 mg/h take 40 min
    assert s["infusion_end"] == utc("08:50")
    assert s["delivered_mg"] == pytest.approx(40)


def test_medication_after_stop_is_allowed(cli, sid):
    ok(event(cli, sid, "stop", when=at("08:00")))
    ok(event(cli, sid, "medication", "--detail", "ondansetron", when=at("08:05")))


# -- log-event: usage, exit 2, nothing stored ------------------------------------------
@pytest.mark.parametrize(("args", "needle"), [
    (("rate-change",), "--rate"),
    (("medication",), "--detail"),
    (("adverse",), "--detail"),
    (("medication", "--detail", "   "), "--detail"),
    (("pause", "--rate", "30"), "--rate"),
    (("rate-change", "--rate", "0"), "--rate"),
    (("explode",), "KIND"),
])
def test_log_event_usage_exit_2(cli, db_path, live, args, needle):
    sid, before = live
    r = cli("log-event", sid, *args, "--at", at("08:00"))
    assert_error(r, 2)
    assert needle in r.stderr
    unchanged(db_path, before)


def test_log_event_without_kind_exits_2(cli, db_path, live):
    sid, before = live
    assert_error(cli("log-event", sid), 2)
    assert_error(cli("log-event", "--patient", MRN), 2)
    assert_error(cli("log-event", "abc", "pause"), 2)
    unchanged(db_path, before)


# -- issue 13: the alerts a chair nurse needs (pre-infusion reading 130/80) -----------------
@pytest.mark.parametrize(("args", "expected"), [
    (("--bp", "60/30"), [("sbp", "critical", 80)]),
    (("--bp", "85/55"), [("sbp", "warning", 90)]),
    (("--rr", "26"), [("rr", "warning", 24)]),
    (("--rr", "31"), [("rr", "critical", 30)]),
    (("--bp", "172/99"), [("sbp", "warning", 160), ("sbp_rise", "warning", 40)]),
    (("--bp", "150/106"), [("dbp", "warning", 100), ("dbp_rise", "warning", 25)]),
    (("--bp", "195/122"), [("sbp", "critical", 180), ("dbp", "critical", 110),
                           ("sbp_rise", "critical", 60), ("dbp_rise", "critical", 40)]),
    (("--bp", "169/106"), [("sbp", "warning", 160), ("dbp", "warning", 100),
                           ("dbp_rise", "warning", 25)]),  # +39 systolic: no rise alert
])
def test_low_bp_high_rr_and_rises_alert(cli, db_path, sid, args, expected):
    d = ok(vitals(cli, sid, *args, when=at("07:50"))).json["data"]
    assert [(a["parameter"], a["level"], a["threshold"]) for a in d["alerts"]] == expected
    stored = query(db_path, "SELECT alerts FROM observations WHERE id = ?",
                   (d["observation_id"],))[0][0]
    assert [a["parameter"] for a in json.loads(stored)] == [e[0] for e in expected]


def test_a_rise_is_shown_with_its_size(cli, sid):
    r = ok(vitals(cli, sid, "--bp", "175/90", when=at("07:50"), json_out=False))
    assert "SBP up 45 mmHg from pre-infusion 130 (>= 40)" in r.stdout
    rise = next(a for a in ok(vitals(cli, sid, "--bp", "175/90", when=at("07:55"))).json[
        "data"]["alerts"] if a["parameter"] == "sbp_rise")
    assert (rise["value"], rise["threshold"]) == (45, 40)


def test_rise_thresholds_follow_the_protocol(cli, sid, tmp_path):
    f = tmp_path / "p.toml"
    f.write_text("[alerts]\nsbp_rise = [20, 30]\nsbp_low = [100, 85]\n")
    d = ok(cli("--protocol", f, "log-vitals", sid, "--bp", "150/80", "--at", at("07:50"),
               "--json")).json["data"]
    assert [(a["parameter"], a["level"]) for a in d["alerts"]] == [("sbp_rise", "warning")]
    d = ok(cli("--protocol", f, "log-vitals", sid, "--bp", "95/60", "--at", at("07:55"),
               "--json")).json["data"]
    assert [(a["parameter"], a["level"]) for a in d["alerts"]] == [("sbp", "warning")]


def test_a_pause_after_the_pump_finished_is_exit_3_and_stores_nothing(cli, db_path, live):
    """trial2: `log-event 2 pause` typed for session 3, an hour after session 2's pump had
    delivered its dose, was stored on session 2."""
    sid, _ = live  # started 07:40, 40 mg at 60 mg/h: the pump ends 08:20
    before = counts(db_path)
    r = event(cli, sid, "pause", when=at("08:49"))
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "event_state"
    assert diff(before, counts(db_path)) == {}
    ok(event(cli, sid, "medication", "--detail", "ondansetron 4 mg", when=at("08:49")))
