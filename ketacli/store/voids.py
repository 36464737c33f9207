"""Voids: a record marked entered-in-error, with who, when and why."""

from __future__ import annotations

from ketacli.clock import CLOCK, to_utc_iso
from ketacli.errors import Code, Conflict, NotFound
from ketacli.store.db import Store, row_digest

NOT_VOIDED = "NOT EXISTS (SELECT 1 FROM voids v WHERE v.kind = '{kind}' AND v.target_id = {col})"


def not_voided(kind: str, col: str) -> str:
    """SQL: the record `col` of `kind` has not been voided."""
    return NOT_VOIDED.format(kind=kind, col=col)


# kind -> (table, SQL giving the patient's MRN for a record id)
TARGETS = {
    "observation": "SELECT p.mrn FROM observations o JOIN sessions s ON s.id = o.session_id "
                   "JOIN patients p ON p.id = s.patient_id WHERE o.id = ?",
    "event": "SELECT p.mrn FROM events e JOIN sessions s ON s.id = e.session_id "
             "JOIN patients p ON p.id = s.patient_id WHERE e.id = ?",
    "assessment": "SELECT p.mrn FROM assessments a JOIN patients p ON p.id = a.patient_id "
                  "WHERE a.id = ?",
    "screening": "SELECT p.mrn FROM screenings sc JOIN patients p ON p.id = sc.patient_id "
                 "WHERE sc.id = ?",
}


def void(store: Store, kind: str, target_id: int, reason: str) -> dict:
    at = to_utc_iso(CLOCK.now())
    with store.write() as tx:
        row = tx.execute(TARGETS[kind], (target_id,)).fetchone()
        if row is None:
            raise NotFound(f"no {kind} {target_id}", code=Code.RECORD_NOT_FOUND)
        if tx.execute("SELECT 1 FROM voids WHERE kind = ? AND target_id = ?",
                      (kind, target_id)).fetchone():
            raise Conflict(f"{kind} {target_id} is already voided", code=Code.ALREADY_VOIDED)
        vid = tx.insert("voids", {"kind": kind, "target_id": target_id, "reason": reason,
                                  "at": at, "clinician": tx.store.actor.clinician})
        tx.audit("void", kind, target_id, patient=row[0], at=at,
                 detail={"void_id": vid, "reason": reason,
                         "void_sha256": row_digest(tx.conn, "voids", vid)})
    return {"void_id": vid, "kind": kind, "id": target_id, "patient": row[0], "voided_at": at,
            "reason": reason}
