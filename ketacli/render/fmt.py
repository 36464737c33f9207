"""Small formatting helpers shared by the Rich views."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal


def when(iso: str | None, tz, *, date_only: bool = False) -> str:
    if not iso:
        return "-"
    dt = datetime.fromisoformat(iso).astimezone(tz)
    return dt.strftime("%Y-%m-%d") if date_only else dt.strftime("%Y-%m-%d %H:%M")


def hm(iso: str | None, tz) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%H:%M")


def num(value, digits: int = 1) -> str:
    """A number to `digits` places, rounded half up as the ledger keeps amounts (62.25 mg
    shows as 62.3, as it is recorded), without trailing zeros."""
    if value is None:
        return "-"
    exact = Decimal(f"{value:.9f}").quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    text = f"{exact:f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text == "-0" else text


def dash(value) -> str:
    return "-" if value is None or value == "" else str(value)
