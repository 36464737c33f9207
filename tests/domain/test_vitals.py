"""Vital signs (ketacli.domain.vitals): plausibility (exit 2), the warning and critical
alerts at the protocol's thresholds, and when a BP pair reaches a limit.

Expected values come from docs/cli-contract.md ("Clinic protocol" defaults and
"Reading the thresholds") and docs/clinical-reference.md (check vectors), or are
computed by hand here.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketacli import protocol
from ketacli.domain import vitals
from ketacli.errors import Invalid

P = protocol.load()


# --------------------------------------------------------------------------- plausibility
class TestPlausible:
    @pytest.mark.parametrize(
        "values",
        [
            {"sbp": 50, "dbp": 20},
            {"sbp": 300, "dbp": 200},
            {"sbp": 120, "dbp": 80, "hr": 20},
            {"hr": 250},
            {"spo2": 50}, {"spo2": 100},
            {"rr": 0}, {"rr": 60},
            {"etco2": 0}, {"etco2": 100},
            {"moaas": 0}, {"moaas": 5},
            {"dissociation": 0}, {"dissociation": 10},
            {"sbp": 120, "dbp": None, "hr": None},
            {},
        ],
    )
    def test_accepts_within_bounds(self, values):
        vitals.check_plausible(values)

    @pytest.mark.parametrize(
        "values",
        [
            {"sbp": 49}, {"sbp": 301},
            {"dbp": 19}, {"dbp": 201},
            {"hr": 19}, {"hr": 251},
            {"spo2": 49}, {"spo2": 101},
            {"rr": -1}, {"rr": 61},
            {"etco2": -1}, {"etco2": 101},
            {"moaas": 6}, {"moaas": -1},
            {"dissociation": 11},
        ],
    )
    def test_refuses_outside_bounds(self, values):
        with pytest.raises(Invalid) as exc:
            vitals.check_plausible(values)
        assert exc.value.exit_code == 2
        assert exc.value.code == "implausible_vital"
        ((_key, value),) = values.items()
        assert str(value) in exc.value.message

    @pytest.mark.parametrize(("sbp", "dbp"), [(120, 120), (100, 130), (60, 60)])
    def test_diastolic_must_be_below_systolic(self, sbp, dbp):
        with pytest.raises(Invalid) as exc:
            vitals.check_plausible({"sbp": sbp, "dbp": dbp})
        assert exc.value.exit_code == 2
        assert "diastolic" in exc.value.message

    def test_diastolic_just_below_systolic_is_fine(self):
        vitals.check_plausible({"sbp": 60, "dbp": 59})

    def test_option_name_is_used_in_the_message(self):
        with pytest.raises(Invalid) as exc:
            vitals.check_plausible({"hr": 300}, option="--hr")
        assert exc.value.message.startswith("--hr:")


# --------------------------------------------------------------------------- alerts
def _one(values):
    out = vitals.alerts(values, P.alerts)
    assert len(out) <= 1, out
    return out[0] if out else None


class TestAlerts:
    @pytest.mark.parametrize(
        ("param", "value", "level", "threshold"),
        [
            ("sbp", 159, None, None),
            ("sbp", 160, "warning", 160),
            ("sbp", 179, "warning", 160),
            ("sbp", 180, "critical", 180),
            ("dbp", 99, None, None),
            ("dbp", 100, "warning", 100),
            ("dbp", 110, "critical", 110),
            ("hr", 109, None, None),
            ("hr", 110, "warning", 110),
            ("hr", 129, "warning", 110),
            ("hr", 130, "critical", 130),
            ("hr", 50, None, None),
            ("hr", 49, "warning", 50),
            ("hr", 40, "warning", 50),
            ("hr", 39, "critical", 40),
            ("spo2", 94, None, None),
            ("spo2", 93, "warning", 94),
            ("spo2", 90, "warning", 94),
            ("spo2", 89, "critical", 90),
            ("moaas", 5, None, None),
            ("moaas", 3, None, None),
            ("moaas", 2, "warning", 3),
            ("moaas", 1, "critical", 2),
            ("moaas", 0, "critical", 2),
            ("rr", 10, None, None),
            ("rr", 9, "warning", 10),
            ("rr", 8, "warning", 10),
            ("rr", 7, "critical", 8),
            ("etco2", 49, None, None),
            ("etco2", 50, "warning", 50),
            ("etco2", 59, "warning", 50),
            ("etco2", 60, "critical", 60),
        ],
    )
    def test_default_thresholds(self, param, value, level, threshold):
        alert = _one({param: value})
        if level is None:
            assert alert is None
            return
        assert alert.level == level
        assert alert.parameter == param
        assert alert.value == value
        assert alert.threshold == threshold
        assert str(value) in alert.message
        assert set(alert.as_dict()) == {"level", "parameter", "value", "threshold", "message"}

    def test_messages_read_the_direction(self):
        assert ">=" in _one({"sbp": 180}).message
        assert "<" in _one({"spo2": 89}).message

    def test_several_parameters_alert_together(self):
        out = vitals.alerts({"sbp": 185, "dbp": 105, "hr": 60, "spo2": 88, "rr": None}, P.alerts)
        got = {(a.parameter, a.level) for a in out}
        assert got == {("sbp", "critical"), ("dbp", "warning"), ("spo2", "critical")}

    def test_normal_vitals_no_alerts(self):
        values = {"sbp": 120, "dbp": 80, "hr": 72, "spo2": 98, "rr": 14, "etco2": 38,
                  "moaas": 5, "dissociation": 4}
        assert vitals.alerts(values, P.alerts) == []

    def test_dissociation_never_alerts(self):
        # Dissociation is expected and normal during the infusion.
        assert vitals.alerts({"dissociation": 10}, P.alerts) == []

    def test_thresholds_come_from_the_protocol(self, tmp_path):
        f = tmp_path / "p.toml"
        f.write_text("[alerts]\nsbp = [140, 170]\nspo2_low = [92, 88]\n")
        custom = protocol.load(f)
        a = vitals.alerts({"sbp": 140, "spo2": 93}, custom.alerts)
        assert [(x.parameter, x.level, x.threshold) for x in a] == [("sbp", "warning", 140)]

    @settings(max_examples=200, deadline=None)
    @given(st.integers(50, 300))
    def test_sbp_level_matches_thresholds(self, sbp):
        alert = _one({"sbp": sbp})
        expected = ("critical" if sbp >= 180 or sbp < 80 else
                    "warning" if sbp >= 160 or sbp < 90 else None)
        assert (alert.level if alert else None) == expected
        if alert:
            assert alert.parameter == "sbp"

    @pytest.mark.parametrize(("sbp", "level", "threshold"), [
        (60, "critical", 80), (79, "critical", 80), (80, "warning", 90), (89, "warning", 90),
        (90, None, None),
    ])
    def test_low_sbp_alerts(self, sbp, level, threshold):
        # the slip: a BP of 60/30 raised no alert
        alert = _one({"sbp": sbp})
        assert (alert.level, alert.threshold) == (level, threshold) if level else alert is None

    @pytest.mark.parametrize(("rr", "level"), [(23, None), (24, "warning"), (29, "warning"),
                                               (30, "critical")])
    def test_high_rr_alerts(self, rr, level):
        alert = _one({"rr": rr})
        assert (alert.level if alert else None) == level

    @pytest.mark.parametrize(("bp", "expected"), [
        ((159, 99), []),  # +39/+19 from 120/80
        ((160, 99), [("sbp", "warning"), ("sbp_rise", "warning")]),
        ((150, 105), [("dbp", "warning"), ("dbp_rise", "warning")]),
        ((180, 120), [("sbp", "critical"), ("dbp", "critical"), ("sbp_rise", "critical"),
                      ("dbp_rise", "critical")]),
    ])
    def test_rise_above_the_pre_infusion_bp(self, bp, expected):
        got = vitals.alerts({"sbp": bp[0], "dbp": bp[1]}, P.alerts, pre_bp=(120, 80))
        assert [(a.parameter, a.level) for a in got] == expected

    def test_rise_value_is_the_rise_in_mmhg(self):
        (a,) = vitals.alerts({"sbp": 150}, P.alerts, pre_bp=(105, 70))
        assert (a.parameter, a.value, a.threshold, a.level) == ("sbp_rise", 45, 40, "warning")
        assert a.message == "SBP up 45 mmHg from pre-infusion 105 (>= 40)"

    def test_no_rise_alerts_without_the_pre_infusion_reading(self):
        assert vitals.alerts({"sbp": 150, "dbp": 95}, P.alerts) == []

    @settings(max_examples=200, deadline=None)
    @given(st.integers(50, 100))
    def test_spo2_level_matches_thresholds(self, spo2):
        alert = _one({"spo2": spo2})
        expected = "critical" if spo2 < 90 else "warning" if spo2 < 94 else None
        assert (alert.level if alert else None) == expected


class TestBpReaches:
    @pytest.mark.parametrize(
        ("sbp", "dbp", "reached"),
        [
            (150, 105, True),  # the contract's example: diastolic alone reaches it
            (159, 99, False),
            (160, 80, True),
            (120, 100, True),
            (200, 120, True),
        ],
    )
    def test_pair(self, sbp, dbp, reached):
        assert vitals.bp_reaches(sbp, dbp, [160, 100]) is reached
