"""Deprecated: split into cli/settings.py, cli/edge.py and render/out.py. Kept only
until the export command moves off it."""

from ketacli.cli.edge import command
from ketacli.cli.settings import Settings, os_user, set_settings, settings
from ketacli.render.out import console, emit, print_json, report_error, warn
from ketacli.render.out import write as _write

__all__ = ["Settings", "_write", "command", "console", "emit", "os_user", "print_json",
           "report_error", "set_settings", "settings", "warn"]
