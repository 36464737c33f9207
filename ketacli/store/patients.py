"""Patients: add, find (an MRN in any case), list, edit (the earlier values kept)."""

from __future__ import annotations

import json

from ketacli.domain import sandbox
from ketacli.domain.records import NewPatient
from ketacli.errors import Code, Conflict, NotFound
from ketacli.store import sandbox as demo_db
from ketacli.store.db import Store, Tx, row_digest
from ketacli.store.rows import dumps

COLUMNS = "id, mrn, name, dob, sex, phone, demo, created_at, created_by, address"


def add(tx: Tx, p: NewPatient) -> int:
    row = tx.execute("SELECT mrn FROM patients WHERE mrn = ? COLLATE NOCASE", (p.mrn,)).fetchone()
    if row:
        same = "" if row["mrn"] == p.mrn else f" (as {row['mrn']}: MRNs ignore case)"
        raise Conflict(f"patient {p.mrn} already exists{same}", code=Code.PATIENT_EXISTS)
    if not p.demo:  # the demo's own patients need no look
        p = sandbox.admit(p, demo_database=demo_db.is_demo(tx))
    return tx.record(p, patient=p.mrn)


def find(store: Store | Tx, mrn: str):
    """The patient with this MRN in any case. Records made before MRNs ignored case may
    differ only in case: the exact spelling then finds its own, another is ambiguous."""
    rows = store.all(f"SELECT {COLUMNS} FROM patients WHERE mrn = ? COLLATE NOCASE ORDER BY id",
                     (mrn,))
    exact = [r for r in rows if r["mrn"] == mrn]
    if exact or len(rows) <= 1:
        return (exact or rows or [None])[0]
    raise Conflict(f"MRN {mrn} matches {len(rows)} patients that differ only in case ("
                   + ", ".join(r["mrn"] for r in rows) + "): type it exactly",
                   code=Code.AMBIGUOUS_MRN)


def get(store: Store | Tx, mrn: str):
    row = find(store, mrn)
    if row is None:
        raise NotFound(f"no patient with MRN {mrn}", code=Code.PATIENT_NOT_FOUND)
    return row


# a session not voided (entered in error)
LIVE = "NOT EXISTS (SELECT 1 FROM voids v WHERE v.kind = 'session' AND v.target_id = s.id)"


def listing(store: Store) -> list:
    return store.all(
        f"""SELECT {COLUMNS},
              (SELECT count(*) FROM sessions s WHERE s.patient_id = p.id
                 AND {LIVE}) AS sessions,
              (SELECT max(started_at) FROM sessions s WHERE s.patient_id = p.id
                 AND {LIVE}) AS last_session,
              (SELECT count(*) FROM followups f WHERE f.patient_id = p.id
                 AND f.status = 'pending') AS pending_followups
            FROM patients p ORDER BY mrn"""
    )


def summaries(store: Store) -> list[dict]:
    """`patient list`: every patient with sessions, last session and pending follow-ups."""
    return [{**as_dict(r), "sessions": r["sessions"], "last_session": r["last_session"],
             "pending_followups": r["pending_followups"]} for r in listing(store)]


def as_dict(row) -> dict:
    return {
        "mrn": row["mrn"], "name": row["name"], "dob": row["dob"], "sex": row["sex"],
        "phone": row["phone"], "address": row["address"], "demo": bool(row["demo"]),
        "created_at": row["created_at"],
    }


def edit(tx: Tx, row, change, *, at: str) -> int:
    """`patient edit`: the earlier values kept in patient_changes, the row updated, one audit
    row (field names and the reason; never the values). Returns the change's id."""
    cid = tx.insert("patient_changes", {
        "patient_id": row["id"], "at": at, "clinician": tx.store.actor.clinician,
        "fields": dumps(change.fields), "old_values": dumps(change.old), "reason": change.reason})
    sets = ", ".join(f"{c} = ?" for c in change.new)
    tx.execute(f"UPDATE patients SET {sets} WHERE id = ?", [*change.new.values(), row["id"]])
    tx.audit("edit", "patient", row["id"], patient=row["mrn"], at=at, detail={
        "fields": change.fields, "reason": change.reason, "change": cid,
        "row_sha256": row_digest(tx.conn, "patients", row["id"])})
    return cid


def changes(store: Store, patient_id: int) -> list[dict]:
    """The demographics changes of a patient, oldest first: at, by, fields, reason."""
    return [{"at": r["at"], "by": r["clinician"], "fields": json.loads(r["fields"]),
             "reason": r["reason"]}
            for r in store.all("SELECT at, clinician, fields, reason FROM patient_changes "
                               "WHERE patient_id = ? ORDER BY id", (patient_id,))]
