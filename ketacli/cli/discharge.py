"""`discharge` and `summary`."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import (
    At,
    Bp,
    Cosign,
    Hr,
    Json,
    Note,
    Override,
    PatientOpt,
    SessionArg,
    Spo2,
)


@command
def discharge(
    session_id: SessionArg = None,
    patient: PatientOpt = None,
    aldrete: Annotated[int | None, typer.Option(
        "--aldrete", help="Modified Aldrete total 0-10.")] = None,
    aldrete_items: Annotated[str | None, typer.Option(
        "--aldrete-items", help="Five items 0-2: activity, respiration, circulation, "
        "consciousness, SpO2.")] = None,
    bp: Bp = None,
    hr: Hr = None,
    spo2: Spo2 = None,
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
    override: Override = None,
    cosign: Cosign = None,
    no_schedule: Annotated[bool, typer.Option(
        "--no-schedule", help="Do not schedule follow-ups.")] = False,
    note: Note = None,
    json_out: Json = False,
) -> None:
    """Close the session: discharge criteria, delivered dose, side effects, follow-ups.

    Every unmet criterion is listed at once (exit 1) unless --override REASON --cosign
    NAME. No driving until the next day: self-drive is never accepted.
    """
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK
    from ketacli.domain import discharging
    from ketacli.domain.forms import DischargeForm, SessionTarget
    from ketacli.domain.safety import Override as Ovr
    from ketacli.domain.summary import build
    from ketacli.render.out import emit, warn
    from ketacli.store import sessions

    s = settings()
    form = DischargeForm.parse(
        aldrete=aldrete, aldrete_items=aldrete_items, bp=bp, hr=hr, spo2=spo2,
        transport=transport, escort=escort, side_effect=side_effect, delivered_mg=delivered_mg,
        wasted_mg=wasted_mg, waste_witness=waste_witness, note=note, at=at,
        override=Ovr.parse(override, cosign, clinician=s.who, rules=s.protocol.overrides),
        infusion_end=infusion_end, clinician=s.who, tz=s.tz)
    store = s.store(create=False)
    sess = sessions.resolve_open(store, SessionTarget.parse(session_id, patient))
    with store.write() as tx:
        sessions.ensure_open(tx, sess.session_id)
        decision = discharging.decide(
            form, sess, sessions.infusion_events(tx, sess.session_id), s.protocol, tz=s.tz,
            clinician=store.actor.clinician, now=CLOCK.now(), schedule=not no_schedule)
        if decision.refused:
            sessions.refuse_discharge(tx, decision)
        else:
            created = sessions.record_discharge(tx, decision)
    if decision.refused:
        raise decision.refusal(s.protocol)
    if message := decision.ledger_warning():
        warn(message)
    data = decision.result(created, build(sessions.load(store, sess.session_id),
                                          s.protocol.monitoring))

    def human(con):
        from ketacli.render.session import followup_lines, summary_panel

        con.print(summary_panel(data["summary"], s.tz))
        con.print(followup_lines(created))

    emit(data, json_out, human)


@command
def summary(
    session_id: Annotated[int | None, typer.Argument(
        help="Session id (or use --patient MRN for the patient's latest session).",
        show_default=False)] = None,
    patient: Annotated[str | None, typer.Option(
        "--patient", help="The patient's latest session instead of a SESSION_ID.")] = None,
    json_out: Json = False,
) -> None:
    """The session panel for the chart: dose, every observation, gaps in monitoring,
    events, discharge and the monitoring record."""
    from ketacli.cli.settings import settings
    from ketacli.domain.forms import SessionTarget
    from ketacli.domain.summary import build
    from ketacli.render.out import emit
    from ketacli.store import sessions

    s = settings()
    target = SessionTarget.parse(session_id, patient)
    store = s.store(create=False)
    sid = sessions.latest_id(store, target)
    data = build(sessions.load(store, sid), s.protocol.monitoring)

    def human(con):
        from ketacli.render.session import summary_panel

        con.print(summary_panel(data, s.tz))

    emit(data, json_out, human)
