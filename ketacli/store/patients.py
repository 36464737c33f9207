"""Patients: add, find, list."""

from __future__ import annotations

from ketacli.domain.records import NewPatient
from ketacli.errors import Code, Conflict, NotFound
from ketacli.store.db import Store, Tx

COLUMNS = "id, mrn, name, dob, sex, phone, demo, created_at, created_by"


def add(tx: Tx, p: NewPatient) -> int:
    if tx.execute("SELECT 1 FROM patients WHERE mrn = ?", (p.mrn,)).fetchone():
        raise Conflict(f"patient {p.mrn} already exists", code=Code.PATIENT_EXISTS)
    return tx.record(p, patient=p.mrn)


def find(store: Store, mrn: str):
    return store.one(f"SELECT {COLUMNS} FROM patients WHERE mrn = ?", (mrn,))


def get(store: Store, mrn: str):
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
        "phone": row["phone"], "demo": bool(row["demo"]), "created_at": row["created_at"],
    }
