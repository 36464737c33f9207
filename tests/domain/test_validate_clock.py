"""Validation of typed values (ketacli.domain.validate) and time parsing (ketacli.clock)."""

from __future__ import annotations

import string
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketacli import clock
from ketacli.clock import CLOCK, parse_at, parse_date, zone
from ketacli.domain import validate
from ketacli.errors import Invalid

CHICAGO = zone("America/Chicago")
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # the conftest pin: 09:00 in Chicago
MRN_CHARS = string.ascii_letters + string.digits + "-_"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_clock_is_pinned():
    assert CLOCK.now() == NOW
    assert clock.today(CHICAGO) == date(2026, 11, 27)


# -- MRN ---------------------------------------------------------------------------------
@pytest.mark.parametrize("good", ["A", "MRN-1", "a_b-C", "0" * 32])
def test_mrn_accepts(good):
    assert validate.mrn(good) == good


@pytest.mark.parametrize("bad", ["", "A" * 33, "bad mrn!", "M1\n", "\nM1", " M1", "M1 ", "Ré",
                                 "a.b", "a/b", "١٢٣"])
def test_mrn_rejects(bad):
    with pytest.raises(Invalid) as exc:
        validate.mrn(bad)
    assert exc.value.exit_code == 2
    assert exc.value.code == "invalid_mrn"


@given(st.text(alphabet=MRN_CHARS, min_size=1, max_size=32))
def test_any_mrn_of_the_allowed_characters_is_accepted(value):
    assert validate.mrn(value) == value


@given(
    st.text(alphabet=MRN_CHARS, max_size=15),
    st.characters().filter(lambda ch: ch not in MRN_CHARS),
    st.text(alphabet=MRN_CHARS, max_size=15),
)
def test_any_other_character_is_rejected(prefix, other, suffix):
    with pytest.raises(Invalid):
        validate.mrn(prefix + other + suffix)


@given(st.text(alphabet=MRN_CHARS, min_size=33, max_size=60))
def test_too_long_is_rejected(value):
    with pytest.raises(Invalid):
        validate.mrn(value)


# -- phone, sex, names ------------------------------------------------------------------------
@pytest.mark.parametrize("good", ["+1 (312) 555-0100", "312.555.0100", "911", "  555 0100  "])
def test_phone_accepts(good):
    assert validate.phone(good) == good.strip()


@pytest.mark.parametrize("bad", ["call me", "12", "555-CALL", "+", "()-. ", "1" * 41,
                                 "555\n0100", "555;DROP"])
def test_phone_rejects(bad):
    with pytest.raises(Invalid) as exc:
        validate.phone(bad)
    assert exc.value.exit_code == 2
    assert exc.value.code == "invalid_phone"
    if len(bad) > 1:
        assert bad not in exc.value.message


def test_phone_none_is_none():
    assert validate.phone(None) is None


@pytest.mark.parametrize(("value", "expected"), [("f", "F"), (" m ", "M"), ("X", "X"), (None, "U")])
def test_sex(value, expected):
    assert validate.sex(value) == expected


def test_free_text_never_echoes_the_value():
    secret = "Zelda Quixote\x07"
    with pytest.raises(Invalid) as exc:
        validate.name(secret)
    assert "Zelda" not in exc.value.message
    assert validate.name("  Zelda  ") == "Zelda"


@pytest.mark.parametrize("bad", ["1980-13-01", "03/02/1980", "1980-02-30", "2026-11-28",
                                 "1899-12-31"])
def test_dob_rejects_without_echo(bad):
    with pytest.raises(Invalid) as exc:
        validate.dob(bad, date(2026, 11, 27))
    assert bad not in exc.value.message
    assert exc.value.exit_code == 2


def test_dob_accepts_today_and_leap_days():
    assert validate.dob("2026-11-27", date(2026, 11, 27)) == date(2026, 11, 27)
    assert validate.dob("1980-02-29", date(2026, 11, 27)) == date(1980, 2, 29)
    assert validate.dob(None, date(2026, 11, 27)) is None


# -- blood pressure ---------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "pair"), [("120/80", (120, 80)), (" 128 / 82 ", (128, 82)),
                                            ("300/200", (300, 200)), ("50/20", (50, 20))])
def test_bp_accepts(text, pair):
    assert validate.bp(text) == pair


@pytest.mark.parametrize(("text", "code"), [
    ("80/120", "implausible_vital"),   # diastolic above systolic
    ("120/120", "implausible_vital"),  # equal
    ("400/80", "implausible_vital"),   # systolic out of range
    ("49/30", "implausible_vital"),
    ("120/19", "implausible_vital"),
    ("abc", "invalid_bp"),
    ("120", "invalid_bp"),
    ("120/80/60", "invalid_bp"),
    ("120-80", "invalid_bp"),
    ("1200/80", "invalid_bp"),
    ("-120/80", "invalid_bp"),
    ("", "invalid_bp"),
])
def test_bp_rejects(text, code):
    with pytest.raises(Invalid) as exc:
        validate.bp(text, "--bp")
    assert exc.value.exit_code == 2
    assert exc.value.code == code
    assert "--bp" in exc.value.message


def test_bp_none_is_none():
    assert validate.bp(None) is None


@given(st.integers(50, 300), st.integers(20, 200))
def test_bp_plausible_iff_in_range_and_diastolic_below(sbp, dbp):
    text = f"{sbp}/{dbp}"
    if dbp < sbp:
        assert validate.bp(text) == (sbp, dbp)
    else:
        with pytest.raises(Invalid):
            validate.bp(text)


# -- item lists and numbers ---------------------------------------------------------------------
def test_int_list():
    assert validate.int_list("0,1,2,3,0,1,2,3,1", "--phq9", count=9, lo=0, hi=3) == [
        0, 1, 2, 3, 0, 1, 2, 3, 1]
    with pytest.raises(Invalid, match="needs 9"):
        validate.int_list("0,1,2", "--phq9", count=9, lo=0, hi=3)
    with pytest.raises(Invalid, match="item 2"):
        validate.int_list("0,4,0,0,0,0,0,0,0", "--phq9", count=9, lo=0, hi=3)


def test_number_rejects_nan_and_out_of_range():
    assert validate.number(70.0, "--weight", 20, 350) == 70.0
    for bad in (float("nan"), 19.9, 350.1, float("inf")):
        with pytest.raises(Invalid):
            validate.number(bad, "--weight", 20, 350)


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
