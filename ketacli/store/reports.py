"""Clinic-level read models: the demo overview."""

from __future__ import annotations

from ketacli.store.db import Store
from ketacli.store.voids import not_voided


def overview(store: Store, today: str) -> dict:
    counts = {t: store.scalar(f"SELECT count(*) FROM {t}") for t in (
        "patients", "screenings", "sessions", "observations", "assessments", "followups")}
    decisions = {r[0]: r[1] for r in store.all(
        """SELECT decision, count(*) FROM screenings sc
           WHERE id = (SELECT max(id) FROM screenings WHERE patient_id = sc.patient_id)
           GROUP BY decision""")}
    treated = store.scalar("SELECT count(DISTINCT patient_id) FROM sessions")
    with_alert = store.scalar(
        "SELECT count(DISTINCT session_id) FROM observations WHERE alerts != '[]'")
    open_rows = store.all(
        """SELECT s.id, p.mrn FROM sessions s JOIN patients p ON p.id = s.patient_id
           WHERE NOT EXISTS (SELECT 1 FROM discharges d WHERE d.session_id = s.id)
           ORDER BY s.started_at DESC LIMIT 5""")
    example = store.one(
        """SELECT s.id, p.mrn FROM sessions s JOIN patients p ON p.id = s.patient_id
           JOIN discharges d ON d.session_id = s.id
           WHERE EXISTS (SELECT 1 FROM observations o WHERE o.session_id = s.id
                         AND o.alerts != '[]')
           ORDER BY s.started_at DESC LIMIT 1""")
    due = store.scalar("SELECT count(*) FROM followups WHERE status = 'pending' AND due <= ?",
                       (today,))
    return {
        "counts": counts,
        "latest_decisions": decisions,
        "patients_treated": treated,
        "sessions_with_alert": with_alert,
        "open_sessions": [{"session_id": r[0], "patient": r[1]} for r in open_rows],
        "example_session": {"session_id": example[0], "patient": example[1]} if example else None,
        "followups_due": due,
    }


def outcomes(store: Store, *, since: str | None, until: str | None, induction: int) -> dict:
    """Clinic figures for sessions started in [since, until) (UTC ISO bounds), by aggregate SQL."""
    lo = since or "0000"
    hi = until or "9999"
    screened = store.scalar(
        f"""SELECT count(DISTINCT patient_id) FROM screenings sc WHERE at >= ? AND at < ?
            AND {_nv('screening', 'sc.id')}""", (lo, hi))
    srow = store.one(
        f"""SELECT count(*), count(DISTINCT patient_id), avg(dose_mg_per_kg),
                  count(override)
           FROM sessions s WHERE started_at >= ? AND started_at < ?
           AND {_nv('session', 's.id')}""", (lo, hi))
    sessions, treated, mean_dose, start_overrides = srow[0], srow[1], srow[2], srow[3] or 0
    with_alert = store.scalar(
        f"""SELECT count(*) FROM sessions s WHERE s.started_at >= ? AND s.started_at < ?
           AND {_nv('session', 's.id')}
           AND EXISTS (SELECT 1 FROM observations o WHERE o.session_id = s.id AND o.alerts != '[]'
                       AND NOT EXISTS (SELECT 1 FROM voids v WHERE v.kind = 'observation'
                                       AND v.target_id = o.id))""", (lo, hi))
    drow = store.one(
        f"""SELECT count(*), count(d.override) FROM discharges d
           JOIN sessions s ON s.id = d.session_id WHERE s.started_at >= ? AND s.started_at < ?
           AND {_nv('session', 's.id')}""",
        (lo, hi))
    discharged, discharge_overrides = drow[0], drow[1] or 0
    effects = {r[0]: r[1] for r in store.all(
        f"""SELECT e.code, count(DISTINCT e.session_id) FROM side_effects e
           JOIN sessions s ON s.id = e.session_id WHERE s.started_at >= ? AND s.started_at < ?
           AND {_nv('session', 's.id')}
           GROUP BY e.code ORDER BY 2 DESC, e.code""", (lo, hi))}
    finishers = _finishers(store, lo, hi, induction)
    return {
        "patients_screened": screened,
        "patients_treated": treated,
        "sessions": sessions,
        "sessions_discharged": discharged,
        "mean_dose_mg_per_kg": round(mean_dose, 3) if mean_dose is not None else None,
        "sessions_with_alert": with_alert,
        "side_effect_counts": effects,
        "overrides": {"start": start_overrides, "discharge": discharge_overrides},
        "finishers": [(r["baseline"], r["outcome"]) for r in finishers],
    }


