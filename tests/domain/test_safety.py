"""The refusal rule (ketacli.domain.safety): unmet rules refuse unless overridden, a rule
that is not overridable refuses whatever the override, and the hint to override is only
offered when every unmet rule allows it (docs/cli-contract.md, "Overrides and
co-signature")."""

from __future__ import annotations

from ketacli.domain import infusion


def test_safety_refusal_rule():
    from ketacli.domain import safety

    soft = infusion.Rule("bp", "BP high")
    hard = infusion.Rule("screening", "ineligible", overridable=False)
    assert safety.refused([], None) is False
    assert safety.refused([soft], None) is True
    assert safety.refused([soft], "reviewed by Dr A") is False
    assert safety.refused([soft, hard], "reviewed by Dr A") is True
    assert safety.override_hint([soft]) and safety.override_hint([soft, hard]) is None
