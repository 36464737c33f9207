"""Outcome assessments and the score history that trends are drawn from."""

from __future__ import annotations

import json

from ketacli.domain.records import NewAssessment
from ketacli.domain.scales import MEASURES
from ketacli.store.db import Tx
from ketacli.store.voids import not_voided


def add(tx: Tx, assessment: NewAssessment, *, mrn: str) -> int:
    return tx.record(assessment, patient=mrn)


def history(store, patient_id: int, measure: str) -> list[dict]:
    """Screenings and assessments with a total for `measure`, oldest first (voided left out)."""
    col = f"{measure}_total"
    rows = store.all(
        f"""SELECT 'screening' AS source, sc.id, sc.at, sc.{col} AS total FROM screenings sc
            WHERE sc.patient_id = ? AND sc.{col} IS NOT NULL AND {not_voided('screening', 'sc.id')}
            UNION ALL
            SELECT 'assessment', a.id, a.at, a.{col} FROM assessments a
            WHERE a.patient_id = ? AND a.{col} IS NOT NULL AND {not_voided('assessment', 'a.id')}
            ORDER BY 3, 2""",
        (patient_id, patient_id),
    )
    return [dict(r) for r in rows]


def infusion_starts(store, patient_id: int) -> list[str]:
    return [r[0] for r in store.all(
        "SELECT started_at FROM sessions s WHERE patient_id = ? "
        "AND NOT EXISTS (SELECT 1 FROM voids v WHERE v.kind = 'session' AND v.target_id = s.id) "
        "ORDER BY started_at", (patient_id,))]


def histories(store, patient_id: int) -> dict[str, list[dict]]:
    """`history` of every measure."""

    return {m: history(store, patient_id, m) for m in MEASURES}


def risks_between(store_or_tx, patient_id: int, after: str, upto: str, tz) -> list:
    """PHQ-9 item 9 and C-SSRS risk of the patient's assessments from `after` (the
    screening's instant: one recorded in the same second is not before it) up to `upto`
    (UTC ISO), oldest first, voided ones left out: what the suicide-risk rule reads."""
    from datetime import datetime

    from ketacli.domain.cssrs import AssessmentRisk

    rows = store_or_tx.execute(
        f"""SELECT a.id, a.at, a.phq9_items, a.cssrs_risk FROM assessments a
            WHERE a.patient_id = ? AND a.at >= ? AND a.at <= ?
            AND {not_voided('assessment', 'a.id')} ORDER BY a.at, a.id""",
        (patient_id, after, upto)).fetchall()
    return [AssessmentRisk(r["id"], datetime.fromisoformat(r["at"]).astimezone(tz).date().isoformat(),
                           json.loads(r["phq9_items"])[8] if r["phq9_items"] else None,
                           r["cssrs_risk"]) for r in rows]


def suicide_history(store, patient_id: int) -> list[dict]:
    """Every screening and assessment (voided left out) with PHQ-9 item 9 >= 1 or a C-SSRS,
    oldest first: `{"at", "source", "id", "phq9_item9", "cssrs"}` (the trend's risk lines)."""
    rows = store.all(
        f"""SELECT 'screening' AS source, sc.id, sc.at, sc.phq9_items, sc.cssrs_answers,
                   sc.cssrs_risk FROM screenings sc
            WHERE sc.patient_id = ? AND {not_voided('screening', 'sc.id')}
            UNION ALL
            SELECT 'assessment', a.id, a.at, a.phq9_items, a.cssrs_answers, a.cssrs_risk
            FROM assessments a
            WHERE a.patient_id = ? AND {not_voided('assessment', 'a.id')}
            ORDER BY 3, 2""", (patient_id, patient_id))
    out = []
    for r in rows:
        item9 = json.loads(r["phq9_items"])[8] if r["phq9_items"] else None
        cssrs = ({"answers": json.loads(r["cssrs_answers"]), "risk": r["cssrs_risk"]}
                 if r["cssrs_risk"] else None)
        if (item9 or 0) >= 1 or cssrs:
            out.append({"at": r["at"], "source": r["source"], "id": r["id"],
                        "phq9_item9": item9, "cssrs": cssrs})
    return out
