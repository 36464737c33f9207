"""Follow-ups: scheduled calls, infusions and assessments."""

from __future__ import annotations

from ketacli.domain.followups import Pending
from ketacli.domain.records import NewFollowup
from ketacli.errors import Code, NotFound
from ketacli.store.db import Tx


def add(tx: Tx, followup: NewFollowup, *, mrn: str) -> int:
    return tx.record(followup, patient=mrn)


def pending(tx_or_store, patient_id: int) -> list[Pending]:
    """The patient's pending follow-ups (for the domain's rules on which a record closes)."""
    return [Pending(r[0], r[1], r[2]) for r in tx_or_store.execute(
        "SELECT id, kind, due FROM followups WHERE patient_id = ? AND status = 'pending' "
        "ORDER BY due, id", (patient_id,))]


def complete(tx: Tx, followup_ids: list[int], *, mrn: str, at: str, reason: str) -> None:
    """Mark pending follow-ups done by a record (`reason`: which one), each audited."""
    for fid in followup_ids:
        tx.execute("UPDATE followups SET status = 'done', closed_at = ?, closed_by = ? "
                   "WHERE id = ? AND status = 'pending'", (at, tx.store.actor.clinician, fid))
        tx.audit("complete", "followup", fid, patient=mrn, at=at, detail={"by": reason})


COLS = ("id, patient_id, session_id, kind, due, status, created_at, created_by, note, closed_at, "
        "closed_by, cancel_reason, notified_at")


def get(store_or_tx, followup_id: int):

    row = store_or_tx.execute(
        f"SELECT f.{COLS.replace(', ', ', f.')}, p.mrn FROM followups f "
        "JOIN patients p ON p.id = f.patient_id WHERE f.id = ?", (followup_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no follow-up {followup_id}", code=Code.FOLLOWUP_NOT_FOUND)
    return row


def close(store, followup_id: int, *, status: str, at: str, reason: str | None = None) -> dict:
    """Mark a pending follow-up done or cancelled (exit 3 if it is not pending)."""
    return close_many(store, [followup_id], status=status, at=at, reason=reason)[0]


def close_many(store, followup_ids: list[int], *, status: str, at: str,
               reason: str | None = None) -> list[dict]:
    """Mark pending follow-ups done or cancelled in one transaction, all or none (the
    domain's `corrections.closable` decides), each with its audit row."""
    from ketacli.domain.corrections import closable

    with store.write() as tx:
        marks = ", ".join("?" for _ in followup_ids)
        found = {r[0]: r[1] for r in tx.execute(
            f"SELECT id, status FROM followups WHERE id IN ({marks})", followup_ids)}
        ids = closable(followup_ids, found)
        for fid in ids:
            row = get(tx, fid)
            tx.execute(
                "UPDATE followups SET status = ?, closed_at = ?, closed_by = ?, cancel_reason = ? "
                "WHERE id = ? AND status = 'pending'",
                (status, at, tx.store.actor.clinician, reason, fid))
            tx.audit("complete" if status == "done" else "cancel", "followup", fid,
                     patient=row["mrn"], at=at, detail={"reason": reason} if reason else None)
    return [as_dict(get(store, fid)) for fid in ids]


def for_patient(store, patient_id: int) -> list:
    return store.all(
        f"SELECT f.{COLS.replace(', ', ', f.')}, p.mrn FROM followups f "
        "JOIN patients p ON p.id = f.patient_id WHERE f.patient_id = ? ORDER BY f.due, f.id",
        (patient_id,),
    )


def as_dict(r) -> dict:
    return {"followup_id": r["id"], "patient": r["mrn"], "kind": r["kind"], "due": r["due"],
            "status": r["status"], "session_id": r["session_id"], "note": r["note"],
            "created_at": r["created_at"], "created_by": r["created_by"],
            "closed_at": r["closed_at"], "closed_by": r["closed_by"],
            "cancel_reason": r["cancel_reason"], "notified_at": r["notified_at"]}


DUE_SQL = """SELECT f.id, p.mrn, p.name, p.phone, f.kind, f.due, f.notified_at
             FROM followups f JOIN patients p ON p.id = f.patient_id
             WHERE f.status = 'pending' AND f.due <= ? {extra}
             ORDER BY f.due, f.id"""


def due(store, *, target: str, upto: str, overdue_only: bool, unnotified: bool,
        mark_at: str | None, emit) -> list[dict]:
    """Pending follow-ups due on or before `upto`; `emit(rows)` writes them out.

    With `mark_at`, the rows are stamped notified in the same transaction, which
    commits only after `emit` returned: a reminder is never marked without having
    been written out, and never written twice by a rerun with --unnotified.
    """
    extra = ""
    params: list = [upto]
    if overdue_only:
        extra += " AND f.due < ?"
        params.append(target)
    if unnotified:
        extra += " AND f.notified_at IS NULL"
    sql = DUE_SQL.format(extra=extra)

    def rows_of(cursor) -> list[dict]:
        return [{"followup_id": r[0], "patient": r[1], "name": r[2], "phone": r[3],
                 "kind": r[4], "due": r[5], "overdue": r[5] < target, "notified_at": r[6]}
                for r in cursor]

    if mark_at is None:
        rows = rows_of(store.execute(sql, params))
        emit(rows)
        return rows
    with store.write() as tx:
        rows = rows_of(tx.execute(sql, params))
        for r in rows:
            tx.execute("UPDATE followups SET notified_at = ? WHERE id = ?", (mark_at, r["followup_id"]))
            r["notified_at"] = mark_at
            # one row per reminder: `audit --patient MRN` shows what was sent about whom
            tx.audit("notify", "followup", r["followup_id"], patient=r["patient"], at=mark_at,
                     detail={"kind": r["kind"], "due": r["due"]})
        emit(rows)
    return rows
