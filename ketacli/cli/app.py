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
        _utf8_stdout()
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


def _utf8_stdout() -> None:
    """Results (JSON, CSV, NDJSON, FHIR) are UTF-8 whatever PYTHONIOENCODING or the locale
    say: a name like "José" never turns an export into a crash."""
    enc = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    if enc != "utf8" and hasattr(sys.stdout, "reconfigure"):
        import contextlib

        with contextlib.suppress(ValueError, OSError):
            sys.stdout.reconfigure(encoding="utf-8", errors="replace")


def _usage_error(exc, argv: list[str]) -> int:
    from ketacli.render.out import print_json
    from ketacli.render.out import write as _write

    if type(exc).__name__ == "NoArgsIsHelpError":
        ctx = getattr(exc, "ctx", None)
        _write(sys.stdout, (ctx.get_help() if ctx else "") + "\n")
        return 0
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    hint = f"see '{ctx.command_path} --help'" if ctx is not None else None
    message, hint = _without_typed(exc, message, argv, hint)
    message = _not_a_number(exc, message)
    if ctx is not None and getattr(getattr(exc, "param", None), "name", None) == "session_id":
        message, hint = _session_id_error(ctx)
    _write(sys.stderr, f"error: {message}\n")
    if hint:
        _write(sys.stderr, f"hint: {hint}\n")
    if "--json" in argv:
        print_json({"error": {"code": "usage_error", "message": message}})
    return exc.exit_code if exc.exit_code in (1, 2) else 2


def _not_a_number(exc, message: str) -> str:
    """The parser's "Invalid value for 'BATCH': Input should be a valid integer, unable to
    parse string as an integer" as one plain line naming the argument or option."""
    param = getattr(exc, "param", None)
    if param is None or not ("valid integer" in message or "valid number" in message):
        return message
    opts = [o for o in getattr(param, "opts", []) if o.startswith("-")]
    label = opts[0] if opts else (getattr(param, "metavar", None) or (param.name or "").upper())
    return f"{label} must be {'a whole number' if 'integer' in message else 'a number'}"


def _session_id_error(ctx) -> tuple[str, str]:
    """`summary MRN-1001`: SESSION_ID is the number start-session printed; say where to
    find it (or --patient) without echoing what was typed (it may be a name)."""
    message = "SESSION_ID must be a session number (the id start-session printed)"
    if any(p.name == "patient" for p in ctx.command.params):
        return message, (f"for a patient's session: '{ctx.command_path} --patient MRN'; "
                         "open sessions: 'ketacli board'")
    return message, "find it with 'ketacli sessions --patient MRN' or 'ketacli board'"


def _without_typed(exc, message: str, argv: list[str], hint: str | None):
    """A usage error that repeats nothing typed (it could be a name or a note in the wrong
    place): unknown commands and options are named by what ketacli knows, not by what was
    typed; a bad value is named by its option."""
    kind = type(exc).__name__
    if message.startswith("Got unexpected extra argument"):
        return "Got unexpected extra argument(s); quote values that contain spaces", hint
    if message.startswith("No such command"):
        return f"no such command; {hint or 'see ketacli --help'}", _suggestion(message)
    if kind == "NoSuchOption":
        return f"no such option; {hint or 'see ketacli --help'}", (
            _json_first(exc) or _suggestion(message))
    for word in sorted((a for a in argv if len(a) > 1), key=len, reverse=True):
        if word in message and not word.startswith("-"):
            message = message.replace(word, "…")
    return message, hint


def _json_first(exc) -> str | None:
    """`ketacli --json db check`: --json belongs to the command, not to ketacli itself
    (not "did you mean --version?")."""
    ctx = getattr(exc, "ctx", None)
    if getattr(exc, "option_name", None) == "--json" and ctx is not None and ctx.parent is None:
        return "--json goes after the command name: 'ketacli COMMAND ... --json'"
    return None


def _suggestion(message: str) -> str | None:
    """Click's "Did you mean 'screen'?" / "(Possible options: --name, --note)": names of
    ketacli's own commands and options, safe to show."""
    import re

    m = re.search(r"Did you mean (.+?)\?|\(Possible options: (.+)\)", message)
    if not m:
        return None
    return f"did you mean {m[1] or m[2]}?"


