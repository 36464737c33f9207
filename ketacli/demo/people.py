"""The synthetic patients of the demo clinic: who they are and how their scores move.

Nothing here touches the store or decides anything clinical: it draws the facts a
clinician would type (weights, blood pressures, questionnaire answers) from one
random generator per patient, so a clinic is the same for the same seed, and a demo
that was interrupted is completed patient by patient with the same people.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

FIRST = ("Alex", "Bailey", "Casey", "Dana", "Eden", "Frankie", "Gray", "Harper", "Indy", "Jordan",
         "Kai", "Logan", "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Riley", "Sage", "Taylor",
         "Umi", "Val", "Wren", "Yael", "Zion")
LAST = ("Abbott", "Brooks", "Castillo", "Dunn", "Ellis", "Fischer", "Garcia", "Hughes", "Ibarra",
        "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quintero",
        "Rossi", "Schmidt", "Tanaka", "Underwood", "Vargas", "Whitfield", "Xu", "Young", "Zhou")
INDICATIONS = (("trd", 55), ("mdd", 15), ("ptsd", 10), ("anxiety", 8), ("bipolar-depression", 7),
               ("ocd", 3), ("pain", 2))
MEDS = (("benzodiazepine", 0.12), ("lamotrigine", 0.06), ("stimulant", 0.05), ("opioid", 0.04),
        ("sedative-hypnotic", 0.08))
SIDE_EFFECT_RATES = (("dizziness", 0.30), ("dissociation", 0.25), ("nausea", 0.15),
                     ("drowsiness", 0.15), ("blurred-vision", 0.10), ("headache", 0.10),
                     ("difficulty-speaking", 0.08), ("anxiety", 0.05), ("vomiting", 0.03),
                     ("hypertension", 0.02))
CLINICIANS = ("rn.alvarez", "rn.baker", "rn.chen", "dr.okoye")
NURSES = CLINICIANS[:3]


def second(clinician: str) -> str:
    """The co-signer of a demo override or witness of a waste: the next clinician."""
    return CLINICIANS[(CLINICIANS.index(clinician) + 1) % len(CLINICIANS)]


def rng_for(seed: int, index: int) -> random.Random:
    """One generator per patient: patient `index` of a seed is the same whatever came
    before it (so an interrupted demo can be completed)."""
    return random.Random(f"ketacli-demo:{seed}:{index}")


@dataclass(frozen=True)
class Person:
    """A synthetic patient: identity, body, history and how they respond to ketamine."""

    mrn: str
    name: str
    dob: date
    sex: str
    phone: str
    first_seen: datetime
    weight_kg: float
    height_cm: int
    bp: tuple[int, int]
    conditions: tuple[str, ...]
    meds: tuple[str, ...]
    indication: str
    phq9_baseline: int
    item9: int
    effect: float  # the share of the baseline PHQ-9 the series takes away (0..0.9)
    gad7_baseline: int
    madrs_baseline: int


@dataclass(frozen=True)
class Scores:
    """Questionnaire answers on one day."""

    phq9: tuple[int, ...]
    gad7: tuple[int, ...]
    madrs: int


def clinic_hour(rng: random.Random, tz: tzinfo, dt: datetime, lo: int, hi: int) -> datetime:
    """`dt`'s day at a clinic hour between lo and hi (local), on a 5-minute mark."""
    local = dt.astimezone(tz)
    minute = rng.randrange(0, 60, 5)
    return local.replace(hour=rng.randint(lo, hi), minute=minute, second=0, microsecond=0)


def person(rng: random.Random, number: int, first_seen: datetime,
           ineligible: tuple[str, ...], review: tuple[str, ...]) -> Person:
    """Patient `number` (from 1); every eighth, from the second, answers PHQ-9 item 9
    (so that even a small demo shows a suicide-risk flag), others now and then."""
    age = rng.randint(19, 78)
    dob = date(first_seen.year - age, rng.randint(1, 12), rng.randint(1, 28))
    name, sex = f"{rng.choice(FIRST)} {rng.choice(LAST)}", rng.choice("FFFMMMX")
    weight = round(min(150, max(45, rng.gauss(80, 16))), 1)
    height = round(min(200, max(150, rng.gauss(170, 9))))
    sbp = int(min(200, max(95, rng.gauss(123, 11))))
    dbp = int(min(sbp - 25, max(55, rng.gauss(79, 8))))
    u = rng.random()
    conditions = ((rng.choice(ineligible),) if u < 0.04 and ineligible else
                  (rng.choice(review),) if 0.04 <= u < 0.14 and review else ())
    meds = tuple(m for m, rate in MEDS if rng.random() < rate)
    baseline = rng.randint(11, 25)
    item9 = 1 if rng.random() < 0.08 or number % 8 == 2 else 0
    kind = rng.choices(("responder", "partial", "non"), weights=(45, 20, 35))[0]
    effect = {"responder": (0.55, 0.9), "partial": (0.28, 0.45), "non": (0.0, 0.18)}[kind]
    gad = rng.randint(6, 18)
    madrs = min(60, max(20, int(baseline * 1.6 + rng.gauss(0, 3))))
    indication = rng.choices([i for i, _ in INDICATIONS], weights=[w for _, w in INDICATIONS])[0]
    return Person(f"DEMO-{number:05d}", name, dob, sex, f"+1 555 01{number % 100:02d}", first_seen,
                  weight, height, (sbp, dbp), conditions, meds, indication, baseline, item9,
                  rng.uniform(*effect), gad, madrs)


def scores_at(rng: random.Random, who: Person, k: float) -> Scores:
    """The answers after k infusions (the response builds over the series)."""
    drop = who.effect * (1 - math.exp(-k / 1.8))
    item9 = who.item9 if k < 2 else 0
    phq = max(item9, min(27, round(who.phq9_baseline * (1 - drop) + rng.gauss(0, 1.3))))
    gad = max(0, min(21, round(who.gad7_baseline * (1 - drop * 0.9) + rng.gauss(0, 1.2))))
    madrs = max(0, min(60, round(who.madrs_baseline * (1 - drop) + rng.gauss(0, 2.0))))
    return Scores(phq9_items(rng, phq, item9), gad7_items(rng, gad), madrs)


def phq9_items(rng: random.Random, total: int, item9: int) -> tuple[int, ...]:
    total = max(0, min(27, total))
    items = [0] * 9
    items[8] = min(item9, total, 3)
    left = total - items[8]
    order = list(range(8))
    while left > 0:
        rng.shuffle(order)
        progressed = False
        for i in order:
            if left and items[i] < 3:
                items[i] += 1
                left -= 1
                progressed = True
        if not progressed:
            items[8] = min(3, items[8] + left)
            break
    return tuple(items)


def gad7_items(rng: random.Random, total: int) -> tuple[int, ...]:
    total = max(0, min(21, total))
    items = [0] * 7
    for _ in range(total):
        items[rng.choice([i for i in range(7) if items[i] < 3])] += 1
    return tuple(items)


def arrival(rng: random.Random, index: int, patients: int, now: datetime,
            span_days: int) -> datetime:
    """When patient `index` was first seen: the last tenth arrived recently, so that the
    demo shows work in progress."""
    recent = index >= patients - max(2, patients // 10)
    days_ago = rng.uniform(0.5, 16) if recent else rng.uniform(16, span_days)
    return now - timedelta(days=days_ago)


def span_days(patients: int) -> int:
    """A clinic of N patients has been open a while: ~0.73 days per patient, 4 months to
    10 years."""
    return int(min(3650, max(120, patients * 0.73)))
