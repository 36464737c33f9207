"""Validation of what people type: MRNs, names, phones, dates, BP pairs, item lists.

Messages never repeat patient-entered free text (names, notes).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import cast, overload

from ketacli.clock import parse_date
from ketacli.domain.vitals import check_plausible
from ketacli.errors import Code, Invalid

MRN_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
PHONE_RE = re.compile(r"^\+?[0-9 ().-]{3,40}$")
BP_RE = re.compile(r"^\s*(\d{1,3})\s*/\s*(\d{1,3})\s*$")


def mrn(value: str) -> str:
    if not isinstance(value, str) or not MRN_RE.fullmatch(value):  # `$` would allow a final \n
        raise Invalid(
            "MRN must be 1-32 characters of A-Z a-z 0-9 - _",
            code=Code.INVALID_MRN,
        )
    return value


def _has_control(text: str, allow: str = "\t") -> bool:
    from ketacli.textsafety import unsafe

    return any(unsafe(ch, allow=allow) for ch in text)


def free_text(
    value: str | None, option: str, *, max_len: int = 2000, required: bool = False,
    multiline: bool = False, person: bool = False,
) -> str | None:
    """Free text (names, notes, reasons): printable, bounded; never echoed in errors.

    Control characters, line/paragraph separators, bidi overrides and invisible characters
    are refused (tab stays allowed, and newlines in multiline text); a person's name must
    show at least one visible character and holds no format characters at all."""
    if value is None:
        if required:
            raise Invalid(f"{option} is required", code=Code.MISSING_VALUE)
        return None
    text = value.strip()
    if multiline:
        text = text.replace("\r\n", "\n")
    if not text:
        if required:
            raise Invalid(f"{option} must not be empty", code=Code.MISSING_VALUE)
        return None
    if _has_control(text, "\t\n" if multiline else "\t"):
        raise Invalid(f"{option} contains control, invisible or text-direction characters",
                      code=Code.INVALID_TEXT)
    if person:
        from ketacli.textsafety import visible

        if any(unicodedata.category(ch) == "Cf" and ch not in "\u200c\u200d" for ch in text) \
                or not any(visible(ch) for ch in text):
            raise Invalid(f"{option} must be a name you can read (no invisible characters)",
                          code=Code.INVALID_TEXT)
    if len(text) > max_len:
        raise Invalid(f"{option} is longer than {max_len} characters", code=Code.INVALID_TEXT)
    return text


def name(value: str | None) -> str:
    return cast(str, free_text(value, "--name", max_len=200, required=True, person=True))


def phone(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not PHONE_RE.match(text) or sum(ch.isdigit() for ch in text) < 3:
        raise Invalid("--phone must be digits with optional + ( ) - . and spaces", code=Code.INVALID_PHONE)
    return text


def sex(value: str | None) -> str:
    if value is None:
        return "U"
    v = value.strip().upper()
    if v not in ("F", "M", "X", "U"):
        raise Invalid("--sex must be F, M, X or U", code=Code.INVALID_SEX)
    return v


def dob(value: str | None, today: date) -> date | None:
    if value is None:
        return None

    try:
        d = parse_date(value, option="--dob")
    except Invalid:  # a date of birth, even mistyped, is never echoed in an error
        raise Invalid("--dob is not a date", code=Code.INVALID_DATE, hint="use YYYY-MM-DD") from None
    if d > today:
        raise Invalid("--dob is in the future", code=Code.INVALID_DATE)
    if d.year < 1900:
        raise Invalid("--dob is before 1900", code=Code.INVALID_DATE)
    return d


@overload
def bp(value: str, option: str = ...) -> tuple[int, int]: ...
@overload
def bp(value: None, option: str = ...) -> None: ...
def bp(value: str | None, option: str = "--bp") -> tuple[int, int] | None:
    """`SYS/DIA` within the plausible ranges (SBP 50-300, DBP 20-200 and below SBP)."""
    if value is None:
        return None
    m = BP_RE.match(value)
    if not m:
        raise Invalid(f"{option} must be SYS/DIA, e.g. 128/82", code=Code.INVALID_BP)
    s, d = int(m[1]), int(m[2])

    check_plausible({"sbp": s, "dbp": d}, option=option)
    return s, d


def int_list(value: str, option: str, *, count: int, lo: int, hi: int) -> list[int]:
    """A comma-separated list of exactly `count` whole numbers in lo..hi."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != count:
        raise Invalid(
            f"{option} needs {count} item scores separated by commas (got {len(parts)})",
            code=Code.INVALID_ITEMS,
        )
    out = []
    for i, p in enumerate(parts, 1):
        if not re.fullmatch(r"\d{1,2}", p) or not lo <= int(p) <= hi:
            raise Invalid(f"{option} item {i} must be a whole number {lo}-{hi}", code=Code.INVALID_ITEMS)
        out.append(int(p))
    return out


@overload
def number(value: float, option: str, lo: float, hi: float) -> float: ...
@overload
def number(value: None, option: str, lo: float, hi: float) -> None: ...
@overload
def number(value: float | None, option: str, lo: float, hi: float) -> float | None: ...
def number(value: float | None, option: str, lo: float, hi: float) -> float | None:
    if value is None:
        return None
    if value != value or not lo <= value <= hi:  # NaN or out of range
        raise Invalid(f"{option} must be between {lo:g} and {hi:g}", code=Code.OUT_OF_RANGE)
    return value


def lot(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > 40 or not all(" " <= ch <= "~" for ch in text):
        raise Invalid("--lot must be 1-40 printable ASCII characters", code=Code.INVALID_LOT)
    return text
