"""A synthetic clinic: screened patients, induction series, follow-ups, outcomes.

Deterministic for a given seed and "now". Every record is charted by the commands'
own forms, domain decisions and store operations (`ketacli.demo.chart`), so the demo
shows exactly what the program does and obeys every rule it enforces. The clinic is
written in batches of 25 patients, one transaction each, with one audit row per batch
carrying the plan (seed, size, now): a demo that was killed is completed from there.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from ketacli.demo import chart, day, people
from ketacli.demo.people import CLINICIANS

if TYPE_CHECKING:
    from ketacli.protocol import Protocol
    from ketacli.store.db import Store

BATCH = 25


@dataclass(frozen=True)
class Plan:
    """Which clinic: its seed, its size and the moment it is built around."""

    seed: int
    patients: int
    now: datetime

    def as_dict(self) -> dict[str, Any]:
        from ketacli.clock import to_utc_iso

        return {"seed": self.seed, "patients": self.patients, "now": to_utc_iso(self.now)}

    @classmethod
    def of(cls, detail: dict[str, Any]) -> Plan:
        return cls(int(detail["seed"]), int(detail["patients"]),
                   datetime.fromisoformat(detail["now"]))


def build(store: Store, protocol: Protocol, tz: tzinfo, plan: Plan, *, done: int = 0,
          progress: Callable[[int], None] | None = None) -> int:
    """Patients done..plan.patients-1, BATCH per transaction; returns how many were made."""
    from ketacli.store import sandbox

    for lo in range(done, plan.patients, BATCH):
        hi = min(plan.patients, lo + BATCH)
        with store.write() as tx:
            marks = sandbox.row_marks(tx)
            c = chart.Chart(tx, protocol, tz, plan.now)
            for index in range(lo, hi):
                patient(c, plan, index)
            sandbox.record_batch(tx, {**plan.as_dict(), "from": lo, "to": hi,
                                      "rows": sandbox.rows_since(tx, marks)})
        if progress:
            progress(hi - done)
    return plan.patients - done


def patient(c: chart.Chart, plan: Plan, index: int) -> None:
    """Patient `index`: arrival, screening, and (when it may start) the series."""
    rng = people.rng_for(plan.seed, index)
    s = c.protocol.screening
    first_seen = people.clinic_hour(rng, c.tz, people.arrival(
        rng, index, plan.patients, plan.now, people.span_days(plan.patients)), 8, 9)
    who = people.person(rng, 1 + index, first_seen, tuple(s.ineligible_conditions),
                        tuple(s.review_conditions))
    p = chart.register(c, who)
    sc = _screen(c, rng, p, first_seen, k=0)
    if sc.decision == "ineligible" or (sc.decision == "needs-review" and rng.random() < 0.3):
        return  # not started: ineligible, or awaiting review
    if index == plan.patients - 1 and plan.patients >= 3:
        # the last patient is in the chair right now: one open session, 25 minutes in
        Series(c, rng, p, sc).run((plan.now - timedelta(minutes=25)).replace(microsecond=0),
                                  in_chair=True)
        return
    Series(c, rng, p, sc).run(first_seen + timedelta(days=rng.choice((2, 3, 4, 5, 7))))


def _screen(c: chart.Chart, rng: random.Random, p: chart.Patient, at: datetime,
            k: float) -> chart.Screened:
    s, d = p.who.bp
    sbp = int(min(210, max(90, s + rng.gauss(0, 7))))
    dbp = int(min(sbp - 20, max(50, d + rng.gauss(0, 5))))
    vitals = (sbp, dbp, rng.randint(58, 92), rng.randint(95, 100))
    return chart.screen(c, p, at, people.scores_at(rng, p.who, k), vitals, rng.choice(CLINICIANS))


class Series:
    """A patient's course: induction infusions, maintenance, calls and check-ins."""

    def __init__(self, c: chart.Chart, rng: random.Random, p: chart.Patient,
                 sc: chart.Screened) -> None:
        self.c, self.rng, self.p, self.sc = c, rng, p, sc
        self.today = c.now.astimezone(c.tz).date()

    def length(self) -> int:
        rng, induction = self.rng, self.c.protocol.schedule.induction_sessions
        maintenance = min(int(rng.expovariate(1 / 25)), 120) if rng.random() < 0.7 else 0
        if self.p.who.effect < 0.2 and rng.random() < 0.6:
            maintenance = 0  # non-responders often stop after induction
        if rng.random() < 0.08:
            return rng.randint(1, induction - 1)  # dropped out during induction
        return induction + maintenance

    def run(self, start: datetime, *, in_chair: bool = False) -> None:
        c, rng = self.c, self.rng
        total = 1 if in_chair else self.length()
        at = start if in_chair else people.clinic_hour(rng, c.tz, start, 8, 15)
        for n in range(1, total + 1):
            if at > c.now - timedelta(hours=3) and not in_chair:
                break
            went = self.infusion(n, at, in_chair=in_chair)
            if went is None:
                break
            left, gap = went
            at = people.clinic_hour(rng, c.tz, left + timedelta(days=gap), 8, 15)
        self.close_bookings()

    def infusion(self, n: int, at: datetime, *,
                 in_chair: bool) -> tuple[datetime, int] | None:
        """Infusion n (re-screened first when the screening expired); when the patient
        left and the days to the next one, or None when the series ends here."""
        c = self.c
        if at.astimezone(c.tz).date().isoformat() > self.sc.valid_until:
            self.sc = _screen(c, self.rng, self.p, at - timedelta(minutes=30), k=n - 1)
            if self.sc.decision == "ineligible":
                return None
        if n > 1:  # a pre-infusion assessment (PHQ-9, GAD-7) on the day of each infusion
            self.assess(at - timedelta(minutes=20), k=n - 1)
        lot = f"KET-{at.astimezone(c.tz).strftime('%y%m')}{'AB'[at.day % 2]}"
        d = day.infusion_day(c, self.rng, self.p, at, lot, in_chair=in_chair)
        if d.discharged_at is None:
            return None
        return d.discharged_at, self.after(n, d.discharged_at, d.followups)

    def after(self, n: int, left: datetime, scheduled: tuple[dict[str, Any], ...]) -> int:
        """The 24-hour check-in call, the day-7 assessment after induction, weekly
        check-ins between maintenance infusions; the days to the next infusion."""
        c, rng = self.c, self.rng
        call_at = people.clinic_hour(rng, c.tz, left + timedelta(days=1), 9, 16)
        if call_at < c.now:
            self.assess(call_at, k=n + 0.3)
            calls = [f["followup_id"] for f in scheduled if f["kind"] == "call"]
            chart.call_made(c, self.p, calls, call_at)
        schedule = c.protocol.schedule
        if n == schedule.induction_sessions:
            self.assess(people.clinic_hour(
                rng, c.tz, left + timedelta(days=schedule.assessment_after_days), 9, 16),
                k=n + 0.5, madrs=True)
        gap = self.next_gap(n)
        if n > schedule.induction_sessions:
            for week in (7, 14, 21):
                if week < gap - 2:
                    self.assess(people.clinic_hour(rng, c.tz, left + timedelta(days=week), 9, 16),
                                k=n + 0.5)
        return gap

    def next_gap(self, n: int) -> int:
        s, rng = self.c.protocol.schedule, self.rng
        if n < s.induction_sessions:
            return s.induction_interval_days + rng.choice((0, 0, 1))
        return s.maintenance_interval_days + rng.randint(-3, 5)

    def assess(self, at: datetime, k: float, *, madrs: bool = False) -> None:
        if at <= self.c.now:
            chart.assess(self.c, self.p, at, people.scores_at(self.rng, self.p.who, k),
                         self.rng.choice(CLINICIANS), madrs=madrs)

    def close_bookings(self) -> None:
        """A booked infusion three weeks overdue: the patient ended treatment, the clinic
        cancelled the booking a week after it was due."""
        chart.cancel_stale_bookings(self.c, self.p, self.today - timedelta(days=21),
                                    reason="treatment ended")


