"""`log-vitals` and `log-event`: what happens during the infusion."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import At, Bp, Hr, Json, Late, Note, PatientOpt, SessionArg, Spo2


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
    late: Late = None,
    json_out: Json = False,
) -> None:
    """Record vital signs during or after the infusion; alerts print prominently.

    On a discharged session only as a late entry: --late REASON and --at the time taken.
    """
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK
    from ketacli.domain import charting, corrections
    from ketacli.domain.forms import SessionTarget, VitalsForm
    from ketacli.render.out import emit_lines
    from ketacli.store import sessions

    s = settings()
    form = VitalsForm.parse(bp=bp, hr=hr, spo2=spo2, rr=rr, etco2=etco2, moaas=moaas,
                            dissociation=dissociation, at=at, note=note, tz=s.tz)
    late = corrections.late_reason(late)
    store = s.store(create=False)
    sid = sessions.resolve_id(store, SessionTarget.parse(session_id, patient),
                              late=late is not None)
    with store.write() as tx:
        sess = sessions.ref(sessions.get(tx, sid))
        reason = corrections.charted(sess, form.when, late, now=CLOCK.now(), tz=s.tz,
                                     hours=s.protocol.records.late_entry_hours)
        obs = charting.observation(form, sess, sessions.infusion_events(tx, sid),
                                   s.protocol.alerts, clinician=store.actor.clinician,
                                   now=CLOCK.now(), late_reason=reason)
        corrections.one_value_per_instant(sid, form.values, sessions.readings_at(tx, sid, obs.at),
                                          charted_time=at is not None)
        observation_id = sessions.add_observation(tx, obs, mrn=sess.mrn)
    data = charting.observation_result(obs, observation_id)

    def human():
        from ketacli.render.lines import observation_lines

        return observation_lines(data, sess.who)

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
    late: Late = None,
    json_out: Json = False,
) -> None:
    """Record an infusion event: pause, resume, rate-change, stop, medication, adverse.

    On a discharged session only medication and adverse, as a late entry (--late REASON).
    """
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK
    from ketacli.domain import charting, corrections
    from ketacli.domain.forms import EventForm
    from ketacli.render.out import emit
    from ketacli.store import sessions

    s = settings()
    form = EventForm.parse(target=target, kind=kind, patient=patient, detail=detail, rate=rate,
                           at=at, tz=s.tz)
    late = corrections.late_reason(late)
    store = s.store(create=False)
    sid = sessions.resolve_id(store, form.target, late=late is not None)
    with store.write() as tx:
        sess = sessions.ref(sessions.get(tx, sid))
        reason = corrections.charted(sess, form.when, late, now=CLOCK.now(), tz=s.tz,
                                     hours=s.protocol.records.late_entry_hours, kind=form.kind)
        ev = charting.event(form, sess, sessions.infusion_events(tx, sid),
                            clinician=store.actor.clinician, now=CLOCK.now(), late_reason=reason)
        event_id = sessions.add_event(tx, ev, mrn=sess.mrn)
    data = charting.event_result(ev, event_id, sess)

    def human(con):
        from ketacli.render.session import event_line

        con.print(event_line(data, sess.who))

    emit(data, json_out, human)
