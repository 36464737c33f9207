"""The session aggregate: start, observations, events, discharge, side effects."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

from ketacli.domain import ledger
from ketacli.domain.charting import SessionRef
from ketacli.domain.infusion import Event
from ketacli.domain.records import NewDischarge, NewEvent, NewObservation, NewSession
from ketacli.errors import Code, Conflict, NotFound
from ketacli.store import assessments, followups, patients, rows, screenings
from ketacli.store.db import Store, Tx, row_digest
from ketacli.store.voids import not_voided


def get(store: Store | Tx, session_id: int):
    row = store.one(
        """SELECT s.*, p.mrn, p.name AS patient_name, d.id AS discharge_id,
                  pre.sbp AS pre_sbp, pre.dbp AS pre_dbp,
                  d.at AS discharged_at, d.infusion_end_at, d.delivered_mg,
                  coalesce(d.wasted_mg, 0) AS discharge_wasted_mg,
                  (SELECT coalesce(sum(w.mg), 0) FROM wastes w WHERE w.session_id = s.id)
                      AS later_wasted_mg,
                  (SELECT valid_until FROM screenings sc WHERE sc.id = s.screening_id)
                      AS screening_valid_until,
                  EXISTS (SELECT 1 FROM voids v WHERE v.kind = 'session' AND v.target_id = s.id)
                      AS voided
           FROM sessions s
           LEFT JOIN observations pre ON pre.id = (
               SELECT o.id FROM observations o WHERE o.session_id = s.id AND o.phase = 'pre'
               ORDER BY o.id LIMIT 1)
           JOIN patients p ON p.id = s.patient_id
           LEFT JOIN discharges d ON d.session_id = s.id WHERE s.id = ?""",
        (session_id,),
    )
    if row is None:
        raise NotFound(f"no session {session_id}", code=Code.SESSION_NOT_FOUND)
    return row


def open_for(store_or_tx, patient_id: int):
    """The patient's open (not discharged, not voided) session, if any."""
    return store_or_tx.execute(
        f"""SELECT s.id FROM sessions s WHERE s.patient_id = ?
           AND NOT EXISTS (SELECT 1 FROM discharges d WHERE d.session_id = s.id)
           AND {not_voided('session', 's.id')}
           ORDER BY s.started_at DESC LIMIT 1""",
        (patient_id,),
    ).fetchone()


def latest_for(store_or_tx, patient_id: int):
    """The patient's latest session that is not voided, open or discharged, if any."""
    return store_or_tx.execute(
        f"""SELECT s.id FROM sessions s WHERE s.patient_id = ?
           AND {not_voided('session', 's.id')} ORDER BY s.started_at DESC, s.id DESC LIMIT 1""",
        (patient_id,),
    ).fetchone()


def resolve_id(store: Store, target, *, late: bool) -> int:
    """SESSION_ID or --patient MRN -> a session id (which must exist). --patient means the
    patient's open session; for a late entry (`late`), else their latest session."""
    if target.session_id is not None:
        get(store, target.session_id)
        return target.session_id
    p = patients.get(store, target.mrn)
    row = open_for(store.conn, p["id"]) or (latest_for(store.conn, p["id"]) if late else None)
    if row is None:
        raise Conflict(f"patient {target.mrn} has no open session", code=Code.NO_OPEN_SESSION,
                       hint="start one with 'ketacli start-session'")
    return row[0]


def resolve_open(store: Store, target) -> SessionRef:
    """SESSION_ID or --patient MRN (a `SessionTarget`) -> the session, which must be open."""

    session_id = target.session_id
    if session_id is None:
        p = patients.get(store, target.mrn)
        row = open_for(store.conn, p["id"])
        if row is None:
            raise Conflict(f"patient {target.mrn} has no open session", code=Code.NO_OPEN_SESSION,
                           hint="start one with 'ketacli start-session'")
        session_id = row[0]
    row = get(store, session_id)
    if row["voided"]:
        raise Conflict(f"session {session_id} is voided (entered in error)",
                       code=Code.SESSION_VOIDED)
    if row["discharge_id"] is not None:
        raise Conflict(f"session {session_id} is closed (discharged)", code=Code.SESSION_CLOSED)
    return ref(row)


