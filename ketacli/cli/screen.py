"""`screen MRN --weight KG --bp SYS/DIA --hr BPM [options]`."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import (
    Address,
    At,
    Bp,
    CssrsOpt,
    Dob,
    Gad7,
    Hr,
    Json,
    Madrs,
    Mrn,
    Name,
    Note,
    Pcl5,
    Phone,
    Phq9,
    Sex,
    Spo2,
    Weight,
)


@command
def screen(
    mrn: Mrn,
    weight: Weight,
    bp: Bp,
    hr: Hr,
    height: Annotated[float | None, typer.Option("--height", help="Height, cm.")] = None,
    spo2: Spo2 = None,
    indication: Annotated[str | None, typer.Option(
        "--indication", help="trd, mdd, bipolar-depression, anxiety, ptsd, ocd, pain, other.")] = None,
    phq9: Phq9 = None,
    gad7: Gad7 = None,
    madrs: Madrs = None,
    pcl5: Pcl5 = None,
    cssrs: CssrsOpt = None,
    condition: Annotated[list[str] | None, typer.Option(
        "--condition", help="Condition code (repeatable; see 'protocol show').")] = None,
    med: Annotated[list[str] | None, typer.Option(
        "--med", help="Medication class (repeatable): benzodiazepine, lamotrigine, stimulant, "
        "maoi, opioid, sedative-hypnotic, other.")] = None,
    name: Name = None,
    dob: Dob = None,
    sex: Sex = None,
    phone: Phone = None,
    address: Address = None,
    note: Note = None,
    at: At = None,
    json_out: Json = False,
) -> None:
    """Record a pre-treatment screening and its decision (eligible / needs-review / ineligible).

    Creates the patient if new (then --name is required); for a known MRN a different
    --name or --dob is refused (exit 3: check the MRN, or 'ketacli patient edit'). With
    --cssrs, PHQ-9 item 9 >= 1 is answered by a C-SSRS risk of none or low; a moderate risk
    needs review, a high one is ineligible. The decision is never a refusal: screen exits 0
    whatever it decides.
    """
    from ketacli.cli import prompts
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK, to_utc_iso, today
    from ketacli.domain import identity, screening
    from ketacli.domain.forms import Demographics, ScreenForm
    from ketacli.render.out import emit, warn
    from ketacli.store import patients, screenings

    s = settings()
    form = ScreenForm.parse(
        mrn=mrn, at=at, weight=weight, height=height, bp=bp, hr=hr, spo2=spo2,
        indication=indication, condition=condition, med=med, phq9=phq9, gad7=gad7, madrs=madrs,
        pcl5=pcl5, note=note, person=Demographics(name, dob, sex, phone, address), tz=s.tz,
        screening_protocol=s.protocol.screening, cssrs=cssrs)
    store = s.store()
    now = to_utc_iso(CLOCK.now())
    existing = patients.find(store, form.mrn)
    new = screening.new_patient(form, exists=existing is not None, today=today(s.tz),
                                clinician=store.actor.clinician, at=now)
    ignored = identity.check_screen(existing, form.person, today(s.tz)) if existing else []
    if ignored:
        warn(f"patient {existing['mrn']} exists: {'/'.join(ignored)} ignored "
             "(change them with 'ketacli patient edit')")
    if form.scales.phq9 is None and not json_out and prompts.interactive():
        form = form.with_phq9(prompts.phq9())
    decision = screening.assess(form, s.protocol.screening)
    mrn = existing["mrn"] if existing else form.mrn
    with store.write() as tx:
        pid = patients.add(tx, new) if new else existing["id"]
        sid = screenings.add(tx, screening.record(
            form, decision, pid, clinician=store.actor.clinician, recorded_at=now, tz=s.tz,
            screening_protocol=s.protocol.screening), mrn=mrn)
    full = screenings.as_result(screenings.get(store, sid), mrn) | {
        "name": existing["name"] if existing else new.name}
    if form.scales.phq9 is None and not json_out:
        warn("no PHQ-9 recorded: response trends need a baseline score")

    def human(con):
        from ketacli.render.screening import screening_panel

        con.print(screening_panel(full, s.tz))

    emit(screenings.screen_result(full, new_patient=new is not None), json_out, human)
