"""`patient add | list | show`."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.common import command, emit, settings
from ketacli.cli.options import Json, Mrn

app = typer.Typer(help="Add, list and show patients.", no_args_is_help=True)


@app.command("add")
@command
def add(
    mrn: Mrn,
    name: Annotated[str, typer.Option("--name", help="Full name (shown to clinicians only).")],
    dob: Annotated[str | None, typer.Option("--dob", help="Date of birth, YYYY-MM-DD.")] = None,
    sex: Annotated[str | None, typer.Option("--sex", help="F, M, X or U.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="Phone for reminders.")] = None,
    json_out: Json = False,
) -> None:
    """Add a patient by the clinic's MRN."""
    from ketacli.clock import CLOCK, to_utc_iso, today
    from ketacli.domain import validate
    from ketacli.store import patients

    s = settings()
    row = {
        "mrn": validate.mrn(mrn),
        "name": validate.name(name),
        "dob": (d := validate.dob(dob, today(s.tz))) and d.isoformat(),
        "sex": validate.sex(sex),
        "phone": validate.phone(phone),
    }
    store = s.store()
    at = to_utc_iso(CLOCK.now())
    with store.write() as tx:
        patients.add(tx, at=at, **row)
    result = patients.as_dict(patients.get(store, row["mrn"]))

    def human(con):
        from rich.text import Text

        con.print(Text.assemble("Added patient ", (result["mrn"], "bold"), "."))

    emit(result, json_out, human)


@app.command("list")
@command
def list_(json_out: Json = False) -> None:
    """List patients with their session count and pending follow-ups."""
    from ketacli.store import patients

    s = settings()
    rows = patients.listing(s.store(create=False))
    data = [
        {**patients.as_dict(r), "sessions": r["sessions"], "last_session": r["last_session"],
         "pending_followups": r["pending_followups"]}
        for r in rows
    ]

    def human(con):
        from ketacli.render.patients import patient_table

        con.print(patient_table(data, s.tz))

    emit(data, json_out, human)


@app.command("show")
@command
def show(mrn: Mrn, json_out: Json = False) -> None:
    """Demographics, screenings, sessions and pending follow-ups of one patient."""
    from ketacli.domain import validate
    from ketacli.store import records

    s = settings()
    data = records.patient_overview(s.store(create=False), validate.mrn(mrn))

    def human(con):
        from ketacli.render.patients import patient_overview

        con.print(patient_overview(data, s.tz))

    emit(data, json_out, human)
