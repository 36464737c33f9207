"""The clinic floor: the open sessions (the board) and sessions as rows (`sessions`).

The board is one statement: `open_sessions` (kept by triggers when a session starts,
is discharged or voided; CROSS JOIN keeps it the outer loop) joined to its sessions and
patients, each session's readings
and pump events gathered through their (session_id, at) indexes. So a redraw of
`board --watch` costs one indexed query, however many years the clinic has charted.
"""

from __future__ import annotations

import json
from datetime import datetime

from ketacli.domain.board import OpenSession, Reading
from ketacli.domain.infusion import PUMP_EVENTS, Event
from ketacli.store.engine import is_pg
from ketacli.store.voids import not_voided

_PUMP = ", ".join(f"'{k}'" for k in PUMP_EVENTS)

BOARD_SQL = f"""
SELECT s.id, s.started_at, s.dose_mg, s.rate_mg_per_h, s.chair, s.overridden, p.mrn, p.name,
  (SELECT json_group_array(json_array(o.at, o.minutes_into_infusion, o.phase, o.sbp, o.dbp,
                                      o.hr, o.spo2, json(o.alerts)))
     FROM (SELECT * FROM observations o WHERE o.session_id = s.id
             AND {not_voided('observation', 'o.id')} ORDER BY o.at, o.id) o) AS readings,
  (SELECT json_group_array(json_array(e.kind, e.at, e.rate_mg_per_h))
     FROM (SELECT * FROM events e WHERE e.session_id = s.id AND e.kind IN ({_PUMP})
             AND {not_voided('event', 'e.id')} ORDER BY e.at, e.id) e) AS events
FROM open_sessions os
CROSS JOIN sessions s ON s.id = os.session_id
JOIN patients p ON p.id = s.patient_id
ORDER BY s.started_at, s.id
"""

# PostgreSQL: the same readings and events as JSON text (json_agg of no rows is NULL)
BOARD_SQL_PG = f"""
SELECT s.id, s.started_at, s.dose_mg, s.rate_mg_per_h, s.chair, s.overridden, p.mrn, p.name,
  (SELECT coalesce(json_agg(json_build_array(o.at, o.minutes_into_infusion, o.phase, o.sbp,
                                             o.dbp, o.hr, o.spo2, o.alerts::json)
                            ORDER BY o.at, o.id), '[]')::text
     FROM observations o WHERE o.session_id = s.id
       AND {not_voided('observation', 'o.id')}) AS readings,
  (SELECT coalesce(json_agg(json_build_array(e.kind, e.at, e.rate_mg_per_h)
                            ORDER BY e.at, e.id), '[]')::text
     FROM events e WHERE e.session_id = s.id AND e.kind IN ({_PUMP})
       AND {not_voided('event', 'e.id')}) AS events
FROM open_sessions os
JOIN sessions s ON s.id = os.session_id
JOIN patients p ON p.id = s.patient_id
ORDER BY s.started_at, s.id
"""


def _reading(item: list) -> Reading:
    at, minutes, phase, sbp, dbp, hr, spo2, alerts = item
    return Reading(datetime.fromisoformat(at), minutes, phase, sbp, dbp, hr, spo2,
                   tuple(alerts or ()))


def open_sessions(store) -> list[OpenSession]:
    """Every open session with its readings and pump events (one query)."""
    out = []
    for r in store.all(BOARD_SQL_PG if is_pg(store.conn) else BOARD_SQL):
        events = tuple(Event(k, datetime.fromisoformat(at), rate)
                       for k, at, rate in json.loads(r["events"]))
        out.append(OpenSession(
            r["id"], r["mrn"], r["name"], r["chair"], datetime.fromisoformat(r["started_at"]),
            r["dose_mg"], r["rate_mg_per_h"], events,
            tuple(_reading(x) for x in json.loads(r["readings"])),
            tuple(json.loads(r["overridden"]))))
    return out


SESSIONS_SQL = """
SELECT s.id AS session_id, p.mrn AS patient, s.number_in_series, s.started_at,
  CASE WHEN EXISTS (SELECT 1 FROM voids v WHERE v.kind = 'session' AND v.target_id = s.id)
       THEN 'voided'
       WHEN d.id IS NOT NULL THEN 'discharged' ELSE 'open' END AS status,
  s.dose_mg, s.chair,
  (SELECT count(*) FROM observations o, json_each(o.alerts)
     WHERE o.session_id = s.id AND o.alerts != '[]'
       AND NOT EXISTS (SELECT 1 FROM voids v WHERE v.kind = 'observation'
                       AND v.target_id = o.id)) AS alerts,
  d.at AS discharged_at
FROM sessions s
JOIN patients p ON p.id = s.patient_id
LEFT JOIN discharges d ON d.session_id = s.id
"""
# PostgreSQL: the alerts of an observation counted with json_array_elements
SESSIONS_SQL_PG = SESSIONS_SQL.replace("json_each(o.alerts)", "json_array_elements(o.alerts::json)")
assert SESSIONS_SQL_PG != SESSIONS_SQL, "the PostgreSQL form no longer matches SESSIONS_SQL"



def session_rows(store, *, open_only: bool = False, patient_id: int | None = None,
                 lo: str | None = None, hi: str | None = None) -> list[dict]:
    """Sessions as rows, ordered by start; `lo` <= started_at < `hi` (UTC ISO) when given."""
    where: list[str] = []
    params: list = []
    if open_only:
        where.append("s.id IN (SELECT session_id FROM open_sessions)")
    if patient_id is not None:
        where.append("s.patient_id = ?")
        params.append(patient_id)
    if lo is not None:
        where.append("s.started_at >= ?")
        params.append(lo)
    if hi is not None:
        where.append("s.started_at < ?")
        params.append(hi)
    sql = (SESSIONS_SQL_PG if is_pg(store.conn) else SESSIONS_SQL) + (
        " WHERE " + " AND ".join(where) if where else "")
    return [dict(r) for r in store.all(sql + " ORDER BY s.started_at, s.id", params)]
