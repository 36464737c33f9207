"""`trend` and `report outcomes` through the CLI, on patients run through screening,
infusions and follow-up assessments with explicit --at times (docs/cli-contract.md,
`trend` and `report outcomes`; docs/clinical-reference.md, outcome definitions).

Every expected figure is worked out by hand in the comments next to it.
"""

from __future__ import annotations

import stat

import pytest
from helpers import build_once, copy_db, query
from outcome_support import assess, fails, infusion, ok, phq9, screen

TREND_KEYS = {"patient", "measure", "baseline", "points", "infusions", "latest_status"}
POINT_KEYS = {"at", "total", "change_pct", "status"}


# =========================================================================== trend
@pytest.fixture
def treated(cli):
    """TR-1: PHQ-9 20 at screening (11-01), infusions 11-02 and 11-04, assessments
    11-03 (13: -35 %, partial response) and 11-05 (8: -60 %, response)."""
    screen(cli, "TR-1", "2026-11-01")
    infusion(cli, "TR-1", "2026-11-02")
    a1 = assess(cli, "TR-1", "2026-11-03 10:00", 13)
    infusion(cli, "TR-1", "2026-11-04")
    a2 = assess(cli, "TR-1", "2026-11-05 10:00", 8)
    return a1["assessment_id"], a2["assessment_id"]


def test_trend_json(cli, treated):
    r = cli("trend", "TR-1", "--json")
    d = ok(r)
    assert set(d) >= TREND_KEYS
    assert d["patient"] == "TR-1"
    assert d["measure"] == "phq9"
    assert d["baseline"] == 20
    assert all(set(p) >= POINT_KEYS for p in d["points"])
    assert [(p["at"], p["total"], p["change_pct"], p["status"]) for p in d["points"]] == [
        ("2026-11-01T14:00:00+00:00", 20, 0.0, "baseline"),
        ("2026-11-03T16:00:00+00:00", 13, -35.0, "partial-response"),
        ("2026-11-05T16:00:00+00:00", 8, -60.0, "response"),
    ]
    assert [p["infusions_before"] for p in d["points"]] == [0, 1, 2]
    assert d["infusions"] == ["2026-11-02", "2026-11-04"]
    assert d["latest_status"] == "response"
    assert d["review_note"] is None
    assert r.stderr == ""


def test_trend_chart_in_the_terminal(cli, treated):
    r = cli("trend", "TR-1")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "Trend - TR-1 - PHQ-9" in out
    assert "PHQ-9 baseline 20 (2026-11-01), 2 infusions" in out
    # the chart: three scores, two infusions on the axis, the response and remission lines
    plot = [line for line in lines if " |" in line]
    assert sum(line.count("*") for line in plot) == 3
    axis = next(line for line in lines if " +" in line and "^" in line)
    assert axis.count("^") == 2
    response_line = next(line for line in plot if "-----" in line)
    assert response_line.split("|")[0].strip("│ ") == "10"   # 50 % of baseline 20
    assert any("....." in line for line in plot)                  # remission (PHQ-9 < 5)
    assert "2026-11-01" in out and "2026-11-05" in out
    # the table
    for header in ("Date", "Source", "Infusions", "Change", "Status"):
        assert header in out
    rows = [line for line in lines if "assessment" in line or "screening" in line]
    assert len(rows) == 3
    assert "-35%" in rows[1] and "partial-response" in rows[1]
    assert "-60%" in rows[2] and "response" in rows[2]
    assert "Latest: response" in out
    assert "NOTE" not in out


def test_trend_svg_and_html_files(cli, tmp_path, treated):
    svg, html = tmp_path / "trend.svg", tmp_path / "trend.html"
    r = cli("trend", "TR-1", "--svg", str(svg), "--html", str(html), "--json")
    assert ok(r)["latest_status"] == "response"  # stdout stays one JSON document
    for path in (svg, html):
        assert path.exists()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        text = path.read_text()
        assert "TR-1" in text
        assert "partial-response" in text
    assert svg.read_text().lstrip().startswith("<svg")
    assert "<html" in html.read_text().lower()

    # an existing, world-readable file is tightened to 0600 as well
    old = tmp_path / "old.svg"
    old.write_text("x")
    old.chmod(0o644)
    assert cli("trend", "TR-1", "--svg", str(old)).exit_code == 0
    assert stat.S_IMODE(old.stat().st_mode) == 0o600


