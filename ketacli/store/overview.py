"""Read models that span aggregates (a patient's overview)."""

from __future__ import annotations

import json
from datetime import UTC

from ketacli.store import assessments, patients
from ketacli.store.db import Store
from ketacli.store.screenings import cssrs_of
from ketacli.store.voids import not_voided


def patient_overview(store: Store, mrn: str, protocol=None, tz=None) -> dict:
    p = patients.get(store, mrn)
    screenings = store.all(
        f"""SELECT id, at, decision, reasons, suicide_risk_flag, valid_until, phq9_total,
                   weight_kg, phq9_items, cssrs_answers, cssrs_risk FROM screenings sc
            WHERE patient_id = ? AND {not_voided('screening', 'sc.id')} ORDER BY at""",
        (p["id"],),
    )
    sessions = store.all(
        f"""SELECT s.id, s.number_in_series, s.started_at, s.dose_mg_per_kg, s.dose_mg,
                  d.at AS discharged_at, NOT {not_voided('session', 's.id')} AS voided
           FROM sessions s LEFT JOIN discharges d ON d.session_id = s.id
           WHERE s.patient_id = ? ORDER BY s.started_at""",
        (p["id"],),
    )
    pending = store.all(
        "SELECT id, kind, due, note FROM followups WHERE patient_id = ? AND status = 'pending' "
        "ORDER BY due, id",
        (p["id"],),
    )
    return {
        "patient": patients.as_dict(p),
        "changes": patients.changes(store, p["id"]),
        "screenings": [
            {"screening_id": r["id"], "at": r["at"], "decision": r["decision"],
             "reasons": json.loads(r["reasons"]), "suicide_risk_flag": bool(r["suicide_risk_flag"]),
             "valid_until": r["valid_until"], "phq9_total": r["phq9_total"],
             "weight_kg": r["weight_kg"], "phq9_item9": _item9(r), "cssrs": cssrs_of(r)}
            for r in screenings
        ],
        "assessments": _assessments(store, p["id"]),
        "suicide_risk": standing_suicide_risk(store, p["id"], protocol, tz),
        "sessions": [
            {"session_id": r["id"], "number_in_series": r["number_in_series"],
             "started_at": r["started_at"], "dose_mg_per_kg": r["dose_mg_per_kg"],
             "dose_mg": r["dose_mg"],
             "status": "voided" if r["voided"] else "discharged" if r["discharged_at"] else "open",
             "discharged_at": r["discharged_at"]}
            for r in sessions
        ],
        "pending_followups": [
            {"followup_id": r["id"], "kind": r["kind"], "due": r["due"], "note": r["note"]}
            for r in pending
        ],
    }


def _item9(row) -> int | None:
    return json.loads(row["phq9_items"])[8] if row["phq9_items"] else None


def _assessments(store: Store, patient_id: int) -> list[dict]:
    """The patient's outcome assessments (voided left out), with PHQ-9 item 9 and C-SSRS."""
    rows = store.all(
        f"""SELECT id, at, phq9_total, phq9_items, gad7_total, madrs_total, pcl5_total,
                   cssrs_answers, cssrs_risk FROM assessments a
            WHERE patient_id = ? AND {not_voided('assessment', 'a.id')} ORDER BY at, id""",
        (patient_id,))
    return [{"assessment_id": r["id"], "at": r["at"], "phq9_total": r["phq9_total"],
             "phq9_item9": _item9(r), "gad7_total": r["gad7_total"],
             "madrs_total": r["madrs_total"], "pcl5_total": r["pcl5_total"],
             "cssrs": cssrs_of(r)} for r in rows]


def standing_suicide_risk(store: Store, patient_id: int, protocol=None, tz=None
                          ) -> dict | None:
    """The `suicide-risk` refusal the patient's next start-session would meet now (None:
    none), read as the start reads it: the assessments after the latest screening. For
    `patient show` and the chair board."""
    from ketacli.clock import CLOCK, to_utc_iso
    from ketacli.domain.cssrs import standing_risk
    from ketacli.protocol import load
    from ketacli.store.screenings import latest

    now = to_utc_iso(CLOCK.now())
    screening = latest(store, patient_id, now)
    if screening is None:
        return None
    p = (protocol or load()).screening
    since = assessments.risks_between(store, patient_id, screening["at"], now, tz or UTC)
    risk = standing_risk(since, ineligible=p.cssrs_ineligible, review=p.cssrs_review)
    return None if risk is None else {"rule": "suicide-risk", **risk.as_dict()}
