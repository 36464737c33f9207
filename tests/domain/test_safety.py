"""Refusals and their overrides (ketacli.domain.safety; docs/cli-contract.md, "Overrides
and co-signature"): unmet rules refuse unless overridden with a reason that says why and,
by the protocol, a second clinician; a rule that is not overridable refuses whatever is
given; every unmet rule is listed, one per line."""

from __future__ import annotations

import pytest

from ketacli import protocol
from ketacli.domain import safety
from ketacli.domain.safety import Override
from ketacli.domain.start_rules import Rule
from ketacli.errors import Code, ExitCode, Invalid

RULES = protocol.load().overrides
SOFT = Rule("hold-bp", "pre-infusion BP 165/95 at or above hold 160/100")
HARD = Rule("screening", "the valid screening is ineligible", overridable=False)
GOOD = "reviewed with the attending: BP settled"


def parse(reason=None, cosign=None, clinician="rn.alvarez", rules=RULES):
    return Override.parse(reason, cosign, clinician=clinician, rules=rules)


class TestOverrideParse:
    @pytest.mark.parametrize("reason", ["ok", "   ok    ", "a b c d e f g h i"])
    def test_a_reason_that_does_not_say_why_exits_2(self, reason):
        with pytest.raises(Invalid) as e:
            parse(reason, "dr.okoye")
        assert e.value.code == Code.INVALID_OVERRIDE
        assert e.value.exit_code == ExitCode.INVALID
        assert str(e.value) == "an override reason must say why (at least 10 characters)"

    def test_ten_characters_other_than_spaces_are_enough(self):
        assert parse("a b c d e f g h i j", "dr.okoye").reason == "a b c d e f g h i j"

    def test_min_reason_chars_comes_from_the_protocol(self, tmp_path):
        f = tmp_path / "p.toml"
        f.write_text("[overrides]\nmin_reason_chars = 3\n")
        assert parse("ok!", "dr.okoye", rules=protocol.load(f).overrides).reason == "ok!"

    @pytest.mark.parametrize("cosign", ["rn.alvarez", "RN.Alvarez", " rn.alvarez "])
    def test_cosign_equal_to_the_clinician_exits_2(self, cosign):
        with pytest.raises(Invalid) as e:
            parse(GOOD, cosign)
        assert e.value.code == Code.INVALID_COSIGN

    def test_cosign_without_override_exits_2(self):
        with pytest.raises(Invalid) as e:
            parse(None, "dr.okoye")
        assert e.value.code == Code.INVALID_OPTION

    def test_nothing_given(self):
        o = parse()
        assert o == Override(None, None) and not o.given


class TestJudge:
    def test_nothing_unmet_proceeds_and_lifts_nothing(self):
        v = safety.judge([], parse(GOOD, "dr.okoye"), RULES)
        assert not v.refused and v.overridden == () and v.reason is None and v.cosign is None

    def test_unmet_without_override_is_refused(self):
        v = safety.judge([SOFT], parse(), RULES)
        assert v.refused and not v.needs_cosign and v.overridden == ()

    def test_override_with_cosign_proceeds(self):
        v = safety.judge([SOFT], parse(GOOD, "dr.okoye"), RULES)
        assert not v.refused
        assert (v.reason, v.cosign, v.overridden) == (GOOD, "dr.okoye", ("hold-bp",))

    def test_override_without_cosign_is_refused_when_the_protocol_wants_one(self):
        v = safety.judge([SOFT], parse(GOOD), RULES)
        assert v.refused and v.needs_cosign

    def test_cosign_off_in_the_protocol(self, tmp_path):
        f = tmp_path / "p.toml"
        f.write_text("[overrides]\ncosign = false\n")
        v = safety.judge([SOFT], parse(GOOD), protocol.load(f).overrides)
        assert not v.refused and v.cosign is None and v.overridden == ("hold-bp",)

    def test_a_rule_never_overridable_refuses_whatever_is_given(self):
        v = safety.judge([SOFT, HARD], parse(GOOD, "dr.okoye"), RULES)
        assert v.refused and not v.needs_cosign

    def test_audit_detail_names_rules_only(self):
        v = safety.judge([SOFT, HARD], parse(GOOD, "dr.okoye"), RULES)
        assert v.audit_detail() == {"rules": ["hold-bp", "screening"], "override_offered": True,
                                    "cosign_offered": True}


class TestRefusal:
    def test_every_unmet_rule_one_line_each_hard_marked(self):
        v = safety.judge([SOFT, HARD], parse(), RULES)
        err = safety.refusal("cannot start the infusion", v, RULES, code=Code.START_REFUSED)
        assert err.message == "cannot start the infusion: 2 unmet rules"
        assert err.lines == ["hold-bp: pre-infusion BP 165/95 at or above hold 160/100",
                             "screening: the valid screening is ineligible (not overridable)"]
        assert err.hint is None  # nothing to offer while a hard rule is unmet
        assert [d["name"] for d in err.details] == ["hold-bp", "screening"]

    def test_hint_names_the_cosign(self):
        v = safety.judge([SOFT], parse(), RULES)
        err = safety.refusal("cannot start the infusion", v, RULES, code=Code.START_REFUSED)
        assert err.message == "cannot start the infusion: 1 unmet rule"
        assert err.hint == "after clinician review, rerun with --override REASON --cosign NAME"

    def test_missing_cosign_message(self):
        v = safety.judge([SOFT], parse(GOOD), RULES)
        err = safety.refusal("cannot start the infusion", v, RULES, code=Code.START_REFUSED)
        assert err.message.endswith("an override needs a second clinician: --cosign NAME")
