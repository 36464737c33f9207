"""A synthetic clinic: screened patients, induction series, follow-ups, outcomes.

Deterministic for a given --seed and "now". Vital signs follow the published
pattern (BP rises and peaks around 40 minutes, about +16/+11 mmHg); decisions,
alerts, discharge criteria and follow-ups come from the same domain rules and
protocol as real records, so the demo shows exactly what the program does.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from ketacli.domain import discharge as dis_rules
from ketacli.domain import infusion, ledger, scales, screening, vitals

FIRST = ("Alex", "Bailey", "Casey", "Dana", "Eden", "Frankie", "Gray", "Harper", "Indy", "Jordan",
         "Kai", "Logan", "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Riley", "Sage", "Taylor",
         "Umi", "Val", "Wren", "Yael", "Zion")
LAST = ("Abbott", "Brooks", "Castillo", "Dunn", "Ellis", "Fischer", "Garcia", "Hughes", "Ibarra",
        "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quintero",
        "Rossi", "Schmidt", "Tanaka", "Underwood", "Vargas", "Whitfield", "Xu", "Young", "Zhou")
INDICATIONS = (("trd", 55), ("mdd", 15), ("ptsd", 10), ("anxiety", 8), ("bipolar-depression", 7),
               ("ocd", 3), ("pain", 2))
SIDE_EFFECT_RATES = (("dizziness", 0.30), ("dissociation", 0.25), ("nausea", 0.15),
                     ("drowsiness", 0.15), ("blurred-vision", 0.10), ("headache", 0.10),
                     ("difficulty-speaking", 0.08), ("anxiety", 0.05), ("vomiting", 0.03),
                     ("hypertension", 0.02))
CLINICIANS = ("rn.alvarez", "rn.baker", "rn.chen", "dr.okoye")
DEMO_OVERRIDE = "reviewed by the attending physician: benefit outweighs risk (demo)"
def _second(nurse: str) -> str:
    """The co-signer of a demo override: the next clinician on the list (no RNG drawn)."""
    return CLINICIANS[(CLINICIANS.index(nurse) + 1) % len(CLINICIANS)]


DEMO_DISCHARGE_OVERRIDE = "waste to be reconciled with the pharmacy log (demo)"


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def dumps(v) -> str:
    return json.dumps(v, separators=(",", ":"), sort_keys=True)


@dataclass
class Batch:
    """Rows for one batch, per table, ids assigned."""

    ids: dict[str, int]
    rows: dict[str, list[dict]] = field(default_factory=dict)
    patients: list[str] = field(default_factory=list)

    def add(self, table: str, row: dict) -> int:
        rid = self.ids[table]
        self.ids[table] = rid + 1
        self.rows.setdefault(table, []).append({"id": rid, **row})
        return rid


def _phq9_items(rng: random.Random, total: int, item9: int) -> list[int]:
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
    return items


def _gad7_items(rng: random.Random, total: int) -> list[int]:
    total = max(0, min(21, total))
    items = [0] * 7
    for _ in range(total):
        choices = [i for i in range(7) if items[i] < 3]
        items[rng.choice(choices)] += 1
    return items


class Clinic:
    def __init__(self, protocol, tz, now: datetime, seed: int, patients: int,
                 first_number: int = 1) -> None:
        self.p = protocol
        self.tz = tz
        self.now = now
        self.rng = random.Random(seed)
        self.n = patients
        self.first = first_number
        # a clinic of N patients has been open for a while: ~0.73 days per patient, 4 months to 10 years
        self.span_days = int(min(3650, max(120, patients * 0.73)))

    # -- patients -------------------------------------------------------------
    def generate(self, batch: Batch, index: int) -> None:
        rng = self.rng
        number = self.first + index
        mrn = f"DEMO-{number:05d}"
        batch.patients.append(mrn)
        # the last patients arrived recently so that the demo shows work in progress
        if index >= self.n - max(2, self.n // 10):
            days_ago = rng.uniform(0.5, 16)
        else:
            days_ago = rng.uniform(16, self.span_days)
        first_seen = self.now - timedelta(days=days_ago)
        first_seen = self._clinic_hour(first_seen, 8, 9)
        age = rng.randint(19, 78)
        dob = date(first_seen.year - age, rng.randint(1, 12), rng.randint(1, 28))
        pid = batch.add("patients", {
            "mrn": mrn, "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "dob": dob.isoformat(),
            "sex": rng.choice("FFFMMMX"), "phone": f"+1 555 01{number % 100:02d}", "demo": 1,
            "created_at": iso(first_seen), "created_by": "demo",
        })
        weight = round(min(150, max(45, rng.gauss(80, 16))), 1)
        height = round(min(200, max(150, rng.gauss(170, 9))))
        bp_s = int(min(200, max(95, rng.gauss(123, 11))))
        bp_d = int(min(bp_s - 25, max(55, rng.gauss(79, 8))))
        conditions: list[str] = []
        u = rng.random()
        if u < 0.04:
            conditions.append(rng.choice(self.p.screening.ineligible_conditions))
        elif u < 0.14:
            conditions.append(rng.choice(self.p.screening.review_conditions))
        meds = [m for m, rate in (("benzodiazepine", 0.12), ("lamotrigine", 0.06),
                                  ("stimulant", 0.05), ("opioid", 0.04),
                                  ("sedative-hypnotic", 0.08)) if rng.random() < rate]
        baseline = rng.randint(11, 25)
        item9 = 1 if rng.random() < 0.12 else 0
        kind = rng.choices(("responder", "partial", "non"), weights=(45, 20, 35))[0]
        effect = {"responder": rng.uniform(0.55, 0.9), "partial": rng.uniform(0.28, 0.45),
                  "non": rng.uniform(0.0, 0.18)}[kind]
        gad_base = rng.randint(6, 18)
        madrs_base = min(60, max(20, int(baseline * 1.6 + rng.gauss(0, 3))))
        state = {"pid": pid, "mrn": mrn, "weight": weight, "height": height, "bp": (bp_s, bp_d),
                 "conditions": conditions, "meds": meds, "baseline": baseline, "item9": item9,
                 "effect": effect, "gad": gad_base, "madrs": madrs_base,
                 "indication": rng.choices([i for i, _ in INDICATIONS],
                                           weights=[w for _, w in INDICATIONS])[0]}
        sc = self._screen(batch, state, first_seen, k=0)
        if sc["decision"] == "ineligible":
            return
        if sc["decision"] == "needs-review" and rng.random() < 0.3:
            return  # not started: awaiting review
        if index == self.n - 1 and self.n >= 3:
            # the last patient is in the chair right now: one open session, 25 minutes in
            self._series(batch, state, sc, self.now - timedelta(minutes=25), in_chair=True)
            return
        self._series(batch, state, sc, first_seen + timedelta(days=rng.choice((2, 3, 4, 5, 7))))

    def _clinic_hour(self, dt: datetime, lo: int, hi: int) -> datetime:
        local = dt.astimezone(self.tz)
        minute = self.rng.randrange(0, 60, 5)
        local = local.replace(hour=self.rng.randint(lo, hi), minute=minute, second=0, microsecond=0)
        return local.astimezone(UTC)

    def _scores_at(self, state: dict, k: float) -> tuple[int, int, int, int]:
        """PHQ-9, item 9, GAD-7, MADRS after k infusions (response builds over the series)."""
        rng = self.rng
        drop = state["effect"] * (1 - math.exp(-k / 1.8))
        phq = round(state["baseline"] * (1 - drop) + rng.gauss(0, 1.3))
        gad = round(state["gad"] * (1 - drop * 0.9) + rng.gauss(0, 1.2))
        madrs = round(state["madrs"] * (1 - drop) + rng.gauss(0, 2.0))
        item9 = state["item9"] if k < 2 else 0
        return (max(item9, min(27, phq)), item9, max(0, min(21, gad)), max(0, min(60, madrs)))

    def _screen(self, batch: Batch, state: dict, at: datetime, k: float) -> dict:
        rng = self.rng
        phq, item9, gad, madrs = self._scores_at(state, k)
        phq_items = _phq9_items(rng, phq, item9)
        score = scales.from_items("phq9", phq_items)
        s, d = state["bp"]
        s2 = int(min(210, max(90, s + rng.gauss(0, 7))))
        d2 = int(min(s2 - 20, max(50, d + rng.gauss(0, 5))))
        decision = screening.decide(
            screening.ScreeningInput(s2, d2, tuple(state["conditions"]), tuple(state["meds"]),
                                     score), self.p.screening)
        gad_items = _gad7_items(rng, gad)
        local_day = at.astimezone(self.tz).date()
        row = {
            "patient_id": state["pid"], "at": iso(at), "recorded_at": iso(at),
            "clinician": rng.choice(CLINICIANS), "weight_kg": state["weight"],
            "height_cm": float(state["height"]), "sbp": s2, "dbp": d2,
            "hr": rng.randint(58, 92), "spo2": rng.randint(95, 100),
            "indication": state["indication"], "phq9_items": dumps(phq_items),
            "phq9_total": score.total, "gad7_items": dumps(gad_items), "gad7_total": sum(gad_items),
            "madrs_total": madrs, "pcl5_total": rng.randint(35, 60) if state["indication"] == "ptsd"
            else None, "conditions": dumps(state["conditions"]), "meds": dumps(state["meds"]),
            "decision": decision.decision, "reasons": dumps(decision.reasons),
            "suicide_risk_flag": int(decision.suicide_risk_flag),
            "valid_until": screening.valid_until(local_day, self.p.screening).isoformat(),
            "note": None,
        }
        sid = batch.add("screenings", row)
        return {"id": sid, "decision": decision.decision, "at": at,
                "valid_until": date.fromisoformat(row["valid_until"]), "meds": state["meds"]}

    def _series(self, batch: Batch, state: dict, sc: dict, start: datetime,
                in_chair: bool = False) -> None:
        rng = self.rng
        p = self.p
        induction = p.schedule.induction_sessions
        maintenance = min(int(rng.expovariate(1 / 25)), 120) if rng.random() < 0.7 else 0
        if state["effect"] < 0.2 and rng.random() < 0.6:
            maintenance = 0  # non-responders often stop after induction
        total = induction + maintenance
        if rng.random() < 0.08:
            total = rng.randint(1, induction - 1)  # dropped out during induction
        at = self._clinic_hour(start, 8, 15)
        if in_chair:
            total, at = 1, start.replace(microsecond=0)
        lot_month = None
        pending_infusion = None
        for n in range(1, total + 1):
            if at > self.now - timedelta(hours=3) and not in_chair:
                break
            if at.astimezone(self.tz).date() > sc["valid_until"]:
                sc = self._screen(batch, state, at - timedelta(minutes=30), k=n - 1)
                if sc["decision"] == "ineligible":
                    return
            # a pre-infusion assessment (PHQ-9, GAD-7) on the day of each infusion
            if n > 1:
                self._assessment(batch, state, at - timedelta(minutes=20), k=n - 1)
            month = at.astimezone(self.tz).strftime("%y%m")
            if month != lot_month:
                lot_month = month
            lot = f"KET-{month}{'AB'[at.day % 2]}"
            if pending_infusion is not None:
                pending_infusion.update(status="done", closed_at=iso(at), closed_by="demo",
                                        cancel_reason=None)
            last = self._session(batch, state, sc, at, n, lot, is_last=(n == total),
                                 in_chair=in_chair)
            if last is None:
                return
            discharged_at, followups = last
            pending_infusion = next((f["row"] for f in followups if f["kind"] == "infusion"), None)
            # 24 h after: check-in call with a PHQ-9
            call_at = discharged_at + timedelta(days=1)
            if call_at < self.now:
                self._assessment(batch, state, self._clinic_hour(call_at, 9, 16), k=n + 0.3)
            if n == induction:
                day7 = discharged_at + timedelta(days=p.schedule.assessment_after_days)
                if day7 < self.now:
                    aid_at = self._clinic_hour(day7, 9, 16)
                    fid = next((f for f in followups if f["kind"] == "assessment"), None)
                    self._assessment(batch, state, aid_at, k=n + 0.5, followup=fid)
            gap = (p.schedule.induction_interval_days + rng.choice((0, 0, 1))
                   if n < induction else p.schedule.maintenance_interval_days + rng.randint(-3, 5))
            if n > induction:
                # weekly check-ins (PHQ-9, GAD-7) between maintenance infusions
                for week in (7, 14, 21):
                    if week < gap - 2:
                        self._assessment(batch, state, self._clinic_hour(
                            discharged_at + timedelta(days=week), 9, 16), k=n + 0.5)
            at = self._clinic_hour(discharged_at + timedelta(days=gap), 8, 15)

    def _assessment(self, batch: Batch, state: dict, at: datetime, k: float,
                    followup: dict | None = None) -> None:
        if at > self.now:
            return
        phq, item9, gad, madrs = self._scores_at(state, k)
        items = _phq9_items(self.rng, phq, item9)
        gitems = _gad7_items(self.rng, gad)
        if followup is not None:
            followup["row"].update(status="done", closed_at=iso(at), closed_by="demo")
        batch.add("assessments", {
            "patient_id": state["pid"], "followup_id": followup["id"] if followup else None,
            "at": iso(at), "recorded_at": iso(at), "clinician": self.rng.choice(CLINICIANS),
            "phq9_items": dumps(items), "phq9_total": sum(items), "gad7_items": dumps(gitems),
            "gad7_total": sum(gitems), "madrs_total": madrs if followup else None,
            "pcl5_total": None, "note": None,
        })

    def _session(self, batch: Batch, state: dict, sc: dict, at: datetime, n: int, lot: str,
                 is_last: bool, in_chair: bool = False):
        rng, p = self.rng, self.p
        override = None
        overridden: list[str] = []
        if sc["decision"] == "needs-review":
            override, overridden = DEMO_OVERRIDE, ["needs-review"]
        mg_kg = p.dose.default_mg_per_kg if rng.random() < 0.8 else rng.choice((0.6, 0.7, 0.75))
        minutes = float(p.dose.default_duration_min)
        plan = infusion.plan(state["weight"], mg_kg, minutes, 10.0)
        drawn = math.ceil(plan.dose_mg / 10) * 10.0  # whole 10 mg steps from a 50 mg/mL vial
        nurse = rng.choice(CLINICIANS[:3])
        s0, d0 = state["bp"]
        pre_s = int(min(158, max(95, s0 + rng.gauss(0, 6))))
        pre_d = int(min(pre_s - 25, min(98, max(55, d0 + rng.gauss(0, 5)))))
        sid = batch.add("sessions", {
            "patient_id": state["pid"], "screening_id": sc["id"], "number_in_series": n,
            "started_at": iso(at), "recorded_at": iso(at), "clinician": nurse,
            "weight_kg": state["weight"], "dose_mg_per_kg": mg_kg, "dose_mg": plan.dose_mg,
            "duration_min": minutes, "rate_mg_per_h": plan.rate_mg_per_h,
            "concentration_mg_per_ml": 10.0, "rate_ml_per_h": plan.rate_ml_per_h, "lot": lot,
            "drawn_mg": drawn, "site": rng.choice(("left antecubital", "right antecubital",
                                                   "left forearm", "right hand")),
            "override": override, "overridden": dumps(overridden),
            "cosign": _second(nurse) if override else None,
            "dosing_weight_kg": state["weight"], "weight_basis": "actual",
        })
        # events: occasional pause/resume, antiemetic, early stop
        events: list[infusion.Event] = []
        ev_rows = []
        if rng.random() < 0.05:
            t = at + timedelta(minutes=rng.randint(15, 30))
            events += [infusion.Event("pause", t), infusion.Event("resume", t + timedelta(minutes=5))]
            ev_rows += [("pause", t, "patient asked for a break", None),
                        ("resume", t + timedelta(minutes=5), None, None)]
        if rng.random() < 0.01:
            t = at + timedelta(minutes=rng.randint(20, 35))
            events.append(infusion.Event("stop", t))
            ev_rows.append(("stop", t, "stopped early: patient distressed", None))
        course = infusion.course(at, plan.dose_mg, plan.rate_mg_per_h, events)
        end = course.end_at
        # the last infusion of a patient who is in the chair right now stays open
        open_now = in_chair
        # vitals every 5 minutes during the infusion and for 30 minutes after
        peak_s, peak_d = rng.gauss(15, 5), rng.gauss(10, 3)
        obs_rows = []
        t_min = 0
        horizon = (end - at).total_seconds() / 60 + 35
        diss_peak = rng.randint(1, 8)
        hr_base = rng.gauss(74, 8)
        while t_min <= horizon:
            t = at + timedelta(minutes=t_min)
            if t > self.now:
                break
            shape = math.exp(-(((t_min - 40) / 22) ** 2))
            values = {
                "sbp": int(min(240, max(90, pre_s + peak_s * shape + rng.gauss(0, 4)))),
                "hr": int(min(140, max(50, hr_base + 6 * shape + rng.gauss(0, 2.5)))),
                "spo2": int(min(100, max(86, rng.gauss(97.5, 1.2) - (2 if rng.random() < 0.01 else 0)))),
            }
            values["dbp"] = int(min(values["sbp"] - 25, max(50, pre_d + peak_d * shape + rng.gauss(0, 3))))
            if t_min == 0:
                phase = "pre"
                values["moaas"], values["dissociation"] = 5, 0
                values["rr"] = rng.randint(12, 18)
            else:
                phase = "intra" if t <= end else "post"
                values["rr"] = int(max(10, rng.gauss(15, 1.5))) if rng.random() > 0.003 else 9
                values["moaas"] = (5 if shape < 0.3 else rng.choice((5, 4, 4, 4, 3))
                                   if rng.random() > 0.004 else 2)
                values["dissociation"] = round(diss_peak * shape)
            alerts = [a.as_dict() for a in vitals.alerts(values, p.alerts)]
            obs_rows.append((phase, t, t_min, values, alerts))
            t_min += 5
        for phase, t, t_min, values, alerts in obs_rows:
            batch.add("observations", {
                "session_id": sid, "phase": phase, "at": iso(t), "recorded_at": iso(t),
                "clinician": nurse, "minutes_into_infusion": float(t_min), **values,
                "etco2": None, "alerts": dumps(alerts), "note": None,
            })
        for kind, t, detail, rate in ev_rows:
            if t <= self.now:
                batch.add("events", {"session_id": sid, "kind": kind, "at": iso(t),
                                     "recorded_at": iso(t), "clinician": nurse, "detail": detail,
                                     "rate_mg_per_h": rate})
        if rng.random() < 0.04 and at + timedelta(minutes=35) <= self.now:
            t = at + timedelta(minutes=35)
            batch.add("events", {"session_id": sid, "kind": "medication", "at": iso(t),
                                 "recorded_at": iso(t), "clinician": nurse,
                                 "detail": "ondansetron 4 mg IV for nausea", "rate_mg_per_h": None})
        discharged_at = end + timedelta(minutes=rng.choice((30, 35, 40, 45, 60)))
        if open_now or discharged_at > self.now:
            return None
        effects = [code for code, rate in SIDE_EFFECT_RATES if rng.random() < rate]
        dis_s = int(min(155, max(95, pre_s + rng.gauss(2, 5))))
        dis_d = int(min(dis_s - 25, min(95, max(55, pre_d + rng.gauss(1, 4)))))
        dis_hr = rng.randint(60, 95)
        aldrete = 10 if rng.random() < 0.85 else 9
        transport = rng.choices(("escort", "taxi", "rideshare", "public"), weights=(70, 12, 15, 3))[0]
        batch.add("observations", {
            "session_id": sid, "phase": "discharge", "at": iso(discharged_at),
            "recorded_at": iso(discharged_at), "clinician": nurse,
            "minutes_into_infusion": round((discharged_at - at).total_seconds() / 60, 1),
            "sbp": dis_s, "dbp": dis_d, "hr": dis_hr, "spo2": rng.randint(95, 100), "rr": None,
            "etco2": None, "moaas": 5, "dissociation": 0,
            "alerts": dumps([a.as_dict() for a in vitals.alerts(
                {"sbp": dis_s, "dbp": dis_d, "hr": dis_hr}, p.alerts)]), "note": None,
        })
        delivered = ledger.mg(course.delivered_mg)  # amounts kept to 0.1 mg, as the commands keep them
        wasted = ledger.mg(drawn - delivered)
        if rng.random() < 0.01:
            wasted = 0.0  # waste never recorded: the ledger shows a discrepancy
        crit = dis_rules.criteria(dis_rules.Readiness(
            aldrete=aldrete, minutes_since_end=(discharged_at - end).total_seconds() / 60,
            sbp=dis_s, dbp=dis_d, hr=dis_hr, spo2=None, transport=transport,
            unaccounted_mg=round(drawn - delivered - wasted, 1)), p)
        unmet = [c.name for c in crit if not c.met]
        batch.add("discharges", {
            "session_id": sid, "at": iso(discharged_at), "recorded_at": iso(discharged_at),
            "clinician": nurse, "infusion_end_at": iso(end), "aldrete_total": aldrete,
            "aldrete_items": None, "delivered_mg": delivered, "wasted_mg": wasted,
            "waste_witness": (rng.choice([c for c in CLINICIANS if c != nurse])
                              if wasted > 0 else None),
            "transport": transport, "escort": "family member" if transport == "escort" else None,
            "criteria": dumps([c.as_dict() for c in crit]), "note": None,
            "override": DEMO_DISCHARGE_OVERRIDE if unmet else None,
            "cosign": _second(nurse) if unmet else None,
            "overridden": dumps(unmet),
        })
        for code in effects:
            batch.add("side_effects", {
                "session_id": sid, "code": code,
                "severity": rng.choices(("mild", "moderate", "severe"), weights=(80, 18, 2))[0],
                "recorded_at": iso(discharged_at), "clinician": nurse,
            })
        planned = dis_rules.schedule(n, discharged_at.astimezone(self.tz).date(), p.schedule)
        today = self.now.astimezone(self.tz).date()
        made = []
        for f in planned:
            due = f.due
            status = "pending"
            closed = None
            if f.kind == "call" and due < today:
                status, closed = "done", iso(discharged_at + timedelta(days=1, hours=2))
            elif f.kind == "infusion" and due < today - timedelta(days=21):
                # the patient ended treatment; the clinic cancelled the open booking
                status = "cancelled"
                closed = iso(discharged_at + timedelta(days=(due - discharged_at.date()).days + 7))
            row = {"patient_id": state["pid"], "session_id": sid, "kind": f.kind,
                   "due": due.isoformat(), "status": status, "created_at": iso(discharged_at),
                   "created_by": nurse, "note": f.note, "closed_at": closed,
                   "closed_by": "demo" if status != "pending" else None,
                   "cancel_reason": "treatment ended" if status == "cancelled" else None,
                   "notified_at": None}
            fid = batch.add("followups", row)
            row_ref = batch.rows["followups"][-1]
            # an assessment completes its follow-up through this row reference
            made.append({"id": fid, "kind": f.kind, "row": row_ref})
        return discharged_at, made

    def batch(self, ids: dict[str, int], lo: int, hi: int) -> Batch:
        """Patients lo..hi-1, with row ids starting at `ids` (read inside the write)."""
        b = Batch(ids=dict(ids))
        for i in range(lo, hi):
            self.generate(b, i)
        return b
