"""Outcome assessments and the score history that trends are drawn from."""

from __future__ import annotations

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
