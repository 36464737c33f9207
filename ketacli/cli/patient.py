"""`patient add | edit | list | show`."""

from __future__ import annotations

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import Address, Dob, Json, Mrn, Name, Phone, Reason, Sex

app = typer.Typer(help="Add, edit, list and show patients.", no_args_is_help=True)


@app.command("add")
@command
def add(
    mrn: Mrn,
    name: Name,
    dob: Dob = None,
    sex: Sex = None,
    phone: Phone = None,
    address: Address = None,
    json_out: Json = False,
) -> None:
    """Add a patient by the clinic's MRN (unique without regard to case)."""
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK, to_utc_iso, today
    from ketacli.domain import validate
    from ketacli.domain.forms import Demographics
    from ketacli.domain.records import NewPatient
    from ketacli.render.out import emit
    from ketacli.store import patients

    s = settings()
    mrn = validate.mrn(mrn)
    person = Demographics(name, dob, sex, phone, address).validated(today(s.tz))
    store = s.store()
    with store.write() as tx:
        patients.add(tx, NewPatient(mrn=mrn, name=person.name, dob=person.dob, sex=person.sex,
                                    phone=person.phone, created_at=to_utc_iso(CLOCK.now()),
                                    created_by=store.actor.clinician, address=person.address))
    result = patients.as_dict(patients.get(store, mrn))

    def human(con):
        from ketacli.render.patients import added_line

        con.print(added_line(result))

    emit(result, json_out, human)


@app.command("edit")
@command
def edit(
    mrn: Mrn,
    name: Name = None,
    dob: Dob = None,
    sex: Sex = None,
    phone: Phone = None,
    address: Address = None,
    reason: Reason = None,
    json_out: Json = False,
) -> None:
    """Correct or update a patient's demographics (--reason required, at least one field).

    The earlier values are kept and audited with the reason; 'patient show' lists the
    changes (field names only). Exports use the current values.
    """
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK, to_utc_iso, today
    from ketacli.domain import identity, validate
    from ketacli.domain.forms import Demographics
    from ketacli.render.out import emit
    from ketacli.store import patients

    s = settings()
    mrn = validate.mrn(mrn)
    person = Demographics(name, dob, sex, phone, address)
    store = s.store(create=False)
    at = to_utc_iso(CLOCK.now())
    with store.write() as tx:
        row = patients.get(tx, mrn)
        change = identity.edit(row, person, reason, today(s.tz))
        patients.edit(tx, row, change, at=at)
    result = patients.as_dict(patients.get(store, mrn)) | {
        "changed": change.fields, "reason": change.reason, "at": at}

    def human(con):
        from ketacli.render.patients import edited_line

        con.print(edited_line(result))

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
    """Demographics (and their changes), screenings, assessments with PHQ-9 item 9 and
    C-SSRS, sessions, pending follow-ups, and whether the next start is refused for
    suicide risk."""
    from ketacli.cli.settings import settings
    from ketacli.domain import validate
    from ketacli.render.out import emit
    from ketacli.store import overview

    s = settings()
    data = overview.patient_overview(s.store(create=False), validate.mrn(mrn), s.protocol, s.tz)

    def human(con):
        from ketacli.render.patients import patient_overview

        con.print(patient_overview(data, s.tz))

    emit(data, json_out, human)
