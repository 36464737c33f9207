"""The dosing weight: BMI, ideal body weight (Devine), adjusted body weight, and which of
them the protocol's `dose.weight_basis` applies to a patient.

Check vectors: a 170 cm man has an ideal body weight of 50 + 0.9055 x (170 - 152.4)
= 65.9 kg; 86 kg at 170 cm is a BMI of 29.8.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketacli.errors import Code, Invalid

BMI_PLAUSIBLE = (10.0, 90.0)
DEVINE_BASE_KG = {"M": 50.0, "F": 45.5}
DEVINE_KG_PER_CM = 0.9055
DEVINE_FROM_CM = 152.4
ADJUSTED_FRACTION = 0.4


def bmi(weight_kg: float, height_cm: float) -> float:
    """kg/m²; outside 10-90 it is a typing slip in the weight or the height (exit 2)."""
    value = weight_kg / (height_cm / 100.0) ** 2
    lo, hi = BMI_PLAUSIBLE
    if not lo <= value <= hi:
        raise Invalid(f"BMI {value:.1f} is implausible (allowed {lo:g}-{hi:g}): "
                      "check --weight (kg) and --height (cm)", code=Code.IMPLAUSIBLE_BMI)
    return value


def ideal_kg(height_cm: float, sex: str) -> float:
    """Devine: 50 kg (M) or 45.5 kg (F) + 0.9055 kg per cm above 152.4 cm (the base below)."""
    return DEVINE_BASE_KG[sex] + DEVINE_KG_PER_CM * max(0.0, height_cm - DEVINE_FROM_CM)


def adjusted_kg(actual_kg: float, ideal: float) -> float:
    """Adjusted body weight = ideal + 0.4 x (actual - ideal)."""
    return ideal + ADJUSTED_FRACTION * (actual_kg - ideal)


@dataclass(frozen=True)
class DosingWeight:
    actual_kg: float
    kg: float  # the weight the dose is computed from
    basis: str  # the basis used: actual | ideal | adjusted
    bmi: float | None
    note: str | None = None  # why the protocol's basis did not apply


def dosing_weight(actual_kg: float, *, height_cm: float | None, sex: str | None, basis: str,
                  bmi_threshold: float) -> DosingWeight:
    """The protocol's basis when it applies (a height on record, BMI at or above the
    threshold, sex F or M); otherwise the actual weight, saying why."""
    body = bmi(actual_kg, height_cm) if height_cm else None
    if basis == "actual":
        return DosingWeight(actual_kg, actual_kg, "actual", body)
    why = None
    if body is None:
        why = "no height on the screening"
    elif sex not in DEVINE_BASE_KG:
        why = "ideal body weight needs sex F or M"
    elif body < bmi_threshold:
        return DosingWeight(actual_kg, actual_kg, "actual", body)  # not above the threshold
    if why:
        return DosingWeight(actual_kg, actual_kg, "actual", body,
                            f"dosed on the actual weight: {why} (dose.weight_basis = {basis})")
    assert height_cm is not None and sex is not None
    ideal = ideal_kg(height_cm, sex)
    kg = ideal if basis == "ideal" else adjusted_kg(actual_kg, ideal)
    if kg >= actual_kg:  # a short patient's ideal can exceed the actual weight
        return DosingWeight(actual_kg, actual_kg, "actual", body)
    return DosingWeight(actual_kg, kg, basis, body)


def weight_change_pct(weight_kg: float, screening_kg: float) -> float:
    """How far a weight is from the screening weight, in percent of the screening weight."""
    return abs(weight_kg - screening_kg) / screening_kg * 100.0
