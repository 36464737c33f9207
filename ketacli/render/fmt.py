"""Small formatting helpers shared by the Rich views."""

from __future__ import annotations

from datetime import datetime


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
    if value is None:
        return "-"
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def dash(value) -> str:
    return "-" if value is None or value == "" else str(value)
