"""The controlled-substance ledger (ketacli.domain.ledger): the drawn amount covers the
dose, waste needs a second person as witness, amounts never exceed what was drawn, and an
entry flags what is unaccounted for once the session is closed."""

from __future__ import annotations

import pytest

from ketacli.domain import ledger
from ketacli.errors import Invalid


def test_drawn_must_cover_the_dose():
    ledger.check_drawn(40, 40)
    with pytest.raises(Invalid) as e:
        ledger.check_drawn(39.9, 40)
    assert e.value.exit_code == 2 and e.value.code == "drawn_below_dose"


@pytest.mark.parametrize("wasted, witness, code", [
    (5, None, "missing_witness"), (5, "", "missing_witness"), (5, "RN.One", "invalid_witness")])
def test_waste_needs_a_second_person(wasted, witness, code):
    with pytest.raises(Invalid) as e:
        ledger.check_waste_witness(wasted, witness, "rn.one")
    assert e.value.code == code


def test_no_waste_needs_no_witness():
    ledger.check_waste_witness(0, None, "rn.one")
    ledger.check_waste_witness(5, "rn.two", "rn.one")


def test_amounts_never_exceed_drawn_and_unaccounted_is_returned():
    assert ledger.check_amounts(50, 40, 10) == 0
    assert ledger.check_amounts(50, 40, 0) == 10
    with pytest.raises(Invalid) as e:
        ledger.check_amounts(50, 40, 10.5)
    assert e.value.code == "amounts_exceed_drawn"


def test_entry_flags_a_discrepancy_only_on_closed_sessions():
    row = {"session_id": 1, "started_at": "x", "patient": "M", "lot": "L", "drawn_mg": 50.0,
           "delivered_mg": 40.0, "wasted_mg": 0.0, "waste_witness": None, "clinician": "c",
           "discharged_at": "y"}
    e = ledger.entry(row)
    assert e["discrepancy"] is True and e["unaccounted_mg"] == 10
    e = ledger.entry({**row, "discharged_at": None})
    assert e["status"] == "open" and e["discrepancy"] is False
