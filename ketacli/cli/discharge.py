"""`discharge` and `summary`."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.common import command, emit, settings
from ketacli.cli.options import At, Json, Note
from ketacli.cli.vitals import PatientOpt, SessionArg


def register(app: typer.Typer) -> None:
    app.command("discharge", short_help="Discharge: criteria, doses, side effects, follow-ups.")(
        discharge)
    app.command("summary", short_help="The session panel for the chart.")(summary)


@command
def discharge(
    session_id: SessionArg = None,
    patient: PatientOpt = None,
    aldrete: Annotated[int | None, typer.Option(
        "--aldrete", help="Modified Aldrete total 0-10.")] = None,
    aldrete_items: Annotated[str | None, typer.Option(
        "--aldrete-items", help="Five items 0-2: activity, respiration, circulation, "
        "consciousness, SpO2.")] = None,
    bp: Annotated[str | None, typer.Option("--bp", help="Discharge BP SYS/DIA.")] = None,
    hr: Annotated[int | None, typer.Option("--hr", help="Discharge heart rate, /min.")] = None,
    spo2: Annotated[int | None, typer.Option("--spo2", help="Discharge SpO2, %.")] = None,
    transport: Annotated[str | None, typer.Option(
        "--transport", help="escort, taxi, rideshare, public, other (never self-drive).")] = None,
    escort: Annotated[str | None, typer.Option("--escort", help="Who takes the patient home.")] = None,
    infusion_end: Annotated[str | None, typer.Option(
        "--infusion-end", help="When the infusion ended. Default: the stop event, else start + "
        "duration (+ pauses).")] = None,
    delivered_mg: Annotated[float | None, typer.Option(
        "--delivered-mg", help="mg delivered. Default: planned, pro-rated for pauses/stop.")] = None,
    side_effect: Annotated[list[str] | None, typer.Option(
        "--side-effect", help="CODE[:mild|moderate|severe], repeatable: dizziness, "
        "difficulty-speaking, nausea, vomiting, headache, blurred-vision, dissociation, "
        "hypertension, tachycardia, anxiety, drowsiness, other.")] = None,
    wasted_mg: Annotated[float | None, typer.Option(
        "--wasted-mg", help="mg wasted (needs --waste-witness).")] = None,
    waste_witness: Annotated[str | None, typer.Option(
        "--waste-witness", help="Who witnessed the waste.")] = None,
    at: At = None,
    override: Annotated[str | None, typer.Option(
        "--override", help="Discharge despite unmet criteria, with this reason (audited).")] = None,
    no_schedule: Annotated[bool, typer.Option(
        "--no-schedule", help="Do not schedule follow-ups.")] = False,
    note: Note = None,
    json_out: Json = False,
) -> None:
    """Close the session: discharge criteria, delivered dose, side effects, follow-ups.

    Every unmet criterion is listed at once (exit 1) unless --override REASON.
    No driving until the next day: self-drive is never accepted.
    """
    from ketacli.clock import CLOCK, parse_at, to_utc_iso
    from ketacli.clock import from_iso as _dt
    from ketacli.domain import discharge as rules
    from ketacli.domain import infusion, ledger, safety, validate, vitals
    from ketacli.errors import Invalid, Refused
    from ketacli.store import followups, sessions
    from ketacli.store.db import dumps

    s = settings()
    proto = s.protocol
    items = (validate.int_list(aldrete_items, "--aldrete-items", count=5, lo=0, hi=2)
             if aldrete_items is not None else None)
    score = rules.aldrete_total(aldrete, items)
    if bp is None or hr is None:
        raise Invalid("--bp and --hr are required at discharge", code="missing_value")
    sbp, dbp = validate.bp(bp)
    vitals.check_plausible({"hr": hr, "spo2": spo2})
    if transport is None:
        raise Invalid("--transport is required: escort, taxi, rideshare, public or other "
                      "(no driving until the next day)", code="missing_value")
    transport = transport.strip().lower()
    if transport not in rules.TRANSPORTS and transport not in rules.SELF_DRIVE:
        raise Invalid("--transport must be escort, taxi, rideshare, public or other",
                      code="invalid_choice")
    escort = validate.free_text(escort, "--escort", max_len=120)
    effects = list(dict.fromkeys(rules.side_effect(v) for v in side_effect or []))
    validate.number(delivered_mg, "--delivered-mg", *infusion.AMOUNT_MG)
    wasted = validate.number(wasted_mg, "--wasted-mg", *infusion.AMOUNT_MG) or 0.0
    witness = validate.free_text(waste_witness, "--waste-witness", max_len=120)
    ledger.check_waste_witness(wasted, witness, s.who)
    override = validate.free_text(override, "--override", max_len=500)
    note = validate.free_text(note, "--note", multiline=True)
    when = parse_at(at, s.tz)
    end_explicit = parse_at(infusion_end, s.tz, option="--infusion-end") if infusion_end else None

    from ketacli.cli.vitals import _session

    store, sess = _session(session_id, patient)
    started = _dt(sess["started_at"])
    if when < started or (end_explicit and not started <= end_explicit <= when):
        raise Invalid("times out of order: start <= infusion end <= discharge", code="time_order")
    ev = sessions.infusion_events(store, sess["id"])
    # default end: the stop event, else start + duration (a discharge before it ends the
    # infusion then); the delivered dose is pro-rated for pauses, rate changes and a stop
    course = infusion.course_to_default_end(
        started, sess["dose_mg"], sess["rate_mg_per_h"], sess["duration_min"], ev,
        end_at=end_explicit, not_after=when)
    end_at = course.end_at
    delivered = delivered_mg if delivered_mg is not None else course.delivered_mg
    unaccounted = ledger.check_amounts(sess["drawn_mg"], delivered, wasted)
    minutes_since_end = (when - end_at).total_seconds() / 60
    crit = rules.criteria(aldrete=score, minutes_since_end=minutes_since_end, sbp=sbp, dbp=dbp,
                          hr=hr, transport=transport, protocol=proto)
    unmet = [c for c in crit if not c.met]
    now_iso = to_utc_iso(CLOCK.now())
    when_iso = to_utc_iso(when)
    refused = safety.refused(unmet, override)
    planned = [] if no_schedule else rules.schedule(
        sess["number_in_series"], when.astimezone(s.tz).date(), proto.schedule)
    created = []
    with store.write() as tx:
        sessions.ensure_open(tx, sess["id"])
        if refused:
            tx.audit("refuse", "discharge", sess["id"], patient=sess["mrn"], at=now_iso,
                     detail={"unmet": [c.name for c in unmet],
                             "override_offered": override is not None})
        else:
            dis_alerts = [a.as_dict() for a in vitals.alerts(
                {"sbp": sbp, "dbp": dbp, "hr": hr, "spo2": spo2}, proto.alerts)]
            sessions.add_observation(tx, {
                "session_id": sess["id"], "phase": "discharge", "at": when_iso,
                "recorded_at": now_iso, "clinician": store.actor.clinician,
                "minutes_into_infusion": infusion.minutes_between(started, when),
                "sbp": sbp, "dbp": dbp, "hr": hr, "spo2": spo2, "alerts": dumps(dis_alerts),
            }, mrn=sess["mrn"])
            sessions.discharge(tx, {
                "session_id": sess["id"], "at": when_iso, "recorded_at": now_iso,
                "clinician": store.actor.clinician, "infusion_end_at": to_utc_iso(end_at),
                "aldrete_total": score, "aldrete_items": dumps(items) if items else None,
                "delivered_mg": delivered, "wasted_mg": wasted, "waste_witness": witness,
                "transport": transport, "escort": escort,
                "criteria": dumps([c.as_dict() for c in crit]),
                "override": override if unmet else None, "note": note,
            }, mrn=sess["mrn"], side_effects=effects, detail={
                "delivered_mg": round(delivered, 3), "wasted_mg": wasted,
                "waste_witness": witness, "overridden": [c.name for c in unmet],
            })
            for p in planned:
                fid = followups.add(tx, patient_id=sess["patient_id"], mrn=sess["mrn"],
                                    kind=p.kind, due=p.due.isoformat(), at=now_iso,
                                    session_id=sess["id"], note=p.note)
                created.append({"followup_id": fid, "kind": p.kind, "due": p.due.isoformat()})
    if refused:
        raise Refused(
            "discharge criteria not met: " + "; ".join(
                c.detail + ("" if c.overridable else " (not overridable)") for c in unmet),
            code="discharge_refused", details=[c.as_dict() for c in unmet],
            hint=safety.override_hint(unmet),
        )
    from ketacli.cli.common import warn
    from ketacli.domain.summary import build

    if unaccounted > ledger.TOLERANCE_MG:
        warn(f"{unaccounted:.1f} mg drawn for session {sess['id']} is neither administered nor "
             "wasted: the controlled-substance ledger will flag it")
    summ = build(sessions.load(store, sess["id"]))
    data = {"session_id": sess["id"], "discharged_at": when_iso,
            "criteria": [c.as_dict() for c in crit], "override": override if unmet else None,
            "followups": created, "summary": summ}

    def human(con):
        from ketacli.render.session import followup_lines, summary_panel

        con.print(summary_panel(summ, s.tz))
        con.print(followup_lines(created))

    emit(data, json_out, human)



@command
def summary(
    session_id: Annotated[int, typer.Argument(help="Session id.")],
    json_out: Json = False,
) -> None:
    """The session panel for the chart: dose, every observation, events, discharge, monitoring."""
    from ketacli.domain.summary import build
    from ketacli.store import sessions

    s = settings()
    data = build(sessions.load(s.store(create=False), session_id))

    def human(con):
        from ketacli.render.session import summary_panel

        con.print(summary_panel(data, s.tz))

    emit(data, json_out, human)
