"""Which pending follow-ups a new record closes: the booked infusion when the next
session starts, the due assessment when an assessment is recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ketacli.clock import parse_date
from ketacli.domain import validate
from ketacli.domain.forms import choice
from ketacli.domain.records import NewFollowup
from ketacli.domain.vocab import FOLLOWUP_KINDS
from ketacli.errors import Code, Invalid


@dataclass(frozen=True)
class Pending:
    """A pending follow-up of one patient."""

    followup_id: int
    kind: str
    due: str  # YYYY-MM-DD, clinic zone


def _earliest(pending: list[Pending] | tuple[Pending, ...], kind: str,
              on_or_before: str | None = None) -> Pending | None:
    candidates = [p for p in pending if p.kind == kind
                  and (on_or_before is None or p.due <= on_or_before)]
    return min(candidates, key=lambda p: (p.due, p.followup_id), default=None)


def closed_by_start(pending: list[Pending] | tuple[Pending, ...]) -> list[int]:
    """A session that starts is the patient's next booked infusion, whenever it was due
    (early or late): the earliest pending `infusion` follow-up is done."""
    first = _earliest(pending, "infusion")
    return [first.followup_id] if first else []


def superseded_by_start(pending: list[Pending] | tuple[Pending, ...]) -> list[int]:
    """Check-in calls still pending when the patient's next session starts are moot: the
    patient is in the chair. All of them are closed (done, superseded by that session)."""
    return [p.followup_id for p in pending if p.kind == "call"]


def closed_by_screening(pending: list[Pending] | tuple[Pending, ...]) -> list[int]:
    """A new screening completes every pending `screening` follow-up (the re-screening a
    discharge booked before the old screening expires)."""
    return [p.followup_id for p in pending if p.kind == "screening"]


def closed_by_assessment(pending: list[Pending] | tuple[Pending, ...], day: str) -> int | None:
    """An assessment completes the earliest pending `assessment` follow-up due on or
    before its day (clinic zone), if any."""
    first = _earliest(pending, "assessment", day)
    return first.followup_id if first else None


@dataclass(frozen=True)
class ScheduleForm:
    """`followup schedule`, validated: a follow-up is never due in the past."""

    mrn: str
    kind: str
    due: date
    note: str | None

    @classmethod
    def parse(cls, *, mrn: str, kind: str, due: str, note: str | None,
              today: date) -> ScheduleForm:
        mrn = validate.mrn(mrn)
        kind = choice(kind, FOLLOWUP_KINDS, "--kind")
        day = parse_date(due, option="--due")
        if day is None or day < today:
            raise Invalid("--due is in the past", code=Code.PAST_DATE)
        return cls(mrn, kind, day, validate.free_text(note, "--note", multiline=True))

    def record(self, patient_id: int, *, clinician: str, at: str) -> NewFollowup:
        return NewFollowup(patient_id=patient_id, session_id=None, kind=self.kind,
                           due=self.due.isoformat(), created_at=at, created_by=clinician,
                           note=self.note)


OUTPUT_FORMATS = ("table", "csv", "json")


@dataclass(frozen=True)
class DueQuery:
    """`followup due`: due means pending with a due date on or before the target day
    (default today, clinic zone), or up to `within` days after it."""

    target: date
    upto: date
    fmt: str

    @classmethod
    def parse(cls, *, day: str | None, within: int | None, fmt: str, today: date) -> DueQuery:
        fmt = choice(fmt, OUTPUT_FORMATS, "--format")
        target = parse_date(day, option="--date") or today
        return cls(target, target + timedelta(days=within or 0), fmt)


def claim_cutoff(now: datetime, claim_minutes: int) -> datetime | None:
    """Claims made after this still last (`reminders.claim_minutes`); None: a claim
    expires at once (0)."""
    return now - timedelta(minutes=claim_minutes) if claim_minutes else None
