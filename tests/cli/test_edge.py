"""The error edge (ketacli.cli.edge): which commands print the JSON error envelope is read
from the options they declare, and every exception becomes one documented exit code."""

from __future__ import annotations

import json
import sqlite3

import pytest

from ketacli.cli import edge, export, followup, report, session
from ketacli.errors import ExitCode, KetaError


def test_json_mode_read_from_the_declared_options():
    assert session.start_session.json_mode == edge.JsonMode("json_out", None)
    assert followup.due.json_mode == edge.JsonMode("json_out", "fmt")
    assert report.controlled.json_mode == edge.JsonMode("json_out", "fmt")
    assert export.export.json_mode.flag is None  # --format json, but no --json: no envelope


@pytest.mark.parametrize(("mode", "kwargs", "want"), [
    (edge.JsonMode("j", "f"), {"j": True, "f": "table"}, True),
    (edge.JsonMode("j", "f"), {"j": False, "f": " JSON "}, True),
    (edge.JsonMode("j", "f"), {"j": False, "f": "csv"}, False),
    (edge.JsonMode(None, "f"), {"f": "json"}, False),
    (edge.JsonMode("j", None), {"j": False}, False),
])
def test_json_wanted(mode, kwargs, want):
    assert mode.wanted(kwargs) is want


@pytest.mark.parametrize(("exc", "code", "exit_code"), [
    (OverflowError(), "out_of_range", ExitCode.INVALID),
    (sqlite3.OperationalError("database is locked"), "storage_error", ExitCode.STORAGE),
    (OSError(28, "No space left on device"), "os_error", ExitCode.STORAGE),
    (ValueError("bug"), "internal_error", ExitCode.INTERNAL),
])
def test_exceptions_become_exit_codes(monkeypatch, exc, code, exit_code):
    monkeypatch.delenv("KETACLI_DEBUG", raising=False)
    err = edge.as_keta_error(exc)
    assert isinstance(err, KetaError)
    assert (err.code, err.exit_code) == (code, exit_code)


def test_debug_lets_bugs_through(monkeypatch):
    monkeypatch.setenv("KETACLI_DEBUG", "1")
    assert edge.as_keta_error(ValueError("bug")) is None
    assert edge.as_keta_error(KeyboardInterrupt()) is None


def test_format_json_errors_print_the_json_envelope(cli):
    assert cli("patient", "add", "J-1", "--name", "Json Test").exit_code == 0
    for args in (("followup", "due", "--format", "json", "--date", "2026-13-01"),
                 ("report", "controlled", "--format", "json", "--since", "nope")):
        r = cli(*args)
        assert r.exit_code == 2
        assert json.loads(r.stdout)["error"]["code"]
        assert r.stderr.startswith("error:")
