"""Who a record is about: the identity rules of docs/cli-contract.md ("Identifiers",
`patient`, `screen`).

- An MRN is unique without regard to case and found in any case (the store's lookup).
- `screen` of a known MRN with another name or date of birth is refused (exit 3, the
  message names no one); names compare without regard to case and spacing.
- `patient edit` changes demographics with a reason; the earlier values are kept.
- Success output for people names the patient as "Ann Example (MRN-1001)".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from ketacli.domain import validate
from ketacli.errors import Code, Conflict, Invalid

if TYPE_CHECKING:
    from ketacli.domain.forms import Demographics

FIELDS = ("name", "dob", "sex", "phone", "address")


def same_name(a: str, b: str) -> bool:
    """Names that differ only in case or spacing are the same name."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def who(name: str | None, mrn: str) -> str:
    """How success output names a patient: "Ann Example (MRN-1001)"."""
    return f"{name} ({mrn})" if name else mrn


def _given(person: Demographics, today: date) -> dict[str, str]:
    """The demographics typed, each validated (exit 2), by column; sex upper-cased."""
    out: dict[str, str] = {}
    if person.name is not None:
        out["name"] = validate.name(person.name)
    d = validate.dob(person.dob, today)
    if d is not None:
        out["dob"] = d.isoformat()
    if person.sex is not None:
        out["sex"] = validate.sex(person.sex)
    phone = validate.phone(person.phone)
    if phone is not None:
        out["phone"] = phone
    address = validate.free_text(person.address, "--address", max_len=300)
    if address is not None:
        out["address"] = address
    return out


def _same(column: str, stored: Any, value: str) -> bool:
    if column == "name":
        return same_name(stored, value)
    return bool(stored == value)


def check_screen(stored: Mapping[str, Any], person: Demographics, today: date) -> list[str]:
    """`screen` of a known MRN: a --name or --dob other than the stored one is refused
    (exit 3, naming the MRN only). Returns the other options that differ from the record
    (ignored: 'patient edit' changes them), e.g. ["--phone"]."""
    given = _given(person, today)
    for column in ("name", "dob"):
        if column in given and stored[column] is not None and not _same(
                column, stored[column], given[column]):
            raise Conflict(
                f"patient {stored['mrn']} exists with a different name or date of birth: "
                "check the MRN, or 'ketacli patient edit'", code=Code.PATIENT_MISMATCH)
    return [f"--{c}" for c, v in given.items()
            if stored[c] is None or not _same(c, stored[c], v)]


@dataclass(frozen=True)
class Edit:
    """A `patient edit`: the new values, the earlier ones, and why."""

    new: dict[str, str]
    old: dict[str, Any]
    reason: str

    @property
    def fields(self) -> list[str]:
        return list(self.new)


def edit(stored: Mapping[str, Any], person: Demographics, reason: str | None,
         today: date) -> Edit:
    """The change `patient edit` makes: at least one field (exit 2 without), a reason (exit
    2 without); fields given with the value already stored are left out, and nothing to
    change at all is exit 2 too."""
    reason = validate.free_text(reason, "--reason", max_len=500, required=True)
    given = _given(person, today)
    if not given:
        raise Invalid("give at least one field to change: --name, --dob, --sex, --phone "
                      "or --address", code=Code.MISSING_VALUE)
    new = {c: v for c, v in given.items() if stored[c] != v}
    if not new:
        raise Invalid("nothing to change: the record already holds these values",
                      code=Code.MISSING_VALUE)
    return Edit(new, {c: stored[c] for c in new}, reason)  # type: ignore[arg-type]
