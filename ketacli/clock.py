"""The one clock of ketacli: "now", the clinic zone, and parsing of --at / dates.

Stored times are UTC ISO-8601 with offset; shown times are in the clinic zone.
Tests pin the clock with `CLOCK.pin(...)`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, overload

from ketacli.errors import Code, Invalid

FUTURE_TOLERANCE = timedelta(minutes=5)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # no clinic recorded an infusion before this
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def zone(name: str | None) -> tzinfo:
    """The clinic zone: an IANA name (zoneinfo, fast), or the system's local zone."""
    if not name:
        import pendulum

        # mypy may take the name for the module pendulum.tz.local_timezone (order-dependent)
        return pendulum.local_timezone()  # type: ignore[operator, no-any-return, unused-ignore]
    from zoneinfo import ZoneInfo

    try:
        if name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except Exception:
        raise Invalid(
            "unknown time zone", hint="use an IANA name such as America/Chicago"
        ) from None


def system_zone_name() -> str:
    """The IANA name of the system's local zone (what a new database stores)."""
    import pendulum

    local = pendulum.local_timezone()  # type: ignore[operator, unused-ignore]
    name = str(getattr(local, "name", "") or "UTC")
    try:
        zone(name)
    except Invalid:
        return "UTC"
    return name


class Clock:
    def __init__(self) -> None:
        self._pinned: datetime | None = None

    def pin(self, when: datetime | None) -> None:
        """Fix "now" (tests); None returns to the real clock."""
        if when is not None and when.tzinfo is None:
            raise ValueError("pin an aware datetime")
        self._pinned = when.astimezone(UTC) if when else None

    def now(self) -> datetime:
        """Now, in UTC."""
        return self._pinned or datetime.now(UTC)


CLOCK = Clock()


def to_utc_iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None



def today(tz: tzinfo) -> date:
    return CLOCK.now().astimezone(tz).date()


def parse_at(text: str | None, tz: tzinfo, *, option: str = "--at") -> datetime:
    """Parse a recording time (the contract's three forms); refuse the future.

    ISO-8601 with offset; naive `YYYY-MM-DD HH:MM` in the clinic zone; `HH:MM` today.
    """
    now = CLOCK.now()
    if text is None:
        return now
    raw = text.strip()
    when: datetime | None = None
    m = _HHMM.match(raw)
    try:
        if m:
            d = now.astimezone(tz).date()
            naive = datetime(d.year, d.month, d.day, int(m[1]), int(m[2]))
            when = _localize(naive, tz)
            _warn_if_ambiguous(naive, when, tz, option)
        elif _NAIVE.match(raw):
            naive = datetime.fromisoformat(raw.replace(" ", "T"))
            when = _localize(naive, tz)
            _warn_if_ambiguous(naive, when, tz, option)
        elif len(raw) >= 16 and raw[:4].isdigit():
            parsed = datetime.fromisoformat(raw)
            if parsed.tzinfo is None:
                when = _localize(parsed, tz)
            else:
                when = parsed
        if when is not None:
            when = when.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: 9999-12-31 23:59 is past year 9999 in UTC
        when = None
    if when is None:
        raise Invalid(  # never echo what was typed: it may be a name or a note in the wrong slot
            f"{option}: not a time",
            hint="use ISO-8601 with offset, 'YYYY-MM-DD HH:MM' or 'HH:MM' (clinic zone)",
        )
    if when - now > FUTURE_TOLERANCE:
        raise Invalid(f"{option}: {raw} is in the future", code=Code.FUTURE_TIME)
    if when < EARLIEST:
        raise Invalid(f"{option}: a time before 2000-01-01 is not a clinic's record",
                      code=Code.OUT_OF_RANGE)
    return when


def ambiguous(naive: datetime, tz: tzinfo) -> bool:
    """Does this wall-clock time occur twice in `tz` (the hour repeated when clocks go
    back)? The first occurrence then has the larger UTC offset."""
    first, second = tz.utcoffset(naive.replace(fold=0)), tz.utcoffset(naive.replace(fold=1))
    return first is not None and second is not None and first > second


def _warn_if_ambiguous(naive: datetime, when: datetime, tz: tzinfo, option: str) -> None:
    if not ambiguous(naive, tz):
        return
    from ketacli.render.out import warn

    offset = when.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}"
    warn(f"{option} {naive:%Y-%m-%d %H:%M} occurs twice in the clinic zone (clocks went back): "
         f"taken as {naive:%H:%M}{offset}; give the offset to choose the other")


def _localize(naive: datetime, tz: Any) -> datetime:
    """Attach the clinic zone to a naive wall-clock time.

    A time in a spring-forward gap moves forward by the gap (02:30 -> 03:30), as
    pendulum does: normalizing through UTC gives exactly that.
    """
    if hasattr(tz, "convert"):  # a pendulum zone (the system zone)
        import pendulum

        return pendulum.datetime(naive.year, naive.month, naive.day, naive.hour, naive.minute,
                                 naive.second, tz=tz)
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


@overload
def parse_date(text: str, *, option: str) -> date: ...
@overload
def parse_date(text: None, *, option: str) -> None: ...
def parse_date(text: str | None, *, option: str) -> date | None:
    """A calendar date `YYYY-MM-DD` (clinic zone, no time)."""
    if text is None:
        return None
    raw = text.strip()
    try:
        if not _DATE.match(raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"{option}: not a date", hint="use YYYY-MM-DD") from None  # never echoed


def day_start_utc(d: date, tz: tzinfo) -> datetime:
    """The first instant of calendar day `d` in the clinic zone, as UTC."""
    return _localize(datetime(d.year, d.month, d.day), tz).astimezone(UTC)
