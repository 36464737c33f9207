"""`sessions [--open] [--date DATE] [--patient MRN] [--since DATE] [--until DATE]`."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import Json, Since, Until


@command
def sessions(
    open_only: Annotated[bool, typer.Option("--open", help="Only open sessions.")] = False,
    day: Annotated[str | None, typer.Option(
        "--date", help="Sessions started on this clinic day (YYYY-MM-DD).")] = None,
    patient: Annotated[str | None, typer.Option("--patient", help="One patient's sessions (MRN).")] = None,
    since: Since = None,
    until: Until = None,
    json_out: Json = False,
) -> None:
    """Sessions as rows, oldest first: id, patient, number in series, start, status
    (open, discharged, voided), dose, chair, alerts and discharge time."""
    from ketacli.cli.settings import settings
    from ketacli.domain import validate
    from ketacli.domain.forms import Period
    from ketacli.errors import Code, Invalid
    from ketacli.render.out import emit
    from ketacli.store import floor, patients

    s = settings()
    if day is not None and (since is not None or until is not None):
        raise Invalid("--date is one day: use it without --since/--until",
                      code=Code.INVALID_PERIOD)
    period = Period.parse(day, day, s.tz) if day is not None else Period.parse(since, until, s.tz)
    mrn = validate.mrn(patient) if patient is not None else None
    store = s.store(create=False)
    pid = patients.get(store, mrn)["id"] if mrn is not None else None
    rows = floor.session_rows(store, open_only=open_only, patient_id=pid, lo=period.lo,
                              hi=period.hi)

    def human(con):
        from ketacli.render.board import sessions_table

        con.print(sessions_table(rows, s.tz))

    emit(rows, json_out, human)
