"""`patient add | list | show`."""

from __future__ import annotations

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import Dob, Json, Mrn, Name, Phone, Sex

app = typer.Typer(help="Add, list and show patients.", no_args_is_help=True)


@app.command("add")
@command
def add(
    mrn: Mrn,
    name: Name,
    dob: Dob = None,
    sex: Sex = None,
    phone: Phone = None,
    json_out: Json = False,
) -> None:
    """Add a patient by the clinic's MRN."""
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK, to_utc_iso, today
    from ketacli.domain import validate
    from ketacli.domain.forms import Demographics
    from ketacli.domain.records import NewPatient
    from ketacli.render.out import emit
    from ketacli.store import patients

    s = settings()
    mrn = validate.mrn(mrn)
    person = Demographics(name, dob, sex, phone).validated(today(s.tz))
    store = s.store()
    with store.write() as tx:
        patients.add(tx, NewPatient(mrn=mrn, name=person.name, dob=person.dob, sex=person.sex,
                                    phone=person.phone, created_at=to_utc_iso(CLOCK.now()),
                                    created_by=store.actor.clinician))
    result = patients.as_dict(patients.get(store, mrn))

    def human(con):
        from ketacli.render.patients import added_line

        con.print(added_line(result))

    emit(result, json_out, human)


@app.command("list")
@command
def list_(json_out: Json = False) -> None:
    """List patients with their session count and pending follow-ups."""
    from ketacli.cli.settings import settings
    from ketacli.render.out import emit
    from ketacli.store import patients

    s = settings()
    data = patients.summaries(s.store(create=False))

    def human(con):
        from ketacli.render.patients import patient_table

        con.print(patient_table(data, s.tz))

    emit(data, json_out, human)


@app.command("show")
@command
def show(mrn: Mrn, json_out: Json = False) -> None:
    """Demographics, screenings, sessions and pending follow-ups of one patient."""
    from ketacli.cli.settings import settings
    from ketacli.domain import validate
    from ketacli.render.out import emit
    from ketacli.store import overview

    s = settings()
    data = overview.patient_overview(s.store(create=False), validate.mrn(mrn))

    def human(con):
        from ketacli.render.patients import patient_overview

        con.print(patient_overview(data, s.tz))

    emit(data, json_out, human)