APP_SETTINGS: dict = {
    "name": "ketacli",
    "cls": KetaGroup,
    "help": "Record IV ketamine infusion care: screening, infusion vitals, discharge, follow-up.",
    "no_args_is_help": True,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,
    "add_completion": False,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}
app = typer.Typer(**APP_SETTINGS)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"ketacli {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def main(
    db: Annotated[
        str | None,
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
        typer.Option("--tz", envvar="KETACLI_TZ", help="Clinic time zone (IANA name) of a new "
                     "database (default: the system zone); an existing database keeps its "
                     "stored zone ('ketacli db set-tz').", show_default=False),
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

    # an empty --db or KETACLI_DB is a mistake, never "the default database" (exit 2)
    empty = not (db if db is not None else os.environ.get("KETACLI_DB", "x")).strip()
    from ketacli.store.pg import is_url

    where = (db if is_url(db) else Path(db)) if db and not empty else None  # a URL stays text
    set_settings(Settings(db=where, clinician=clinician,
                          tz_name=tz or None, protocol_path=protocol, db_empty=empty))


# The visible list of commands, in the order `ketacli --help` shows them: (name, module,
# function, short help), or (name, module, None, None) for a group with its own Typer app.
COMMANDS: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("patient", "patient", None, None),
    ("screen", "screen", "screen", "Screening: vitals, scales, decision and reasons."),
    ("start-session", "session", "start_session",
     "Start an infusion: dose, rates, safety checks."),
    ("log-vitals", "vitals", "log_vitals", "Record vital signs; alerts from the protocol."),
    ("log-event", "vitals", "log_event", "Pause, resume, rate change, stop, medication..."),
    ("discharge", "discharge", "discharge",
     "Discharge: criteria, doses, side effects, follow-ups."),
    ("summary", "discharge", "summary", "The session panel for the chart."),
    ("board", "board", "board", "The chairs at a glance: what is due, what is overdue."),
    ("sessions", "sessions", "sessions", "Sessions as rows: open, by day, by patient."),
    ("void", "void", "void", "Mark a record entered-in-error (kept, skipped)."),
    ("waste", "waste", "waste", "Ketamine wasted for a session, witnessed."),
    ("followup", "followup", None, None),
    ("trend", "trend", "trend", "Response over time: chart, change, status."),
    ("report", "report", None, None),
    ("export", "export", "export", "CSV, JSON, NDJSON, FHIR R4, REDCap; de-identified."),
    ("audit", "audit", "audit", "The hash-chained audit log; --verify."),
    ("db", "db", None, None),
    ("protocol", "protocol", None, None),
    ("demo", "demo", "demo", "Build a synthetic clinic to explore."),
)


def _register() -> None:
    """Every command of COMMANDS on the app (importing a command module defers its own
    heavy imports to its body)."""
    from importlib import import_module

    for name, module, function, short_help in COMMANDS:
        mod = import_module(f"ketacli.cli.{module}")
        if function is None:
            app.add_typer(mod.app, name=name)
        else:
            app.command(name, short_help=short_help)(getattr(mod, function))


_register()


# Global options that take a value (the others, --version and --help, end the search).
GLOBAL_VALUE_OPTIONS = ("--db", "--clinician", "--tz", "--protocol")


def command_named(argv: list[str]) -> str | None:
    """The command a command line runs, after the global options; None if there is none."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in GLOBAL_VALUE_OPTIONS:
            i += 2
        elif word.partition("=")[0] in GLOBAL_VALUE_OPTIONS and "=" in word:
            i += 1
        else:
            return None if word.startswith("-") else word
    return None


def app_for(name: str | None) -> typer.Typer:
    """The app with only the command `name` (Click builds the parameters of every command
    of an app each run, most of a short command's start-up); the whole app for `--help`,
    no command or an unknown one (which it then reports)."""
    commands = [c for c in app.registered_commands if c.name == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if name is None or not (commands or groups):
        return app
    one = typer.Typer(**APP_SETTINGS)
    one.registered_callback = app.registered_callback
    one.registered_commands, one.registered_groups = commands, groups
    return one


def run() -> None:
    """The console-script entry point."""
    if os.environ.get("KETACLI_DEBUG") != "1":
        sys.tracebacklimit = 0
    app_for(command_named(sys.argv[1:]))()