def test_trend_to_an_unwritable_path_is_a_storage_error(cli, tmp_path, treated):
    fails(cli("trend", "TR-1", "--svg", str(tmp_path / "no" / "such" / "dir" / "t.svg")), 4)


def test_a_voided_assessment_leaves_the_trend(cli, db_path, treated):
    _, second = treated
    r = cli("void", "assessment", str(second), "--reason", "wrong patient")
    assert r.exit_code == 0, r.stderr
    d = ok(cli("trend", "TR-1", "--json"))
    assert [(p["total"], p["status"]) for p in d["points"]] == [
        (20, "baseline"), (13, "partial-response")]
    assert d["latest_status"] == "partial-response"
    assert d["infusions"] == ["2026-11-02", "2026-11-04"]  # infusions are not assessments
    out = cli("trend", "TR-1").stdout
    assert "-60%" not in out and "Latest: partial-response" in out
    # the original row stays
    assert query(db_path, "SELECT phq9_total FROM assessments WHERE id = ?", (second,)) == [(8,)]


def test_trend_of_other_measures(cli):
    screen(cli, "TR-2", "2026-11-01", extra=["--gad7", "3,3,3,3,3,0,0", "--madrs", "30"])
    infusion(cli, "TR-2", "2026-11-02")
    assess(cli, "TR-2", "2026-11-03 10:00", 14, "--gad7", "1,1,1,0,0,0,0", "--madrs", "15")
    g = ok(cli("trend", "TR-2", "--measure", "gad7", "--json"))
    assert g["measure"] == "gad7" and g["baseline"] == 15
    assert [(p["total"], p["change_pct"], p["status"]) for p in g["points"]] == [
        (15, 0.0, "baseline"), (3, -80.0, "remission")]
    m = ok(cli("trend", "TR-2", "--measure", "MADRS", "--json"))
    assert m["measure"] == "madrs" and m["latest_status"] == "response"   # 30 -> 15: -50 %
    assert m["points"][-1]["change_pct"] == -50.0
    p = ok(cli("trend", "TR-2", "--measure", "phq-9", "--json"))
    assert p["measure"] == "phq9" and p["latest_status"] == "partial-response"  # 20 -> 14: -30 %
    r = cli("trend", "TR-2", "--measure", "gad7")
    assert r.exit_code == 0 and "GAD-7" in r.stdout


def test_three_infusions_without_response_get_the_review_note(cli):
    screen(cli, "TR-3", "2026-11-01")
    for day in ("2026-11-02", "2026-11-04"):
        infusion(cli, "TR-3", day)
    d = assess(cli, "TR-3", "2026-11-05 10:00", 18)        # -10 %, after 2 infusions
    assert d["phq9"]["status"] == "no-response"
    assert ok(cli("trend", "TR-3", "--json"))["review_note"] is None

    infusion(cli, "TR-3", "2026-11-06")
    assess(cli, "TR-3", "2026-11-07 10:00", 17)             # -15 %, after 3 infusions
    t = ok(cli("trend", "TR-3", "--json"))
    assert t["latest_status"] == "no-response"
    assert t["points"][-1]["infusions_before"] == 3
    assert t["review_note"].startswith("3 infusions without response")
    out = cli("trend", "TR-3").stdout
    assert "NOTE:" in out and "review the treatment plan" in " ".join(out.split())
    assert max(len(line) for line in out.splitlines()) <= 80

    assess(cli, "TR-3", "2026-11-08 10:00", 15)             # -25 %: partial, no note
    t = ok(cli("trend", "TR-3", "--json"))
    assert t["latest_status"] == "partial-response" and t["review_note"] is None


def test_trend_errors(cli):
    fails(cli("trend", "NOPE-1"), 4)                        # no database yet: storage
    screen(cli, "TR-0", "2026-11-01", phq9_total=None)     # no scores at screening
    fails(cli("trend", "NOPE-1"), 3)
    r = cli("trend", "NOPE-1", "--json")
    assert r.exit_code == 3 and "error" in r.json

    r = cli("trend", "TR-0")
    fails(r, 3)
    assert "TR-0" in r.stderr and "phq9" in r.stderr
    r = cli("trend", "TR-0", "--json")
    assert r.exit_code == 3 and r.json["error"]["code"] == "no_scores"
    # an assessment without a screening baseline is still nothing to trend from
    assess(cli, "TR-0", "2026-11-03 10:00", 12)
    fails(cli("trend", "TR-0"), 3)

    screen(cli, "TR-4", "2026-11-01")
    fails(cli("trend", "TR-4", "--measure", "gad7"), 3)      # PHQ-9 only at screening
    fails(cli("trend", "TR-4", "--measure", "bdi"), 2)
    r = cli("trend", "TR-4", "--measure", "bdi", "--json")
    assert r.exit_code == 2 and r.json["error"]["code"] == "invalid_choice"
    fails(cli("trend", "bad mrn!"), 2)


