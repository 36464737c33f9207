"""Screenings: record and find the one that governs a start."""

from __future__ import annotations

import json

from ketacli.domain import scales
from ketacli.domain.records import NewScreening
from ketacli.store.db import Tx
from ketacli.store.voids import not_voided


def add(tx: Tx, screening: NewScreening, *, mrn: str) -> int:
    """The screening, and the pending `screening` follow-ups it completes."""
    from ketacli.domain.followups import closed_by_screening
    from ketacli.store import followups

    sid = tx.record(screening, patient=mrn)
    followups.complete(tx, closed_by_screening(followups.pending(tx, screening.patient_id)),
                       mrn=mrn, at=screening.recorded_at, reason=f"screening {sid}")
    return sid


def latest(store, patient_id: int, before: str):
    """The most recent non-voided screening at or before `before` (UTC ISO)."""
    return store.one(
        f"""SELECT * FROM screenings sc WHERE patient_id = ? AND at <= ?
            AND {not_voided('screening', 'sc.id')} ORDER BY at DESC, id DESC LIMIT 1""",
        (patient_id, before),
    )


def get(store, screening_id: int):
    return store.one("SELECT * FROM screenings WHERE id = ?", (screening_id,))


def scores(row) -> dict:
    """The scale results of a screening or assessment row, as the contract's JSON."""

    out = {}
    for scale in scales.MEASURES:
        total = row[f"{scale}_total"]
        out[scale] = None if total is None else {"total": total, "severity": scales.band(scale, total)}
    return out


def as_result(row, mrn: str) -> dict:
    return {
        "screening_id": row["id"],
        "patient": mrn,
        "at": row["at"],
        "decision": row["decision"],
        "reasons": json.loads(row["reasons"]),
        "suicide_risk_flag": bool(row["suicide_risk_flag"]),
        "valid_until": row["valid_until"],
        **scores(row),
        "phq9_items": json.loads(row["phq9_items"]) if row["phq9_items"] else None,
        "gad7_items": json.loads(row["gad7_items"]) if row["gad7_items"] else None,
        "cssrs": cssrs_of(row),
        "weight_kg": row["weight_kg"],
        "height_cm": row["height_cm"],
        "bmi": bmi_of(row["weight_kg"], row["height_cm"]),
        "bp": f"{row['sbp']}/{row['dbp']}",
        "hr": row["hr"],
        "spo2": row["spo2"],
        "indication": row["indication"],
        "conditions": json.loads(row["conditions"]),
        "meds": json.loads(row["meds"]),
        "clinician": row["clinician"],
    }



SCREEN_KEYS = ("screening_id", "patient", "decision", "reasons", "suicide_risk_flag",
               "valid_until", "phq9", "gad7", "madrs", "pcl5", "cssrs", "bmi")


def cssrs_of(row) -> dict | None:
    """`{"answers": [...], "risk": ...}` of a screening or assessment row, or None."""
    if row["cssrs_risk"] is None:
        return None
    return {"answers": json.loads(row["cssrs_answers"]), "risk": row["cssrs_risk"]}


def bmi_of(weight_kg: float, height_cm: float | None) -> float | None:
    """kg/m², one decimal (None without a height)."""
    return round(weight_kg / (height_cm / 100) ** 2, 1) if height_cm else None


def screen_result(full: dict, *, new_patient: bool) -> dict:
    """The contract's `screen --json` data from a screening's full result."""
    return {k: full[k] for k in SCREEN_KEYS} | {"at": full["at"], "new_patient": new_patient}
