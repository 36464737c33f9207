"""An outcome assessment (`followup record`): the record, the follow-up it completes, and
each score compared with the patient's baseline."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from ketacli.clock import to_utc_iso
from ketacli.domain import cssrs, followups, outcomes, scales
from ketacli.domain.forms import AssessmentForm
from ketacli.domain.records import NewAssessment


def record(form: AssessmentForm, patient_id: int, pending: list[followups.Pending], *,
           tz: tzinfo, clinician: str, now: datetime) -> NewAssessment:
    """The assessment, linked to the earliest pending assessment follow-up due by its day."""
    day = form.when.astimezone(tz).date().isoformat()
    sc = form.scales
    return NewAssessment(
        patient_id=patient_id, followup_id=followups.closed_by_assessment(pending, day),
        at=to_utc_iso(form.when), recorded_at=to_utc_iso(now), clinician=clinician,
        phq9_items=sc.phq9, gad7_items=sc.gad7, madrs_total=sc.madrs, pcl5_total=sc.pcl5,
        note=form.note, cssrs_answers=sc.cssrs_answers, cssrs_risk=sc.cssrs_risk)


def totals(a: NewAssessment) -> dict[str, int | None]:
    return {"phq9": sum(a.phq9_items) if a.phq9_items else None,
            "gad7": sum(a.gad7_items) if a.gad7_items else None,
            "madrs": a.madrs_total, "pcl5": a.pcl5_total}


def result(a: NewAssessment, assessment_id: int, mrn: str,
           histories: dict[str, list[dict[str, Any]]], infusion_starts: list[str]) -> dict[str, Any]:
    """The `followup record` result: each score with its severity and, against the baseline
    `trend` uses (a back-dated assessment too), its change and status."""
    data: dict[str, Any] = {
        "assessment_id": assessment_id, "patient": mrn, "at": a.at,
        "completed_followup_id": a.followup_id,
        "suicide_risk_flag": cssrs.flagged(a.phq9_items[8] if a.phq9_items else None,
                                           a.cssrs_risk),
        "cssrs": ({"answers": list(a.cssrs_answers), "risk": a.cssrs_risk}
                  if a.cssrs_answers else None)}
    for measure, total in totals(a).items():
        if total is None:
            data[measure] = None
            continue
        entry = scales.from_total(measure, total).as_dict()
        base = outcomes.baseline_row(histories.get(measure, []), infusion_starts)
        if base and a.at >= base["at"]:
            entry["baseline"] = base["total"]
            entry["change_pct"] = outcomes.change_pct(base["total"], total)
            entry["status"] = outcomes.status(measure, base["total"], total)
        data[measure] = entry
    return data
