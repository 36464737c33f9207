"""The root Typer app: global settings, command registration, usage errors.

Command modules import only Typer at module level; the domain, store and Rich
are imported inside the commands, so `ketacli --help` and cron runs start fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer import _click as click
from typer.core import TyperGroup

from ketacli import __version__


class KetaGroup(TyperGroup):
    """Usage errors as one `error:` line (exit 2), never a box or a traceback."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        argv = list(sys.argv[1:] if args is None else args)
        try:
            rv = super().main(
                args=argv, prog_name=prog_name or "ketacli", complete_var=complete_var,
                standalone_mode=False, **extra,
            )
        except click.exceptions.ClickException as exc:
            code = _usage_error(exc, argv)
            if standalone_mode:
                sys.exit(code)
            return code
        except typer.Abort:
            sys.stderr.write("error: aborted\n")
            if standalone_mode:
                sys.exit(130)
            return 130
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


def _usage_error(exc, argv: list[str]) -> int:
    from ketacli.render.out import print_json
    from ketacli.render.out import write as _write

    if type(exc).__name__ == "NoArgsIsHelpError":
        ctx = getattr(exc, "ctx", None)
        _write(sys.stdout, (ctx.get_help() if ctx else "") + "\n")
        return 0
    message = " ".join(exc.format_message().split())
    if message.startswith("Got unexpected extra argument"):
        # the extra words are often the rest of an unquoted name or note: never echo them
        message = "Got unexpected extra argument(s); quote values that contain spaces"
    _write(sys.stderr, f"error: {message}\n")
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        _write(sys.stderr, f"hint: see '{ctx.command_path} --help'\n")
    if "--json" in argv:
        print_json({"error": {"code": "usage_error", "message": message}})
    return exc.exit_code if exc.exit_code in (1, 2) else 2


app = typer.Typer(
    name="ketacli",
    cls=KetaGroup,
    help="Record IV ketamine infusion care: screening, infusion vitals, discharge, follow-up.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"ketacli {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def main(
    db: Annotated[
        Path | None,
        typer.Option("--db", envvar="KETACLI_DB", help="Database file. Default: ketacli.db in "
                     "the user data directory.", show_default=False),
    ] = None,
    clinician: Annotated[
        str | None,
        typer.Option("--clinician", envvar="KETACLI_CLINICIAN",
                     help="Who records. Default: the OS login name.", show_default=False),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option("--tz", envvar="KETACLI_TZ", help="Clinic time zone (IANA name). "
                     "Default: the system zone.", show_default=False),
    ] = None,
    protocol: Annotated[
        Path | None,
        typer.Option("--protocol", envvar="KETACLI_PROTOCOL",
                     help="Clinic protocol TOML overriding the built-in defaults.",
                     show_default=False),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """ketacli: the record of a ketamine clinic's treatment days, kept in one SQLite file."""
    from ketacli.cli.settings import Settings, set_settings

    set_settings(Settings(db=db, clinician=clinician, tz_name=tz or None, protocol_path=protocol))


def _register() -> None:
    """The visible list of commands, in the order `ketacli --help` shows them."""
    from ketacli.cli import (
        audit,
        board,
        db,
        demo,
        discharge,
        export,
        followup,
        patient,
        protocol,
        report,
        screen,
        session,
        sessions,
        trend,
        vitals,
        void,
        waste,
    )

    app.add_typer(patient.app, name="patient")
    app.command("screen", short_help="Screening: vitals, scales, decision and reasons.")(
        screen.screen)
    app.command("start-session", short_help="Start an infusion: dose, rates, safety checks.")(
        session.start_session)
    app.command("log-vitals", short_help="Record vital signs; alerts from the protocol.")(
        vitals.log_vitals)
    app.command("log-event", short_help="Pause, resume, rate change, stop, medication...")(
        vitals.log_event)
    app.command("discharge", short_help="Discharge: criteria, doses, side effects, follow-ups.")(
        discharge.discharge)
    app.command("summary", short_help="The session panel for the chart.")(discharge.summary)
    app.command("board", short_help="The chairs at a glance: what is due, what is overdue.")(
        board.board)
    app.command("sessions", short_help="Sessions as rows: open, by day, by patient.")(
        sessions.sessions)
    app.command("void", short_help="Mark a record entered-in-error (kept, skipped).")(void.void)
    app.command("waste", short_help="Ketamine wasted for a session, witnessed.")(waste.waste)
    app.add_typer(followup.app, name="followup")
    app.command("trend", short_help="Response over time: chart, change, status.")(trend.trend)
    app.add_typer(report.app, name="report")
    app.command("export", short_help="CSV, JSON, NDJSON or FHIR R4; de-identified.")(
        export.export)
    app.command("audit", short_help="The hash-chained audit log; --verify.")(audit.audit)
    app.add_typer(db.app, name="db")
    app.add_typer(protocol.app, name="protocol")
    app.command("demo", short_help="Build a synthetic clinic to explore.")(demo.demo)


_register()


def run() -> None:
    """The console-script entry point."""
    if os.environ.get("KETACLI_DEBUG") != "1":
        sys.tracebacklimit = 0
    app()
