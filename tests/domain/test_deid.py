"""HIPAA Safe Harbor helpers (ketacli.domain.deid): birth year or "90+", date shifts that
keep intervals, keyed pseudonyms for record ids, and the column plan that swaps the MRN for
a study id, record ids for pseudonyms and drops names, phones and free text
(docs/interop.md, De-identification)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketacli.domain import deid

TODAY = date(2026, 11, 27)
KEY = bytes.fromhex("5e" * 32)
OTHER_KEY = bytes.fromhex("a7" * 32)
PREFIX = {"screening_id": "SCR", "session_id": "SES", "observation_id": "OBS",
          "event_id": "EVE", "assessment_id": "ASS", "followup_id": "FOL", "audit_id": "AUD"}


# -- birth_year --------------------------------------------------------------------------
@pytest.mark.parametrize(("dob", "expected"), [
    ("1937-11-28", "1937"),   # 88 today: the export year minus the birth year is 89
    ("1937-01-01", "1937"),
    ("1936-12-31", "90+"),    # 89 today, but 2026 - 1936 = 90: the year would tell
    ("1936-11-28", "90+"),
    ("1936-11-27", "90+"),    # 90 today
    ("1931-05-17", "90+"),
    ("1900-01-01", "90+"),
    ("1990-04-02", "1990"),
    ("2026-11-27", "2026"),   # born today
])
def test_birth_year_withheld_by_year_difference(dob, expected):
    assert deid.birth_year(dob, TODAY) == expected


def test_birth_year_on_a_leap_day_birthday():
    # born 1936-02-29: withheld all through 2026, whatever the day
    assert deid.birth_year("1936-02-29", date(2026, 2, 28)) == "90+"
    assert deid.birth_year("1936-02-29", date(2025, 12, 31)) == "1936"


def test_staff_names_are_dropped():
    cols, row = deid.transformer(
        ["_pid", "patient", "clinician", "created_by", "closed_by", "discharged_by",
         "waste_witness", "cosign", "hr"], study={1: ("S1", 0)}, today=TODAY, key=b"k" * 32)
    assert cols == ["study_id", "hr"]
    assert row((1, "MRN-1", "rn.a", "rn.b", "rn.c", "dr.d", "rn.e", "dr.f", 80)) == ("S1", 80)


@pytest.mark.parametrize("dob", [None, ""])
def test_birth_year_of_no_date_is_none(dob):
    assert deid.birth_year(dob, TODAY) is None


def test_birth_year_never_returns_more_than_the_year():
    out = deid.birth_year("1980-07-04", TODAY)
    assert out == "1980"
    assert "07" not in out and "04" not in out


# -- shift_iso / shift_date ----------------------------------------------------------------
def test_shift_iso_moves_back_by_whole_days_and_keeps_the_offset():
    assert deid.shift_iso("2026-11-27T15:00:00+00:00", 10) == "2026-11-17T15:00:00+00:00"
    assert deid.shift_iso("2026-11-27T09:00:00-06:00", 1) == "2026-11-26T09:00:00-06:00"
    assert deid.shift_iso("2026-11-27T15:00:00+00:00", 0) == "2026-11-27T15:00:00+00:00"


def test_shift_iso_crosses_years_and_leap_days():
    assert deid.shift_iso("2024-03-01T00:30:00+00:00", 1) == "2024-02-29T00:30:00+00:00"
    assert deid.shift_iso("2026-01-05T12:00:00+00:00", 364) == "2025-01-06T12:00:00+00:00"


def test_shift_iso_drops_sub_second_noise():
    assert deid.shift_iso("2026-11-27T15:00:00.123456+00:00", 2) == "2026-11-25T15:00:00+00:00"


@pytest.mark.parametrize("value", [None, ""])
def test_shift_of_nothing_is_nothing(value):
    assert deid.shift_iso(value, 30) == value
    assert deid.shift_date(value, 30) == value


def test_shift_date():
    assert deid.shift_date("2026-01-05", 10) == "2025-12-26"
    assert deid.shift_date("2024-03-01", 1) == "2024-02-29"
    assert deid.shift_date("2026-11-27", 0) == "2026-11-27"


_instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)).map(
    lambda d: d.replace(microsecond=0).isoformat() + "+00:00")


@given(a=_instants, b=_instants, days=st.integers(0, 364))
def test_a_shift_keeps_every_interval(a, b, days):
    sa, sb = deid.shift_iso(a, days), deid.shift_iso(b, days)
    assert (datetime.fromisoformat(sb) - datetime.fromisoformat(sa)
            == datetime.fromisoformat(b) - datetime.fromisoformat(a))
    assert datetime.fromisoformat(a) - datetime.fromisoformat(sa) == timedelta(days=days)


@given(d=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1)),
       days=st.integers(0, 364))
def test_shift_date_and_shift_iso_agree(d, days):
    shifted_day = deid.shift_date(d.isoformat(), days)
    shifted_instant = deid.shift_iso(f"{d.isoformat()}T12:00:00+00:00", days)
    assert shifted_instant.startswith(shifted_day + "T")


# -- transformer -----------------------------------------------------------------------------
STUDY = {7: ("SABCDEF0123", 30), 8: ("S0000000001", 0)}


def test_transformer_maps_columns():
    cols = ["_pid", "patient", "name", "dob", "sex", "phone", "created_at", "created_by"]
    out_cols, fn = deid.transformer(cols, STUDY, TODAY, KEY)
    assert out_cols == ["study_id", "birth_year", "sex", "created_at"]  # no staff names
    row = (7, "ZQF-90210", "Zebulon Quixotic-Farnsworth", "1931-05-17", "M", "+1 555 867 5309",
           "2026-11-27T15:00:00+00:00", "nurse.test")
    assert fn(row) == ("SABCDEF0123", "90+", "M", "2026-10-28T15:00:00+00:00")


def test_transformer_drops_every_direct_identifier_and_free_text():
    cols = ["_pid", "patient", *sorted(deid.DROP), "at"]
    out_cols, fn = deid.transformer(cols, STUDY, TODAY, KEY)
    assert out_cols == ["study_id", "at"]
    row = (8, "MRN-1", *("secret" for _ in deid.DROP), "2026-11-27T15:00:00+00:00")
    assert fn(row) == ("S0000000001", "2026-11-27T15:00:00+00:00")


@pytest.mark.parametrize("col", ["name", "phone", "note", "escort", "detail", "discharge_note",
                                 "cancel_reason", "override", "site", "os_user", "hash"])
def test_transformer_drops(col):
    out_cols, _ = deid.transformer(["_pid", col], STUDY, TODAY, KEY)
    assert out_cols == []


def test_transformer_shifts_every_date_of_the_row_by_its_patient():
    cols = ["_pid", "patient", "at", "started_at", "discharged_at", "infusion_end_at", "closed_at",
            "notified_at", "due", "valid_until", "minutes_into_infusion"]
    out_cols, fn = deid.transformer(cols, STUDY, TODAY, KEY)
    assert out_cols == ["study_id", *cols[2:]]
    row = (7, "P-7", "2026-11-27T15:00:00+00:00", "2026-11-27T15:30:00+00:00",
           "2026-11-27T17:00:00+00:00", None, None, "2026-11-28T13:00:00+00:00",
           "2026-12-01", "2026-12-27", 45.0)
    assert fn(row) == ("SABCDEF0123", "2026-10-28T15:00:00+00:00", "2026-10-28T15:30:00+00:00",
                       "2026-10-28T17:00:00+00:00", None, None, "2026-10-29T13:00:00+00:00",
                       "2026-11-01", "2026-11-27", 45.0)


def test_transformer_keeps_clinical_values_untouched():
    cols = ["_pid", "observation_id", "session_id", "sbp", "dbp", "alerts"]
    out_cols, fn = deid.transformer(cols, STUDY, TODAY, KEY)
    assert out_cols == cols[1:]
    obs, ses = deid.pseudonym(KEY, "observation_id", 1), deid.pseudonym(KEY, "session_id", 2)
    assert fn((7, 1, 2, 120, 80, "[]")) == (obs, ses, 120, 80, "[]")
    assert obs.startswith("OBS") and ses.startswith("SES")


@pytest.mark.parametrize("col", sorted(PREFIX))
def test_transformer_replaces_every_record_id_by_its_pseudonym(col):
    out_cols, fn = deid.transformer(["_pid", col, "sbp"], STUDY, TODAY, KEY)
    assert out_cols == [col, "sbp"]
    [(value, sbp)] = [fn((7, 42, 120))]
    assert value == deid.pseudonym(KEY, col, 42)
    assert value != 42 and value != "42" and not value.isdigit()
    assert sbp == 120
    assert fn((7, None, 120)) == (None, 120)  # e.g. an assessment without a follow-up


def test_transformer_links_hold_across_tables():
    """A session's own id and an observation's session_id are the same pseudonym."""
    _, session = deid.transformer(["_pid", "session_id", "screening_id"], STUDY, TODAY, KEY)
    _, screening = deid.transformer(["_pid", "screening_id"], STUDY, TODAY, KEY)
    _, obs = deid.transformer(["_pid", "observation_id", "session_id"], STUDY, TODAY, KEY)
    s_row = session((7, 5, 3))
    assert obs((7, 11, 5))[1] == s_row[0]
    assert screening((7, 3))[0] == s_row[1]
    assert obs((7, 11, 6))[1] != s_row[0]


def test_transformer_pseudonyms_depend_on_the_key():
    cols = ["_pid", "observation_id", "session_id"]
    _, a = deid.transformer(cols, STUDY, TODAY, KEY)
    _, b = deid.transformer(cols, STUDY, TODAY, OTHER_KEY)
    assert a((7, 1, 2)) == a((7, 1, 2))
    assert set(a((7, 1, 2))).isdisjoint(b((7, 1, 2)))


def test_a_row_without_a_patient_gets_no_study_id_and_no_shift():
    """Audit rows of the schema or of exports belong to nobody."""
    out_cols, fn = deid.transformer(["_pid", "patient", "at", "action"], STUDY, TODAY, KEY)
    assert out_cols == ["study_id", "at", "action"]
    assert fn((None, None, "2026-11-27T15:00:00+00:00", "migrate")) == (
        None, "2026-11-27T15:00:00+00:00", "migrate")


def test_the_study_id_never_comes_from_the_mrn():
    _, fn = deid.transformer(["_pid", "patient"], STUDY, TODAY, KEY)
    assert fn((7, "ZQF-90210")) == ("SABCDEF0123",)
    assert fn((7, "SOMEONE-ELSE")) == ("SABCDEF0123",)


# -- pseudonym -------------------------------------------------------------------------------------
PSEUDONYM_RE = re.compile(r"[A-Z]{3}[0-9a-f]{16}")


@pytest.mark.parametrize(("column", "prefix"), sorted(PREFIX.items()))
def test_pseudonym_has_the_kind_prefix_and_12_hex_digits(column, prefix):
    value = deid.pseudonym(KEY, column, 1)
    assert PSEUDONYM_RE.fullmatch(value), value
    assert value.startswith(prefix)
    assert value != "1"


def test_pseudonym_is_stable():
    assert deid.pseudonym(KEY, "session_id", 5) == deid.pseudonym(KEY, "session_id", 5)
    assert deid.pseudonym(bytes(KEY), "session_id", 5) == deid.pseudonym(KEY, "session_id", 5)


def test_pseudonym_is_hmac_sha256_of_kind_and_value():
    import hashlib
    import hmac

    digest = hmac.new(KEY, b"observation:18", hashlib.sha256).hexdigest()
    assert deid.pseudonym(KEY, "observation_id", 18) == "OBS" + digest[:16]


def test_pseudonym_depends_on_the_key():
    for column in PREFIX:
        for value in (1, 2, 1000):
            a, b = deid.pseudonym(KEY, column, value), deid.pseudonym(OTHER_KEY, column, value)
            assert a != b, (column, value)
            assert a[:3] == b[:3]


def test_pseudonym_depends_on_the_kind_and_the_value():
    assert (deid.pseudonym(KEY, "session_id", 1)[3:]
            != deid.pseudonym(KEY, "observation_id", 1)[3:])
    assert deid.pseudonym(KEY, "session_id", 1) != deid.pseudonym(KEY, "session_id", 2)


def test_pseudonym_of_none_is_none():
    for column in PREFIX:
        assert deid.pseudonym(KEY, column, None) is None


def test_pseudonyms_of_many_ids_do_not_collide():
    values = {deid.pseudonym(KEY, "observation_id", i) for i in range(1, 20001)}
    assert len(values) == 20000



def test_the_address_is_never_exported_de_identified():
    """Safe Harbor: street, city and ZIP are identifiers (issue 14 added the address)."""
    out_cols, fn = deid.transformer(["_pid", "patient", "address", "sex"], STUDY, TODAY, KEY)
    assert out_cols == ["study_id", "sex"]
    assert fn((7, "ZQF-90210", "1 Main St, Springfield, IL 62701", "M")) == ("SABCDEF0123", "M")