def latest_id(store: Store, target) -> int:
    """SESSION_ID, or --patient MRN: that patient's latest session (open or not)."""
    if target.session_id is not None:
        return target.session_id
    p = patients.get(store, target.mrn)
    sid = store.scalar("SELECT id FROM sessions WHERE patient_id = ? "
                       "ORDER BY started_at DESC, id DESC LIMIT 1", (p["id"],))
    if sid is None:
        raise NotFound(f"patient {target.mrn} has no session", code=Code.SESSION_NOT_FOUND)
    return sid


def ref(row) -> SessionRef:
    def when(col: str) -> datetime | None:
        return datetime.fromisoformat(row[col]) if row[col] else None

    valid = row["screening_valid_until"]
    return SessionRef(row["id"], row["patient_id"], row["mrn"],
                      datetime.fromisoformat(row["started_at"]), row["duration_min"],
                      row["dose_mg"], row["rate_mg_per_h"], row["drawn_mg"],
                      row["number_in_series"],
                      pre_bp=(row["pre_sbp"], row["pre_dbp"]) if row["pre_sbp"] is not None else None,
                      screening_valid_until=date.fromisoformat(valid) if valid else None,
                      discharged_at=when("discharged_at"), infusion_end_at=when("infusion_end_at"),
                      delivered_mg=row["delivered_mg"],
                      wasted_mg=ledger.mg(row["discharge_wasted_mg"] + row["later_wasted_mg"]),
                      voided=bool(row["voided"]), name=row["patient_name"])


def ensure_open(tx: Tx, session_id: int) -> None:
    """Inside the write: the session is still open (another writer may have discharged or
    voided it)."""
    if tx.execute("SELECT 1 FROM discharges WHERE session_id = ?", (session_id,)).fetchone():
        raise Conflict(f"session {session_id} is closed (discharged)", code=Code.SESSION_CLOSED)
    if tx.execute("SELECT 1 FROM voids WHERE kind = 'session' AND target_id = ?",
                  (session_id,)).fetchone():
        raise Conflict(f"session {session_id} is voided (entered in error)",
                       code=Code.SESSION_VOIDED)


def count_for(tx_or_store, patient_id: int) -> int:
    """The patient's sessions, a voided one (entered in error) not counted."""
    return tx_or_store.execute(
        f"SELECT count(*) FROM sessions s WHERE patient_id = ? AND {not_voided('session', 's.id')}",
        (patient_id,),
    ).fetchone()[0]


def last_started(tx_or_store, patient_id: int) -> str | None:
    return tx_or_store.execute(
        f"SELECT max(started_at) FROM sessions s WHERE patient_id = ? "
        f"AND {not_voided('session', 's.id')}", (patient_id,)
    ).fetchone()[0]


MEASURES = ("sbp", "dbp", "hr", "spo2", "rr", "etco2", "moaas", "dissociation")


def readings_at(tx_or_store, session_id: int, at_iso: str) -> list[dict]:
    """The session's (non-voided) readings at exactly that instant."""
    rows = tx_or_store.execute(
        f"""SELECT o.id, {', '.join(MEASURES)} FROM observations o
            WHERE session_id = ? AND at = ? AND {not_voided('observation', 'o.id')}""",
        (session_id, at_iso)).fetchall()
    return [{"observation_id": r[0], **dict(zip(MEASURES, tuple(r)[1:], strict=True))}
            for r in rows]


def add_waste(tx: Tx, w, *, mrn: str) -> int:
    return tx.record(w, patient=mrn)


def wastes(store_or_tx, session_id: int) -> list:
    return store_or_tx.execute(
        "SELECT * FROM wastes WHERE session_id = ? ORDER BY at, id", (session_id,)).fetchall()


def start(tx: Tx, session: NewSession, *, mrn: str) -> int:
    return tx.record(session, patient=mrn)


def add_observation(tx: Tx, observation: NewObservation, *, mrn: str) -> int:
    return tx.record(observation, patient=mrn)


def add_event(tx: Tx, event: NewEvent, *, mrn: str) -> int:
    return tx.record(event, patient=mrn)


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


