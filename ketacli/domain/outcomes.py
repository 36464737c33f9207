"""Outcome definitions: change from baseline, response, remission.

response >= 50 % drop; partial response 25-49 %; no response < 25 %;
remission: PHQ-9 < 5, GAD-7 < 5, MADRS <= 10 (PCL-5 has no remission cut-off here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

REMISSION = {"phq9": lambda t: t < 5, "gad7": lambda t: t < 5, "madrs": lambda t: t <= 10}


def change_pct(baseline: int, total: int) -> float | None:
    """Percent change from baseline (negative = improvement); None when baseline is 0."""
    if baseline == 0:
        return None
    return round((total - baseline) / baseline * 100, 1)


def status(measure: str, baseline: int, total: int) -> str:
    if measure in REMISSION and REMISSION[measure](total):
        return "remission"
    pct = change_pct(baseline, total)
    if pct is None:
        return "no-response"
    drop = -pct
    if drop >= 50:
        return "response"
    if drop >= 25:
        return "partial-response"
    return "no-response"


def responded(s: str) -> bool:
    return s in ("remission", "response")


@dataclass(frozen=True)
class ReviewNote:
    infusions: int
    message: str


def non_response_note(infusions_before_latest: int, latest_status: str | None,
                      threshold: int = 3) -> ReviewNote | None:
    """Three or more infusions and still no response: such patients rarely respond later."""
    if latest_status == "no-response" and infusions_before_latest >= threshold:
        return ReviewNote(
            infusions_before_latest,
            f"{infusions_before_latest} infusions without response: patients with no response by "
            "the third infusion rarely respond later; review the treatment plan",
        )
    return None


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def baseline_row(history: list[dict[str, Any]], infusion_starts: list[str]) -> dict[str, Any] | None:
    """The baseline: the last screening score taken before the first infusion (a patient
    re-screened before starting is compared with the screening that cleared them), else
    the first screening score. `history` is oldest first; times are UTC ISO strings."""
    screenings = [h for h in history if h["source"] == "screening"]
    if not screenings:
        return None
    if infusion_starts:
        first = min(infusion_starts)
        before = [h for h in screenings if h["at"] <= first]
        if before:
            return before[-1]
    return screenings[0]


def trend(measure: str, history: list[dict[str, Any]], infusion_starts: list[str],
          tz: tzinfo) -> dict[str, Any]:
    """The trend of one measure: baseline (see `baseline_row`), points with
    change and status, infusion dates, and a note after 3+ infusions without response.

    `history`: rows with source ('screening' | 'assessment'), id, at (UTC ISO), total;
    oldest first.
    """

    base_row = baseline_row(history, infusion_starts)
    if base_row is None:
        return {"measure": measure, "baseline": None, "points": [], "infusions": [],
                "latest_status": None, "review_note": None}
    baseline = base_row["total"]
    points = []
    starts = [datetime.fromisoformat(s) for s in infusion_starts]
    for h in history:
        if h["at"] < base_row["at"]:
            continue
        is_base = h is base_row
        at = datetime.fromisoformat(h["at"])
        points.append({
            "at": h["at"],
            "date": at.astimezone(tz).date().isoformat(),
            "source": h["source"],
            "record_id": h["id"],
            "total": h["total"],
            "change_pct": 0.0 if is_base and baseline else change_pct(baseline, h["total"]),
            "status": "baseline" if is_base else status(measure, baseline, h["total"]),
            "infusions_before": sum(1 for s in starts if s <= at),
        })
    latest = points[-1] if len(points) > 1 else None
    note = None
    if latest:
        n = non_response_note(latest["infusions_before"], latest["status"])
        note = n.message if n else None
    return {
        "measure": measure,
        "baseline": baseline,
        "points": points,
        "infusions": [s.astimezone(tz).date().isoformat() for s in starts],
        "latest_status": latest["status"] if latest else None,
        "review_note": note,
    }


def cohort(pairs: list[tuple[int | None, int | None]], measure: str = "phq9") -> dict[str, Any]:
    """Response and remission rates among (baseline, outcome) pairs with both scores."""
    both = [(b, o) for b, o in pairs if b is not None and o is not None]
    statuses = [status(measure, b, o) for b, o in both]
    return {
        "n": len(both),
        "response_rate": rate(sum(responded(x) for x in statuses), len(both)),
        "remission_rate": rate(sum(x == "remission" for x in statuses), len(both)),
    }


def clinic_figures(raw: dict[str, Any], period: dict[str, Any], induction: int) -> dict[str, Any]:
    """`report outcomes` from the store's aggregate counts (`store.reports.outcomes`)."""
    cohort_rates = cohort(raw["finishers"])
    discharged = raw["sessions_discharged"]
    return {
        **period,
        **{k: raw[k] for k in ("patients_screened", "patients_treated", "sessions",
                               "sessions_discharged", "mean_dose_mg_per_kg")},
        "alert_rate": rate(raw["sessions_with_alert"], raw["sessions"]),
        "sessions_with_alert": raw["sessions_with_alert"],
        "side_effect_rates": {code: rate(c, discharged)
                              for code, c in raw["side_effect_counts"].items()},
        "induction_sessions": induction,
        "patients_completed_induction": cohort_rates["n"],
        "response_rate": cohort_rates["response_rate"],
        "remission_rate": cohort_rates["remission_rate"],
        "overrides": raw["overrides"],
    }
