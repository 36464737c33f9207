"""The dosing weight (ketacli.domain.dosing) with the published check vectors."""

from __future__ import annotations

import pytest

from ketacli.domain import dosing, infusion
from ketacli.errors import Code, Invalid


def test_devine_ibw_of_a_170_cm_man_is_65_9_kg():
    assert dosing.ideal_kg(170, "M") == pytest.approx(65.9, abs=0.05)


def test_devine_ibw_of_a_woman_and_below_152_4_cm():
    assert dosing.ideal_kg(165, "F") == pytest.approx(45.5 + 0.9055 * 12.6)
    assert dosing.ideal_kg(150, "F") == 45.5  # the base value below 152.4 cm


def test_adjusted_is_ideal_plus_forty_percent_of_the_excess():
    assert dosing.adjusted_kg(120, 65.9) == pytest.approx(65.9 + 0.4 * 54.1)


def test_reference_dose_vector():
    # 80 kg x 0.5 mg/kg over 40 min = 40 mg, 60 mg/h, 6 mL/h at 10 mg/mL, 4 mL to draw
    w = dosing.dosing_weight(80, height_cm=None, sex=None, basis="actual", bmi_threshold=30)
    p = infusion.plan(w.kg, 0.5, 40, 10)
    assert (p.dose_mg, p.rate_mg_per_h, p.rate_ml_per_h) == pytest.approx((40, 60, 6))
    assert p.dose_mg / 10 == pytest.approx(4)


@pytest.mark.parametrize(("kg", "cm", "bmi"), [(86, 170, 29.8), (120, 170, 41.5), (50, 180, 15.4)])
def test_bmi(kg, cm, bmi):
    assert dosing.bmi(kg, cm) == pytest.approx(bmi, abs=0.05)


@pytest.mark.parametrize(("kg", "cm"), [(86, 40 * 1.0), (400, 170), (20, 250)])
def test_implausible_bmi_exits_2(kg, cm):
    with pytest.raises(Invalid) as e:
        dosing.bmi(kg, cm)
    assert e.value.code == Code.IMPLAUSIBLE_BMI
    assert "check --weight (kg) and --height (cm)" in str(e.value)


class TestBasis:
    def test_actual_is_the_weight(self):
        w = dosing.dosing_weight(120, height_cm=170, sex="M", basis="actual", bmi_threshold=30)
        assert (w.kg, w.basis, w.note) == (120, "actual", None)
        assert w.bmi == pytest.approx(41.5, abs=0.05)

    def test_ideal_above_the_threshold(self):
        w = dosing.dosing_weight(120, height_cm=170, sex="M", basis="ideal", bmi_threshold=30)
        assert w.basis == "ideal" and w.kg == pytest.approx(65.9, abs=0.05)

    def test_adjusted_above_the_threshold(self):
        w = dosing.dosing_weight(120, height_cm=170, sex="M", basis="adjusted", bmi_threshold=30)
        assert w.basis == "adjusted" and w.kg == pytest.approx(65.94 + 0.4 * (120 - 65.94), abs=0.05)

    def test_below_the_threshold_is_actual_without_a_note(self):
        w = dosing.dosing_weight(80, height_cm=180, sex="M", basis="ideal", bmi_threshold=30)
        assert (w.kg, w.basis, w.note) == (80, "actual", None)

    @pytest.mark.parametrize(("cm", "sex", "why"), [
        (None, "M", "no height on the screening"), (170, "X", "sex F or M"),
        (170, None, "sex F or M"),
    ])
    def test_cannot_apply_falls_back_to_actual_saying_why(self, cm, sex, why):
        w = dosing.dosing_weight(120, height_cm=cm, sex=sex, basis="ideal", bmi_threshold=30)
        assert (w.kg, w.basis) == (120, "actual")
        assert why in w.note


def test_weight_change_percent():
    assert dosing.weight_change_pct(190, 86) == pytest.approx(120.93, abs=0.01)
