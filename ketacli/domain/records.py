"""What each clinical record holds, as the domain decides it: plain values, UTC ISO-8601
times, tuples for lists. The store turns each into its table row in one place
(`ketacli.store.rows`), for the commands and the demo alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NewPatient:
    mrn: str
    name: str
    dob: str | None
    sex: str
    phone: str | None
    created_at: str
    created_by: str
    demo: bool = False
    address: str | None = None


@dataclass(frozen=True)
class NewScreening:
    patient_id: int
    at: str
    recorded_at: str
    clinician: str
    weight_kg: float
    height_cm: float | None
    sbp: int
    dbp: int
    hr: int
    spo2: int | None
    indication: str | None
    phq9_items: tuple[int, ...] | None
    gad7_items: tuple[int, ...] | None
    madrs_total: int | None
    pcl5_total: int | None
    conditions: tuple[str, ...]
    meds: tuple[str, ...]
    decision: str
    reasons: tuple[str, ...]
    suicide_risk_flag: bool
    valid_until: str
    note: str | None = None
    cssrs_answers: tuple[str, ...] | None = None
    cssrs_risk: str | None = None


@dataclass(frozen=True)
class NewSession:
    patient_id: int
    screening_id: int | None
    number_in_series: int
    started_at: str
    recorded_at: str
    clinician: str
    weight_kg: float
    dose_mg_per_kg: float
    dose_mg: float
    duration_min: float
    rate_mg_per_h: float
    concentration_mg_per_ml: float | None
    rate_ml_per_h: float | None
    lot: str | None
    drawn_mg: float
    site: str | None
    override: str | None
    overridden: tuple[str, ...] = ()
    dosing_weight_kg: float | None = None
    weight_basis: str | None = None
    bmi: float | None = None
    cosign: str | None = None
    chair: str | None = None


@dataclass(frozen=True)
class NewObservation:
    session_id: int
    phase: str
    at: str
    recorded_at: str
    clinician: str
    minutes_into_infusion: float
    sbp: int | None = None
    dbp: int | None = None
    hr: int | None = None
    spo2: int | None = None
    rr: int | None = None
    etco2: int | None = None
    moaas: int | None = None
    dissociation: int | None = None
    alerts: tuple[dict[str, Any], ...] = ()
    note: str | None = None
    late_reason: str | None = None  # a late entry: why it is charted after the fact


@dataclass(frozen=True)
class NewEvent:
    session_id: int
    kind: str
    at: str
    recorded_at: str
    clinician: str
    detail: str | None = None
    rate_mg_per_h: float | None = None
    late_reason: str | None = None  # a late entry: why it is charted after the fact


@dataclass(frozen=True)
class NewDischarge:
    session_id: int
    at: str
    recorded_at: str
    clinician: str
    infusion_end_at: str
    aldrete_total: int
    aldrete_items: tuple[int, ...] | None
    delivered_mg: float
    wasted_mg: float
    waste_witness: str | None
    transport: str
    escort: str | None
    criteria: tuple[dict[str, Any], ...]
    override: str | None
    note: str | None
    side_effects: tuple[tuple[str, str], ...] = field(default=())
    cosign: str | None = None
    overridden: tuple[str, ...] = ()


@dataclass(frozen=True)
class NewAssessment:
    patient_id: int
    followup_id: int | None
    at: str
    recorded_at: str
    clinician: str
    phq9_items: tuple[int, ...] | None = None
    gad7_items: tuple[int, ...] | None = None
    madrs_total: int | None = None
    pcl5_total: int | None = None
    note: str | None = None
    cssrs_answers: tuple[str, ...] | None = None
    cssrs_risk: str | None = None


@dataclass(frozen=True)
class NewFollowup:
    patient_id: int
    session_id: int | None
    kind: str
    due: str
    created_at: str
    created_by: str
    note: str | None = None


@dataclass(frozen=True)
class NewWaste:
    """Ketamine of a session wasted, witnessed by a second person (`waste`)."""

    session_id: int
    at: str
    recorded_at: str
    clinician: str
    mg: float
    witness: str
    late_reason: str | None = None
