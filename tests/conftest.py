"""Shared fixtures: a pinned environment, a temporary database, a pinned clock."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from ketacli.cli.app import app
from ketacli.clock import CLOCK

# 2026-11-27 15:00 UTC = 09:00 in America/Chicago: a clinic morning.
FIXED_NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
CLINIC_TZ = "America/Chicago"


@pytest.fixture(autouse=True)
def pinned_env(monkeypatch, tmp_path):
    """Every test: its own database, clinic zone, no colour, 80 columns, fixed clock."""
    for key in list(os.environ):
        if key.startswith("KETACLI_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("KETACLI_DB", str(tmp_path / "clinic.db"))
    monkeypatch.setenv("KETACLI_TZ", CLINIC_TZ)
    monkeypatch.setenv("KETACLI_CLINICIAN", "nurse.test")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERM", "dumb")
    CLOCK.pin(FIXED_NOW)
    yield
    CLOCK.pin(None)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "clinic.db"


class Run:
    """Invoke the CLI in-process; `.json` parses stdout."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):
        result = self.runner.invoke(app, [str(a) for a in args], input=input)
        result.json = _try_json(result.stdout)
        return result


def _try_json(text: str):
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


@pytest.fixture
def cli():
    return Run()
