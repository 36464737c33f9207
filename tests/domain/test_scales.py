"""Rating scales (ketacli.domain.scales): PHQ-9, GAD-7, MADRS and PCL-5 totals and severity
bands, item and total ranges, and the PHQ-9 suicide-risk item.

Expected values come from docs/cli-contract.md ("Clinic protocol" defaults and
"Reading the thresholds") and docs/clinical-reference.md (check vectors), or are
computed by hand here.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketacli.domain import scales

# The contract's severity tables, written out independently of ketacli.domain.scales.
PHQ9_TABLE = [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"),
              (15, 19, "moderately-severe"), (20, 27, "severe")]
GAD7_TABLE = [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")]
MADRS_TABLE = [(0, 6, "normal"), (7, 19, "mild"), (20, 34, "moderate"), (35, 60, "severe")]


def _table_band(table, total):
    return next(name for lo, hi, name in table if lo <= total <= hi)


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
