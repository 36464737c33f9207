"""Corrections real charting needs after the fact: late entries on a discharged session,
ketamine wasted (witnessed) after the discharge or after a void, and follow-ups closed
several at once.

A discharged session takes a vital or an event only as a late entry (`--late REASON`),
less than `records.late_entry_hours` after its discharge, dated at or before the
discharge; a voided session takes nothing but the waste that reconciles its drawn amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from ketacli.clock import parse_at, to_utc_iso
from ketacli.domain import infusion, ledger, validate
from ketacli.domain.charting import SessionRef
from ketacli.domain.followups import Pending
from ketacli.domain.records import NewFollowup, NewWaste
from ketacli.domain.vocab import LATE_EVENTS
from ketacli.errors import Code, Conflict, Invalid, NotFound


def late_reason(value: str | None) -> str | None:
    """--late REASON: why it is charted after the fact (kept with the record)."""
    return None if value is None else validate.free_text(value, "--late", max_len=500,
                                                         required=True)


def _clock(when: datetime, now: datetime, tz: tzinfo) -> str:
    local = when.astimezone(tz)
    same_day = local.date() == now.astimezone(tz).date()
    return local.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")


def not_voided(session: SessionRef) -> None:
    """Nothing more is charted on a session entered in error."""
    if session.voided:
        raise Conflict(f"session {session.session_id} is voided (entered in error)",
                       code=Code.SESSION_VOIDED)


def late_entry(session: SessionRef, late: str | None, *, now: datetime, hours: float,
               tz: tzinfo) -> str | None:
    """The late reason to store with a record on this session (None: an ordinary entry on
    an open session). A discharged session needs --late (exit 3) and a discharge less than
    `hours` ago (exit 3); an open session takes --late too (charted after the fact)."""
    not_voided(session)
    discharged = session.discharged_at
    if discharged is None:
        return late
    if late is None:
        raise Conflict(f"session {session.session_id} was discharged at "
                       f"{_clock(discharged, now, tz)}; add a late entry with --late REASON",
                       code=Code.SESSION_CLOSED)
    if now - discharged >= timedelta(hours=hours):
        raise Conflict(f"session {session.session_id} was discharged at "
                       f"{_clock(discharged, now, tz)}, more than {hours:g} h ago: too late "
                       "for a late entry", code=Code.LATE_WINDOW_CLOSED)
    return late


def check_before_discharge(session: SessionRef, when: datetime, *, now: datetime,
                           tz: tzinfo) -> None:
    """A late vital or event happened at or before the discharge (exit 2): a late entry
    needs --at (the default, now, is after it)."""
    if session.discharged_at is not None and when > session.discharged_at:
        raise Invalid(f"--at is after the discharge at {_clock(session.discharged_at, now, tz)}: "
                      "give --at the time it happened", code=Code.AFTER_DISCHARGE)


def late_event(session: SessionRef, kind: str) -> None:
    """A discharged session's infusion is closed: only medication and adverse events are
    added late (a late pause or stop would rewrite the dose already discharged)."""
    if session.discharged_at is not None and kind not in LATE_EVENTS:
        raise Conflict(f"session {session.session_id} is discharged: only "
                       f"{' and '.join(LATE_EVENTS)} events can be added late",
                       code=Code.LATE_EVENT_KIND)


def charted(session: SessionRef, when: datetime, late: str | None, *, now: datetime,
            hours: float, tz: tzinfo, kind: str | None = None) -> str | None:
    """May a vital (or an event of `kind`) dated `when` be charted on this session? Not
    before its start (exit 2), not on a voided one (exit 3); on a discharged one only as a
    late entry (exit 3), of a kind a closed infusion takes (exit 3), dated at or before the
    discharge (exit 2). Returns the late reason to store."""
    if when < session.started_at:
        raise Invalid("--at is before the infusion started", code=Code.BEFORE_START)
    reason = late_entry(session, late, now=now, hours=hours, tz=tz)
    if kind is not None:
        late_event(session, kind)
    check_before_discharge(session, when, now=now, tz=tz)
    return reason


def one_value_per_instant(session_id: int, values: dict[str, int | None],
                          readings: list[dict[str, Any]], *, charted_time: bool = True) -> None:
    """Never two different values of one measure at one instant of a session (a late
    entry from paper at the minute of a monitor reading, say): exit 3, naming the reading
    to void first. The same value again is no contradiction. Readings taken now (no --at,
    `charted_time` false) are each their own moment, however fast they follow."""
    if not charted_time:
        return
    for r in readings:
        clash = [k for k, v in values.items() if v is not None and r.get(k) is not None
                 and r[k] != v]
        if clash:
            raise Conflict(
                f"session {session_id} already has a different {', '.join(clash)} at that time "
                f"(observation {r['observation_id']}); to correct it, void that one first",
                code=Code.CONFLICTING_READING,
                hint=f"ketacli void observation {r['observation_id']} --reason TEXT")


@dataclass(frozen=True)
class WasteForm:
    """`waste SESSION_ID --mg MG --witness NAME [--at] [--late REASON]`, validated."""

    session_id: int
    mg: float
    witness: str
    when: datetime
    late: str | None

    @classmethod
    def parse(cls, *, session_id: int, mg: float | None, witness: str | None,
              at: str | None, late: str | None, clinician: str, tz: tzinfo) -> WasteForm:
        if mg is None:
            raise Invalid("--mg is required (the amount wasted)", code=Code.MISSING_VALUE)
        validate.number(mg, "--mg", 0.1, 2000)
        name = validate.free_text(witness, "--witness", max_len=200, person=True)
        if not name:
            raise Invalid("--witness is required (a second person who saw the waste)",
                          code=Code.MISSING_WITNESS)
        if name.casefold() == clinician.casefold():
            raise Invalid("--witness must be another person than the recording clinician",
                          code=Code.INVALID_WITNESS)
        return cls(session_id, ledger.mg(mg), name, parse_at(at, tz), late_reason(late))


def given_mg(session: SessionRef, events: list[infusion.Event]) -> float:
    """What counts as given against the drawn amount: nothing on a voided session; the
    discharged dose; on an open session the planned dose, or what ran until a stop."""
    if session.voided:
        return 0.0
    if session.delivered_mg is not None:
        return session.delivered_mg
    if any(e.kind == "stop" for e in events):
        return ledger.mg(infusion.course(session.started_at, session.dose_mg,
                                         session.rate_mg_per_h, events).delivered_mg)
    return ledger.mg(session.dose_mg)


def waste(form: WasteForm, session: SessionRef, events: list[infusion.Event], *,
          clinician: str, now: datetime, hours: float, tz: tzinfo) -> NewWaste:
    """The waste to record. An open session takes it; a discharged one with --late inside
    the late-entry window; a voided one at any time (it reconciles the drawn amount the
    void left unaccounted). Given + all waste may not exceed drawn (exit 2)."""
    if form.when < session.started_at:
        raise Invalid("--at is before the infusion started", code=Code.BEFORE_START)
    late = form.late
    if not session.voided:
        late = late_entry(session, form.late, now=now, hours=hours, tz=tz)
    ledger.check_amounts(session.drawn_mg, given_mg(session, events),
                         ledger.mg(session.wasted_mg + form.mg))
    return NewWaste(session_id=session.session_id, at=to_utc_iso(form.when),
                    recorded_at=to_utc_iso(now), clinician=clinician, mg=form.mg,
                    witness=form.witness, late_reason=late)


def waste_result(w: NewWaste, waste_id: int, session: SessionRef,
                 events: list[infusion.Event]) -> dict[str, Any]:
    wasted = ledger.mg(session.wasted_mg + w.mg)
    closed = session.voided or session.discharged_at is not None
    left = ledger.check_amounts(session.drawn_mg, given_mg(session, events), wasted)
    return {"waste_id": waste_id, "session_id": w.session_id, "patient": session.mrn,
            "mg": w.mg, "witness": w.witness, "at": w.at, "late": w.late_reason,
            "drawn_mg": ledger.mg(session.drawn_mg), "wasted_total_mg": wasted,
            "unaccounted_mg": left if closed else None, "voided_session": session.voided}


def closable(requested: list[int], status: dict[int, str]) -> list[int]:
    """`followup done|cancel ID...`: all or none. Every id must exist (exit 3) and be
    pending (exit 3); an id given twice counts once. Returns the ids in the order given."""
    ids = list(dict.fromkeys(requested))
    if not ids:
        raise Invalid("give at least one follow-up ID", code=Code.MISSING_VALUE)
    missing = [i for i in ids if i not in status]
    if missing:
        raise NotFound(f"no follow-up {', '.join(map(str, missing))}; nothing was changed",
                       code=Code.FOLLOWUP_NOT_FOUND)
    closed = [i for i in ids if status[i] != "pending"]
    if closed:
        raise Conflict("follow-up " + ", ".join(f"{i} is already {status[i]}" for i in closed)
                       + "; nothing was changed", code=Code.FOLLOWUP_CLOSED)
    return ids


def booked_by_voided_session(pending: list[Pending]) -> list[int]:
    """The follow-ups a session booked at its discharge (its call, its next infusion, a
    re-screening) are cancelled when it is voided: they were planned from an encounter
    entered in error. Every pending one goes."""
    return [p.followup_id for p in pending]


@dataclass(frozen=True)
class Closed:
    """A follow-up a session's start closed (its booked infusion, a superseded call)."""

    followup_id: int
    patient_id: int
    kind: str
    due: str


def rebooked_after_void(session_id: int, closed: list[Closed], *, at: str,
                        clinician: str) -> list[NewFollowup]:
    """What a voided session's start had closed is booked again, pending, on its own due
    date: the encounter never happened, so the infusion it stood for is still owed. A
    superseded call is not (the patient was in the clinic)."""
    return [NewFollowup(patient_id=c.patient_id, session_id=None, kind=c.kind, due=c.due,
                        created_at=at, created_by=clinician,
                        note=f"booked again: session {session_id}, which completed follow-up "
                             f"{c.followup_id}, was voided")
            for c in closed if c.kind == "infusion"]