def test_trend_with_only_a_baseline(cli):
    screen(cli, "TR-5", "2026-11-01")
    d = ok(cli("trend", "TR-5", "--json"))
    assert [p["status"] for p in d["points"]] == ["baseline"]
    assert d["latest_status"] is None
    r = cli("trend", "TR-5")
    assert r.exit_code == 0 and "baseline" in r.stdout


# =========================================================================== report outcomes
@pytest.fixture(scope="module")
def clinic_db(tmp_path_factory):
    """A small clinic, built once per module (copied into each test's database), by hand:

    RA  PHQ-9 20 on 11-01; 6 infusions at 0.5 mg/kg on 11-02 .. 11-12 (every other day);
        side effects nausea + headache (infusion 1), nausea (infusion 2);
        PHQ-9 18 on 11-03 (before infusion 6: not the outcome), 8 on 11-13 (response),
        15 on 11-20 (latest: partial response).
    RB  PHQ-9 16 on 11-01; 6 infusions at 1.0 mg/kg on 11-03 .. 11-13, the first with
        pre-BP 165/95 and --override; PHQ-9 3 on 11-14 (remission).
    RC  screened on 11-15, never treated.
    RD  screened on 11-19; one infusion at 0.5 mg/kg on 11-20 20:00 Chicago (11-21 02:00 UTC),
        side effect dizziness.
    """
    return build_once(tmp_path_factory, "clinic", _build_clinic)[0]


@pytest.fixture
def clinic(clinic_db, db_path):
    copy_db(clinic_db, db_path)


def _build_clinic(cli):
    screen(cli, "RA", "2026-11-01", phq9_total=20)
    screen(cli, "RB", "2026-11-01", phq9_total=16)
    for n, day in enumerate((2, 4, 6, 8, 10, 12), start=1):
        effects = {1: ["nausea", "headache"], 2: ["nausea:moderate"]}.get(n, [])
        infusion(cli, "RA", f"2026-11-{day:02d}", side_effects=effects)
        if n == 1:
            assess(cli, "RA", "2026-11-03 12:00", 18)
    for n, day in enumerate((3, 5, 7, 9, 11, 13), start=1):
        if n == 1:
            fails(cli("start-session", "RB", "--bp", "165/95", "--hr", "72", "--dose", "1.0",
                      "--at", "2026-11-03 09:00"), 1)
            infusion(cli, "RB", "2026-11-03", dose=1.0, bp="165/95", override="BP rechecked 150/90")
        else:
            infusion(cli, "RB", f"2026-11-{day:02d}", dose=1.0)
    assess(cli, "RA", "2026-11-13 10:00", 8)
    assess(cli, "RB", "2026-11-14 10:00", 3)
    screen(cli, "RC", "2026-11-15")
    screen(cli, "RD", "2026-11-19")
    infusion(cli, "RD", "2026-11-20", start="20:00", side_effects=["dizziness:mild"])
    assess(cli, "RA", "2026-11-20 10:00", 15)


def report(cli, *args) -> dict:
    return ok(cli("report", "outcomes", *args, "--json"))


def test_report_outcomes_whole_clinic(cli, clinic):
    d = report(cli)
    assert d["patients_screened"] == 4
    assert d["patients_treated"] == 3
    assert d["sessions"] == 13 and d["sessions_discharged"] == 13
    # (6 x 0.5 + 6 x 1.0 + 0.5) / 13 = 9.5 / 13 = 0.7308
    assert d["mean_dose_mg_per_kg"] == 0.731
    # share of the 13 discharged sessions with the effect
    assert d["side_effect_rates"] == {"nausea": 0.1538, "headache": 0.0769, "dizziness": 0.0769}
    # RA: latest PHQ-9 from infusion 6 on is 15 (-25 %, partial); RB: 3 (remission)
    assert d["patients_completed_induction"] == 2
    assert d["response_rate"] == 0.5
    assert d["remission_rate"] == 0.5
    assert d["overrides"] == {"start": 1, "discharge": 0}
    assert d["since"] is None and d["until"] is None
    # the one alert: RB's pre-infusion BP 165/95 reaches the SBP warning (160)
    assert d["sessions_with_alert"] == 1 and d["alert_rate"] == 0.0769


