"""The one rule for safety refusals and their overrides.

Every unmet rule is listed. An override (`--override REASON`, with `--cosign NAME` when
the protocol's `overrides.cosign` is on) proceeds past the overridable ones; a rule that
can never be overridden refuses whatever is given. The reason must say why (at least
`overrides.min_reason_chars` characters other than spaces) and the co-signer must be a
second clinician, not the one recording.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ketacli.domain import validate
from ketacli.errors import Code, Invalid, Refused

if TYPE_CHECKING:
    from ketacli.protocol import Overrides


class Unmet(Protocol):
    """An unmet rule or criterion (`start_rules.Rule`, `discharge.Criterion`)."""

    @property
    def name(self) -> str: ...

    @property
    def overridable(self) -> bool: ...

    @property
    def message(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


def _same_person(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@dataclass(frozen=True)
class Override:
    """What the clinician gave to proceed past a refusal: a reason and a co-signer."""

    reason: str | None = None
    cosign: str | None = None

    @classmethod
    def parse(cls, reason: str | None, cosign: str | None, *, clinician: str,
              rules: Overrides) -> Override:
        """--override REASON and --cosign NAME, checked (exit 2) before anything is read."""
        reason = validate.free_text(reason, "--override", max_len=500)
        cosign = validate.free_text(cosign, "--cosign", max_len=120, person=True)
        if cosign is not None and reason is None:
            raise Invalid("--cosign goes with --override REASON", code=Code.INVALID_OPTION)
        if reason is not None:
            need = rules.min_reason_chars
            if len("".join(reason.split())) < need:
                raise Invalid(f"an override reason must say why (at least {need} characters)",
                              code=Code.INVALID_OVERRIDE)
        if cosign is not None and _same_person(cosign, clinician):
            raise Invalid("--cosign must name a second clinician, not the one recording",
                          code=Code.INVALID_COSIGN)
        return cls(reason, cosign)

    @property
    def given(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True)
class Verdict:
    """Whether an action with these unmet rules proceeds under the override given."""

    unmet: tuple[Unmet, ...]
    override: Override
    refused: bool
    needs_cosign: bool  # refused only because the co-signer is missing

    @property
    def overridden(self) -> tuple[str, ...]:
        """The rules the override lifted (empty when nothing was unmet or it is refused)."""
        return () if self.refused else tuple(r.name for r in self.unmet)

    @property
    def reason(self) -> str | None:
        return self.override.reason if self.unmet and not self.refused else None

    @property
    def cosign(self) -> str | None:
        return self.override.cosign if self.unmet and not self.refused else None

    def audit_detail(self) -> dict[str, Any]:
        """What the audit row of a refusal says: the rules, and what was offered."""
        return {"rules": [r.name for r in self.unmet],
                "override_offered": self.override.given,
                "cosign_offered": self.override.cosign is not None}


def judge(unmet: Sequence[Unmet], override: Override, rules: Overrides) -> Verdict:
    """Refused when a rule is unmet and there is no override, or a rule is never
    overridable, or the protocol wants a co-signer and none is given."""
    hard = any(not r.overridable for r in unmet)
    if not unmet:
        return Verdict((), override, False, False)
    if not override.given or hard:
        return Verdict(tuple(unmet), override, True, False)
    missing = rules.cosign and override.cosign is None
    return Verdict(tuple(unmet), override, missing, missing)


def override_hint(unmet: Sequence[Unmet], *, cosign: bool = True) -> str | None:
    if any(not r.overridable for r in unmet):
        return None
    if cosign:
        return "after clinician review, rerun with --override REASON --cosign NAME"
    return "after clinician review, rerun with --override REASON"


def refusal(what: str, verdict: Verdict, rules: Overrides, *, code: str) -> Refused:
    """The exit-1 error of a refused action: every unmet rule, one per line, the
    never-overridable ones marked so, and the override hint."""
    unmet = verdict.unmet
    lines = [f"{r.name}: {r.message}" + ("" if r.overridable else " (not overridable)")
             for r in unmet]
    if verdict.needs_cosign:
        return Refused(
            f"{what}: an override needs a second clinician: --cosign NAME",
            code=code, details=[r.as_dict() for r in unmet], lines=lines,
            hint="rerun with --cosign NAME (the clinician who reviewed it with you)")
    n = len(unmet)
    return Refused(
        f"{what}: {n} unmet rule{'s' if n != 1 else ''}", code=code,
        details=[r.as_dict() for r in unmet], lines=lines,
        hint=override_hint(unmet, cosign=rules.cosign))
