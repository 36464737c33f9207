"""Table rows built from the domain's records, in one place: the recording commands and
the demo both insert what these functions return. Lists are stored as compact JSON,
booleans as 0/1, scale totals are computed from their items here."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ketacli.domain import records as r


def dumps(value: Any) -> str:
    """The stored JSON of a list or object column (compact, keys sorted)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _fields(record: Any) -> dict[str, Any]:
    """A record's fields as a row (shallow: its values are plain, and `dataclasses.asdict`
    would deep-copy every alert of every observation)."""
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def _items(items: tuple[int, ...] | None) -> tuple[str | None, int | None]:
    return (dumps(list(items)), sum(items)) if items else (None, None)


def _cssrs(answers: tuple[str, ...] | None) -> str | None:
    return dumps(list(answers)) if answers else None


def patient(p: r.NewPatient) -> dict[str, Any]:
    return {"mrn": p.mrn, "name": p.name, "dob": p.dob, "sex": p.sex, "phone": p.phone,
            "demo": int(p.demo), "created_at": p.created_at, "created_by": p.created_by,
            "address": p.address}


def screening(s: r.NewScreening) -> dict[str, Any]:
    row = _fields(s)
    row["phq9_items"], row["phq9_total"] = _items(s.phq9_items)
    row["gad7_items"], row["gad7_total"] = _items(s.gad7_items)
    row["conditions"] = dumps(list(s.conditions))
    row["meds"] = dumps(list(s.meds))
    row["reasons"] = dumps(list(s.reasons))
    row["suicide_risk_flag"] = int(s.suicide_risk_flag)
    row["cssrs_answers"] = _cssrs(s.cssrs_answers)
    return row


def session(s: r.NewSession) -> dict[str, Any]:
    row = _fields(s)
    row["overridden"] = dumps(list(s.overridden))
    return row


def observation(o: r.NewObservation) -> dict[str, Any]:
    row = _fields(o)
    row["alerts"] = dumps(list(o.alerts))
    return row


def event(e: r.NewEvent) -> dict[str, Any]:
    return _fields(e)


def discharge(d: r.NewDischarge) -> dict[str, Any]:
    row = _fields(d)
    del row["side_effects"]
    row["aldrete_items"] = dumps(list(d.aldrete_items)) if d.aldrete_items else None
    row["criteria"] = dumps(list(d.criteria))
    row["overridden"] = dumps(list(d.overridden))
    return row


def side_effects(d: r.NewDischarge) -> list[dict[str, Any]]:
    return [{"session_id": d.session_id, "code": code, "severity": severity,
             "recorded_at": d.recorded_at, "clinician": d.clinician}
            for code, severity in d.side_effects]


def assessment(a: r.NewAssessment) -> dict[str, Any]:
    row = _fields(a)
    row["phq9_items"], row["phq9_total"] = _items(a.phq9_items)
    row["gad7_items"], row["gad7_total"] = _items(a.gad7_items)
    row["cssrs_answers"] = _cssrs(a.cssrs_answers)
    return row


def followup(f: r.NewFollowup) -> dict[str, Any]:
    return {**_fields(f), "status": "pending"}


# record type -> (table, row builder, audit action, audit entity, audit detail, time column)
Audited = tuple[str, Any, str, str, Any, str]
RECORDS: dict[type, Audited] = {
    r.NewPatient: ("patients", patient, "create", "patient", lambda p: None, "created_at"),
    r.NewScreening: ("screenings", screening, "create", "screening",
                     lambda s: {"decision": s.decision, "at": s.at}, "recorded_at"),
    r.NewSession: ("sessions", session, "start", "session", lambda s: {
        "dose_mg": round(s.dose_mg, 3), "drawn_mg": s.drawn_mg, "lot": s.lot,
        "overridden": list(s.overridden), "cosign": s.cosign}, "recorded_at"),
    r.NewObservation: ("observations", observation, "create", "observation", lambda o: {
        "session": o.session_id, "phase": o.phase,
        "alerts": [a["level"] + ":" + a["parameter"] for a in o.alerts],
        **({"late": o.late_reason} if o.late_reason else {})}, "recorded_at"),
    r.NewEvent: ("events", event, "create", "event", lambda e: {
        "session": e.session_id, "kind": e.kind,
        **({"late": e.late_reason} if e.late_reason else {})}, "recorded_at"),
    r.NewAssessment: ("assessments", assessment, "create", "assessment",
                      lambda a: {"followup": a.followup_id}, "recorded_at"),
    r.NewFollowup: ("followups", followup, "schedule", "followup",
                    lambda f: {"kind": f.kind, "due": f.due}, "created_at"),
    r.NewWaste: ("wastes", dataclasses.asdict, "create", "waste", lambda w: {
        "session": w.session_id, "mg": w.mg, "witness": w.witness, "late": w.late_reason},
        "recorded_at"),
}


def row_of(record: Any) -> tuple[str, dict[str, Any]]:
    """(table, row) of a record."""
    table, build, *_ = RECORDS[type(record)]
    return table, build(record)
