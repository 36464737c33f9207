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
    "session": "SELECT p.mrn FROM sessions s JOIN patients p ON p.id = s.patient_id "
               "WHERE s.id = ?",
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
        cancelled = _void_session(tx, target_id, row[0], at) if kind == "session" else []
        rebooked = _rebook(tx, target_id, row[0], at) if kind == "session" else []
    data = {"void_id": vid, "kind": kind, "id": target_id, "patient": row[0], "voided_at": at,
            "reason": reason}
    if kind == "session":
        data.update(cancelled_followups=cancelled, rebooked_followups=rebooked)
    return data


def _void_session(tx, session_id: int, mrn: str, at: str) -> list[int]:
    """A voided session's booked follow-ups are cancelled (its next infusion, its call):
    they were scheduled from an encounter entered in error."""
    from ketacli.domain.corrections import booked_by_voided_session
    from ketacli.domain.followups import Pending

    pending = [Pending(r[0], r[1], r[2]) for r in tx.execute(
        "SELECT id, kind, due FROM followups WHERE session_id = ? AND status = 'pending' "
        "ORDER BY id", (session_id,))]
    ids = booked_by_voided_session(pending)
    reason = f"session {session_id} voided (entered in error)"
    for fid in ids:
        tx.execute("UPDATE followups SET status = 'cancelled', closed_at = ?, closed_by = ?, "
                   "cancel_reason = ? WHERE id = ?", (at, tx.store.actor.clinician, reason, fid))
        tx.audit("cancel", "followup", fid, patient=mrn, at=at, detail={"reason": reason})
    return ids


def _rebook(tx, session_id: int, mrn: str, at: str) -> list[int]:
    """Book again what the voided session's start had closed (`corrections.rebooked_after_void`)."""
    from ketacli.domain.corrections import Closed, rebooked_after_void

    closed = [Closed(r[0], r[1], r[2], r[3]) for r in tx.execute(
        "SELECT f.id, f.patient_id, f.kind, f.due FROM audit a JOIN followups f ON f.id = a.entity_id "
        "WHERE a.action = 'complete' AND a.entity = 'followup' "
        "AND json_extract(a.detail, '$.by') = ? ORDER BY f.id", (f"session {session_id}",))]
    return [tx.record(f, patient=mrn)
            for f in rebooked_after_void(session_id, closed, at=at,
                                         clinician=tx.store.actor.clinician)]