def _finishers(store: Store, lo: str, hi: str, induction: int) -> list:
    # Patients treated in the period with >= `induction` infusions by its end: baseline = the
    # first screening PHQ-9; outcome = the latest PHQ-9 (not voided) on or after their
    # induction-th infusion and before the end of the period.
    return store.all(
        f"""WITH treated AS (
               SELECT DISTINCT patient_id FROM sessions s WHERE started_at >= ? AND started_at < ?
                 AND {_nv('session', 's.id')}),
             nth AS (
               SELECT s.patient_id, s.started_at FROM sessions s JOIN treated t USING (patient_id)
               WHERE s.number_in_series = ? AND s.started_at < ? AND {_nv('session', 's.id')})
           SELECT nth.patient_id,
             coalesce(
               (SELECT phq9_total FROM screenings sc WHERE sc.patient_id = nth.patient_id
                  AND sc.phq9_total IS NOT NULL AND {_nv('screening', 'sc.id')}
                  AND sc.at <= (SELECT min(started_at) FROM sessions f
                                WHERE f.patient_id = nth.patient_id)
                  ORDER BY sc.at DESC LIMIT 1),
               (SELECT phq9_total FROM screenings sc WHERE sc.patient_id = nth.patient_id
                  AND sc.phq9_total IS NOT NULL AND {_nv('screening', 'sc.id')}
                  ORDER BY sc.at LIMIT 1)) AS baseline,
             (SELECT phq9_total FROM assessments a WHERE a.patient_id = nth.patient_id
                AND a.phq9_total IS NOT NULL AND a.at >= nth.started_at AND a.at < ?
                AND {_nv('assessment', 'a.id')}
                ORDER BY a.at DESC LIMIT 1) AS outcome
           FROM nth""",
        (lo, hi, induction, hi, hi))


def _nv(kind: str, col: str) -> str:

    return not_voided(kind, col)


LEDGER_SQL = """
SELECT s.id AS session_id, s.started_at, p.mrn AS patient, s.lot, s.drawn_mg,
       s.dose_mg AS planned_mg, d.delivered_mg, d.wasted_mg, d.waste_witness,
       s.clinician, d.clinician AS discharged_by, d.at AS discharged_at,
       (SELECT sum(w.mg) FROM wastes w WHERE w.session_id = s.id) AS later_wasted_mg,
       (SELECT group_concat(w.witness, '; ') FROM wastes w WHERE w.session_id = s.id)
           AS later_witnesses,
       EXISTS (SELECT 1 FROM voids v WHERE v.kind = 'session' AND v.target_id = s.id) AS voided,
       (d.id IS NULL OR EXISTS (SELECT 1 FROM audit a WHERE a.entity = 'session'
          AND a.entity_id = s.id AND a.action = 'discharge')) AS discharge_audited
FROM sessions s JOIN patients p ON p.id = s.patient_id
LEFT JOIN discharges d ON d.session_id = s.id
WHERE s.started_at >= ? AND s.started_at < ?
ORDER BY s.started_at, s.id"""


def ledger(store: Store, *, since: str | None, until: str | None):
    """Sessions in [since, until) with drawn / administered / wasted amounts (a cursor)."""
    return store.execute(LEDGER_SQL, (since or "0000", until or "9999"))
