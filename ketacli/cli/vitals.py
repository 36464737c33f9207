"""`log-vitals` and `log-event`: what happens during the infusion."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.common import command, emit, settings
from ketacli.cli.options import At, Json, Note

SessionArg = Annotated[int | None, typer.Argument(
    help="Session id (or use --patient MRN for the patient's open session).", show_default=False)]
PatientOpt = Annotated[str | None, typer.Option(
    "--patient", help="The patient's open session instead of a SESSION_ID.")]
EVENT_KINDS = ("pause", "resume", "rate-change", "stop", "medication", "adverse")


def register(app: typer.Typer) -> None:
    app.command("log-vitals", short_help="Record vital signs; alerts from the protocol.")(
        log_vitals)
    app.command("log-event", short_help="Pause, resume, rate change, stop, medication...")(
        log_event)


def _session(session_id, patient):
    from ketacli.domain import validate
    from ketacli.errors import Invalid
    from ketacli.store import sessions

    if (session_id is None) == (patient is None):
        raise Invalid("give a SESSION_ID or --patient MRN (one of them)", code="missing_value")
    mrn = validate.mrn(patient) if patient is not None else None
    store = settings().store(create=False)
    return store, sessions.resolve_open(store, session_id, mrn)


@command
def log_vitals(
    session_id: SessionArg = None,
    patient: PatientOpt = None,
    bp: Annotated[str | None, typer.Option("--bp", help="SYS/DIA, mmHg.")] = None,
    hr: Annotated[int | None, typer.Option("--hr", help="Heart rate, /min (20-250).")] = None,
    spo2: Annotated[int | None, typer.Option("--spo2", help="SpO2, % (50-100).")] = None,
    rr: Annotated[int | None, typer.Option("--rr", help="Respiratory rate, /min (0-60).")] = None,
    etco2: Annotated[int | None, typer.Option("--etco2", help="End-tidal CO2, mmHg (0-100).")] = None,
    moaas: Annotated[int | None, typer.Option("--moaas", help="Sedation, MOAA/S 0-5 (5 alert).")] = None,
    dissociation: Annotated[int | None, typer.Option(
        "--dissociation", help="Dissociation rating 0-10.")] = None,
    at: At = None,
    note: Note = None,
    json_out: Json = False,
) -> None:
    """Record vital signs during or after the infusion; alerts print prominently."""
    from ketacli.clock import CLOCK, parse_at, to_utc_iso
    from ketacli.clock import from_iso as _dt
    from ketacli.domain import infusion, validate, vitals
    from ketacli.errors import Invalid
    from ketacli.store import sessions
    from ketacli.store.db import dumps

    s = settings()
    parsed = validate.bp(bp)
    values = {"sbp": parsed[0] if parsed else None, "dbp": parsed[1] if parsed else None,
              "hr": hr, "spo2": spo2, "rr": rr, "etco2": etco2, "moaas": moaas,
              "dissociation": dissociation}
    if all(v is None for v in values.values()):
        raise Invalid("give at least one measure (--bp, --hr, --spo2, --rr, --etco2, --moaas, "
                      "--dissociation)", code="missing_value")
    vitals.check_plausible(values)
    when = parse_at(at, s.tz)
    note = validate.free_text(note, "--note", multiline=True)
    proto = s.protocol
    store, sess = _session(session_id, patient)
    started = _dt(sess["started_at"])
    if when < started:
        raise Invalid("--at is before the infusion started", code="before_start")
    ev = sessions.infusion_events(store, sess["id"])
    end = infusion.default_end(started, sess["duration_min"], ev)
    phase = "intra" if when <= end else "post"
    alerts = [a.as_dict() for a in vitals.alerts(values, proto.alerts)]
    minutes = infusion.minutes_between(started, when)
    now_iso = to_utc_iso(CLOCK.now())
    with store.write() as tx:
        sessions.ensure_open(tx, sess["id"])
        oid = sessions.add_observation(tx, {
            "session_id": sess["id"], "phase": phase, "at": to_utc_iso(when),
            "recorded_at": now_iso, "clinician": store.actor.clinician,
            "minutes_into_infusion": minutes, **values, "alerts": dumps(alerts), "note": note,
        }, mrn=sess["mrn"])
    data = {"observation_id": oid, "session_id": sess["id"], "recorded_at": to_utc_iso(when),
            "minutes_into_infusion": minutes, "phase": phase,
            **{k: v for k, v in values.items() if v is not None}, "alerts": alerts}

    def human(con):
        from ketacli.render.session import observation_lines

        con.print(observation_lines(data, sess["mrn"]))

    emit(data, json_out, human)


@command
def log_event(
    target: Annotated[str | None, typer.Argument(
        metavar="[SESSION_ID]", help="Session id (or --patient MRN).", show_default=False)] = None,
    kind: Annotated[str | None, typer.Argument(
        metavar="KIND",
        help="pause, resume, rate-change (needs --rate), stop (ended early), medication, adverse.",
        show_default=False)] = None,
    patient: PatientOpt = None,
    detail: Annotated[str | None, typer.Option(
        "--detail", help="What was given or happened (needed for medication and adverse).")] = None,
    rate: Annotated[float | None, typer.Option("--rate", help="New rate, mg/h (rate-change).")] = None,
    at: At = None,
    json_out: Json = False,
) -> None:
    """Record an infusion event: pause, resume, rate-change, stop, medication, adverse."""
    from ketacli.clock import CLOCK, parse_at, to_utc_iso
    from ketacli.clock import from_iso as _dt
    from ketacli.domain import infusion, validate
    from ketacli.errors import Conflict, Invalid
    from ketacli.store import sessions

    session_id = None
    if patient is not None:
        if kind is not None:
            raise Invalid("give a SESSION_ID or --patient MRN (one of them)", code="missing_value")
        kind = target
    elif target is not None:
        if not (target.isascii() and target.isdigit()):  # "²".isdigit() is True, int("²") fails
            raise Invalid("SESSION_ID must be a number (or use --patient MRN)", code="invalid_id")
        session_id = int(target)
    if kind is None:
        raise Invalid("give the event KIND: " + ", ".join(EVENT_KINDS), code="missing_value")
    kind = kind.strip().lower()
    if kind not in EVENT_KINDS:
        raise Invalid(f"KIND must be one of {', '.join(EVENT_KINDS)}", code="invalid_choice")
    if kind == "rate-change":
        if rate is None:
            raise Invalid("rate-change needs --rate MG_PER_H", code="missing_value")
        validate.number(rate, "--rate", 0.1, 2000)
    elif rate is not None:
        raise Invalid("--rate only goes with rate-change", code="invalid_option")
    detail = validate.free_text(detail, "--detail", max_len=500)
    if kind in ("medication", "adverse") and not detail:
        raise Invalid(f"{kind} needs --detail (what was given or happened)", code="missing_value")
    when = parse_at(at, settings().tz)
    store, sess = _session(session_id, patient)
    started = _dt(sess["started_at"])
    if when < started:
        raise Invalid("--at is before the infusion started", code="before_start")
    now_iso = to_utc_iso(CLOCK.now())
    with store.write() as tx:
        sessions.ensure_open(tx, sess["id"])
        recorded = sessions.infusion_events(tx, sess["id"])
        conflict = infusion.event_conflict(recorded, kind, when)
        if conflict:
            raise Conflict(f"session {sess['id']}: {conflict[1]}", code=conflict[0])
        eid = sessions.add_event(tx, {
            "session_id": sess["id"], "kind": kind, "at": to_utc_iso(when),
            "recorded_at": now_iso, "clinician": store.actor.clinician, "detail": detail,
            "rate_mg_per_h": rate,
        }, mrn=sess["mrn"])
    data = {"event_id": eid, "session_id": sess["id"], "kind": kind, "at": to_utc_iso(when),
            "minutes_into_infusion": infusion.minutes_between(started, when),
            "detail": detail, "rate_mg_per_h": rate}

    def human(con):
        from rich.text import Text

        extra = f" to {rate:g} mg/h" if rate else ""
        con.print(Text(f"Event {eid}: {kind}{extra} at {data['minutes_into_infusion']:g} min "
                       f"(session {sess['id']}, {sess['mrn']})"))

    emit(data, json_out, human)
