"""The root app (ketacli.cli.app): the visible list of commands, and start-up discipline
(`ketacli --help` and the command modules import no database, store or table code)."""

from __future__ import annotations

import json
import subprocess
import sys

from ketacli.cli.app import app

PROBE = """
import json, sys
from ketacli.cli.app import app
try:
    app(["--help"], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_by_help() -> set[str]:
    p = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    return set(json.loads(p.stderr.strip().splitlines()[-1]))


def test_help_loads_no_database_store_or_tables():
    mods = loaded_by_help()
    assert "sqlite3" not in mods
    assert not {m for m in mods if m.startswith("ketacli.store")}
    assert "rich.table" not in mods
    assert "pendulum" not in mods
    assert "sqlite_utils" not in mods


def test_every_command_is_listed_once_in_app():
    names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    assert len(names) == len(set(names))
    assert set(names) >= {"screen", "start-session", "log-vitals", "log-event", "discharge",
                          "summary", "void", "followup", "trend", "report", "export", "audit",
                          "db", "protocol", "demo", "patient"}
