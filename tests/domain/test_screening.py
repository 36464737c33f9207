"""The screening decision (ketacli.domain.screening): eligible, needs-review or ineligible
with every reason listed, the suicide-risk flag, and how long a screening stays valid.

Expected values come from docs/cli-contract.md ("Clinic protocol" defaults and
"Reading the thresholds") and docs/clinical-reference.md (check vectors), or are
computed by hand here.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from ketacli import protocol
from ketacli.domain import scales, screening

P = protocol.load()


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


class TestCssrsAtScreening:
    """C-SSRS screener and PHQ-9 item 9 together (docs/cli-contract.md, "C-SSRS screener")."""

    ITEM9 = scales.from_items("phq9", [2, 2, 2, 2, 1, 1, 2, 0, 2])
    CALM = scales.from_items("phq9", [1, 1, 1, 1, 0, 0, 0, 0, 0])

    def _d(self, phq9, risk):
        inp = screening.ScreeningInput(sbp=120, dbp=80, phq9=phq9, cssrs_risk=risk)
        return screening.decide(inp, P.screening)

    @pytest.mark.parametrize("risk", ["none", "low"])
    def test_none_or_low_answers_item9(self, risk):
        d = self._d(self.ITEM9, risk)
        assert (d.decision, d.reasons, d.suicide_risk_flag) == ("eligible", [], True)

    def test_moderate_needs_review_in_place_of_item9(self):
        d = self._d(self.ITEM9, "moderate")
        assert d.decision == "needs-review"
        assert d.reasons == ["C-SSRS moderate risk: suicide risk needs clinician review"]
        assert d.suicide_risk_flag is True

    def test_high_is_ineligible(self):
        d = self._d(self.ITEM9, "high")
        assert d.decision == "ineligible"
        assert d.reasons == ["C-SSRS high risk: same-day crisis evaluation, not an infusion"]

    @pytest.mark.parametrize(("risk", "decision", "flag"), [
        ("none", "eligible", False), ("low", "eligible", False),
        ("moderate", "needs-review", True), ("high", "ineligible", True)])
    def test_recorded_even_when_item9_is_0(self, risk, decision, flag):
        d = self._d(self.CALM, risk)
        assert (d.decision, d.suicide_risk_flag) == (decision, flag)

    def test_without_phq9(self):
        assert self._d(None, "high").decision == "ineligible"
        assert self._d(None, None).decision == "eligible"

    def test_item9_without_cssrs_still_needs_review(self):
        d = self._d(self.ITEM9, None)
        assert d.reasons == ["suicide risk assessment required (PHQ-9 item 9 = 2)"]

    def test_the_clinic_lists_decide(self):
        rules = dataclasses.replace(P.screening, cssrs_review=())
        inp = screening.ScreeningInput(sbp=120, dbp=80, phq9=self.ITEM9, cssrs_risk="moderate")
        d = screening.decide(inp, rules)
        # moderate is in no list: item 9 stays unanswered
        assert d.reasons == ["suicide risk assessment required (PHQ-9 item 9 = 2)"]
