"""The one rule for safety refusals: every unmet rule is listed; an override with a
reason proceeds, unless a rule that can never be overridden is among them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ketacli.errors import Refused


class Unmet(Protocol):
    """An unmet rule or criterion (`start.Rule`, `discharge.Criterion`)."""

    @property
    def overridable(self) -> bool: ...

    @property
    def message(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


def refused(unmet: Sequence[Unmet], override: str | None) -> bool:
    """True when the action must be refused (exit 1) given the unmet rules (each with an
    `overridable` attribute) and the clinician's override reason, if any."""
    return bool(unmet) and (override is None or any(not r.overridable for r in unmet))


def override_hint(unmet: Sequence[Unmet]) -> str | None:
    if any(not r.overridable for r in unmet):
        return None
    return "after clinician review, rerun with --override REASON"


def refusal(what: str, unmet: Sequence[Unmet], *, code: str) -> Refused:
    """The exit-1 error of a refused action: every unmet rule (each with `message` and
    `overridable`), the never-overridable ones marked so, and the override hint."""
    lines = [r.message + ("" if r.overridable else " (not overridable)") for r in unmet]
    return Refused(f"{what}: " + "; ".join(lines), code=code,
                   details=[r.as_dict() for r in unmet], hint=override_hint(unmet))
