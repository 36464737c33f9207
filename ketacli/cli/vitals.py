"""`log-vitals` and `log-event`: what happens during the infusion."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import At, Bp, Hr, Json, Note, PatientOpt, SessionArg, Spo2


@command
def log_vitals(
    session_id: SessionArg = None,
    patient: PatientOpt = None,
    bp: Bp = None,
    hr: Hr = None,
    spo2: Spo2 = None,
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
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK
    from ketacli.domain import charting
    from ketacli.domain.forms import SessionTarget, VitalsForm
    from ketacli.render.out import emit_lines
    from ketacli.store import sessions

    s = settings()
    form = VitalsForm.parse(bp=bp, hr=hr, spo2=spo2, rr=rr, etco2=etco2, moaas=moaas,
                            dissociation=dissociation, at=at, note=note, tz=s.tz)
    target = SessionTarget.parse(session_id, patient)
    store = s.store(create=False)
    sess = sessions.resolve_open(store, target)
    charting.check_after_start(sess, form.when)
    with store.write() as tx:
        sessions.ensure_open(tx, sess.session_id)
        obs = charting.observation(form, sess, sessions.infusion_events(tx, sess.session_id),
                                   s.protocol.alerts, clinician=store.actor.clinician,
                                   now=CLOCK.now())
        observation_id = sessions.add_observation(tx, obs, mrn=sess.mrn)
    data = charting.observation_result(obs, observation_id)

    def human():
        from ketacli.render.lines import observation_lines

        return observation_lines(data, sess.mrn)

    emit_lines(data, json_out, human)


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
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK
    from ketacli.domain import charting
    from ketacli.domain.forms import EventForm
    from ketacli.render.out import emit
    from ketacli.store import sessions

    s = settings()
    form = EventForm.parse(target=target, kind=kind, patient=patient, detail=detail, rate=rate,
                           at=at, tz=s.tz)
    store = s.store(create=False)
    sess = sessions.resolve_open(store, form.target)
    charting.check_after_start(sess, form.when)
    with store.write() as tx:
        sessions.ensure_open(tx, sess.session_id)
        ev = charting.event(form, sess, sessions.infusion_events(tx, sess.session_id),
                            clinician=store.actor.clinician, now=CLOCK.now())
        event_id = sessions.add_event(tx, ev, mrn=sess.mrn)
    data = charting.event_result(ev, event_id, sess)

    def human(con):
        from ketacli.render.session import event_line

        con.print(event_line(data, sess.mrn))

    emit(data, json_out, human)
