"""Clinical rules: rating scales, vital-sign plausibility and alerts, the screening decision.

Expected values come from docs/cli-contract.md ("Clinic protocol" defaults and
"Reading the thresholds") and docs/clinical-reference.md (check vectors), or are
computed by hand here.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketacli import protocol
from ketacli.domain import scales, screening, vitals
from ketacli.errors import Invalid

P = protocol.load()

# The contract's severity tables, written out independently of ketacli.domain.scales.
PHQ9_TABLE = [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"),
              (15, 19, "moderately-severe"), (20, 27, "severe")]
GAD7_TABLE = [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")]
MADRS_TABLE = [(0, 6, "normal"), (7, 19, "mild"), (20, 34, "moderate"), (35, 60, "severe")]


def _table_band(table, total):
    return next(name for lo, hi, name in table if lo <= total <= hi)


# --------------------------------------------------------------------------- scales


class TestScales:
    def test_phq9_published_check_vector(self):
        s = scales.from_items("phq9", [2, 2, 2, 2, 1, 1, 2, 0, 0])
        assert s.total == 12
        assert s.severity == "moderate"
        assert s.items == (2, 2, 2, 2, 1, 1, 2, 0, 0)
        assert s.as_dict() == {"total": 12, "severity": "moderate"}

    def test_phq9_all_threes(self):
        s = scales.from_items("phq9", [3] * 9)
        assert (s.total, s.severity) == (27, "severe")

    def test_phq9_all_zeros(self):
        s = scales.from_items("phq9", [0] * 9)
        assert (s.total, s.severity) == (0, "minimal")

    def test_gad7_all_threes(self):
        s = scales.from_items("gad7", [3] * 7)
        assert (s.total, s.severity) == (21, "severe")

    @pytest.mark.parametrize(
        ("scale", "total", "severity"),
        [
            ("phq9", 4, "minimal"), ("phq9", 5, "mild"),
            ("phq9", 9, "mild"), ("phq9", 10, "moderate"),
            ("phq9", 14, "moderate"), ("phq9", 15, "moderately-severe"),
            ("phq9", 19, "moderately-severe"), ("phq9", 20, "severe"),
            ("gad7", 4, "minimal"), ("gad7", 5, "mild"),
            ("gad7", 9, "mild"), ("gad7", 10, "moderate"),
            ("gad7", 14, "moderate"), ("gad7", 15, "severe"),
            ("madrs", 0, "normal"),
            ("madrs", 6, "normal"), ("madrs", 7, "mild"),
            ("madrs", 19, "mild"), ("madrs", 20, "moderate"),
            ("madrs", 34, "moderate"), ("madrs", 35, "severe"),
            ("madrs", 60, "severe"),
            ("pcl5", 0, "below-threshold"),
            ("pcl5", 32, "below-threshold"), ("pcl5", 33, "probable-ptsd"),
            ("pcl5", 80, "probable-ptsd"),
        ],
    )
    def test_band_boundaries(self, scale, total, severity):
        assert scales.band(scale, total) == severity
        assert scales.from_total(scale, total).severity == severity

    @pytest.mark.parametrize(("phq", "gad"), [(4, 4), (5, 5), (9, 9), (10, 10), (14, 14), (15, 15)])
    def test_item_boundaries_reach_the_same_bands(self, phq, gad):
        # Build item lists with the given totals: the band comes from the total.
        phq_items = _items_with_total(phq, 9)
        gad_items = _items_with_total(gad, 7)
        assert scales.from_items("phq9", phq_items).severity == _table_band(PHQ9_TABLE, phq)
        assert scales.from_items("gad7", gad_items).severity == _table_band(GAD7_TABLE, gad)

    @pytest.mark.parametrize(
        ("scale", "total"),
        [("phq9", -1), ("phq9", 28), ("gad7", 22), ("madrs", -1), ("madrs", 61),
         ("pcl5", -1), ("pcl5", 81)],
    )
    def test_total_out_of_range(self, scale, total):
        with pytest.raises(ValueError):
            scales.from_total(scale, total)

    @pytest.mark.parametrize(
        ("scale", "items"),
        [
            ("phq9", [1] * 8),
            ("phq9", [1] * 10),
            ("phq9", []),
            ("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 4]),
            ("phq9", [0, 0, 0, 0, -1, 0, 0, 0, 0]),
            ("gad7", [1] * 6),
            ("gad7", [1] * 9),
            ("gad7", [3, 3, 3, 3, 3, 3, 4]),
            ("madrs", [1] * 10),  # MADRS is stored as a total only
            ("pcl5", [1] * 20),
        ],
    )
    def test_bad_items(self, scale, items):
        with pytest.raises(ValueError):
            scales.from_items(scale, items)

    @pytest.mark.parametrize(
        ("items", "flag"),
        [
            ([0] * 9, False),
            ([3, 3, 3, 3, 3, 3, 3, 3, 0], False),
            ([0, 0, 0, 0, 0, 0, 0, 0, 1], True),
            ([0, 0, 0, 0, 0, 0, 0, 0, 3], True),
            (None, False),
            ([], False),
        ],
    )
    def test_suicide_risk_is_item_9_at_least_1(self, items, flag):
        assert scales.suicide_risk(items) is flag

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.integers(0, 3), min_size=9, max_size=9))
    def test_phq9_any_items(self, items):
        s = scales.from_items("phq9", items)
        assert s.total == sum(items)
        assert s.severity == _table_band(PHQ9_TABLE, sum(items))
        assert scales.suicide_risk(items) is (items[8] >= 1)

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.integers(0, 3), min_size=7, max_size=7))
    def test_gad7_any_items(self, items):
        s = scales.from_items("gad7", items)
        assert s.total == sum(items)
        assert s.severity == _table_band(GAD7_TABLE, sum(items))

    @settings(max_examples=100, deadline=None)
    @given(st.integers(0, 60))
    def test_madrs_any_total(self, total):
        assert scales.from_total("madrs", total).severity == _table_band(MADRS_TABLE, total)


def _items_with_total(total: int, n: int) -> list[int]:
    items = []
    for _ in range(n):
        take = min(3, total)
        items.append(take)
        total -= take
    assert total == 0
    return items


# --------------------------------------------------------------------------- vitals


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
        expected = "critical" if sbp >= 180 else "warning" if sbp >= 160 else None
        assert (alert.level if alert else None) == expected

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


# --------------------------------------------------------------------------- screening


def _decide(sbp=120, dbp=80, conditions=(), meds=(), phq9=None):
    inp = screening.ScreeningInput(sbp=sbp, dbp=dbp, conditions=tuple(conditions),
                                   meds=tuple(meds), phq9=phq9)
    return screening.decide(inp, P.screening)


class TestScreeningDecision:
    def test_eligible_when_nothing(self):
        d = _decide()
        assert d.decision == "eligible"
        assert d.reasons == []
        assert d.suicide_risk_flag is False

    def test_eligible_with_a_calm_phq9(self):
        d = _decide(phq9=scales.from_items("phq9", [2, 2, 2, 2, 1, 1, 2, 0, 0]))
        assert d.decision == "eligible"
        assert d.suicide_risk_flag is False

    def test_bp_at_review_level(self):
        d = _decide(165, 95)
        assert d.decision == "needs-review"
        assert len(d.reasons) == 1
        assert "165/95" in d.reasons[0]

    @pytest.mark.parametrize(("sbp", "dbp", "decision"), [
        (159, 99, "eligible"),
        (160, 80, "needs-review"),
        (140, 100, "needs-review"),
        (179, 109, "needs-review"),
        (180, 90, "ineligible"),
        (150, 110, "ineligible"),
    ])
    def test_bp_boundaries(self, sbp, dbp, decision):
        assert _decide(sbp, dbp).decision == decision

    def test_bp_at_ineligible_level_has_one_bp_reason(self):
        d = _decide(185, 90)
        assert d.decision == "ineligible"
        bp_reasons = [r for r in d.reasons if "BP" in r]
        assert len(bp_reasons) == 1
        assert "185/90" in bp_reasons[0]
        assert "180/110" in bp_reasons[0]
        assert len(d.reasons) == 1

    @pytest.mark.parametrize("cond", P.screening.ineligible_conditions)
    def test_ineligible_conditions(self, cond):
        d = _decide(conditions=[cond])
        assert d.decision == "ineligible"
        assert any(cond in r for r in d.reasons)

    def test_pregnancy_is_ineligible(self):
        assert _decide(conditions=["pregnancy"]).decision == "ineligible"

    @pytest.mark.parametrize("cond", P.screening.review_conditions)
    def test_review_conditions(self, cond):
        d = _decide(conditions=[cond])
        assert d.decision == "needs-review"
        assert any(cond in r for r in d.reasons)

    def test_glaucoma_needs_review(self):
        d = _decide(conditions=["glaucoma"])
        assert d.decision == "needs-review"
        assert d.reasons == ["condition glaucoma needs clinician review"]

    @pytest.mark.parametrize("med", P.screening.review_meds)
    def test_review_meds(self, med):
        d = _decide(meds=[med])
        assert d.decision == "needs-review"
        assert any(med in r for r in d.reasons)

    def test_benzodiazepine_needs_review(self):
        d = _decide(meds=["benzodiazepine"])
        assert d.decision == "needs-review"
        assert len(d.reasons) == 1 and "benzodiazepine" in d.reasons[0]

    @pytest.mark.parametrize("med", ["opioid", "sedative-hypnotic", "other"])
    def test_other_meds_give_no_reason(self, med):
        d = _decide(meds=[med])
        assert d.decision == "eligible"
        assert d.reasons == []

    def test_other_condition_gives_no_reason(self):
        assert _decide(conditions=["other"]).decision == "eligible"

    def test_phq9_item9_needs_suicide_risk_assessment(self):
        d = _decide(phq9=scales.from_items("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1]))
        assert d.decision == "needs-review"
        assert d.suicide_risk_flag is True
        assert len(d.reasons) == 1
        assert "suicide risk" in d.reasons[0]

    def test_suicide_flag_is_kept_when_ineligible(self):
        d = _decide(conditions=["mania"],
                    phq9=scales.from_items("phq9", [3, 3, 3, 3, 3, 3, 3, 3, 2]))
        assert d.decision == "ineligible"
        assert d.suicide_risk_flag is True

    def test_mixed_lists_every_reason(self):
        d = _decide(
            185, 90,
            conditions=["pregnancy", "glaucoma"],
            meds=["benzodiazepine", "opioid"],
            phq9=scales.from_items("phq9", [1, 1, 1, 1, 1, 1, 1, 1, 1]),
        )
        assert d.decision == "ineligible"
        text = " | ".join(d.reasons)
        for word in ("pregnancy", "185/90", "glaucoma", "benzodiazepine", "suicide risk"):
            assert word in text, word
        assert "opioid" not in text
        assert len(d.reasons) == 5
        assert len(set(d.reasons)) == len(d.reasons)
        assert d.suicide_risk_flag is True

    def test_mixed_review_reasons_all_listed(self):
        d = _decide(165, 95, conditions=["cardiac-disease"], meds=["maoi", "stimulant"])
        assert d.decision == "needs-review"
        assert len(d.reasons) == 4

    @pytest.mark.parametrize(("day", "until"), [
        (date(2026, 11, 27), date(2026, 12, 27)),
        (date(2026, 2, 1), date(2026, 3, 3)),
        (date(2028, 2, 1), date(2028, 3, 2)),  # leap year
        (date(2026, 12, 15), date(2027, 1, 14)),
    ])
    def test_valid_until_is_date_plus_valid_days(self, day, until):
        assert screening.valid_until(day, P.screening) == until

    def test_valid_until_follows_the_protocol(self, tmp_path):
        f = tmp_path / "p.toml"
        f.write_text("[screening]\nvalid_days = 14\n")
        custom = protocol.load(f)
        assert screening.valid_until(date(2026, 11, 27), custom.screening) == date(2026, 12, 11)

    def test_review_lists_follow_the_protocol(self, tmp_path):
        f = tmp_path / "p.toml"
        f.write_text('[screening]\nreview_meds = ["opioid"]\nreview_bp = [140, 90]\n')
        custom = protocol.load(f)
        inp = screening.ScreeningInput(sbp=120, dbp=80, meds=("opioid", "benzodiazepine"))
        d = screening.decide(inp, custom.screening)
        assert d.decision == "needs-review"
        assert len(d.reasons) == 1 and "opioid" in d.reasons[0]
        inp = screening.ScreeningInput(sbp=140, dbp=80)
        assert screening.decide(inp, custom.screening).decision == "needs-review"
