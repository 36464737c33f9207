"""The controlled-substance ledger: per-session accounting and per-lot totals.

Every milligram drawn is either administered or wasted (with a witness); on a
closed session, drawn - administered - wasted != 0 is a discrepancy.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any, cast

from ketacli.errors import Code, Invalid

TOLERANCE_MG = 0.05  # amounts are recorded to 0.1 mg


def entry(row: dict[str, Any]) -> dict[str, Any]:
    closed = row["discharged_at"] is not None
    drawn = row["drawn_mg"]
    given = row["delivered_mg"]
    wasted = row["wasted_mg"] if closed else None
    unaccounted = round(drawn - given - wasted, 3) + 0.0 if closed else None  # never -0.0
    return {
        "session_id": row["session_id"],
        "date": row["started_at"],
        "patient": row["patient"],
        "lot": row["lot"],
        "drawn_mg": drawn,
        "administered_mg": given,
        "wasted_mg": wasted,
        "waste_witness": row["waste_witness"],
        "clinician": row["clinician"],
        "status": "closed" if closed else "open",
        "unaccounted_mg": unaccounted,
        "discrepancy": bool(closed and abs(cast(float, unaccounted)) > TOLERANCE_MG),
    }


def totals(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_lot: dict[str, dict[str, Any]] = {}
    for e in entries:
        lot = e["lot"] or "(no lot)"
        t = by_lot.setdefault(lot, {"lot": lot, "sessions": 0, "open": 0, "drawn_mg": 0.0,
                                    "administered_mg": 0.0, "wasted_mg": 0.0,
                                    "unaccounted_mg": 0.0, "discrepancies": 0})
        t["sessions"] += 1
        t["drawn_mg"] += e["drawn_mg"]
        if e["status"] == "open":
            t["open"] += 1
            continue
        t["administered_mg"] += e["administered_mg"]
        t["wasted_mg"] += e["wasted_mg"]
        t["unaccounted_mg"] += e["unaccounted_mg"]
        t["discrepancies"] += e["discrepancy"]
    for t in by_lot.values():
        for k in ("drawn_mg", "administered_mg", "wasted_mg", "unaccounted_mg"):
            t[k] = round(t[k], 3) + 0.0
    return sorted(by_lot.values(), key=lambda t: t["lot"])


def check_drawn(drawn_mg: float, dose_mg: float) -> None:
    """What is drawn from stock must cover the planned dose."""

    if drawn_mg + 1e-9 < dose_mg:
        raise Invalid(f"--drawn-mg {drawn_mg:g} is less than the planned dose {dose_mg:.1f} mg",
                      code=Code.DRAWN_BELOW_DOSE)


def check_waste_witness(wasted_mg: float, witness: str | None, clinician: str) -> None:
    """Waste needs a witness, and the witness is a second person."""

    if wasted_mg > 0 and not witness:
        raise Invalid("--wasted-mg needs --waste-witness (a second person)",
                      code=Code.MISSING_WITNESS)
    if witness and witness.casefold() == clinician.casefold():
        raise Invalid("--waste-witness must be another person than the recording clinician",
                      code=Code.INVALID_WITNESS)


def check_amounts(drawn_mg: float, delivered_mg: float, wasted_mg: float) -> float:
    """Given plus wasted may not exceed what was drawn; returns the unaccounted mg (>= 0),
    which the ledger flags as a discrepancy."""

    if delivered_mg + wasted_mg > drawn_mg + 1e-6:
        raise Invalid(
            f"delivered {delivered_mg:.1f} mg + wasted {wasted_mg:.1f} mg exceed the "
            f"{drawn_mg:.1f} mg drawn", code=Code.AMOUNTS_EXCEED_DRAWN,
        )
    return round(drawn_mg - delivered_mg - wasted_mg, 3)


def report(rows: list[dict[str, Any]], period: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """`report controlled`: one entry per session (dates in the clinic zone), totals per
    lot, and the number of discrepancies on closed sessions."""

    entries = [entry(r) for r in rows]
    for e in entries:
        e["date"] = datetime.fromisoformat(e["date"]).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return {**period, "sessions": entries, "lots": totals(entries),
            "discrepancies": sum(e["discrepancy"] for e in entries)}
