"""`discharge` and `summary` (ketacli.cli.discharge; docs/cli-contract.md, `discharge` and
`summary`): a whole infusion day ending in discharge, every criterion (exit 1, all listed)
and `--override` (never for self-drive), the infusion end and delivered dose that events
give, the controlled-substance amounts, the monitoring record, the summary of an open
session, and patient text that is never markup; a snapshot of the summary panel."""

from __future__ import annotations

import json
from pathlib import Path

import ledger_support as ledger
import pytest
from helpers import counts, diff, ok, query
from infusion_support import (
    DAY,
    IMPLAUSIBLE,
    MRN,
    NAME,
    _with,
    assert_error,
    assert_refused,
    at,
    discharge,
    event,
    last_audit,
    open_session,
    panel_text,
    screen,
    screened,
    start,
    summary_json,
    unchanged,
    utc,
    vitals,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"
SCREEN_KEYS = {"screening_id", "patient", "decision", "reasons", "suicide_risk_flag",
               "valid_until", "phq9", "gad7", "madrs", "pcl5"}
START_KEYS = {"session_id", "patient", "number_in_series", "weight_kg", "dose_mg_per_kg",
              "dose_mg", "duration_min", "rate_mg_per_h", "rate_ml_per_h", "started_at",
              "override"}
VITALS_KEYS = {"observation_id", "session_id", "recorded_at", "minutes_into_infusion", "alerts"}
ALERT_KEYS = {"level", "parameter", "value", "threshold", "message"}
DISCHARGE_KEYS = {"session_id", "discharged_at", "criteria", "override", "followups", "summary"}
MONITORING_KEYS = {"bp_pre", "bp_40min", "bp_discharge", "monitoring_minutes", "sedation",
                   "dissociation", "respiratory_depression", "lot", "concomitant_meds"}
# (clinic time, --bp, --hr, --spo2) during and after a 40-minute infusion started at 07:40
READINGS = [
    ("07:50", "138/84", 78, 98),
    ("08:00", "185/104", 88, 97),  # critical SBP, warning DBP
    ("08:10", "150/90", 84, 97),
    ("08:20", "142/86", 80, 98),
    ("08:35", "132/80", 74, 98),
]


def run_day(cli, *, name: str = NAME, events=()) -> dict:
    """The reference day; returns every command's result. `events`: (clinic time, args)
    logged with log-event after the vitals, before the discharge."""
    out = {}
    out["screen"] = ok(screen(cli, MRN, name=name, when=at("07:00")))
    out["start"] = ok(start(cli, MRN, "--concentration", "10", "--lot", "LOT-2611A",
                            "--site", "left antecubital", "--spo2", "98", when=at("07:40")))
    sid = out["start"].json["data"]["session_id"]
    out["vitals"] = [
        ok(vitals(cli, sid, "--bp", bp, "--hr", hr, "--spo2", spo2, when=at(t)))
        for t, bp, hr, spo2 in READINGS
    ]
    for t, args in events:
        ok(cli("log-event", sid, *args, "--at", at(t)))
    out["discharge"] = ok(discharge(
        cli, sid, "--spo2", "98", "--escort", "spouse", "--side-effect", "nausea:moderate",
        "--side-effect", "dizziness", aldrete=10, bp="128/80", hr=76, transport="escort",
        when=at("08:55"),
    ))
    out["sid"] = sid
    return out


# -- the full day ----------------------------------------------------------------------
def test_full_day_end_to_end(cli, db_path):
    day = run_day(cli)
    sid = day["sid"]

    # screening: new patient, PHQ-9 12 moderate, eligible
    sc = day["screen"].json["data"]
    assert set(sc) >= SCREEN_KEYS
    assert sc["patient"] == MRN
    assert sc["decision"] == "eligible"
    assert sc["reasons"] == []
    assert sc["suicide_risk_flag"] is False
    assert sc["valid_until"] == "2026-12-27"
    assert sc["phq9"] == {"total": 12, "severity": "moderate"}
    assert sc["gad7"] is None and sc["madrs"] is None and sc["pcl5"] is None
    assert query(db_path, "SELECT mrn, name FROM patients") == [(MRN, NAME)]

    # start: 80 kg from the screening, 0.5 mg/kg, 40 min, 10 mg/mL
    st = day["start"].json["data"]
    assert set(st) >= START_KEYS
    assert st["session_id"] == sid
    assert st["patient"] == MRN
    assert st["number_in_series"] == 1
    assert st["weight_kg"] == 80
    assert st["dose_mg_per_kg"] == 0.5
    assert st["dose_mg"] == pytest.approx(40)
    assert st["duration_min"] == 40
    assert st["rate_mg_per_h"] == pytest.approx(60)
    assert st["rate_ml_per_h"] == pytest.approx(6)
    assert st["started_at"] == utc("07:40")
    assert st["override"] is None

    # vitals: five readings, one critical alert, all exit 0
    obs = [r.json["data"] for r in day["vitals"]]
    for o, (t, *_rest) in zip(obs, READINGS, strict=True):
        assert set(o) >= VITALS_KEYS
        assert o["session_id"] == sid
        assert o["recorded_at"] == utc(t)
    assert [o["minutes_into_infusion"] for o in obs] == [10, 20, 30, 40, 55]
    crit = obs[1]["alerts"]
    assert all(set(a) == ALERT_KEYS for a in crit)
    sbp = next(a for a in crit if a["parameter"] == "sbp")
    assert sbp["level"] == "critical"
    assert sbp["value"] == 185 and sbp["threshold"] == 180
    assert "185" in sbp["message"]
    assert any(a["parameter"] == "dbp" and a["level"] == "warning" for a in crit)
    assert [o["alerts"] for i, o in enumerate(obs) if i != 1] == [[], [], [], []]
    # the alert is stored with the observation
    stored = query(db_path, "SELECT alerts FROM observations WHERE id = ?",
                   (obs[1]["observation_id"],))[0][0]
    # 185/104 after a pre-infusion 130/80: also a rise of 55 mmHg systolic (>= 40 warns)
    assert {a["parameter"] for a in json.loads(stored)} == {"sbp", "dbp", "sbp_rise"}

    # discharge: criteria, follow-ups (call +1 day, infusion +2 days), summary
    dis = day["discharge"].json["data"]
    assert set(dis) >= DISCHARGE_KEYS
    assert dis["session_id"] == sid
    assert dis["discharged_at"] == utc("08:55")
    assert dis["override"] is None
    assert [c["name"] for c in dis["criteria"]] == ["aldrete", "observation", "bp", "hr",
                                                     "sbp-low", "spo2", "accounted",
                                                     "transport"]
    assert (dis["cosign"], dis["overridden"]) == (None, [])
    assert all(set(c) == {"name", "met", "detail"} and c["met"] is True for c in dis["criteria"])
    assert [(f["kind"], f["due"]) for f in dis["followups"]] == [
        ("call", "2026-11-28"), ("infusion", "2026-11-29")]
    assert all(set(f) == {"followup_id", "kind", "due"} for f in dis["followups"])
    assert query(db_path, "SELECT kind, due, status, session_id FROM followups ORDER BY id") == [
        ("call", "2026-11-28", "pending", sid), ("infusion", "2026-11-29", "pending", sid)]
    assert dis["summary"] == summary_json(cli, sid)

    c = counts(db_path)
    assert (c["patients"], c["screenings"], c["sessions"], c["discharges"]) == (1, 1, 1, 1)
    assert c["observations"] == 1 + len(READINGS) + 1  # pre, five readings, discharge
    assert c["side_effects"] == 2 and c["followups"] == 2
    assert query(db_path, "SELECT code, severity FROM side_effects ORDER BY id") == [
        ("nausea", "moderate"), ("dizziness", "mild")]


def test_full_day_summary_json(cli):
    sid = run_day(cli)["sid"]
    s = summary_json(cli, sid)
    assert s["status"] == "discharged"
    assert s["patient"]["mrn"] == MRN and s["patient"]["name"] == NAME
    assert s["dose_mg"] == pytest.approx(40) and s["delivered_mg"] == pytest.approx(40)
    assert s["infusion_end"] == utc("08:20")
    assert [o["at"] for o in s["observations"]] == [
        utc(t) for t in ("07:40", *(r[0] for r in READINGS), "08:55")]
    assert [o["phase"] for o in s["observations"]] == [
        "pre", "intra", "intra", "intra", "intra", "post", "discharge"]
    assert s["alert_counts"] == {"critical": 1, "warning": 2}
    assert s["side_effects"] == [{"code": "nausea", "severity": "moderate"},
                                 {"code": "dizziness", "severity": "mild"}]
    m = s["monitoring"]
    assert set(m) >= MONITORING_KEYS
    assert m["bp_pre"] == "130/80"
    assert m["bp_40min"] == "142/86"  # the 08:20 reading, 40 minutes in
    assert m["bp_discharge"] == "128/80"
    assert m["monitoring_minutes"] == 75
    assert m["sedation"] is False and m["dissociation"] is False
    assert m["respiratory_depression"] is False
    assert m["lot"] == "LOT-2611A"
    assert m["concomitant_meds"] == []
    assert s["discharge"]["transport"] == "escort" and s["discharge"]["escort"] == "spouse"


def test_full_day_human_output(cli):
    sid = run_day(cli)["sid"]
    text = ok(cli("summary", sid)).stdout
    assert MRN in text
    assert NAME in text
    assert "40 mg over 40 min" in text and "60 mg/h" in text and "6 mL/h" in text
    for t in ("07:40", *(r[0] for r in READINGS), "08:55"):
        assert t in text, t
    assert "!! SBP 185" in text
    assert "NOT MET" not in text
    assert "nausea (moderate)" in text and "dizziness (mild)" in text
    assert "no driving until the next day" in text
    assert "LOT-2611A" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "\x1b[" not in text  # NO_COLOR and not a TTY: no styling codes


def test_discharge_panel_shows_the_vitals_range(cli):
    """The contract's discharge panel: patient, dose, duration, vitals range, alerts, events,
    side effects, criteria."""
    screen(cli)
    sid = ok(start(cli, MRN, "--spo2", "98")).json["data"]["session_id"]
    for t, bp, hr, spo2 in READINGS:
        ok(vitals(cli, sid, "--bp", bp, "--hr", hr, "--spo2", spo2, when=at(t)))
    text = ok(discharge(cli, sid, "--side-effect", "headache", json_out=False)).stdout
    assert "Vitals range: BP 128-185/80-104, HR 70-88, SpO2 97-98" in text
    assert MRN in text and "40 mg over 40 min" in text
    assert "Alerts: 1 critical, 2 warning" in text
    assert "headache (mild)" in text and "Discharge criteria" in text


def test_start_and_discharge_human_output(cli):
    screen(cli, when=at("07:00"))
    r = ok(start(cli, MRN, "--concentration", "10", when=at("07:40"), json_out=False))
    assert "40 mg over 40 min" in r.stdout and "6 mL/h" in r.stdout
    r = ok(discharge(cli, 1, when=at("08:55"), json_out=False))
    assert f"Session 1 - {NAME} ({MRN}) - discharged" in r.stdout  # the patient named
    assert "Follow-ups scheduled" in r.stdout
    assert "call due 2026-11-28" in r.stdout and "infusion due 2026-11-29" in r.stdout


def test_discharge_with_patient_option_and_no_schedule(cli, db_path):
    screen(cli)
    ok(start(cli))
    r = ok(cli("discharge", "--patient", MRN, "--aldrete", "10", "--bp", "120/80", "--hr", "70",
               "--transport", "taxi", "--no-schedule", "--at", at("08:55"), "--json"))
    assert r.json["data"]["followups"] == []
    assert counts(db_path)["followups"] == 0
    assert query(db_path, "SELECT transport FROM discharges") == [("taxi",)]


def test_summary_of_an_open_session(cli):
    screen(cli)
    sid = ok(start(cli, MRN, "--concentration", "10")).json["data"]["session_id"]
    ok(vitals(cli, sid, "--bp", "140/85", "--hr", "80", when=at("08:00")))
    s = summary_json(cli, sid)
    assert s["status"] == "open" and s["discharge"] is None
    assert s["infusion_end"] == utc("08:20") and s["infusion_end_estimated"] is True
    assert s["monitoring"]["bp_discharge"] is None
    assert s["monitoring"]["monitoring_minutes"] is None
    text = ok(cli("summary", sid)).stdout
    assert f"Session {sid} - {NAME} ({MRN}) - open" in text
    assert "OPEN" in text and "40 mg by the pump's end 08:20" in text
    assert "Discharge criteria" not in text


# -- criteria: exit 1, every unmet criterion listed ------------------------------------
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
    r = discharge(cli, running, "--override", "physician at bedside", "--cosign", "dr.second", **ALL_BAD)
    assert_refused(r, db_path, before, "discharge",
                   ["aldrete", "observation", "bp", "hr", "transport"])
    assert "not overridable" in r.stderr
    detail = json.loads(last_audit(db_path)[4])
    assert detail["override_offered"] is True

    kw = {**ALL_BAD, "transport": "escort"}
    r = ok(discharge(cli, running, "--override", "physician at bedside", "--cosign", "dr.second", **kw))
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


def test_refused_discharge_can_be_retried(cli, db_path, running):
    assert discharge(cli, running, when=at("08:30")).exit_code == 1
    r = ok(discharge(cli, running, when=at("08:55")))
    assert r.json["data"]["override"] is None
    assert counts(db_path)["discharges"] == 1
    assert [a for (a,) in query(db_path, "SELECT action FROM audit WHERE entity_id = ? AND "
                                         "action IN ('refuse', 'discharge')", (running,))] == [
        "refuse", "discharge"]


# -- bad input: exit 2, nothing stored -------------------------------------------------
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


@pytest.mark.parametrize("bad", IMPLAUSIBLE[:7])
def test_discharge_implausible_vitals(cli, db_path, live, bad):
    sid, before = live
    args = _with({"--bp": "128/82", "--hr": "72"}, bad)
    r = cli("discharge", sid, "--aldrete", "10", "--transport", "escort", *args,
            "--at", at("08:55"))
    assert_error(r, 2)
    unchanged(db_path, before)


@pytest.mark.parametrize("extra, needle", [
    (["--wasted-mg", "5"], "witness"),
    (["--wasted-mg", "-5", "--waste-witness", "rn.second"], "wasted"),
    (["--wasted-mg", "15", "--waste-witness", "rn.second"], "exceed"),
    (["--delivered-mg", "-1"], "delivered"),
    (["--wasted-mg", "5", "--waste-witness", "nurse.test"], "witness"),
])
def test_bad_amounts_store_nothing(cli, db_path, extra, needle):
    ledger.screen(cli, "B-1")
    sid = ledger.start(cli, "B-1", "LOT-A", "50", "06:00")
    before = query(db_path, "SELECT count(*) FROM discharges")[0][0]
    r = ledger.discharge(cli, sid, "07:20", *extra)
    assert r.exit_code == 2, r.stdout
    assert r.stderr.startswith("error:") and needle in r.stderr.splitlines()[0]
    assert query(db_path, "SELECT count(*) FROM discharges")[0][0] == before


# -- what events give the discharge: the pump model -----------------------------------
# A pump delivers the planned dose: a pause stops it and a rate change changes its rate,
# so both move the end later; it ends when the dose has run, at a stop if that comes
# first, or at a pause never resumed. The observation clock starts at that end.
@pytest.mark.parametrize(("events", "end", "delivered", "paused", "ended_by"), [
    ([], "08:20", 40, 0, "dose"),
    # paused 10 minutes: the end 10 minutes later, the full dose delivered
    ([("07:50", "pause"), ("08:00", "resume")], "08:30", 40, 10, "dose"),
    # paused, resumed, stopped: 10 mg + 10 mg
    ([("07:50", "pause"), ("08:00", "resume"), ("08:10", "stop")], "08:10", 20, 10, "stop"),
    # paused and never resumed: it ended at the pause, with the 10 mg that ran
    ([("07:50", "pause")], "07:50", 10, 0, "pause"),
    # halved rate after 20 minutes: 20 mg, then 20 mg at 30 mg/h take 40 minutes
    ([("08:00", "rate-change", "30")], "08:40", 40, 0, "dose"),
    # a rate change during a pause sets the rate for the resume: 10 mg by 07:50, paused
    # to 08:00, the other 30 mg at 40 mg/h take 45 minutes
    ([("07:50", "pause"), ("07:55", "rate-change", "40"), ("08:00", "resume")],
     "08:45", 40, 10, "dose"),
])
def test_the_pump_model_gives_the_discharge_defaults(cli, sid, events, end, delivered, paused,
                                                     ended_by):
    for t, kind, *rate in events:
        ok(event(cli, sid, kind, *(("--rate", rate[0]) if rate else ()), when=at(t)))
    before = summary_json(cli, sid)
    assert before["infusion_end"] == utc(end)
    assert before["infusion_end_estimated"] is True
    r = ok(discharge(cli, sid, "--override", "timing checked", "--cosign", "dr.second", when=at("09:00")))
    s = r.json["data"]["summary"]
    assert s["infusion_end"] == utc(end)
    assert s["infusion_end_estimated"] is False
    assert s["delivered_mg"] == pytest.approx(delivered)
    assert s["discharge"]["delivered_mg"] == pytest.approx(delivered)
    assert s["paused_min"] == paused
    assert (s["ended_by"], s["stopped_early"], s["ended_paused"]) == (
        ended_by, ended_by == "stop", ended_by == "pause")
    obs = next(c for c in r.json["data"]["criteria"] if c["name"] == "observation")
    h, m = map(int, end.split(":"))
    assert obs["detail"].startswith(f"{(9 * 60) - (h * 60 + m)} min since infusion end")


def wasted(mg) -> tuple[str, ...]:
    """What was drawn but not given, wasted and witnessed (the `accounted` criterion)."""
    return ("--wasted-mg", str(mg), "--waste-witness", "rn.witness")


def test_a_pause_moves_the_observation_window(cli, db_path, sid):
    ok(event(cli, sid, "pause", when=at("07:50")))
    ok(event(cli, sid, "resume", when=at("07:55")))
    # the infusion ends at 08:25 (5 minutes later); 08:50 is only 25 minutes after
    r = discharge(cli, sid, when=at("08:50"))
    assert_error(r, 1, json_out=True)
    assert [d["name"] for d in r.json["error"]["details"]] == ["observation"]
    assert r.json["error"]["details"][0]["detail"].startswith("25 min since infusion end")
    # 08:55 is 30 minutes after: discharged, with the full dose delivered
    r = ok(discharge(cli, sid, when=at("08:55")))
    s = r.json["data"]["summary"]
    assert s["infusion_end"] == utc("08:25")
    assert s["delivered_mg"] == 40 and s["stopped_early"] is False
    assert query(db_path, "SELECT delivered_mg, infusion_end_at FROM discharges") == [
        (40.0, utc("08:25"))]


def test_a_pause_is_not_a_stop_in_the_summary(cli, sid):
    ok(event(cli, sid, "pause", when=at("07:50")))
    ok(event(cli, sid, "resume", when=at("07:55")))
    ok(discharge(cli, sid, when=at("08:55")))
    text = panel_text(ok(cli("summary", sid)).stdout)
    assert "delivered 40 mg; paused 5 min" in text
    assert "stopped early" not in text and "not resumed" not in text


def test_a_pause_never_resumed_before_discharge(cli, db_path, sid):
    ok(event(cli, sid, "pause", when=at("08:00")))
    open_text = panel_text(ok(cli("summary", sid)).stdout)
    assert "20 mg delivered; paused, not resumed" in open_text
    r = ok(discharge(cli, sid, *wasted(20), when=at("08:35")))
    s = r.json["data"]["summary"]
    # it ended at the pause: 20 mg ran, and the observation counts from 08:00
    assert (s["infusion_end"], s["delivered_mg"]) == (utc("08:00"), 20)
    assert (s["ended_paused"], s["stopped_early"]) == (True, False)
    obs = next(c for c in r.json["data"]["criteria"] if c["name"] == "observation")
    assert obs["detail"].startswith("35 min since infusion end")
    text = panel_text(ok(cli("summary", sid)).stdout)
    assert "delivered 20 mg; wasted 20 mg, witness rn.witness; paused, not resumed" in text
    assert "stopped early" not in text


def test_stopped_early_only_after_a_stop(cli, sid):
    ok(event(cli, sid, "stop", when=at("08:10")))
    r = ok(discharge(cli, sid, *wasted(10), when=at("08:45")))
    s = r.json["data"]["summary"]
    assert (s["infusion_end"], s["delivered_mg"], s["stopped_early"]) == (utc("08:10"), 30, True)
    assert "delivered 30 mg; wasted 10 mg, witness rn.witness; stopped early" in panel_text(
        ok(cli("summary", sid)).stdout)


def test_an_infusion_end_before_the_pumps_delivers_what_ran(cli, db_path, sid):
    # the pump would end at 08:30 (paused 10 min); ended at 08:20 it had run 30 mg
    ok(event(cli, sid, "pause", when=at("07:50")))
    ok(event(cli, sid, "resume", when=at("08:00")))
    r = ok(discharge(cli, sid, "--infusion-end", at("08:20"), *wasted(10), when=at("08:50")))
    s = r.json["data"]["summary"]
    assert (s["infusion_end"], s["delivered_mg"], s["ended_by"]) == (utc("08:20"), 30, "end")
    assert s["stopped_early"] is False
    obs = next(c for c in r.json["data"]["criteria"] if c["name"] == "observation")
    assert obs["detail"].startswith("30 min since infusion end")
    assert ("delivered 30 mg; wasted 10 mg, witness rn.witness; paused 10 min; ended 08:20, "
            "before the pump's end") in panel_text(
        ok(cli("summary", sid)).stdout)


def test_events_after_an_explicit_end_do_not_count(cli, db_path, sid):
    # ended at 08:00 (20 mg); the rate change and stop logged after it change nothing
    ok(event(cli, sid, "rate-change", "--rate", "120", when=at("08:05")))
    ok(event(cli, sid, "stop", when=at("08:10")))
    r = ok(discharge(cli, sid, "--infusion-end", at("08:00"), *wasted(20), when=at("08:40")))
    s = r.json["data"]["summary"]
    assert (s["infusion_end"], s["delivered_mg"], s["ended_by"]) == (utc("08:00"), 20, "end")
    assert s["stopped_early"] is False
    assert query(db_path, "SELECT delivered_mg FROM discharges") == [(20.0,)]


def test_explicit_infusion_end_and_delivered_dose(cli, db_path, sid):
    r = ok(discharge(cli, sid, "--infusion-end", at("08:15"), "--delivered-mg", "36",
                     "--wasted-mg", "4", "--waste-witness", "rn.witness", when=at("08:50")))
    s = r.json["data"]["summary"]
    assert s["infusion_end"] == utc("08:15")
    assert s["delivered_mg"] == 36
    assert_error(discharge(cli, open_session(cli, "KX-300"), "--infusion-end", at("07:30"),
                           when=at("08:55"), json_out=False), 2)


# -- controlled substance and the monitoring record ------------------------------------
def test_amounts_are_kept_to_a_tenth_and_the_shown_arithmetic_balances(cli, db_path):
    # 124.5 kg x 0.5 mg/kg = 62.25 mg, kept (and shown) as 62.3 mg delivered of 100 drawn
    ledger.screen(cli, "R-1", weight="124.5")
    sid = ledger.start(cli, "R-1", "LOT-R", "100", "06:00")
    # shown half up as kept, in the dose line and the delivered amount alike
    assert "124.5 kg = 62.3 mg over 40 min" in panel_text(ok(cli("summary", sid)).stdout)
    assert "62.3 mg by the pump's end 06:40" in panel_text(ok(cli("summary", sid)).stdout)
    r = ledger.discharge(cli, sid, "07:20", "--wasted-mg", "37.7", "--waste-witness", "rn.second")
    assert r.exit_code == 0, r.stderr
    assert "neither administered nor wasted" not in r.stderr
    assert query(db_path, "SELECT drawn_mg, delivered_mg, wasted_mg FROM sessions "
                          "JOIN discharges ON discharges.session_id = sessions.id") == [
        (100.0, 62.3, 37.7)]
    assert "delivered 62.3 mg; wasted 37.7 mg" in panel_text(ok(cli("summary", sid)).stdout)


@pytest.mark.parametrize(("drawn", "extra", "kept"), [
    ("50", ["--wasted-mg", "10.04"], (50.0, 40.0, 10.0)),  # over by 0.04 mg: rounds away
    ("50.05", ["--delivered-mg", "40.05", "--wasted-mg", "10"], (50.1, 40.1, 10.0)),  # half up
    ("49.96", ["--wasted-mg", "10"], (50.0, 40.0, 10.0)),
])
def test_amounts_are_stored_rounded_half_up(cli, db_path, drawn, extra, kept):
    ledger.screen(cli, "R-2")
    sid = ledger.start(cli, "R-2", "LOT-R", drawn, "06:00")
    r = ledger.discharge(cli, sid, "07:20", *extra, "--waste-witness", "rn.second")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""  # balanced: no ledger warning
    assert query(db_path, "SELECT drawn_mg, delivered_mg, wasted_mg FROM sessions "
                          "JOIN discharges ON discharges.session_id = sessions.id") == [kept]


def test_waste_over_the_drawn_amount_by_a_tenth_exits_2(cli, db_path):
    ledger.screen(cli, "R-3")
    sid = ledger.start(cli, "R-3", "LOT-R", "50", "06:00")
    before = counts(db_path)
    r = ledger.discharge(cli, sid, "07:20", "--wasted-mg", "10.1", "--waste-witness", "rn.second")
    assert r.exit_code == 2 and r.json["error"]["code"] == "amounts_exceed_drawn"
    assert r.stderr.splitlines()[0] == (
        "error: delivered 40.0 mg + wasted 10.1 mg exceed the 50.0 mg drawn")
    assert diff(before, counts(db_path)) == {}


def test_waste_with_witness_is_recorded(cli, db_path):
    screened(cli, MRN)
    sid = ok(start(cli, MRN, "--drawn-mg", "50", "--lot", "L-9")).json["data"]["session_id"]
    r = ok(discharge(cli, sid, "--wasted-mg", "10", "--waste-witness", "RN Second"))
    dis = r.json["data"]["summary"]["discharge"]
    assert (dis["delivered_mg"], dis["wasted_mg"], dis["waste_witness"]) == (40, 10, "RN Second")
    assert "wasted 10 mg, witness RN Second" in ok(cli("summary", sid)).stdout


def test_monitoring_record_matches_observations(cli, db_path):
    ledger.screen(cli, "M-1")
    sid = ledger.start(cli, "M-1", "LOT-M", "40", "06:00")
    for minute, bp, extra in ((10, "130/84", ["--moaas", "4"]),
                              (20, "138/88", ["--dissociation", "3"]),
                              (38, "150/94", ["--moaas", "3"]),
                              (50, "140/88", ["--spo2", "89"])):
        r = cli("log-vitals", sid, "--bp", bp, "--hr", "80", *extra,
                "--at", f"{DAY} 06:{minute:02d}")
        assert r.exit_code == 0, r.stderr
    r = ledger.discharge(cli, sid, "07:20")
    assert r.exit_code == 0, r.stderr
    m = cli("summary", sid, "--json").json["data"]["monitoring"]
    stored = query(db_path, "SELECT phase, sbp, dbp, minutes_into_infusion FROM observations "
                            "WHERE session_id = ? ORDER BY at", (sid,))
    pre = next(o for o in stored if o[0] == "pre")
    dis = next(o for o in stored if o[0] == "discharge")
    near40 = min((o for o in stored if o[0] != "pre"), key=lambda o: abs(o[3] - 40))
    assert m["bp_pre"] == f"{pre[1]}/{pre[2]}" == "124/80"
    assert m["bp_40min"] == f"{near40[1]}/{near40[2]}" == "150/94"
    assert m["bp_discharge"] == f"{dis[1]}/{dis[2]}" == "126/80"
    assert m["monitoring_minutes"] == 80
    assert m["sedation"] is True  # MOAA/S 3 at 38 minutes
    assert m["dissociation"] is True
    assert m["respiratory_depression"] is True  # SpO2 89 is a critical alert
    assert m["lot"] == "LOT-M"
    assert m["concomitant_meds"] == ["sedative-hypnotic"]
    human = cli("summary", sid).stdout
    assert "Monitoring record" in human and "~40 min 150/94" in human


# -- patient text is never markup ------------------------------------------------------
def test_markup_in_a_name_prints_literally(cli):
    day = run_day(cli)
    assert NAME in day["discharge"].json["data"]["summary"]["patient"]["name"]
    assert NAME in ok(cli("summary", day["sid"])).stdout
    assert "[bold red]x[/]" in ok(cli("patient", "show", MRN)).stdout


@pytest.mark.parametrize("name", ["[/]", "Bo [link=https://example.org]y[/link]", "[red]", "\\[b]z"])
def test_any_markup_prints_as_typed(cli, name):
    screen(cli, "KX-101", name=name)
    sid = ok(start(cli, "KX-101")).json["data"]["session_id"]
    r = ok(discharge(cli, sid, json_out=False))
    assert name in r.stdout
    assert name in ok(cli("summary", sid)).stdout


# -- snapshot of the summary panel -----------------------------------------------------
def test_summary_panel_snapshot(cli):
    """The panel's layout is part of the product: a layout change must be looked at.

    To accept a deliberate change: UPDATE_SNAPSHOTS=1 .venv/bin/pytest -k snapshot
    """
    import os

    sid = run_day(cli, events=[
        ("08:05", ["medication", "--detail", "ondansetron 4 mg IV"]),
        ("08:12", ["adverse", "--detail", "transient nausea"]),
    ])["sid"]
    text = ok(cli("summary", sid)).stdout
    path = SNAPSHOTS / "summary_panel.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert text == expected
    widths = [len(line) for line in text.splitlines()]
    assert max(widths) <= 80
    assert DAY in text


# -- issue 13: the new criteria and a co-signed override -------------------------------------
@pytest.mark.parametrize(("extra", "bp", "unmet"), [
    ((), "89/60", ["sbp-low"]),
    ((), "90/60", []),
    (("--spo2", "93"), "128/80", ["spo2"]),
    (("--spo2", "94"), "128/80", []),
])
def test_low_sbp_and_spo2_at_discharge(cli, db_path, sid, extra, bp, unmet):
    before = counts(db_path)
    r = discharge(cli, sid, *extra, bp=bp)
    if unmet:
        assert_refused(r, db_path, before, "discharge", unmet)
    else:
        ok(r)


def test_a_cosigned_discharge_override_is_stored(cli, db_path, sid):
    r = discharge(cli, sid, "--override", "attending saw her, home with escort", aldrete=8)
    assert r.exit_code == 1 and "an override needs a second clinician" in r.stderr
    d = ok(discharge(cli, sid, "--override", "attending saw her, home with escort",
                     "--cosign", "dr.second", aldrete=8)).json["data"]
    assert (d["override"], d["cosign"], d["overridden"]) == (
        "attending saw her, home with escort", "dr.second", ["aldrete"])
    assert query(db_path, "SELECT override, cosign, overridden FROM discharges") == [
        ("attending saw her, home with escort", "dr.second", '["aldrete"]')]
    (detail,) = query(db_path, "SELECT detail FROM audit WHERE action = 'discharge'")[0]
    assert json.loads(detail)["cosign"] == "dr.second"


def test_the_refusal_lists_one_rule_per_line(cli, sid):
    r = discharge(cli, sid, "--spo2", "90", aldrete=8, bp="85/50", json_out=False)
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        "error: discharge criteria not met: 3 unmet rules",
        "  - aldrete: Modified Aldrete 8 (need >= 9)",
        "  - sbp-low: SBP 85 (must be at or above 90)",
        "  - spo2: SpO2 90% (must be at or above 94%)",
        "hint: after clinician review, rerun with --override REASON --cosign NAME",
    ]
