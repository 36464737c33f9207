"""The controlled-substance ledger: per-session accounting and per-lot totals.

Every milligram drawn is either administered or wasted (with a witness); on a
closed session, drawn - administered - wasted != 0 is a discrepancy.
"""

from __future__ import annotations

TOLERANCE_MG = 0.05  # amounts are recorded to 0.1 mg


def entry(row: dict) -> dict:
    closed = row["discharged_at"] is not None
    drawn = row["drawn_mg"]
    given = row["delivered_mg"]
    wasted = row["wasted_mg"] if closed else None
    unaccounted = round(drawn - given - wasted, 3) if closed else None
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
        "discrepancy": bool(closed and abs(unaccounted) > TOLERANCE_MG),
    }


def totals(entries: list[dict]) -> list[dict]:
    by_lot: dict[str, dict] = {}
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
            t[k] = round(t[k], 3)
    return sorted(by_lot.values(), key=lambda t: t["lot"])
