"""The controlled-substance ledger: per-session accounting and per-lot totals.

Every milligram drawn is either administered or wasted (with a witness); on a
closed session, drawn - administered - wasted != 0 is a discrepancy. Amounts are kept
to 0.1 mg (`mg`), and every comparison is made on the kept amounts, so the arithmetic a
clinician sees always balances.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, overload

from ketacli.errors import Code, Invalid

STEP = Decimal("0.1")


def _kept(value: float) -> Decimal:
    """The amount as kept, exactly: half up to 0.1 mg. The float is first read to 1e-9 mg,
    so a computed 62.24999999999999 is the 62.25 it stands for (kept as 62.3)."""
    return Decimal(f"{value:.9f}").quantize(STEP, rounding=ROUND_HALF_UP)


@overload
def mg(value: float) -> float: ...
@overload
def mg(value: None) -> None: ...
def mg(value: float | None) -> float | None:
    """A controlled-substance amount as stored: rounded half up to 0.1 mg (62.25 -> 62.3,
    10.04 -> 10.0)."""
    return None if value is None else float(_kept(value)) + 0.0  # never -0.0


def _balance(drawn: float, *spent: float) -> Decimal:
    """drawn - spent, in kept amounts."""
    return _kept(drawn) - sum((_kept(x) for x in spent), Decimal(0))


def _witnesses(*names: str | None) -> str | None:
    return "; ".join(n for n in names if n) or None


def entry(row: dict[str, Any]) -> dict[str, Any]:
    """One session's line. Waste is the discharge's plus every witnessed `waste` record; a
    voided session (entered in error) counts nothing as given, so its drawn amount stays a
    discrepancy until it is wasted. A discharge with no audit row of its own (written
    around the program) is unverified: a discrepancy, never ok."""
    voided = bool(row.get("voided"))
    closed = row["discharged_at"] is not None or voided
    unverified = bool(row["discharged_at"] is not None and not row.get("discharge_audited", True))
    drawn = mg(row["drawn_mg"])
    given = 0.0 if voided else mg(row["delivered_mg"])
    all_waste = _kept(row["wasted_mg"] or 0) + _kept(row.get("later_wasted_mg") or 0)
    wasted = float(all_waste) + 0.0 if closed or all_waste else None
    unaccounted = (float(_balance(row["drawn_mg"], given or 0, float(all_waste))) + 0.0
                   if closed else None)
    return {
        "session_id": row["session_id"],
        "date": row["started_at"],
        "patient": row["patient"],
        "lot": row["lot"],
        "drawn_mg": drawn,
        "administered_mg": given,
        "wasted_mg": wasted,
        "waste_witness": _witnesses(row["waste_witness"], row.get("later_witnesses")),
        "clinician": row["clinician"],
        "status": "voided" if voided else "closed" if closed else "open",
        "unaccounted_mg": unaccounted,
        # a discharge with no audit row of its own was written around the program
        "unverified": unverified,
        "discrepancy": bool(closed and (unaccounted != 0 or unverified)),
    }


def totals(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per lot: sessions, open ones, and the sums of the kept amounts (closed sessions only,
    but for drawn)."""
    by_lot: dict[str, dict[str, Any]] = {}
    amounts = ("drawn_mg", "administered_mg", "wasted_mg", "unaccounted_mg")
    for e in entries:
        lot = e["lot"] or "(no lot)"
        t = by_lot.setdefault(lot, {"lot": lot, "sessions": 0, "open": 0,
                                    **{k: Decimal(0) for k in amounts}, "discrepancies": 0})
        t["sessions"] += 1
        t["drawn_mg"] += _kept(e["drawn_mg"])
        if e["status"] == "open":
            t["open"] += 1
            continue
        for k in amounts[1:]:
            t[k] += _kept(e[k])
        t["discrepancies"] += e["discrepancy"]
    for t in by_lot.values():
        for k in amounts:
            t[k] = float(t[k]) + 0.0
    return sorted(by_lot.values(), key=lambda t: t["lot"])


def check_drawn(drawn_mg: float, dose_mg: float) -> None:
    """What is drawn from stock must cover the planned dose (both as kept, to 0.1 mg)."""

    if _kept(drawn_mg) < _kept(dose_mg):
        raise Invalid(f"--drawn-mg {mg(drawn_mg):.1f} is less than the planned dose "
                      f"{mg(dose_mg):.1f} mg", code=Code.DRAWN_BELOW_DOSE)


def check_waste_witness(wasted_mg: float, witness: str | None, clinician: str) -> None:
    """Waste needs a witness, and the witness is a second person."""

    if wasted_mg > 0 and not witness:
        raise Invalid("--wasted-mg needs --waste-witness (a second person)",
                      code=Code.MISSING_WITNESS)
    if witness and witness.casefold() == clinician.casefold():
        raise Invalid("--waste-witness must be another person than the recording clinician",
                      code=Code.INVALID_WITNESS)


def check_amounts(drawn_mg: float, delivered_mg: float, wasted_mg: float) -> float:
    """Given plus wasted may not exceed what was drawn, as kept (to 0.1 mg): 100 - 62.3 -
    37.7 balances. Returns the unaccounted mg (>= 0), which the ledger flags."""

    left = _balance(drawn_mg, delivered_mg, wasted_mg)
    if left < 0:
        raise Invalid(
            f"delivered {mg(delivered_mg):.1f} mg + wasted {mg(wasted_mg):.1f} mg exceed the "
            f"{mg(drawn_mg):.1f} mg drawn", code=Code.AMOUNTS_EXCEED_DRAWN,
        )
    return float(left) + 0.0


def report(rows: list[dict[str, Any]], period: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """`report controlled`: one entry per session (dates in the clinic zone), totals per
    lot, and the number of discrepancies on closed sessions."""

    entries = [entry(r) for r in rows]
    for e in entries:
        e["date"] = datetime.fromisoformat(e["date"]).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    return {**period, "sessions": entries, "lots": totals(entries),
            "discrepancies": sum(e["discrepancy"] for e in entries)}
