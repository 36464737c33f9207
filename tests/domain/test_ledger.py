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


# -- amounts are kept to 0.1 mg, rounded half up, and compared as kept -----------------
@pytest.mark.parametrize("value, kept", [
    (62.25, 62.3), (62.24, 62.2), (37.75, 37.8), (0.05, 0.1), (0.04, 0.0), (10.04, 10.0),
    (1.45, 1.5),  # the float 1.45 is 1.4499999999999999556: read as the 1.45 it stands for
    (54.975, 55.0), (0.15000000000000002, 0.2), (62.24999999999999, 62.3), (40.0, 40.0),
    (-0.0, 0.0),
])
def test_mg_rounds_half_up_to_a_tenth(value, kept):
    got = ledger.mg(value)
    assert got == kept and str(got) == str(kept)  # never -0.0


def test_mg_of_nothing_is_nothing():
    assert ledger.mg(None) is None


def test_the_shown_arithmetic_balances():
    # 100 mg drawn, 62.3 mg shown as delivered: wasting 37.7 mg is accepted and balances
    assert ledger.check_amounts(100, 62.3, 37.7) == 0
    # a computed 62.25 mg delivered is kept (and shown) as 62.3
    assert ledger.check_amounts(100, 62.25, 37.7) == 0
    assert ledger.check_amounts(0.3, 0.1, 0.2) == 0  # 0.1 + 0.2 is not 0.30000000000000004


def test_waste_over_the_drawn_amount_by_a_tenth_is_refused():
    with pytest.raises(Invalid) as e:
        ledger.check_amounts(50, 40, 10.1)
    assert e.value.exit_code == 2 and e.value.code == "amounts_exceed_drawn"
    assert str(e.value) == "delivered 40.0 mg + wasted 10.1 mg exceed the 50.0 mg drawn"


def test_waste_over_by_less_than_half_a_tenth_rounds_away():
    assert ledger.check_amounts(50, 40, 10.04) == 0
    assert ledger.check_amounts(49.96, 40, 10) == 0


def test_the_unaccounted_amount_is_kept_too():
    assert ledger.check_amounts(100, 62.25, 30) == 7.7
    with pytest.raises(Invalid) as e:
        ledger.check_amounts(40, 36.25, 3.75)  # kept: 36.3 + 3.8 = 40.1
    assert "delivered 36.3 mg + wasted 3.8 mg exceed the 40.0 mg drawn" in str(e.value)


def test_drawn_covers_the_dose_as_kept():
    ledger.check_drawn(39.96, 40)  # 40.0 mg kept
    ledger.check_drawn(54.9, 54.94)  # the dose is kept as 54.9 mg too
    with pytest.raises(Invalid) as e:
        ledger.check_drawn(54.9, 54.95)
    assert "--drawn-mg 54.9 is less than the planned dose 55.0 mg" in str(e.value)


ROW = {"session_id": 1, "started_at": "x", "patient": "M", "lot": "L", "drawn_mg": 50.0,
       "delivered_mg": 40.0, "wasted_mg": 10.0, "waste_witness": "w", "clinician": "c",
       "discharged_at": "y"}


@pytest.mark.parametrize("given, wasted, unaccounted", [
    (40.0, 10.0, 0.0),
    (40.0, 9.9, 0.1),  # a tenth is a discrepancy
    (40.04, 9.96, 0.0),  # a row stored before amounts were kept: compared as kept
    (36.666667, 13.3, 0.0),
])
def test_entry_compares_kept_amounts(given, wasted, unaccounted):
    e = ledger.entry({**ROW, "delivered_mg": given, "wasted_mg": wasted})
    assert e["unaccounted_mg"] == unaccounted
    assert e["discrepancy"] is (unaccounted != 0)
    assert e["administered_mg"] == ledger.mg(given) and e["wasted_mg"] == ledger.mg(wasted)


def test_lot_totals_are_sums_of_kept_amounts():
    entries = [ledger.entry({**ROW, "session_id": i, "drawn_mg": d, "delivered_mg": g,
                             "wasted_mg": w})
               for i, (d, g, w) in enumerate([(0.1, 0.1, 0.0), (0.2, 0.15, 0.04), (100, 62.3, 37.7)])]
    entries.append(ledger.entry({**ROW, "session_id": 9, "drawn_mg": 40.0, "delivered_mg": None,
                                 "discharged_at": None}))
    (t,) = ledger.totals(entries)
    assert (t["sessions"], t["open"], t["discrepancies"]) == (4, 1, 0)
    assert (t["drawn_mg"], t["administered_mg"], t["wasted_mg"], t["unaccounted_mg"]) == (
        140.3, 62.6, 37.7, 0.0)
