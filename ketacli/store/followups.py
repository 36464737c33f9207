"""Follow-ups: scheduled calls, infusions and assessments."""

from __future__ import annotations

from ketacli.domain.followups import Pending
from ketacli.domain.records import NewFollowup
from ketacli.errors import Code, NotFound
from ketacli.store.db import Tx
from ketacli.store.engine import is_pg


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
        close_in(tx, ids, status=status, at=at, reason=reason)
    return [as_dict(get(store, fid)) for fid in ids]


def close_in(tx: Tx, followup_ids: list[int], *, status: str, at: str,
             reason: str | None = None) -> None:
    """`followup done|cancel` inside the caller's write (the ids checked closable), each
    with its audit row; the demo closes its calls and stale bookings through it."""
    for fid in followup_ids:
        row = get(tx, fid)
        tx.execute(
            "UPDATE followups SET status = ?, closed_at = ?, closed_by = ?, cancel_reason = ? "
            "WHERE id = ? AND status = 'pending'",
            (status, at, tx.store.actor.clinician, reason, fid))
        tx.audit("complete" if status == "done" else "cancel", "followup", fid,
                 patient=row["mrn"], at=at, detail={"reason": reason} if reason else None)


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

# follow-ups in a claim that still lasts (claimed after the cutoff, not released)
CLAIMED_SQL = """f.id NOT IN (
    SELECT j.value FROM audit c, json_each(c.detail, '$.followups') j
    WHERE c.action = 'claim' AND c.entity = 'reminders' AND c.at > ?
      AND NOT EXISTS (SELECT 1 FROM audit r WHERE r.at >= c.at AND r.action = 'release'
                      AND r.entity = 'reminders' AND r.entity_id = c.id))"""

CLAIMED_SQL_PG = CLAIMED_SQL.replace(
    "SELECT j.value FROM audit c, json_each(c.detail, '$.followups') j",
    "SELECT CAST(j.value AS INTEGER) FROM audit c, "
    "json_array_elements_text(c.detail::json -> 'followups') j")
assert CLAIMED_SQL_PG != CLAIMED_SQL, "the PostgreSQL form no longer matches CLAIMED_SQL"


def due(store, *, target: str, upto: str, overdue_only: bool, unnotified: bool,
        claim_cutoff: str | None = None) -> list[dict]:
    """Pending follow-ups due on or before `upto` (read without any lock). With
    `unnotified`, rows stamped notified, and rows claimed after `claim_cutoff` (a claim
    that still lasts), are left out."""
    extra = ""
    params: list = [upto]
    if overdue_only:
        extra += " AND f.due < ?"
        params.append(target)
    if unnotified:
        extra += " AND f.notified_at IS NULL"
        if claim_cutoff is not None:
            extra += " AND " + (CLAIMED_SQL_PG if is_pg(store.conn) else CLAIMED_SQL)
            params.append(claim_cutoff)
    return [{"followup_id": r[0], "patient": r[1], "name": r[2], "phone": r[3],
             "kind": r[4], "due": r[5], "overdue": r[5] < target, "notified_at": r[6]}
            for r in store.execute(DUE_SQL.format(extra=extra), params)]


def stamp(store, rows: list[dict], *, at: str, batch: int | None = None) -> list[int]:
    """Stamp rows notified (each with its own audit row: `audit --patient MRN` shows what
    was sent about whom), once they have been written out or acknowledged."""
    stamped = []
    with store.write() as tx:
        for r in rows:
            cur = tx.execute("UPDATE followups SET notified_at = ? WHERE id = ?"
                             + (" AND notified_at IS NULL" if batch is not None else ""),
                             (at, r["followup_id"]))
            if cur.rowcount:
                detail = {"kind": r["kind"], "due": r["due"]}
                if batch is not None:
                    detail["batch"] = batch
                tx.audit("notify", "followup", r["followup_id"], patient=r["patient"], at=at,
                         detail=detail)
                stamped.append(r["followup_id"])
                r["notified_at"] = at
    return stamped


def claim(store, *, at: str, **query) -> tuple[list[dict], int | None]:
    """Read the due rows (`due(**query)`) and claim them in one transaction, so two runs
    at once never get the same row: one audit row whose id is the batch (None when
    nothing is due). Nothing is locked once this returns."""
    with store.write() as tx:
        rows = due(tx, **query)
        if not rows:
            return rows, None
        return rows, tx.audit("claim", "reminders", None, at=at,
                              detail={"followups": [r["followup_id"] for r in rows]})


def release(store, batch: int, *, at: str) -> None:
    """A claim whose rows never reached the sender: due again at once."""
    with store.write() as tx:
        tx.audit("release", "reminders", batch, at=at)


def ack(store, batch: int, *, at: str) -> dict:
    """The sender confirms a claimed batch: its rows are stamped notified (a second ack of
    the same batch stamps nothing more)."""
    import json

    row = store.one("SELECT detail FROM audit WHERE id = ? AND action = 'claim' "
                    "AND entity = 'reminders'", (batch,))
    if row is None:
        raise NotFound(f"no claimed batch {batch}", code=Code.BATCH_NOT_FOUND,
                       hint="the batch id is printed by 'followup due --claim'")
    ids = json.loads(row[0])["followups"]
    marks = ",".join("?" for _ in ids)
    rows = [{"followup_id": r[0], "patient": r[1], "kind": r[2], "due": r[3]}
            for r in store.execute(
                f"SELECT f.id, p.mrn, f.kind, f.due FROM followups f JOIN patients p "
                f"ON p.id = f.patient_id WHERE f.id IN ({marks}) ORDER BY f.id", ids)]
    stamped = stamp(store, rows, at=at, batch=batch)
    return {"batch": batch, "followups": ids, "stamped": stamped}