def test_report_outcomes_human(cli, clinic):
    r = cli("report", "outcomes")
    assert r.exit_code == 0, r.stderr
    assert "nausea" in r.stdout and "dizziness" in r.stdout
    assert max(len(line) for line in r.stdout.splitlines()) <= 80


def test_report_outcomes_period(cli, clinic):
    # sessions started 11-12 and 11-13 (clinic zone): RA #6 and RB #6
    d = report(cli, "--since", "2026-11-12", "--until", "2026-11-13")
    assert (d["since"], d["until"]) == ("2026-11-12", "2026-11-13")
    assert d["patients_screened"] == 0
    assert (d["patients_treated"], d["sessions"]) == (2, 2)
    assert d["mean_dose_mg_per_kg"] == 0.75          # (0.5 + 1.0) / 2
    assert d["side_effect_rates"] == {}
    # by the end of 11-13 only RA has an outcome (8: response); RB's comes on 11-14
    assert d["patients_completed_induction"] == 1
    assert (d["response_rate"], d["remission_rate"]) == (1.0, 0.0)
    assert d["overrides"] == {"start": 0, "discharge": 0}

    # up to 11-19: RA's outcome is still 8 (response), RB's is 3 (remission)
    d = report(cli, "--until", "2026-11-19")
    assert d["sessions"] == 12 and d["patients_treated"] == 2 and d["patients_screened"] == 4
    assert (d["response_rate"], d["remission_rate"]) == (1.0, 0.5)
    assert d["overrides"] == {"start": 1, "discharge": 0}
    assert d["side_effect_rates"] == {"nausea": 0.1667, "headache": 0.0833}   # 2/12, 1/12

    # RD's evening infusion is on 11-20 in the clinic zone (11-21 in UTC)
    d = report(cli, "--since", "2026-11-20")
    assert (d["sessions"], d["patients_treated"]) == (1, 1)
    assert d["side_effect_rates"] == {"dizziness": 1.0}
    assert d["response_rate"] is None and d["remission_rate"] is None
    assert d["patients_completed_induction"] == 0
    assert report(cli, "--until", "2026-11-20")["sessions"] == 13

    d = report(cli, "--since", "2026-11-21")
    assert (d["sessions"], d["patients_treated"], d["patients_screened"]) == (0, 0, 0)
    assert d["mean_dose_mg_per_kg"] is None
    assert d["side_effect_rates"] == {}
    assert d["response_rate"] is None
    assert cli("report", "outcomes", "--since", "2026-11-21").exit_code == 0  # empty view renders

    # a single day
    d = report(cli, "--since", "2026-11-02", "--until", "2026-11-02")
    assert d["sessions"] == 1 and d["side_effect_rates"] == {"nausea": 1.0, "headache": 1.0}


def test_report_outcomes_bad_dates(cli):
    fails(cli("report", "outcomes", "--since", "2026-02-30"), 2)
    fails(cli("report", "outcomes", "--until", "next week"), 2)
    fails(cli("report", "outcomes", "--since", "2026-11-10", "--until", "2026-11-09"), 2)
    r = cli("report", "outcomes", "--since", "2026-11-10", "--until", "2026-11-09", "--json")
    assert r.exit_code == 2 and r.json["error"]["code"] == "invalid_period"


def test_report_outcomes_of_an_empty_clinic(cli):
    ok(cli("patient", "add", "E-1", "--name", "Empty Clinic"))
    d = report(cli)
    assert (d["patients_screened"], d["patients_treated"], d["sessions"]) == (0, 0, 0)
    assert d["response_rate"] is None and d["remission_rate"] is None
    assert d["side_effect_rates"] == {} and d["mean_dose_mg_per_kg"] is None


def test_report_ignores_a_voided_outcome(cli, db_path, clinic):
    rb = query(db_path, "SELECT a.id FROM assessments a JOIN patients p "
                        "ON p.id = a.patient_id WHERE p.mrn = 'RB'")
    assert cli("void", "assessment", str(rb[0][0]), "--reason", "entered twice").exit_code == 0
    d = report(cli)
    # RB has no outcome left: only RA (partial) counts
    assert d["patients_completed_induction"] == 1
    assert (d["response_rate"], d["remission_rate"]) == (0.0, 0.0)


def test_phq9_helper_is_right():
    assert [sum(map(int, phq9(n).split(","))) for n in (0, 3, 8, 20, 24)] == [0, 3, 8, 20, 24]
    assert phq9(20).endswith(",0")