def discharge(tx: Tx, d: NewDischarge, *, mrn: str) -> int:
    """The discharge and its side effects, sealed in the session's discharge audit row
    (drawn/given/wasted are ledger records)."""

    did = tx.insert("discharges", rows.discharge(d))
    for effect in rows.side_effects(d):
        tx.insert("side_effects", effect)
    tx.audit("discharge", "session", d.session_id, patient=mrn, at=d.recorded_at, detail={
        "delivered_mg": round(d.delivered_mg, 3), "wasted_mg": d.wasted_mg,
        "waste_witness": d.waste_witness,
        "overridden": list(d.overridden), "cosign": d.cosign,
        "discharge_sha256": row_digest(tx.conn, "discharges", did),
        "side_effects_sha256": side_effects_digest(tx, d.session_id)})
    return did


def side_effects_digest(store_or_tx, session_id: int) -> str:

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
        "wastes": [dict(w) for w in wastes(store, session_id)],
        "void": voided(store, "session", session_id),
    }


def voided(store_or_tx, kind: str, target_id: int) -> dict | None:
    """The void of a record (reason, when, by whom), if it was voided."""
    row = store_or_tx.execute("SELECT id, reason, at, clinician FROM voids WHERE kind = ? "
                              "AND target_id = ?", (kind, target_id)).fetchone()
    return {"void_id": row[0], "reason": row[1], "at": row[2], "clinician": row[3]} if row else None



def infusion_events(store_or_tx, session_id: int) -> list:
    """The session's (non-voided) events as the domain's infusion events."""


    return [Event(e["kind"], datetime.fromisoformat(e["at"]), e["rate_mg_per_h"])
            for e in events(store_or_tx, session_id)]


def start_context(tx: Tx, patient, start_iso: str, *, tz=None):
    """What a start decides on, read inside its transaction; an open session is a conflict
    (exit 3) whatever else is wrong."""

    from ketacli.domain.start import ScreeningOnFile, StartContext  # only a start needs it

    mrn = patient["mrn"]
    if open_for(tx, patient["id"]):
        raise Conflict(f"patient {mrn} already has an open session", code=Code.OPEN_SESSION_EXISTS,
                       hint="discharge it first ('ketacli discharge --patient MRN')")
    sc = screenings.latest(tx, patient["id"], start_iso)
    on_file = None
    if sc is not None:
        on_file = ScreeningOnFile(sc["id"], sc["decision"], date.fromisoformat(sc["valid_until"]),
                                  tuple(json.loads(sc["reasons"])), sc["weight_kg"],
                                  sc["height_cm"])
    last = last_started(tx, patient["id"])
    risks = (assessments.risks_between(tx, patient["id"], sc["at"], start_iso, tz or UTC)
             if sc is not None else [])
    return StartContext(patient["id"], mrn, on_file, datetime.fromisoformat(last) if last else None,
                        count_for(tx, patient["id"]), tuple(followups.pending(tx, patient["id"])),
                        sex=patient["sex"], name=patient["name"], since_screening=tuple(risks))


def record_start(tx: Tx, decision) -> int:
    """The session, its pre-infusion reading, and the booked infusion it completes."""

    mrn = decision.context.mrn
    sid = start(tx, decision.session(), mrn=mrn)
    add_observation(tx, decision.pre_observation(sid), mrn=mrn)
    followups.complete(tx, decision.closes(), mrn=mrn, at=decision.recorded_at,
                       reason=f"session {sid}")
    followups.complete(tx, decision.supersedes(), mrn=mrn, at=decision.recorded_at,
                       reason=f"superseded by session {sid}")
    return sid


def refuse_start(tx: Tx, decision) -> None:
    """The audit row of a refused start (the only thing a refusal stores)."""
    tx.audit("refuse", "session", None, patient=decision.context.mrn, at=decision.recorded_at,
             detail=decision.verdict.audit_detail())


def record_discharge(tx: Tx, decision) -> list[dict]:
    """The discharge reading, the discharge with its side effects, and the follow-ups the
    protocol schedules; returns those follow-ups."""

    mrn = decision.session.mrn
    add_observation(tx, decision.observation(), mrn=mrn)
    discharge(tx, decision.discharge(), mrn=mrn)
    created = []
    for f in decision.followups():
        fid = followups.add(tx, f, mrn=mrn)
        created.append({"followup_id": fid, "kind": f.kind, "due": f.due})
    return created


def refuse_discharge(tx: Tx, decision) -> None:
    tx.audit("refuse", "discharge", decision.session.session_id, patient=decision.session.mrn,
             at=decision.recorded_at,
             detail=decision.verdict.audit_detail())
