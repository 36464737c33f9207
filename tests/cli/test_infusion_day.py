"""A whole infusion day through the CLI: screen, start, vitals, discharge, summary.

Also: patient text is never Rich markup, and a snapshot of the summary panel.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import counts, ok, query
from infusion_support import DAY, MRN, NAME, at, discharge, screen, start, summary_json, utc, vitals

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


# -- 1. the full day ---------------------------------------------------------------
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
    assert {a["parameter"] for a in json.loads(stored)} == {"sbp", "dbp"}

    # discharge: criteria, follow-ups (call +1 day, infusion +2 days), summary
    dis = day["discharge"].json["data"]
    assert set(dis) >= DISCHARGE_KEYS
    assert dis["session_id"] == sid
    assert dis["discharged_at"] == utc("08:55")
    assert dis["override"] is None
    assert [c["name"] for c in dis["criteria"]] == ["aldrete", "observation", "bp", "hr",
                                                     "transport"]
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
    assert s["alert_counts"] == {"critical": 1, "warning": 1}
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
    assert "Alerts: 1 critical, 1 warning" in text
    assert "headache (mild)" in text and "Discharge criteria" in text


def test_start_and_discharge_human_output(cli):
    screen(cli, when=at("07:00"))
    r = ok(start(cli, MRN, "--concentration", "10", when=at("07:40"), json_out=False))
    assert "40 mg over 40 min" in r.stdout and "6 mL/h" in r.stdout
    r = ok(discharge(cli, 1, when=at("08:55"), json_out=False))
    assert f"Session 1 - {MRN} - discharged" in r.stdout
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
    assert f"Session {sid} - {MRN} - open" in text
    assert "OPEN" in text and "by the planned end" in text
    assert "Discharge criteria" not in text


# -- 8. patient text is never markup -------------------------------------------------
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


# -- 10. snapshot of the summary panel ---------------------------------------------------
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
