"""HIPAA Safe Harbor de-identification of exported rows.

- the MRN is replaced by a random study id (from the local link table, never
  derived from the MRN); names, phones, escorts and every free-text field go;
- every date and time of one patient is shifted back by that patient's random
  offset (0-364 days), so intervals survive;
- a date of birth becomes the birth year, or "90+" when the export year minus it is 90
  or more; staff names (clinicians, co-signers, witnesses) go too.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

# Never exported when de-identifying: direct identifiers and free text.
DROP = {
    "name", "phone", "note", "detail", "override", "discharge_override", "discharge_note",
    "escort", "cancel_reason", "site", "created_by_patient", "prev_hash", "hash", "entity_id",
    "os_user", "address",
    # staff names: a nurse's roster ties a record to a day and a place
    "clinician", "created_by", "closed_by", "discharged_by", "waste_witness", "cosign",
}
DATE_TIME = {"at", "created_at", "started_at", "discharged_at", "infusion_end_at", "closed_at",
             "notified_at", "recorded_at", "first_observation_at", "last_observation_at"}
DATE_ONLY = {"valid_until", "due"}


def shift_iso(value: str | None, days: int) -> str | None:
    if not value:
        return value
    return (datetime.fromisoformat(value) - timedelta(days=days)).isoformat(timespec="seconds")


def shift_date(value: str | None, days: int) -> str | None:
    if not value:
        return value
    return (date.fromisoformat(value) - timedelta(days=days)).isoformat()


def birth_year(dob: str | None, today: date) -> str | None:
    """The birth year, or '90+' whenever the export year minus the birth year is 90 or more
    (Safe Harbor: a year shown beside an age of 89 would tell a 90-year-old by the day)."""
    if not dob:
        return None
    d = date.fromisoformat(dob)
    return "90+" if today.year - d.year >= 90 else str(d.year)


# Record ids: replaced by keyed pseudonyms so that a de-identified export cannot be
# joined to an identified one by row ids, while links inside the export still hold.
RECORD_IDS = {"screening_id", "session_id", "observation_id", "event_id", "assessment_id",
              "followup_id", "audit_id"}


def pseudonym(key: bytes, column: str, value: object) -> str | None:
    """A stable, keyed stand-in for a record id (HMAC-SHA256, 16 hex digits: 64 bits, so
    collisions stay negligible even at millions of rows of one kind)."""
    if value is None:
        return None

    kind = column.removesuffix("_id")
    digest = hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind[:3].upper()}{digest[:16]}"


def transformer(columns: list[str], study: dict[int, tuple[str, int]],
                today: date, key: bytes) -> tuple[list[str], Callable[[tuple[Any, ...]], tuple[Any, ...]]]:
    """Output columns and a row function for rows whose first column is `_pid`.

    `patient` (the MRN) becomes `study_id`; rows of a patient without a study id
    (impossible after ensure_study_ids) get none and no shift. Record ids become
    keyed pseudonyms (`key` is the clinic's local de-identification secret).
    """
    plan: list[tuple[int, str]] = []
    out_cols: list[str] = []
    for i, col in enumerate(columns):
        if col == "_pid" or col in DROP:
            continue
        if col == "patient":
            out_cols.append("study_id")
            plan.append((i, "study"))
        elif col == "dob":
            out_cols.append("birth_year")
            plan.append((i, "dob"))
        elif col in DATE_TIME:
            out_cols.append(col)
            plan.append((i, "dt"))
        elif col in DATE_ONLY:
            out_cols.append(col)
            plan.append((i, "d"))
        elif col in RECORD_IDS:
            out_cols.append(col)
            plan.append((i, col))
        else:
            out_cols.append(col)
            plan.append((i, "keep"))

    def row(values: tuple[Any, ...]) -> tuple[Any, ...]:
        sid, days = study.get(values[0], (None, 0))
        out = []
        for i, how in plan:
            v = values[i]
            if how == "keep":
                out.append(v)
            elif how == "study":
                out.append(sid)
            elif how == "dob":
                out.append(birth_year(v, today))
            elif how == "dt":
                out.append(shift_iso(v, days))
            elif how == "d":
                out.append(shift_date(v, days))
            else:
                out.append(pseudonym(key, how, v))
        return tuple(out)

    return out_cols, row
