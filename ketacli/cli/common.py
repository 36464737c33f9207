"""What every command shares: settings, the error edge, and output.

Domain errors carry their exit code; here they become one `error:` line on
stderr (and the JSON error envelope on stdout with --json) and `typer.Exit`.
No traceback reaches the user unless KETACLI_DEBUG=1, and no locals ever do.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from ketacli.errors import KetaError, StorageError

INTERNAL_EXIT = 70  # a bug in ketacli (EX_SOFTWARE); never used for clinical outcomes


def os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


@dataclass
class Settings:
    db: Path | None = None
    clinician: str | None = None
    tz_name: str | None = None
    protocol_path: Path | None = None
    _cache: dict = field(default_factory=dict)

    @property
    def who(self) -> str:
        name = (self.clinician or "").strip() or os_user()
        from ketacli.domain.validate import free_text

        return free_text(name, "--clinician", max_len=80, required=True)

    @property
    def tz(self):
        if "tz" not in self._cache:
            from ketacli.clock import zone

            self._cache["tz"] = zone(self.tz_name)
        return self._cache["tz"]

    @property
    def protocol(self):
        if "protocol" not in self._cache:
            from ketacli import protocol

            self._cache["protocol"] = protocol.load(self.protocol_path)
        return self._cache["protocol"]

    def store(self, *, create: bool = True):
        """The open database (created on first write; read-only commands need it to exist)."""
        if "store" not in self._cache:
            from ketacli.store.db import Actor, open_store

            self._cache["store"] = open_store(
                self.db, Actor(clinician=self.who, os_user=os_user()), create=create
            )
        return self._cache["store"]

    def close(self) -> None:
        st = self._cache.pop("store", None)
        if st is not None:
            st.close()


_SETTINGS = Settings()


def set_settings(s: Settings) -> None:
    global _SETTINGS
    _SETTINGS.close()
    _SETTINGS = s


def settings() -> Settings:
    return _SETTINGS


# -- output -------------------------------------------------------------------
def _write(stream, text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except UnicodeEncodeError:
        stream.write(text.encode("ascii", "backslashreplace").decode("ascii"))
        stream.flush()


def print_json(payload: Any) -> None:
    import json

    _write(sys.stdout, json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")


def report_error(err: KetaError, as_json: bool) -> None:
    line = " ".join(err.message.split())  # exactly one line
    _write(sys.stderr, f"error: {line}\n")
    if err.hint:
        _write(sys.stderr, f"hint: {' '.join(err.hint.split())}\n")
    if as_json:
        body: dict[str, Any] = {"code": err.code, "message": line}
        if err.details:
            body["details"] = err.details
        print_json({"error": body})


def warn(message: str) -> None:
    _write(sys.stderr, f"warning: {' '.join(message.split())}\n")


def console(stderr: bool = False):
    """A Rich console: no colour off a TTY or with NO_COLOR, never markup from data."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, emoji=False, markup=False)


def emit(data: Any, as_json: bool, render=None) -> None:
    """One result, two renderers: the JSON envelope, or `render(console)` for a person."""
    if as_json or render is None:
        print_json({"data": data})
    else:
        render(console())


# -- the error edge -----------------------------------------------------------
def command(fn):
    """Wrap a command: map errors to exit codes, close the database, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # --json, or --format json on the commands that have --format
        as_json = bool(kwargs.get("json_out")) or (
            "json_out" in kwargs and kwargs.get("fmt") == "json")
        if sys.stdout is None or sys.stdout.closed:
            _write(sys.stderr, "error: standard output is closed; nothing was done\n")
            raise typer.Exit(4)
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except KetaError as err:
            report_error(err, as_json)
            raise typer.Exit(err.exit_code) from None
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            _write(sys.stderr, "error: interrupted\n")
            raise typer.Exit(130) from None
        except OverflowError:
            # an id, date or time beyond what SQLite or datetime can hold: bad input, not a bug
            if os.environ.get("KETACLI_DEBUG") == "1":
                raise
            from ketacli.errors import Invalid

            err = Invalid("a number, date or time is out of range", code="out_of_range")
            report_error(err, as_json)
            raise typer.Exit(err.exit_code) from None
        except OSError as exc:
            if os.environ.get("KETACLI_DEBUG") == "1":
                raise
            err = StorageError(f"{exc.strerror or type(exc).__name__}", code="os_error")
            report_error(err, as_json)
            raise typer.Exit(err.exit_code) from None
        except Exception as exc:
            if type(exc).__module__ == "sqlite3":  # sqlite3.Error, without importing sqlite3 early
                from ketacli.store.db import storage_error

                err = storage_error(exc, settings().db)
                report_error(err, as_json)
                raise typer.Exit(err.exit_code) from None
            if os.environ.get("KETACLI_DEBUG") == "1":
                raise
            err = KetaError(
                f"internal error ({type(exc).__name__}); nothing was stored by the failed step",
                code="internal_error",
                hint="rerun with KETACLI_DEBUG=1 and report the traceback (it may show patient data)",
            )
            report_error(err, as_json)
            raise typer.Exit(INTERNAL_EXIT) from None
        finally:
            settings().close()

    return wrapper


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
