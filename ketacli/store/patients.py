"""Patients: add, find, list."""

from __future__ import annotations

from ketacli.errors import Conflict, NotFound
from ketacli.store.db import Store, Tx

COLUMNS = "id, mrn, name, dob, sex, phone, demo, created_at, created_by"


def add(tx: Tx, *, mrn: str, name: str, dob: str | None, sex: str, phone: str | None,
        at: str, demo: bool = False) -> int:
    if tx.execute("SELECT 1 FROM patients WHERE mrn = ?", (mrn,)).fetchone():
        raise Conflict(f"patient {mrn} already exists", code="patient_exists")
    pid = tx.insert("patients", {
        "mrn": mrn, "name": name, "dob": dob, "sex": sex, "phone": phone,
        "demo": int(demo), "created_at": at, "created_by": tx.store.actor.clinician,
    })
    tx.audit("create", "patient", pid, patient=mrn, at=at)
    return pid


def find(store: Store, mrn: str):
    return store.one(f"SELECT {COLUMNS} FROM patients WHERE mrn = ?", (mrn,))


def get(store: Store, mrn: str):
    row = find(store, mrn)
    if row is None:
        raise NotFound(f"no patient with MRN {mrn}", code="patient_not_found")
    return row


def listing(store: Store) -> list:
    return store.all(
        f"""SELECT {COLUMNS},
              (SELECT count(*) FROM sessions s WHERE s.patient_id = p.id) AS sessions,
              (SELECT max(started_at) FROM sessions s WHERE s.patient_id = p.id) AS last_session,
              (SELECT count(*) FROM followups f WHERE f.patient_id = p.id
                 AND f.status = 'pending') AS pending_followups
            FROM patients p ORDER BY mrn"""
    )


def as_dict(row) -> dict:
    return {
        "mrn": row["mrn"], "name": row["name"], "dob": row["dob"], "sex": row["sex"],
        "phone": row["phone"], "demo": bool(row["demo"]), "created_at": row["created_at"],
    }
