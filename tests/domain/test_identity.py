"""The identity rules (ketacli.domain.identity; docs/cli-contract.md "Identifiers", `patient`,
`screen`): names the same without regard to case and spacing, a known MRN screened under
another name or date of birth refused naming no one, `patient edit` needing a field and a
reason, and how success output names a patient."""

from __future__ import annotations

from datetime import date

import pytest

from ketacli.domain import identity
from ketacli.domain.forms import Demographics
from ketacli.errors import Conflict, Invalid

TODAY = date(2026, 11, 27)
STORED = {"mrn": "MRN-1006", "name": "Ann Example", "dob": "1980-03-02", "sex": "F",
          "phone": None, "address": None}


@pytest.mark.parametrize("other", ["Ann Example", "ann example", "ANN  EXAMPLE", " Ann\tExample "])
def test_names_differing_only_in_case_or_spacing_are_the_same(other):
    assert identity.same_name("Ann Example", other)


@pytest.mark.parametrize("other", ["Anne Example", "Ann Exampl", "AnnExample", "Example Ann"])
def test_other_names_are_not(other):
    assert not identity.same_name("Ann Example", other)


def test_who_names_the_patient_then_the_mrn():
    assert identity.who("Ann Example", "MRN-1001") == "Ann Example (MRN-1001)"
    assert identity.who(None, "MRN-1001") == "MRN-1001"


@pytest.mark.parametrize("person", [
    Demographics(), Demographics(name="ann  EXAMPLE"), Demographics(dob="1980-03-02"),
    Demographics(name="Ann Example", dob="1980-03-02", sex="f")])
def test_screen_with_the_same_identity_is_fine(person):
    assert identity.check_screen(STORED, person, TODAY) == []


@pytest.mark.parametrize("person", [
    Demographics(name="Bob Other"), Demographics(dob="1980-03-03"),
    Demographics(name="Ann Example", dob="1981-03-02")])
def test_screen_with_another_name_or_dob_is_refused_naming_no_one(person):
    with pytest.raises(Conflict) as e:
        identity.check_screen(STORED, person, TODAY)
    assert e.value.exit_code == 3
    assert e.value.message == ("patient MRN-1006 exists with a different name or date of birth: "
                               "check the MRN, or 'ketacli patient edit'")
    for text in ("Ann", "Bob", "1980", "1981"):
        assert text not in e.value.message


def test_screen_lists_other_differing_fields_as_ignored():
    person = Demographics(sex="M", phone="555 0101", address="1 Main St")
    assert identity.check_screen(STORED, person, TODAY) == ["--sex", "--phone", "--address"]


def test_a_dob_where_none_is_stored_is_not_a_conflict():
    stored = {**STORED, "dob": None}
    assert identity.check_screen(stored, Demographics(dob="1980-03-02"), TODAY) == ["--dob"]


def test_edit_keeps_the_old_values_of_the_fields_changed():
    e = identity.edit(STORED, Demographics(phone="555 0101", name="Ann Example"),
                      "phone given at check-in", TODAY)
    assert e.new == {"phone": "555 0101"}  # the name given is the stored one
    assert e.old == {"phone": None}
    assert e.fields == ["phone"] and e.reason == "phone given at check-in"


def test_edit_may_correct_the_case_of_a_name():
    e = identity.edit(STORED, Demographics(name="ANN EXAMPLE"), "typed in capitals", TODAY)
    assert e.new == {"name": "ANN EXAMPLE"} and e.old == {"name": "Ann Example"}


@pytest.mark.parametrize(("person", "reason", "needle"), [
    (Demographics(), "a reason here", "at least one field"),
    (Demographics(phone="555 0101"), None, "--reason"),
    (Demographics(phone="555 0101"), "   ", "--reason"),
    (Demographics(sex="F"), "same value again", "nothing to change"),
    (Demographics(dob="2030-01-01"), "a future dob", "--dob"),
    (Demographics(sex="Q"), "bad sex code", "--sex"),
])
def test_edit_refuses(person, reason, needle):
    with pytest.raises(Invalid) as e:
        identity.edit(STORED, person, reason, TODAY)
    assert e.value.exit_code == 2 and needle in e.value.message
