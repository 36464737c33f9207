"""One infusion day of a demo patient: start, the pump's events, vitals every five
minutes until the discharge, and the discharge, each charted by `ketacli.demo.chart`.

The day is planned first (events, then the pump's real end from the pump model, then
the discharge and the readings before it), then charted in time order, so that:
vitals stop before the discharge (never two readings of one measure at one instant),
nothing follows a stop but readings, and every reading lies inside its session.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ketacli.demo import chart
from ketacli.demo.people import NURSES, SIDE_EFFECT_RATES, Person
from ketacli.domain import infusion

SITES = ("left antecubital", "right antecubital", "left forearm", "right hand")
FIVE = timedelta(minutes=5)


@dataclass(frozen=True)
class Planned:
    """An event the nurse will log."""

    at: datetime
    kind: str
    detail: str | None = None
    rate: float | None = None


@dataclass(frozen=True)
class Day:
    """The outcome of one infusion day: when the patient left (None: still here or not
    started) and the follow-ups the discharge scheduled."""

    started: bool
    discharged_at: datetime | None = None
    followups: tuple[dict[str, Any], ...] = ()


def infusion_day(c: chart.Chart, rng: random.Random, p: chart.Patient, at: datetime,
                 lot: str, *, in_chair: bool) -> Day:
    nurse = rng.choice(NURSES)
    pre = _pre_vitals(rng, p.who)
    mg_kg = c.protocol.dose.default_mg_per_kg if rng.random() < 0.8 else rng.choice((0.6, 0.7, 0.75))
    sess = chart.start_session(c, p, chart.StartPlan(at, *pre, mg_kg, lot, rng.choice(SITES), nurse))
    if sess is None:
        return Day(started=False)
    events = [e for e in _events(rng, sess) if e.at <= c.now]
    end = infusion.course(sess.started_at, sess.dose_mg, sess.rate_mg_per_h,
                          [infusion.Event(e.kind, e.at, e.rate) for e in events]).end_at
    leave = _minute_up(end + timedelta(minutes=rng.choice((30, 35, 40, 45, 60))))
    open_now = in_chair or leave > c.now
    inf = chart.Infusion(sess, nurse, [])
    _chart(c, rng, inf, events, pre, until=c.now if open_now else leave)
    if open_now:
        return Day(started=True)
    made = chart.discharge(c, inf, _leaving(rng, leave, pre))
    if made is None:
        return Day(started=True)
    return Day(True, leave, tuple(made))


def _pre_vitals(rng: random.Random, who: Person) -> tuple[int, int, int, int]:
    s0, d0 = who.bp
    sbp = int(min(158, max(95, s0 + rng.gauss(0, 6))))
    dbp = int(min(sbp - 25, min(98, max(55, d0 + rng.gauss(0, 5)))))
    return sbp, dbp, int(min(104, max(55, rng.gauss(74, 8)))), rng.randint(95, 100)


def _events(rng: random.Random, sess) -> list[Planned]:
    """Occasional rate change, pause and resume, early stop, anti-emetic (none after a
    stop), in time order."""
    t0 = sess.started_at
    out: list[Planned] = []
    if rng.random() < 0.03:
        out.append(Planned(t0 + timedelta(minutes=rng.randint(5, 12)), "rate-change",
                           "rate lowered: strong dissociation",
                           round(sess.rate_mg_per_h * 0.75, 1)))
    resumed = t0
    if rng.random() < 0.05:
        pause = t0 + timedelta(minutes=rng.randint(15, 30))
        resumed = pause + FIVE
        out += [Planned(pause, "pause", "patient asked for a break"), Planned(resumed, "resume")]
    if rng.random() < 0.01:
        stop = max(t0 + timedelta(minutes=rng.randint(20, 35)), resumed + FIVE)
        return [*out, Planned(stop, "stop", "stopped early: patient distressed")]
    if rng.random() < 0.04:
        out.append(Planned(t0 + timedelta(minutes=35), "medication",
                           "ondansetron 4 mg IV for nausea"))
    return sorted(out, key=lambda e: e.at)


def _minute_up(t: datetime) -> datetime:
    """The next whole minute (stored times are whole seconds; readings whole minutes)."""
    whole = t.replace(second=0, microsecond=0)
    return whole if whole == t else whole + timedelta(minutes=1)


def _chart(c: chart.Chart, rng: random.Random, inf: chart.Infusion, events: list[Planned],
           pre: tuple[int, int, int, int], *, until: datetime) -> None:
    """Readings every five minutes from the start (the pre-infusion one is the start's)
    until before `until` (the discharge has its own reading; a reading "now" is the
    nurse's to take), with the events in between."""
    shape = _Shape(rng, pre)
    t, pending = inf.session.started_at + FIVE, list(events)
    while t < until:
        while pending and pending[0].at <= t:
            e = pending.pop(0)
            chart.log_event(c, inf, e.at, e.kind, e.detail, e.rate)
        chart.log_vitals(c, inf, t, shape.values(rng, (t - inf.session.started_at) / timedelta(minutes=1)))
        t += FIVE
    for e in pending:
        if e.at < until:
            chart.log_event(c, inf, e.at, e.kind, e.detail, e.rate)


class _Shape:
    """Vital signs follow the published pattern: BP rises and peaks around 40 minutes
    (about +16/+11 mmHg), HR a little; dissociation peaks with it."""

    def __init__(self, rng: random.Random, pre: tuple[int, int, int, int]) -> None:
        self.pre_s, self.pre_d = pre[0], pre[1]
        self.peak_s, self.peak_d = rng.gauss(15, 5), rng.gauss(10, 3)
        self.hr = rng.gauss(74, 8)
        self.diss = rng.randint(1, 8)

    def values(self, rng: random.Random, minutes: float) -> dict[str, int | None]:
        shape = math.exp(-(((minutes - 40) / 22) ** 2))
        sbp = int(min(240, max(90, self.pre_s + self.peak_s * shape + rng.gauss(0, 4))))
        low_spo2 = 2 if rng.random() < 0.01 else 0
        return {
            "sbp": sbp,
            "dbp": int(min(sbp - 25, max(50, self.pre_d + self.peak_d * shape + rng.gauss(0, 3)))),
            "hr": int(min(140, max(50, self.hr + 6 * shape + rng.gauss(0, 2.5)))),
            "spo2": int(min(100, max(86, rng.gauss(97.5, 1.2) - low_spo2))),
            "rr": int(max(10, rng.gauss(15, 1.5))) if rng.random() > 0.003 else 9,
            "etco2": None,
            "moaas": (5 if shape < 0.3 else rng.choice((5, 4, 4, 4, 3))) if rng.random() > 0.004 else 2,
            "dissociation": round(self.diss * shape),
        }


def _leaving(rng: random.Random, at: datetime, pre: tuple[int, int, int, int]) -> chart.Leaving:
    sbp = int(min(155, max(95, pre[0] + rng.gauss(2, 5))))
    dbp = int(min(sbp - 25, min(95, max(55, pre[1] + rng.gauss(1, 4)))))
    effects = tuple(
        (code, rng.choices(("mild", "moderate", "severe"), weights=(80, 18, 2))[0])
        for code, rate in SIDE_EFFECT_RATES if rng.random() < rate)
    return chart.Leaving(
        at=at, aldrete=10 if rng.random() < 0.85 else 9, sbp=sbp, dbp=dbp,
        hr=rng.randint(60, 95), spo2=rng.randint(95, 100),
        transport=rng.choices(("escort", "taxi", "rideshare", "public"), weights=(70, 12, 15, 3))[0],
        side_effects=effects, waste_recorded=rng.random() >= 0.01)
