"""Validation of typed values (ketacli.domain.validate): MRN, phone, sex, free text,
date of birth, blood pressure, item lists and numbers; a refused value is never echoed.
Time parsing (ketacli.clock) is in tests/test_clock.py."""

from __future__ import annotations

import string
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketacli.domain import validate
from ketacli.errors import Invalid

MRN_CHARS = string.ascii_letters + string.digits + "-_"


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
