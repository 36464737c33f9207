"""Streaming reads for `export`: one cursor per table, voided rows left out.

Every query yields `_pid` (the internal patient id, used for de-identification
and then dropped) followed by the exported columns. Rows are never collected
in memory: callers iterate the cursor.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

from ketacli.store.db import Store
from ketacli.store.records import not_voided

TABLES = ("patients", "screenings", "sessions", "observations", "events", "assessments",
          "followups", "audit")

# table -> (SQL with one "?" for the since bound, time column for --since)
QUERIES = {
    "patients": """
        SELECT p.id AS _pid, p.mrn AS patient, p.name, p.dob, p.sex, p.phone, p.demo,
               p.created_at, p.created_by
        FROM patients p WHERE p.created_at >= ? ORDER BY p.id""",
    "screenings": f"""
        SELECT sc.patient_id AS _pid, sc.id AS screening_id, p.mrn AS patient, sc.at,
               sc.clinician, sc.weight_kg, sc.height_cm, sc.sbp, sc.dbp, sc.hr, sc.spo2,
               sc.indication, sc.phq9_items, sc.phq9_total, sc.gad7_items, sc.gad7_total,
               sc.madrs_total, sc.pcl5_total, sc.conditions, sc.meds, sc.decision, sc.reasons,
               sc.suicide_risk_flag, sc.valid_until, sc.note
        FROM screenings sc JOIN patients p ON p.id = sc.patient_id
        WHERE sc.at >= ? AND {not_voided('screening', 'sc.id')} ORDER BY sc.id""",
    "sessions": """
        SELECT s.patient_id AS _pid, s.id AS session_id, p.mrn AS patient, s.screening_id,
               s.number_in_series, s.started_at, s.clinician, s.weight_kg, s.dose_mg_per_kg,
               s.dose_mg, s.duration_min, s.rate_mg_per_h, s.concentration_mg_per_ml,
               s.rate_ml_per_h, s.lot, s.drawn_mg, s.site, s.override, s.overridden,
               CASE WHEN d.id IS NULL THEN 'open' ELSE 'discharged' END AS status,
               d.at AS discharged_at, d.clinician AS discharged_by,
               d.infusion_end_at, d.aldrete_total, d.delivered_mg, d.wasted_mg, d.waste_witness,
               d.transport, d.escort, d.criteria, d.override AS discharge_override,
               (SELECT group_concat(e.code || ':' || e.severity, ';') FROM side_effects e
                WHERE e.session_id = s.id) AS side_effects,
               d.note AS discharge_note
        FROM sessions s JOIN patients p ON p.id = s.patient_id
        LEFT JOIN discharges d ON d.session_id = s.id
        WHERE s.started_at >= ? ORDER BY s.id""",
    "observations": f"""
        SELECT s.patient_id AS _pid, o.id AS observation_id, o.session_id, p.mrn AS patient,
               o.phase, o.at, o.clinician, o.minutes_into_infusion, o.sbp, o.dbp, o.hr, o.spo2,
               o.rr, o.etco2, o.moaas, o.dissociation, o.alerts, o.note
        FROM observations o JOIN sessions s ON s.id = o.session_id
        JOIN patients p ON p.id = s.patient_id
        WHERE o.at >= ? AND {not_voided('observation', 'o.id')} ORDER BY o.id""",
    "events": f"""
        SELECT s.patient_id AS _pid, e.id AS event_id, e.session_id, p.mrn AS patient, e.kind,
               e.at, e.clinician, e.rate_mg_per_h, e.detail
        FROM events e JOIN sessions s ON s.id = e.session_id
        JOIN patients p ON p.id = s.patient_id
        WHERE e.at >= ? AND {not_voided('event', 'e.id')} ORDER BY e.id""",
    "assessments": f"""
        SELECT a.patient_id AS _pid, a.id AS assessment_id, p.mrn AS patient, a.followup_id,
               a.at, a.clinician, a.phq9_items, a.phq9_total, a.gad7_items, a.gad7_total,
               a.madrs_total, a.pcl5_total, a.note
        FROM assessments a JOIN patients p ON p.id = a.patient_id
        WHERE a.at >= ? AND {not_voided('assessment', 'a.id')} ORDER BY a.id""",
    "followups": """
        SELECT f.patient_id AS _pid, f.id AS followup_id, p.mrn AS patient, f.session_id,
               f.kind, f.due, f.status, f.created_at, f.created_by, f.closed_at, f.closed_by,
               f.notified_at, f.cancel_reason, f.note
        FROM followups f JOIN patients p ON p.id = f.patient_id
        WHERE f.created_at >= ? ORDER BY f.id""",
    "audit": """
        SELECT p.id AS _pid, a.id AS audit_id, a.at, a.clinician, a.os_user, a.action, a.entity,
               a.entity_id, a.patient, a.detail, a.prev_hash, a.hash
        FROM audit a LEFT JOIN patients p ON p.mrn = a.patient
        WHERE a.at >= ? ORDER BY a.id""",
}


def rows(store: Store, table: str, since: str | None, *,
         with_pid: bool) -> tuple[list[str], Iterator[tuple]]:
    """(column names, plain-tuple row iterator) for one table; `_pid` first if asked."""
    sql = QUERIES[table]
    if not with_pid:
        sql = re.sub(r"SELECT\s+[\w.]+ AS _pid,\s*", "SELECT ", sql, count=1)
    cur = store.conn.cursor()
    cur.row_factory = None
    cur.execute(sql, (since or "0000",))
    return [d[0] for d in cur.description], cur


def ensure_study_ids(store: Store, at: str) -> int:
    """Give every patient without one a random study id and date shift (never derived
    from the MRN), kept in the local link table. Returns how many were created."""
    with store.write() as tx:
        missing = [r[0] for r in tx.execute(
            "SELECT id FROM patients WHERE id NOT IN (SELECT patient_id FROM study_ids)")]
        rng = secrets.SystemRandom()
        for pid in missing:
            while True:
                sid = "S" + secrets.token_hex(5).upper()
                if not tx.execute("SELECT 1 FROM study_ids WHERE study_id = ?", (sid,)).fetchone():
                    break
            tx.execute("INSERT INTO study_ids VALUES (?, ?, ?, ?)",
                       (pid, sid, rng.randrange(0, 365), at))
        if missing:
            tx.audit("assign", "study_ids", None, at=at, detail={"count": len(missing)})
        if tx.execute("SELECT 1 FROM deid_keys").fetchone() is None:
            tx.execute("INSERT INTO deid_keys VALUES (1, ?, ?)", (secrets.token_hex(32), at))
            tx.audit("create", "deid_key", 1, at=at)
    return len(missing)


def deid_key(store: Store) -> bytes:
    return bytes.fromhex(store.scalar("SELECT secret FROM deid_keys WHERE id = 1"))


def study_map(store: Store) -> dict[int, tuple[str, int]]:
    """patient id -> (study id, date shift days). Small: one entry per patient."""
    return {r[0]: (r[1], r[2]) for r in store.all(
        "SELECT patient_id, study_id, date_shift_days FROM study_ids")}


def record_export(store: Store, detail: dict, at: str) -> None:
    with store.write() as tx:
        tx.audit("export", "database", None, at=at, detail=detail)


# The alias of each table's own rows in QUERIES (for id-range slices).
ALIAS = {"patients": "p", "screenings": "sc", "sessions": "s", "observations": "o",
         "events": "e", "assessments": "a", "followups": "f", "audit": "a"}


def sliced_sql(table: str) -> str:
    """The table's export query (without `_pid`) restricted to an id range: params are
    (since, first id, last id)."""
    sql = re.sub(r"SELECT\s+[\w.]+ AS _pid,\s*", "SELECT ", QUERIES[table], count=1)
    head, _, order = sql.rpartition(" ORDER BY ")
    return f"{head} AND {ALIAS[table]}.id BETWEEN ? AND ? ORDER BY {order}"


def id_bounds(store: Store, table: str) -> tuple[int, int] | None:
    row = store.one(f"SELECT min(id), max(id) FROM {table}")
    return None if row[0] is None else (row[0], row[1])


def csv_slice(args: tuple) -> tuple[str, int]:
    """Worker: CSV text (no header) of one id range, from its own read-only connection."""
    import csv
    import io
    import sqlite3

    path, sql, params = args
    from pathlib import Path

    con = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        con.execute("PRAGMA trusted_schema = OFF")
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\n")
        n = 0
        cur = con.execute(sql, params)
        while rows := cur.fetchmany(5000):
            w.writerows(rows)
            n += len(rows)
        return buf.getvalue(), n
    finally:
        con.close()
