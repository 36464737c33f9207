"""`start-session MRN --bp SYS/DIA --hr BPM [options]`."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.common import command, emit, settings
from ketacli.cli.options import At, Json, Mrn


def register(app: typer.Typer) -> None:
    app.command("start-session", short_help="Start an infusion: dose, rates, safety checks.")(
        start_session)


@command
def start_session(
    mrn: Mrn,
    bp: Annotated[str, typer.Option("--bp", help="Pre-infusion BP SYS/DIA, mmHg.")],
    hr: Annotated[int, typer.Option("--hr", help="Pre-infusion heart rate, /min.")],
    dose: Annotated[float | None, typer.Option(
        "--dose", help="Dose, mg/kg of the recorded weight. Default: protocol.")] = None,
    duration: Annotated[float | None, typer.Option(
        "--duration", help="Infusion minutes. Default: protocol.")] = None,
    weight: Annotated[float | None, typer.Option(
        "--weight", help="kg. Default: weight at the valid screening.")] = None,
    concentration: Annotated[float | None, typer.Option(
        "--concentration", help="mg/mL of the prepared infusion (gives mL/h).")] = None,
    lot: Annotated[str | None, typer.Option("--lot", help="Ketamine lot number.")] = None,
    drawn_mg: Annotated[float | None, typer.Option(
        "--drawn-mg", help="mg drawn from stock for this patient. Default: the dose.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="IV site, e.g. 'left antecubital'.")] = None,
    spo2: Annotated[int | None, typer.Option("--spo2", help="Pre-infusion SpO2, %.")] = None,
    at: At = None,
    override: Annotated[str | None, typer.Option(
        "--override", help="Proceed despite refusals, with this reason (audited).")] = None,
    json_out: Json = False,
) -> None:
    """Start an infusion: pre-infusion vitals, dose (mg/kg, mg) and rates (mg/h, mL/h).

    Refuses (exit 1, every unmet rule listed) without a valid screening, on a
    needs-review screening, at or above the hold BP, above the maximum dose, or too
    soon after the last infusion; --override REASON proceeds and is audited. An
    ineligible screening is never overridable.
    """
    import json

    from ketacli.clock import CLOCK, parse_at, to_utc_iso
    from ketacli.domain import infusion, ledger, safety, validate, vitals
    from ketacli.errors import Conflict, Invalid, Refused
    from ketacli.store import followups, patients, screenings, sessions
    from ketacli.store.db import dumps

    s = settings()
    proto = s.protocol
    mrn = validate.mrn(mrn)
    when = parse_at(at, s.tz)
    sbp, dbp = validate.bp(bp)
    vitals.check_plausible({"hr": hr, "spo2": spo2})
    mg_per_kg = validate.number(
        dose if dose is not None else proto.dose.default_mg_per_kg, "--dose", *infusion.DOSE_MG_PER_KG
    )
    minutes = validate.number(
        duration if duration is not None else proto.dose.default_duration_min, "--duration",
        *infusion.DURATION_MIN,
    )
    validate.number(weight, "--weight", *infusion.WEIGHT_KG)
    validate.number(concentration, "--concentration", *infusion.CONCENTRATION_MG_PER_ML)
    validate.number(drawn_mg, "--drawn-mg", 0.1, infusion.AMOUNT_MG[1])
    lot = validate.lot(lot)
    site = validate.free_text(site, "--site", max_len=80)
    override = validate.free_text(override, "--override", max_len=500)

    store = s.store(create=False)  # the patient must exist, so must the database
    patient = patients.get(store, mrn)
    now_iso = to_utc_iso(CLOCK.now())
    start_iso = to_utc_iso(when)
    refused: list[infusion.Rule] = []
    with store.write() as tx:
        if sessions.open_for(tx, patient["id"]):
            raise Conflict(f"patient {mrn} already has an open session", code="open_session_exists",
                           hint="discharge it first ('ketacli discharge --patient MRN')")
        sc = screenings.latest(tx, patient["id"], start_iso)
        state = None
        if sc is not None:
            state = infusion.ScreeningState(
                sc["decision"], _date(sc["valid_until"]), tuple(json.loads(sc["reasons"]))
            )
        kg = weight if weight is not None else (sc["weight_kg"] if sc else None)
        if kg is None:
            raise Invalid("--weight is needed: no screening weight on record", code="missing_value")
        plan = infusion.plan(kg, mg_per_kg, minutes, concentration)
        drawn = drawn_mg if drawn_mg is not None else plan.dose_mg
        ledger.check_drawn(drawn, plan.dose_mg)
        last = sessions.last_started(tx, patient["id"])
        unmet = infusion.start_rules(
            screening=state, start_day=when.astimezone(s.tz).date(), sbp=sbp, dbp=dbp,
            dose_mg_per_kg=mg_per_kg, last_infusion_at=_dt(last), start_at=when, protocol=proto,
        )
        if safety.refused(unmet, override):
            tx.audit("refuse", "session", None, patient=mrn, at=now_iso, detail={
                "rules": [r.name for r in unmet], "override_offered": override is not None,
            })
            refused = unmet
        else:
            number = sessions.count_for(tx, patient["id"]) + 1
            sid = sessions.start(tx, {
                "patient_id": patient["id"], "screening_id": sc["id"] if sc else None,
                "number_in_series": number, "started_at": start_iso, "recorded_at": now_iso,
                "clinician": store.actor.clinician, "weight_kg": kg,
                "dose_mg_per_kg": mg_per_kg, "dose_mg": plan.dose_mg, "duration_min": minutes,
                "rate_mg_per_h": plan.rate_mg_per_h,
                "concentration_mg_per_ml": concentration, "rate_ml_per_h": plan.rate_ml_per_h,
                "lot": lot, "drawn_mg": drawn, "site": site,
                "override": override if unmet else None,
                "overridden": dumps([r.name for r in unmet]),
            }, mrn=mrn, detail={
                "dose_mg": round(plan.dose_mg, 3), "drawn_mg": drawn, "lot": lot,
                "overridden": [r.name for r in unmet],
            })
            pre_alerts = [a.as_dict() for a in vitals.alerts(
                {"sbp": sbp, "dbp": dbp, "hr": hr, "spo2": spo2}, proto.alerts)]
            sessions.add_observation(tx, {
                "session_id": sid, "phase": "pre", "at": start_iso, "recorded_at": now_iso,
                "clinician": store.actor.clinician, "minutes_into_infusion": 0.0,
                "sbp": sbp, "dbp": dbp, "hr": hr, "spo2": spo2, "alerts": dumps(pre_alerts),
            }, mrn=mrn)
            followups.complete_earliest(
                tx, patient_id=patient["id"], mrn=mrn, kind="infusion", on_or_before="9999-12-31",
                at=now_iso, reason=f"session {sid}",
            )
    if refused:
        lines = [r.message + ("" if r.overridable else " (not overridable)") for r in refused]
        raise Refused(
            "cannot start the infusion: " + "; ".join(lines),
            code="start_refused", details=[r.as_dict() for r in refused],
            hint=safety.override_hint(refused),
        )
    data = {
        "session_id": sid, "patient": mrn, "number_in_series": number, "weight_kg": kg,
        "dose_mg_per_kg": mg_per_kg, "dose_mg": plan.dose_mg, "duration_min": minutes,
        "rate_mg_per_h": plan.rate_mg_per_h, "rate_ml_per_h": plan.rate_ml_per_h,
        "started_at": start_iso, "override": override if unmet else None,
        "overridden": [r.name for r in unmet], "drawn_mg": drawn, "lot": lot,
        "pre_infusion_alerts": pre_alerts,
    }

    def human(con):
        from ketacli.render.session import start_panel

        con.print(start_panel(data, s.tz))

    emit(data, json_out, human)


def _date(text: str):
    from datetime import date

    return date.fromisoformat(text)


def _dt(text: str | None):
    from datetime import datetime

    return datetime.fromisoformat(text) if text else None
