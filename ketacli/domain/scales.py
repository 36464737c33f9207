"""Rating scales: totals and severity bands (PHQ-9, GAD-7, MADRS, PCL-5).

Item scores are stored where the scale is free (PHQ-9, GAD-7); totals only
for MADRS (copyrighted) and PCL-5 (entered as a total).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

# (upper bound inclusive, band), in order.
PHQ9_BANDS = ((4, "minimal"), (9, "mild"), (14, "moderate"), (19, "moderately-severe"), (27, "severe"))
GAD7_BANDS = ((4, "minimal"), (9, "mild"), (14, "moderate"), (21, "severe"))
MADRS_BANDS = ((6, "normal"), (19, "mild"), (34, "moderate"), (60, "severe"))
# PCL-5: 31-33 is the published cut-off range for probable PTSD; 33 is the upper end.
PCL5_BANDS = ((32, "below-threshold"), (80, "probable-ptsd"))

SCALES = {
    # name: (items, item max, total max, bands, label)
    "phq9": (9, 3, 27, PHQ9_BANDS, "PHQ-9"),
    "gad7": (7, 3, 21, GAD7_BANDS, "GAD-7"),
    "madrs": (None, None, 60, MADRS_BANDS, "MADRS"),
    "pcl5": (None, None, 80, PCL5_BANDS, "PCL-5"),
}
MEASURES = tuple(SCALES)
LABELS = {name: spec[4] for name, spec in SCALES.items()}  # phq9 -> PHQ-9


@dataclass(frozen=True)
class Score:
    scale: str
    total: int
    severity: str
    items: tuple[int, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "severity": self.severity}


def band(scale: str, total: int) -> str:
    _, _, top, bands, label = SCALES[scale]
    if not 0 <= total <= top:
        raise ValueError(f"{label} total {total} outside 0-{top}")
    for upper, name in bands:
        if total <= upper:
            return name
    raise AssertionError("unreachable")


def from_items(scale: str, items: list[int]) -> Score:
    n, item_max, _, _, label = SCALES[scale]
    if n is None or len(items) != n or any(not 0 <= i <= cast(int, item_max) for i in items):
        raise ValueError(f"{label} needs {n} items of 0-{item_max}")
    total = sum(items)
    return Score(scale, total, band(scale, total), tuple(items))


def from_total(scale: str, total: int) -> Score:
    return Score(scale, total, band(scale, total))


def suicide_risk(phq9_items: list[int] | tuple[int, ...] | None) -> bool:
    """PHQ-9 item 9 (thoughts of self-harm) >= 1 requires a suicide risk assessment."""
    return bool(phq9_items) and cast("list[int] | tuple[int, ...]", phq9_items)[8] >= 1
