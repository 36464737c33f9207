"""`trend` (ketacli.cli.trend; docs/cli-contract.md, `trend`; docs/clinical-reference.md,
outcome definitions) on patients run through screening, infusions and follow-up
assessments with explicit --at times: the JSON points, the terminal chart, the SVG and
HTML files (mode 0600), other measures, the non-response review note, and errors.

Every expected figure is worked out by hand in the comments next to it.
"""

from __future__ import annotations

import stat

import pytest
from helpers import query
from outcome_support import assess, fails, infusion, ok, phq9, screen

TREND_KEYS = {"patient", "measure", "baseline", "points", "infusions", "latest_status"}
POINT_KEYS = {"at", "total", "change_pct", "status"}


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


# -- the support helper ----------------------------------------------------------------
def test_phq9_helper_is_right():
    assert [sum(map(int, phq9(n).split(","))) for n in (0, 3, 8, 20, 24)] == [0, 3, 8, 20, 24]
    assert phq9(20).endswith(",0")
