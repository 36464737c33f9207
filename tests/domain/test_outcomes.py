"""Outcome definitions (ketacli.domain.outcomes): change from baseline, status, the
non-response review note, rates and the trend of one measure.

Every expected value is computed by hand from docs/clinical-reference.md ("Outcome
definitions") and docs/cli-contract.md (`trend`): response >= 50 % drop, partial
response 25-49 %, no response < 25 %, remission PHQ-9 < 5, GAD-7 < 5, MADRS <= 10.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from ketacli.domain import outcomes

CHICAGO = ZoneInfo("America/Chicago")


# --------------------------------------------------------------------------- change_pct
@pytest.mark.parametrize(("baseline", "total", "expected"), [
    (20, 10, -50.0),
    (20, 15, -25.0),
    (20, 20, 0.0),
    (20, 25, 25.0),      # worse than baseline: positive
    (20, 0, -100.0),
    (3, 2, -33.3),       # rounded to 0.1
    (30, 11, -63.3),
    (7, 9, 28.6),
])
def test_change_pct_hand_computed(baseline, total, expected):
    assert outcomes.change_pct(baseline, total) == expected


def test_change_pct_of_a_zero_baseline_is_none():
    assert outcomes.change_pct(0, 0) is None
    assert outcomes.change_pct(0, 5) is None


# --------------------------------------------------------------------------- status
@pytest.mark.parametrize(("total", "expected"), [
    (10, "response"),          # -50 %: exactly the response line
    (11, "partial-response"),  # -45 %
    (15, "partial-response"),  # -25 %: exactly the partial line
    (16, "no-response"),       # -20 %
    (20, "no-response"),       # unchanged
    (24, "no-response"),       # worse
    (5, "response"),           # -75 % but not < 5
    (4, "remission"),          # < 5
    (0, "remission"),
])
def test_phq9_status_from_baseline_20(total, expected):
    assert outcomes.status("phq9", 20, total) == expected


@pytest.mark.parametrize(("baseline", "total", "expected"), [
    (15, 4, "remission"),        # GAD-7 < 5
    (15, 5, "response"),         # -66.7 %, 5 is not < 5
    (15, 8, "partial-response"), # -46.7 %
    (15, 12, "no-response"),     # -20 %
    (6, 4, "remission"),         # remission whatever the drop (-33 %)
])
def test_gad7_status(baseline, total, expected):
    assert outcomes.status("gad7", baseline, total) == expected


@pytest.mark.parametrize(("baseline", "total", "expected"), [
    (30, 15, "response"),        # -50 %
    (30, 10, "remission"),       # <= 10
    (30, 11, "response"),        # -63.3 %, 11 is not <= 10
    (30, 22, "partial-response"),# -26.7 %
    (30, 23, "no-response"),     # -23.3 %
    (12, 10, "remission"),       # <= 10 even with a small drop
])
def test_madrs_status(baseline, total, expected):
    assert outcomes.status("madrs", baseline, total) == expected


@pytest.mark.parametrize(("baseline", "total", "expected"), [
    (60, 0, "response"),         # PCL-5 has no remission cut-off
    (60, 4, "response"),
    (60, 30, "response"),
    (60, 31, "partial-response"),
    (60, 45, "partial-response"),
    (60, 46, "no-response"),
])
def test_pcl5_has_no_remission(baseline, total, expected):
    assert outcomes.status("pcl5", baseline, total) == expected


def test_status_with_a_zero_baseline():
    # no change can be computed: remission still applies where defined, otherwise no response
    assert outcomes.status("phq9", 0, 3) == "remission"
    assert outcomes.status("pcl5", 0, 0) == "no-response"
    assert outcomes.status("madrs", 0, 12) == "no-response"


def test_responded():
    assert outcomes.responded("response")
    assert outcomes.responded("remission")
    assert not outcomes.responded("partial-response")
    assert not outcomes.responded("no-response")
    assert not outcomes.responded("baseline")


# --------------------------------------------------------------------------- review note
def test_three_infusions_without_response_gets_a_note():
    note = outcomes.non_response_note(3, "no-response")
    assert note is not None
    assert note.infusions == 3
    assert note.message.startswith("3 infusions without response")
    assert "review" in note.message


def test_more_infusions_without_response_also_gets_a_note():
    note = outcomes.non_response_note(6, "no-response")
    assert note is not None and note.infusions == 6
    assert note.message.startswith("6 infusions")


@pytest.mark.parametrize(("infusions", "latest"), [
    (3, "partial-response"),
    (3, "response"),
    (3, "remission"),
    (3, None),
    (2, "no-response"),
    (0, "no-response"),
])
def test_no_note(infusions, latest):
    assert outcomes.non_response_note(infusions, latest) is None


def test_note_threshold_is_a_parameter():
    assert outcomes.non_response_note(2, "no-response", threshold=2) is not None
    assert outcomes.non_response_note(3, "no-response", threshold=4) is None


# --------------------------------------------------------------------------- rate
@pytest.mark.parametrize(("num", "den", "expected"), [
    (1, 2, 0.5),
    (1, 3, 0.3333),
    (2, 3, 0.6667),
    (0, 5, 0.0),
    (5, 5, 1.0),
    (2, 13, 0.1538),
    (0, 0, None),
    (3, 0, None),
])
def test_rate(num, den, expected):
    assert outcomes.rate(num, den) == expected


# --------------------------------------------------------------------------- trend
def _row(source, rid, at, total):
    return {"source": source, "id": rid, "at": at, "total": total}


HISTORY = [
    # an assessment before the first screening: not part of the trend
    _row("assessment", 9, "2026-10-30T15:00:00+00:00", 25),
    _row("screening", 1, "2026-11-01T15:00:00+00:00", 20),                 # baseline
    _row("assessment", 1, "2026-11-03T16:00:00+00:00", 14),                # -30 %
    _row("assessment", 2, "2026-11-05T15:00:00+00:00", 9),                 # -55 %, same instant as infusion 3
    _row("assessment", 3, "2026-11-08T03:30:00+00:00", 17),                # 11-07 21:30 Chicago, -15 %
]
INFUSIONS = ["2026-11-02T15:00:00+00:00", "2026-11-04T15:00:00+00:00",
             "2026-11-05T15:00:00+00:00"]


def test_trend_of_a_hand_built_history():
    t = outcomes.trend("phq9", HISTORY, INFUSIONS, CHICAGO)
    assert t["measure"] == "phq9"
    assert t["baseline"] == 20
    assert t["infusions"] == ["2026-11-02", "2026-11-04", "2026-11-05"]
    got = [(p["source"], p["record_id"], p["date"], p["total"], p["change_pct"], p["status"],
            p["infusions_before"]) for p in t["points"]]
    assert got == [
        ("screening", 1, "2026-11-01", 20, 0.0, "baseline", 0),
        ("assessment", 1, "2026-11-03", 14, -30.0, "partial-response", 1),
        ("assessment", 2, "2026-11-05", 9, -55.0, "response", 3),   # an infusion at that instant counts
        ("assessment", 3, "2026-11-07", 17, -15.0, "no-response", 3),  # date in the clinic zone
    ]
    assert [p["at"] for p in t["points"]] == [h["at"] for h in HISTORY[1:]]
    assert t["latest_status"] == "no-response"
    assert t["review_note"] is not None
    assert t["review_note"].startswith("3 infusions without response")


def test_trend_without_response_after_two_infusions_has_no_note():
    hist = [*HISTORY[1:3], _row("assessment", 5, "2026-11-04T20:00:00+00:00", 19)]
    t = outcomes.trend("phq9", hist, INFUSIONS, CHICAGO)
    assert [p["infusions_before"] for p in t["points"]] == [0, 1, 2]
    assert t["latest_status"] == "no-response"
    assert t["review_note"] is None


def test_trend_with_only_a_baseline():
    t = outcomes.trend("gad7", [_row("screening", 4, "2026-11-01T15:00:00+00:00", 12)], [],
                       CHICAGO)
    assert t["baseline"] == 12
    assert len(t["points"]) == 1
    assert t["points"][0]["status"] == "baseline"
    assert t["points"][0]["change_pct"] == 0.0
    assert t["latest_status"] is None
    assert t["review_note"] is None
    assert t["infusions"] == []


def test_trend_without_a_screening_score_has_no_baseline():
    t = outcomes.trend("phq9", [_row("assessment", 1, "2026-11-03T16:00:00+00:00", 14)],
                       INFUSIONS, CHICAGO)
    assert t == {"measure": "phq9", "baseline": None, "points": [], "infusions": [],
                 "latest_status": None, "review_note": None}


def test_trend_from_a_zero_baseline():
    hist = [_row("screening", 1, "2026-11-01T15:00:00+00:00", 0),
            _row("assessment", 1, "2026-11-03T16:00:00+00:00", 2)]
    t = outcomes.trend("pcl5", hist, [], CHICAGO)
    assert [p["change_pct"] for p in t["points"]] == [None, None]
    assert [p["status"] for p in t["points"]] == ["baseline", "no-response"]


def test_trend_madrs_remission_and_a_later_screening_is_a_point():
    hist = [_row("screening", 1, "2026-11-01T15:00:00+00:00", 30),
            _row("assessment", 1, "2026-11-10T16:00:00+00:00", 15),
            _row("screening", 2, "2026-11-20T16:00:00+00:00", 10)]
    t = outcomes.trend("madrs", hist, INFUSIONS, CHICAGO)
    assert t["baseline"] == 30  # the first screening
    assert [(p["source"], p["status"]) for p in t["points"]] == [
        ("screening", "baseline"), ("assessment", "response"), ("screening", "remission")]
    assert t["latest_status"] == "remission"


# --------------------------------------------------------------------------- cohort rates


def test_cohort_rates_skip_missing_scores():
    from ketacli.domain import outcomes

    c = outcomes.cohort([(20, 10), (20, 4), (20, 16), (None, 5), (18, None)])
    assert c == {"n": 3, "response_rate": round(2 / 3, 4), "remission_rate": round(1 / 3, 4)}
    assert outcomes.cohort([]) == {"n": 0, "response_rate": None, "remission_rate": None}
