"""`report outcomes` (and later `report controlled`)."""

from __future__ import annotations

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import Json, Since, TableFormat, Until

app = typer.Typer(help="Clinic reports: outcomes, controlled-substance ledger.",
                  no_args_is_help=True)


@app.command("outcomes")
@command
def outcomes_report(since: Since = None, until: Until = None, json_out: Json = False) -> None:
    """Clinic figures: patients, sessions, mean dose, alerts, side effects, response and
    remission (PHQ-9) among patients who finished induction, overrides."""
    from ketacli.cli.settings import settings
    from ketacli.domain import outcomes
    from ketacli.domain.forms import Period
    from ketacli.render.out import emit
    from ketacli.store import reports

    s = settings()
    period = Period.parse(since, until, s.tz)
    induction = s.protocol.schedule.induction_sessions
    raw = reports.outcomes(s.store(create=False), since=period.lo, until=period.hi,
                           induction=induction)
    data = outcomes.clinic_figures(raw, period.as_dict(), induction)

    def human(con):
        from ketacli.render.reports import outcomes_view

        con.print(outcomes_view(data))

    emit(data, json_out, human)


@app.command("controlled")
@command
def controlled(
    since: Since = None,
    until: Until = None,
    fmt: TableFormat = "table",
    json_out: Json = False,
) -> None:
    """The controlled-substance ledger (ketamine, Schedule III): drawn, administered and
    wasted mg per session, totals per lot, discrepancies flagged."""
    import sys

    from ketacli.cli.settings import settings
    from ketacli.domain import ledger
    from ketacli.domain.followups import OUTPUT_FORMATS
    from ketacli.domain.forms import Period, choice
    from ketacli.render.out import emit
    from ketacli.store import reports

    s = settings()
    fmt = "json" if json_out else choice(fmt, OUTPUT_FORMATS, "--format")
    period = Period.parse(since, until, s.tz)
    rows = [dict(r) for r in reports.ledger(s.store(create=False), since=period.lo,
                                             until=period.hi)]
    data = ledger.report(rows, period.as_dict(), s.tz)
    if fmt == "csv":
        from ketacli.render.reports import ledger_csv

        ledger_csv(data, sys.stdout)
        return

    def human(con):
        from ketacli.render.reports import ledger_view

        con.print(ledger_view(data))

    emit(data, fmt == "json", human)
