"""`start-session MRN --bp SYS/DIA --hr BPM [options]`."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import At, Bp, Cosign, Hr, Json, Mrn, Override, Spo2, Weight


@command
def start_session(
    mrn: Mrn,
    bp: Bp,
    hr: Hr,
    dose: Annotated[float | None, typer.Option(
        "--dose", help="Dose, mg/kg of the recorded weight. Default: protocol.")] = None,
    duration: Annotated[float | None, typer.Option(
        "--duration", help="Infusion minutes. Default: protocol.")] = None,
    weight: Weight = None,
    concentration: Annotated[float | None, typer.Option(
        "--concentration", help="mg/mL of the prepared infusion (gives mL/h).")] = None,
    lot: Annotated[str | None, typer.Option("--lot", help="Ketamine lot number.")] = None,
    drawn_mg: Annotated[float | None, typer.Option(
        "--drawn-mg", help="mg drawn from stock for this patient. Default: the dose.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="IV site, e.g. 'left antecubital'.")] = None,
    chair: Annotated[str | None, typer.Option(
        "--chair", help="Chair or room, shown on the board (e.g. 'Chair 2').")] = None,
    spo2: Spo2 = None,
    at: At = None,
    override: Override = None,
    cosign: Cosign = None,
    json_out: Json = False,
) -> None:
    """Start an infusion: pre-infusion vitals, dosing weight, dose (mg/kg, mg), rates
    (mg/h, mL/h) and the volume to draw.

    Refuses (exit 1, every unmet rule listed) without a valid screening, on a
    needs-review screening, at the pre-infusion holds (BP, low SBP, HR, SpO2), above the
    maximum dose, too soon after the last infusion, or on a --weight far from the
    screening's (pounds for kilograms), or on a suicide risk flagged at an assessment since
    the screening (PHQ-9 item 9 >= 1 or a C-SSRS needing review) that no later C-SSRS of
    risk none or low has answered; --override REASON --cosign NAME proceeds and is audited.
    An ineligible screening, a high C-SSRS risk since it and the hard dose limits are never
    overridable.
    --weight defaults to the screening's.
    """
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK, to_utc_iso
    from ketacli.domain import start
    from ketacli.domain.forms import StartForm
    from ketacli.domain.safety import Override as Ovr
    from ketacli.render.out import emit, warn
    from ketacli.store import patients, sessions

    s = settings()
    form = StartForm.parse(
        mrn=mrn, at=at, bp=bp, hr=hr, spo2=spo2, dose=dose, duration=duration, weight=weight,
        concentration=concentration, drawn_mg=drawn_mg, lot=lot, site=site, tz=s.tz,
        override=Ovr.parse(override, cosign, clinician=s.who, rules=s.protocol.overrides),
        dose_protocol=s.protocol.dose, chair=chair)
    store = s.store(create=False)  # the patient must exist, so must the database
    patient = patients.get(store, form.mrn)
    with store.write() as tx:
        ctx = sessions.start_context(tx, patient, to_utc_iso(form.when), tz=s.tz)
        decision = start.decide(form, ctx, s.protocol, tz=s.tz, clinician=store.actor.clinician,
                                now=CLOCK.now())
        if decision.refused:
            sessions.refuse_start(tx, decision)
        else:
            session_id = sessions.record_start(tx, decision)
    if decision.refused:
        raise decision.refusal(s.protocol)
    if decision.weight.note:
        warn(decision.weight.note)

    def human(con):
        from ketacli.render.session import start_panel

        con.print(start_panel(decision.result(session_id) | {"name": patient["name"]}, s.tz))

    emit(decision.result(session_id), json_out, human)
