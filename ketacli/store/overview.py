"""Read models that span aggregates (a patient's overview)."""

from __future__ import annotations

import json

from ketacli.store import patients
from ketacli.store.db import Store
from ketacli.store.voids import not_voided


def patient_overview(store: Store, mrn: str) -> dict:
    p = patients.get(store, mrn)
    screenings = store.all(
        f"""SELECT id, at, decision, reasons, suicide_risk_flag, valid_until, phq9_total,
                   weight_kg FROM screenings sc
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
        "screenings": [
            {"screening_id": r["id"], "at": r["at"], "decision": r["decision"],
             "reasons": json.loads(r["reasons"]), "suicide_risk_flag": bool(r["suicide_risk_flag"]),
             "valid_until": r["valid_until"], "phq9_total": r["phq9_total"],
             "weight_kg": r["weight_kg"]}
            for r in screenings
        ],
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
