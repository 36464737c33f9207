"""The session aggregate: start, observations, events, discharge, side effects."""

from __future__ import annotations

import json

from ketacli.errors import Conflict, NotFound
from ketacli.store.db import Store, Tx
from ketacli.store.records import not_voided


def get(store: Store, session_id: int):
    row = store.one(
        """SELECT s.*, p.mrn, d.id AS discharge_id FROM sessions s
           JOIN patients p ON p.id = s.patient_id
           LEFT JOIN discharges d ON d.session_id = s.id WHERE s.id = ?""",
        (session_id,),
    )
    if row is None:
        raise NotFound(f"no session {session_id}", code="session_not_found")
    return row


def open_for(store_or_tx, patient_id: int):
    """The patient's open (not discharged) session, if any."""
    return store_or_tx.execute(
        """SELECT s.id FROM sessions s WHERE s.patient_id = ?
           AND NOT EXISTS (SELECT 1 FROM discharges d WHERE d.session_id = s.id)
           ORDER BY s.started_at DESC LIMIT 1""",
        (patient_id,),
    ).fetchone()


def resolve_open(store: Store, session_id: int | None, mrn: str | None):
    """SESSION_ID or --patient MRN → the session row, which must be open."""
    from ketacli.store import patients

    if session_id is None:
        p = patients.get(store, mrn)
        row = open_for(store.conn, p["id"])
        if row is None:
            raise Conflict(f"patient {mrn} has no open session", code="no_open_session",
                           hint="start one with 'ketacli start-session'")
        session_id = row[0]
    row = get(store, session_id)
    if row["discharge_id"] is not None:
        raise Conflict(f"session {session_id} is closed (discharged)", code="session_closed")
    return row


def ensure_open(tx: Tx, session_id: int) -> None:
    """Inside the write: the session is still open (another writer may have discharged it)."""
    if tx.execute("SELECT 1 FROM discharges WHERE session_id = ?", (session_id,)).fetchone():
        raise Conflict(f"session {session_id} is closed (discharged)", code="session_closed")


def count_for(tx_or_store, patient_id: int) -> int:
    return tx_or_store.execute(
        "SELECT count(*) FROM sessions WHERE patient_id = ?", (patient_id,)
    ).fetchone()[0]


def last_started(tx_or_store, patient_id: int) -> str | None:
    return tx_or_store.execute(
        "SELECT max(started_at) FROM sessions WHERE patient_id = ?", (patient_id,)
    ).fetchone()[0]


def start(tx: Tx, row: dict, *, mrn: str, detail: dict) -> int:
    sid = tx.insert("sessions", row)
    tx.audit("start", "session", sid, patient=mrn, at=row["recorded_at"], detail=detail)
    return sid


def add_observation(tx: Tx, row: dict, *, mrn: str) -> int:
    oid = tx.insert("observations", row)
    tx.audit("create", "observation", oid, patient=mrn, at=row["recorded_at"],
             detail={"session": row["session_id"], "phase": row["phase"],
                     "alerts": [a["level"] + ":" + a["parameter"] for a in json.loads(row["alerts"])]})
    return oid


def add_event(tx: Tx, row: dict, *, mrn: str) -> int:
    eid = tx.insert("events", row)
    tx.audit("create", "event", eid, patient=mrn, at=row["recorded_at"],
             detail={"session": row["session_id"], "kind": row["kind"]})
    return eid


def events(store_or_tx, session_id: int) -> list:
    return store_or_tx.execute(
        f"""SELECT * FROM events e WHERE session_id = ? AND {not_voided('event', 'e.id')}
            ORDER BY at, id""",
        (session_id,),
    ).fetchall()


def observations(store: Store, session_id: int) -> list:
    return store.all(
        f"""SELECT * FROM observations o WHERE session_id = ?
            AND {not_voided('observation', 'o.id')} ORDER BY at, id""",
        (session_id,),
    )


def discharge(tx: Tx, row: dict, *, mrn: str, side_effects: list[tuple[str, str]],
              detail: dict) -> int:
    did = tx.insert("discharges", row)
    for code, severity in side_effects:
        tx.insert("side_effects", {
            "session_id": row["session_id"], "code": code, "severity": severity,
            "recorded_at": row["recorded_at"], "clinician": row["clinician"],
        })
    from ketacli.store.db import row_digest

    # seal the discharge and its side effects (drawn/given/wasted are ledger records)
    sealed = {"discharge_sha256": row_digest(tx.conn, "discharges", did),
              "side_effects_sha256": side_effects_digest(tx, row["session_id"])}
    tx.audit("discharge", "session", row["session_id"], patient=mrn, at=row["recorded_at"],
             detail={**detail, **sealed})
    return did


def side_effects_digest(store_or_tx, session_id: int) -> str:
    import hashlib
    import json

    rows = [list(r) for r in store_or_tx.execute(
        "SELECT id, code, severity, recorded_at, clinician FROM side_effects "
        "WHERE session_id = ? ORDER BY id", (session_id,))]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def load(store: Store, session_id: int) -> dict:
    """Everything about one session, as plain dicts (voided rows left out)."""
    s = get(store, session_id)
    patient = store.one("SELECT mrn, name, dob, sex FROM patients WHERE id = ?", (s["patient_id"],))
    screening = (
        store.one("SELECT * FROM screenings WHERE id = ?", (s["screening_id"],))
        if s["screening_id"] else None
    )
    dis = store.one("SELECT * FROM discharges WHERE session_id = ?", (session_id,))
    effects = store.all(
        "SELECT code, severity FROM side_effects WHERE session_id = ? ORDER BY id", (session_id,)
    )
    return {
        "session": dict(s),
        "patient": dict(patient),
        "screening": dict(screening) if screening else None,
        "observations": [dict(o) for o in observations(store, session_id)],
        "events": [dict(e) for e in events(store, session_id)],
        "discharge": dict(dis) if dis else None,
        "side_effects": [dict(e) for e in effects],
    }



def infusion_events(store_or_tx, session_id: int) -> list:
    """The session's (non-voided) events as the domain's infusion events."""
    from datetime import datetime

    from ketacli.domain.infusion import Event

    return [Event(e["kind"], datetime.fromisoformat(e["at"]), e["rate_mg_per_h"])
            for e in events(store_or_tx, session_id)]
