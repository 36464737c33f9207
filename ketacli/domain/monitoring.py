"""The per-administration monitoring record (modelled on the Spravato REMS form)."""

from __future__ import annotations

import itertools
from collections.abc import Container, Iterable
from datetime import datetime, timedelta
from typing import Any

from ketacli.domain.screening import CONCOMITANT_CLASSES


def record(*, observations: list[dict[str, Any]], started_at: datetime,
           discharged_at: datetime | None, side_effect_codes: Container[str],
           lot: str | None, screening_meds: Iterable[str]) -> dict[str, Any]:
    """Computed from stored observations (oldest first) and the screening.

    bp_pre: the pre-infusion reading; bp_40min: the reading nearest 40 minutes in;
    bp_discharge: the (last) discharge-phase reading, None before discharge.
    """
    def bp(o: dict[str, Any] | None) -> str | None:
        return f"{o['sbp']}/{o['dbp']}" if o and o.get("sbp") is not None else None

    with_bp = [o for o in observations if o.get("sbp") is not None]
    pre = next((o for o in with_bp if o["phase"] == "pre"), None)
    during = [o for o in with_bp if o["phase"] != "pre"]
    # the reading nearest 40 minutes in, from the infusion or just after it (within 15 min)
    near40 = min((o for o in during if o["phase"] in ("intra", "post")
                  and abs((o["minutes_into_infusion"] or 0) - 40) <= 15),
                 key=lambda o: abs((o["minutes_into_infusion"] or 0) - 40), default=None)
    dis = next((o for o in reversed(with_bp) if o["phase"] == "discharge"), None)
    minutes = None
    if discharged_at is not None:
        minutes = round((discharged_at - started_at).total_seconds() / 60)
    sedation = any(o.get("moaas") is not None and o["moaas"] <= 3 for o in observations)
    dissociation = any((o.get("dissociation") or 0) >= 1 for o in observations) or (
        "dissociation" in side_effect_codes
    )
    resp = any(
        a["level"] == "critical" and a["parameter"] in ("spo2", "rr")
        for o in observations for a in o.get("alerts", [])
    )
    return {
        "bp_pre": bp(pre),
        "bp_40min": bp(near40),
        "bp_40min_minutes": near40["minutes_into_infusion"] if near40 else None,
        "bp_discharge": bp(dis),
        "monitoring_minutes": minutes,
        "sedation": sedation,
        "dissociation": dissociation,
        "respiratory_depression": resp,
        "lot": lot,
        "concomitant_meds": [m for m in screening_meds if m in CONCOMITANT_CLASSES],
    }


def gaps(times: list[datetime], infusion_end: datetime, intra_min: float,
         post_min: float) -> list[dict[str, Any]]:
    """Gaps in monitoring: consecutive readings further apart than the board allows.

    The board calls vital signs overdue at `t` when `t` is past the last reading +
    `intra_min` while infusing (up to `infusion_end`) or + `post_min` after it. Two
    readings `a`, `b` leave a gap when some moment between them would have shown overdue:
    `a + intra_min < min(b, end)` or `max(a + post_min, end) < b`. Each gap gives its
    bounds and the interval due when it opened."""
    out = []
    ordered = sorted(times)
    for a, b in itertools.pairwise(ordered):
        intra_due = a + timedelta(minutes=intra_min)
        post_due = a + timedelta(minutes=post_min)
        if intra_due < min(b, infusion_end):
            every = intra_min
        elif max(post_due, infusion_end) < b:
            every = post_min
        else:
            continue
        out.append({"from": a, "to": b, "minutes": round((b - a).total_seconds() / 60),
                    "due_every_min": every})
    return out
