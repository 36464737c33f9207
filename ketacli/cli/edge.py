"""The error edge of every command: errors become one `error:` line and an exit code.

Domain errors carry their exit code; here they become one `error:` line on stderr (and
the JSON error envelope on stdout when the command was asked for JSON) and
`typer.Exit`. No traceback reaches the user unless KETACLI_DEBUG=1, and no locals ever
do. Whether an error prints the JSON envelope is read from the options the command
declares (`--json`, and `--format json` where the command has both), not guessed.
"""

from __future__ import annotations

import functools
import os
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer

from ketacli.errors import Code, ExitCode, InternalError, Invalid, KetaError, StorageError


@dataclass(frozen=True)
class JsonMode:
    """Which parameters of a command ask for JSON output."""

    flag: str | None = None  # the parameter declared as `--json`
    fmt: str | None = None  # the parameter declared as `--format`

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> JsonMode:
        flag = fmt = None
        for name, hint in typing.get_type_hints(fn, include_extras=True).items():
            for meta in getattr(hint, "__metadata__", ()):
                # typer.Option("--json", ...) keeps its first name in `default` (Annotated style)
                first = getattr(meta, "default", None)
                decls = (*((first,) if isinstance(first, str) else ()),
                         *(getattr(meta, "param_decls", None) or ()))
                if "--json" in decls:
                    flag = name
                elif "--format" in decls:
                    fmt = name
        return cls(flag, fmt)

    def wanted(self, kwargs: dict[str, Any]) -> bool:
        """--json, or --format json on a command that also has --json (only there is the
        JSON error envelope part of the contract)."""
        if self.flag is None:
            return False
        if kwargs.get(self.flag):
            return True
        value = kwargs.get(self.fmt) if self.fmt else None
        return isinstance(value, str) and value.strip().lower() == "json"


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command: map errors to exit codes, close the database, never a traceback."""
    mode = JsonMode.of(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if sys.stdout is None or sys.stdout.closed:
            sys.stderr.write("error: standard output is closed; nothing was done\n")
            raise typer.Exit(ExitCode.STORAGE)
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(ExitCode.OK) from None
        except KeyboardInterrupt:
            sys.stderr.write("error: interrupted\n")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except EOFError:  # Ctrl-D at a prompt: given up like Ctrl-C, nothing stored
            # the prompt's line is still open (Ctrl-D echoes no newline): end it first
            sys.stderr.write("\nerror: interrupted (end of input at a prompt); nothing was stored\n")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except BaseException as exc:
            err = as_keta_error(exc)
            if err is None:
                raise
            from ketacli.render.out import report_error

            report_error(err, mode.wanted(kwargs))
            raise typer.Exit(err.exit_code) from None
        finally:
            from ketacli.cli.settings import settings

            settings().close()

    wrapper.json_mode = mode  # type: ignore[attr-defined]
    return wrapper


def as_keta_error(exc: BaseException) -> KetaError | None:
    """The user-facing error for an exception, or None to let it propagate (KETACLI_DEBUG=1
    for anything that is not a KetaError, or a BaseException such as SystemExit)."""
    if isinstance(exc, KetaError):
        return exc
    if not isinstance(exc, Exception):
        return None
    if type(exc).__module__ in ("sqlite3", "sqlcipher3.dbapi2"):  # without importing them
        from ketacli.cli.settings import settings
        from ketacli.store.db import storage_error

        return storage_error(exc, settings().db)
    if os.environ.get("KETACLI_DEBUG") == "1":
        return None
    if isinstance(exc, OverflowError):
        # an id, date or time beyond what SQLite or datetime can hold: bad input, not a bug
        return Invalid("a number, date or time is out of range", code=Code.OUT_OF_RANGE)
    if isinstance(exc, OSError):
        return StorageError(f"{exc.strerror or type(exc).__name__}", code=Code.OS_ERROR)
    return InternalError(
        f"internal error ({type(exc).__name__}); nothing was stored by the failed step",
        hint="rerun with KETACLI_DEBUG=1 and report the traceback (it may show patient data)",
    )


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
