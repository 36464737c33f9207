"""`protocol show` for a person: every key with its value, source and meaning."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

READING = ("BP pairs [S, D] are reached when systolic >= S or diastolic >= D. "
           "[warning, critical] pairs alert when the value is >= the threshold; "
           "*_low keys alert when the value is < the threshold.\n"
           "These are the clinic's settings, not medical advice.")


def value_text(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value and isinstance(value[0], str) else (
            "[" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) + "]"
        )
    return f"{value:g}" if isinstance(value, float) else str(value)


def protocol_view(rows: list[dict]) -> Group:
    t = Table(title="Clinic protocol", title_justify="left")
    t.add_column("Key", no_wrap=True)
    t.add_column("Value")
    t.add_column("Source")
    t.add_column("Meaning")
    for r in rows:
        t.add_row(r["key"], Text(value_text(r["value"])), Text(r["source"]), r["meaning"])
    return Group(t, Text(READING))