@dataclass(frozen=True)
class Todo:
    """What a `demo` run has to do: the plan, how many of its patients exist already, and
    what to tell the user about it."""

    plan: Plan
    done: int
    note: str | None = None

    @property
    def remaining(self) -> int:
        return self.plan.patients - self.done


def todo(store: Store, asked: Plan) -> Todo:
    """A new clinic, the rest of an interrupted one (its own plan), or nothing (the demo is
    here); a database with real patients is refused (exit 3)."""
    from ketacli.errors import Code, Conflict
    from ketacli.store import sandbox

    n_demo, n_real = sandbox.demo_state(store)
    if n_real:
        raise Conflict(f"this database holds {n_real} real patients: the demo only fills an "
                       "empty or demo database", code=Code.DATABASE_NOT_DEMO,
                       hint="use --db with a new file")
    last = sandbox.progress(store) if n_demo else None
    if not n_demo:
        return Todo(asked, 0)
    if last and "patients" in last and int(last["to"]) < int(last["patients"]):
        plan = Plan.of(last)
        return Todo(plan, int(last["to"]), f"completing the interrupted demo clinic: "
                                           f"{last['to']} of {plan.patients} patients were built")
    return Todo(asked, asked.patients, f"the demo clinic is already here ({n_demo} patients): "
                                       "showing it; use --db with a new file for a fresh one")


def remove(store: Store) -> dict[str, Any]:
    """`demo --remove`: delete the demo database (refused, exit 3, with real patients)."""
    from ketacli.errors import Code, Conflict
    from ketacli.store import sandbox

    n_demo, n_real = sandbox.demo_state(store)
    if n_real:
        raise Conflict(f"this database holds {n_real} real patients: 'demo --remove' only "
                       "deletes a demo database", code=Code.DATABASE_NOT_DEMO)
    path = store.path
    gone = sandbox.remove(store)
    return {"database": str(path), "removed": [str(p) for p in gone], "demo_patients": n_demo}
