"""The injected clock and time parsing (ketacli.clock; docs/cli-contract.md, "Times"): the
pinned now, --at forms in the clinic zone (never more than 5 minutes ahead), dates, day
boundaries in the clinic zone, and zone names."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketacli import clock
from ketacli.clock import CLOCK, parse_at, parse_date, zone
from ketacli.errors import Invalid

CHICAGO = zone("America/Chicago")
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # the conftest pin: 09:00 in Chicago


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_clock_is_pinned():
    assert CLOCK.now() == NOW
    assert clock.today(CHICAGO) == date(2026, 11, 27)


# -- clock.parse_at ---------------------------------------------------------------------------
def test_parse_at_default_is_now():
    assert parse_at(None, CHICAGO) == NOW


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-27T08:00:00-06:00", utc(2026, 11, 27, 14)),   # ISO with offset
    ("2026-11-27T14:00:00+00:00", utc(2026, 11, 27, 14)),
    ("2026-11-27T14:00:00Z", utc(2026, 11, 27, 14)),
    ("2026-11-27 08:00", utc(2026, 11, 27, 14)),            # naive: clinic zone, CST = UTC-6
    ("2026-11-27T08:00", utc(2026, 11, 27, 14)),
    ("2026-11-27 08:00:30", utc(2026, 11, 27, 14, 0, 30)),
    ("2026-07-01 08:00", utc(2026, 7, 1, 13)),              # summer: CDT = UTC-5
    ("2025-12-31 23:30", utc(2026, 1, 1, 5, 30)),
    ("08:30", utc(2026, 11, 27, 14, 30)),                   # HH:MM today in the clinic zone
    ("8:30", utc(2026, 11, 27, 14, 30)),
    ("00:00", utc(2026, 11, 27, 6)),
    (" 09:00 ", NOW),
])
def test_parse_at_forms(text, expected):
    got = parse_at(text, CHICAGO)
    assert got == expected
    assert got.utcoffset() == timedelta(0)


def test_parse_at_hhmm_uses_the_clinic_day_not_the_utc_day():
    CLOCK.pin(utc(2026, 11, 28, 3, 0))  # 21:00 on the 27th in Chicago
    assert parse_at("20:00", CHICAGO) == utc(2026, 11, 28, 2)  # the 27th, local
    assert parse_at("02:00", zone("UTC")) == utc(2026, 11, 28, 2)  # the 28th in UTC
    with pytest.raises(Invalid):
        parse_at("20:00", zone("UTC"))  # 20:00 on the 28th UTC is still to come


def test_parse_at_other_zone():
    tokyo = zone("Asia/Tokyo")
    assert parse_at("2026-11-27 09:00", tokyo) == utc(2026, 11, 27, 0)


@pytest.mark.parametrize("text", ["09:04", "09:05", "2026-11-27 09:05",
                                  "2026-11-27T15:04:59+00:00"])
def test_parse_at_a_few_minutes_ahead_is_ok(text):
    assert parse_at(text, CHICAGO) - NOW <= timedelta(minutes=5)


@pytest.mark.parametrize("text", ["09:10", "09:06", "2026-11-27 09:10", "2026-11-28 08:00",
                                  "2026-11-27T15:10:00+00:00", "23:59"])
def test_parse_at_the_future_is_refused(text):
    with pytest.raises(Invalid) as exc:
        parse_at(text, CHICAGO)
    assert exc.value.exit_code == 2
    assert exc.value.code == "future_time"


@pytest.mark.parametrize("text", ["garbage", "", "25:00", "12:60", "9", "noon", "2026-13-01 08:00",
                                  "2026-11-31 08:00", "27/11/2026 08:00", "2026-11-27",
                                  "1234567890123456789"])
def test_parse_at_garbage_is_invalid(text):
    with pytest.raises(Invalid) as exc:
        parse_at(text, CHICAGO, option="--at")
    assert exc.value.exit_code == 2
    assert exc.value.code == "invalid_input"
    assert "--at" in exc.value.message


@given(st.integers(0, 23), st.integers(0, 59))
def test_parse_at_hhmm_is_today_or_refused(hour, minute):
    local_when = datetime(2026, 11, 27, hour, minute, tzinfo=CHICAGO)
    text = f"{hour:02d}:{minute:02d}"
    if local_when - NOW <= timedelta(minutes=5):
        assert parse_at(text, CHICAGO) == local_when.astimezone(UTC)
    else:
        with pytest.raises(Invalid):
            parse_at(text, CHICAGO)


# -- dates and zones ------------------------------------------------------------------------
def test_parse_date():
    assert parse_date("2026-11-27", option="--since") == date(2026, 11, 27)
    assert parse_date(None, option="--since") is None
    for bad in ("2026-11-31", "2026/11/27", "27-11-2026", "2026-1-2", "today"):
        with pytest.raises(Invalid, match="--since"):
            parse_date(bad, option="--since")


def test_day_start_utc_is_the_clinic_midnight():
    assert clock.day_start_utc(date(2026, 11, 27), CHICAGO) == utc(2026, 11, 27, 6)
    assert clock.day_start_utc(date(2026, 7, 1), CHICAGO) == utc(2026, 7, 1, 5)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "Not a zone", "../etc/passwd"])
def test_zone_rejects_unknown_names(name):
    with pytest.raises(Invalid) as exc:
        zone(name)
    assert exc.value.exit_code == 2


def test_to_utc_iso():
    assert clock.to_utc_iso(datetime(2026, 11, 27, 9, 0, tzinfo=CHICAGO)) == (
        "2026-11-27T15:00:00+00:00")


def test_pin_refuses_a_naive_time():
    with pytest.raises(ValueError):
        CLOCK.pin(datetime(2026, 1, 1))
