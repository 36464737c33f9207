"""The session summary: one JSON-ready dict built from a loaded session.

Both renderers (Rich and --json) use this dict; nothing is re-derived later.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, overload

from ketacli.clock import to_utc_iso
from ketacli.domain import infusion, ledger, monitoring
from ketacli.protocol import Monitoring

VITALS = ("sbp", "dbp", "hr", "spo2", "rr", "etco2", "moaas", "dissociation")


@overload
def _dt(iso: str) -> datetime: ...
@overload
def _dt(iso: None) -> None: ...
def _dt(iso: str | None) -> datetime | None:
    return datetime.fromisoformat(iso) if iso else None


def _observation(o: dict[str, Any]) -> dict[str, Any]:
    return {"observation_id": o["id"], "phase": o["phase"], "at": o["at"],
            "minutes_into_infusion": o["minutes_into_infusion"], **{k: o[k] for k in VITALS},
            "alerts": json.loads(o["alerts"]), "clinician": o["clinician"], "note": o["note"],
            "late": o.get("late_reason")}


def _ranges(observations: list[dict[str, Any]]) -> dict[str, Any]:
    """[lowest, highest] of each recorded vital."""
    ranges = {}
    for k in ("sbp", "dbp", "hr", "spo2", "rr", "etco2"):
        vals = [o[k] for o in observations if o[k] is not None]
        if vals:
            ranges[k] = [min(vals), max(vals)]
    return ranges


def _discharge(dis: dict[str, Any] | None) -> dict[str, Any] | None:
    if not dis:
        return None
    return {
        "discharged_at": dis["at"], "clinician": dis["clinician"],
        "infusion_end": dis["infusion_end_at"], "aldrete": dis["aldrete_total"],
        "aldrete_items": json.loads(dis["aldrete_items"]) if dis["aldrete_items"] else None,
        "delivered_mg": dis["delivered_mg"], "wasted_mg": dis["wasted_mg"],
        "waste_witness": dis["waste_witness"], "transport": dis["transport"],
        "escort": dis["escort"], "criteria": json.loads(dis["criteria"]),
        "override": dis["override"], "note": dis["note"],
    }


def _screening(sc: dict[str, Any] | None) -> dict[str, Any] | None:
    if sc is None:
        return None
    return {"screening_id": sc["id"], "at": sc["at"], "decision": sc["decision"],
            "reasons": json.loads(sc["reasons"]), "suicide_risk_flag": bool(sc["suicide_risk_flag"]),
            "valid_until": sc["valid_until"], "phq9_total": sc["phq9_total"],
            "meds": json.loads(sc["meds"]),
            "phq9_item9": json.loads(sc["phq9_items"])[8] if sc.get("phq9_items") else None,
            "cssrs": ({"answers": json.loads(sc["cssrs_answers"]), "risk": sc["cssrs_risk"]}
                      if sc.get("cssrs_risk") else None)}


def _events(events: list[dict[str, Any]], started: datetime) -> list[dict[str, Any]]:
    return [{"event_id": e["id"], "kind": e["kind"], "at": e["at"],
             "minutes_into_infusion": infusion.minutes_between(started, _dt(e["at"])),
             "detail": e["detail"], "rate_mg_per_h": e["rate_mg_per_h"],
             "clinician": e["clinician"], "late": e.get("late_reason")} for e in events]


def _wastes(wastes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"waste_id": w["id"], "at": w["at"], "mg": w["mg"], "witness": w["witness"],
             "clinician": w["clinician"], "late": w["late_reason"]} for w in wastes]


def _status(loaded: dict[str, Any]) -> str:
    if loaded.get("void"):
        return "voided"
    return "discharged" if loaded["discharge"] else "open"


DOSE_KEYS = ("weight_kg", "dose_mg_per_kg", "dose_mg", "duration_min", "rate_mg_per_h",
             "concentration_mg_per_ml", "rate_ml_per_h", "lot", "drawn_mg", "site", "override")


def _course(s: dict[str, Any], events: list[dict[str, Any]], dis: dict[str, Any] | None) -> dict[str, Any]:
    """The infusion as its pump ran it (`infusion.course`): its end (the stored one once
    discharged, else the pump's so far), pauses, how it ended and the delivered dose."""
    ev = [infusion.Event(e["kind"], _dt(e["at"]), e["rate_mg_per_h"]) for e in events]
    course = infusion.course(
        _dt(s["started_at"]), s["dose_mg"], s["rate_mg_per_h"], ev,
        end_at=_dt(dis["infusion_end_at"]) if dis else None)
    return {
        "infusion_end": dis["infusion_end_at"] if dis else to_utc_iso(course.end_at),
        "infusion_end_estimated": dis is None,
        "paused_min": round(course.paused_min, 1),
        "ended_by": course.ended_by,
        "stopped_early": course.stopped_early,
        "ended_paused": course.ended_paused,
        "delivered_mg": dis["delivered_mg"] if dis else ledger.mg(course.delivered_mg),
    }


def _gaps(observations: list[dict[str, Any]], infusion_end: str,
          rules: Monitoring) -> list[dict[str, Any]]:
    """Monitoring gaps (`monitoring.gaps`) with their bounds as stored times."""
    found = monitoring.gaps([_dt(o["at"]) for o in observations], _dt(infusion_end),
                            rules.intra_interval_min, rules.post_interval_min)
    return [{**g, "from": to_utc_iso(g["from"]), "to": to_utc_iso(g["to"])} for g in found]


def build(loaded: dict[str, Any], rules: Monitoring | None = None) -> dict[str, Any]:
    """The summary of one session (`ketacli.store.sessions.load`); `rules` are the
    protocol's monitoring intervals (the built-in ones by default)."""
    s, p, dis = loaded["session"], loaded["patient"], loaded["discharge"]
    started = _dt(s["started_at"])
    observations = [_observation(o) for o in loaded["observations"]]
    all_alerts = [a for o in observations for a in o["alerts"]]
    effects = [{"code": e["code"], "severity": e["severity"]} for e in loaded["side_effects"]]
    screening = _screening(loaded["screening"])
    meds = screening["meds"] if screening else []
    course = _course(s, loaded["events"], dis)
    return {
        "session_id": s["id"], "status": _status(loaded), "void": loaded.get("void"),
        "chair": s.get("chair"),
        "patient": {"mrn": p["mrn"], "name": p["name"], "dob": p["dob"], "sex": p["sex"]},
        "number_in_series": s["number_in_series"], "started_at": s["started_at"],
        "clinician": s["clinician"], "screening": screening,
        **{k: s[k] for k in DOSE_KEYS}, "overridden": json.loads(s["overridden"]),
        **course,
        "observations": observations,
        "monitoring_gaps": _gaps(observations, course["infusion_end"], rules or Monitoring()),
        "events": _events(loaded["events"], started),
        "vitals_range": _ranges(observations),
        "alert_counts": {"warning": sum(a["level"] == "warning" for a in all_alerts),
                         "critical": sum(a["level"] == "critical" for a in all_alerts)},
        "side_effects": effects,
        "discharge": _discharge(dis),
        "wastes": _wastes(loaded.get("wastes", [])),
        "clinicians": sorted({s["clinician"], *(o["clinician"] for o in observations),
                              *(e["clinician"] for e in loaded["events"]),
                              *([dis["clinician"]] if dis else [])}),
        "monitoring": monitoring.record(
            observations=observations, started_at=started,
            discharged_at=_dt(dis["at"]) if dis else None,
            side_effect_codes={e["code"] for e in effects}, lot=s["lot"], screening_meds=meds),
    }
