"""Clinic-level read models: the demo overview."""

from __future__ import annotations

from ketacli.store.db import Store


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
