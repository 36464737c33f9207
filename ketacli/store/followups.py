"""Follow-ups: scheduled calls, infusions and assessments."""

from __future__ import annotations

from ketacli.store.db import Tx


def add(tx: Tx, *, patient_id: int, mrn: str, kind: str, due: str, at: str,
        session_id: int | None = None, note: str | None = None) -> int:
    fid = tx.insert("followups", {
        "patient_id": patient_id, "session_id": session_id, "kind": kind, "due": due,
        "status": "pending", "created_at": at, "created_by": tx.store.actor.clinician,
        "note": note,
    })
    tx.audit("schedule", "followup", fid, patient=mrn, at=at, detail={"kind": kind, "due": due})
    return fid


def complete_earliest(tx: Tx, *, patient_id: int, mrn: str, kind: str, on_or_before: str,
                      at: str, reason: str) -> int | None:
    """Mark the earliest pending follow-up of `kind` due on or before a day as done."""
    row = tx.execute(
        "SELECT id FROM followups WHERE patient_id = ? AND kind = ? AND status = 'pending' "
        "AND due <= ? ORDER BY due, id LIMIT 1",
        (patient_id, kind, on_or_before),
    ).fetchone()
    if row is None:
        return None
    tx.execute(
        "UPDATE followups SET status = 'done', closed_at = ?, closed_by = ? WHERE id = ?",
        (at, tx.store.actor.clinician, row[0]),
    )
    tx.audit("complete", "followup", row[0], patient=mrn, at=at, detail={"by": reason})
    return row[0]
