"""`protocol show`."""

from __future__ import annotations

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import Json

app = typer.Typer(help="The clinic protocol (thresholds, doses, schedule).", no_args_is_help=True)


@app.command("show")
@command
def show(json_out: Json = False) -> None:
    """The effective clinic protocol, with where each value came from."""
    from ketacli.cli.settings import settings
    from ketacli.protocol import KEYS
    from ketacli.render.out import emit

    s = settings()
    proto = s.protocol
    rows = [
        {"key": key, "value": value, "source": source, "meaning": KEYS[key].meaning}
        for key, value, source in proto.flat()
    ]
    data = {"protocol": proto.as_dict(), "sources": {r["key"]: r["source"] for r in rows}}

    def human(con):
        from rich.table import Table
        from rich.text import Text

        t = Table(title="Clinic protocol", title_justify="left")
        t.add_column("Key", no_wrap=True)
        t.add_column("Value")
        t.add_column("Source")
        t.add_column("Meaning")
        for r in rows:
            t.add_row(r["key"], Text(_fmt(r["value"])), Text(r["source"]), r["meaning"])
        con.print(t)
        con.print(
            "BP pairs [S, D] are reached when systolic >= S or diastolic >= D. "
            "[warning, critical] pairs alert when the value is >= the threshold; "
            "*_low keys alert when the value is < the threshold.\n"
            "These are the clinic's settings, not medical advice."
        )

    emit(data, json_out, human)


def _fmt(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value and isinstance(value[0], str) else (
            "[" + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) + "]"
        )
    return f"{value:g}" if isinstance(value, float) else str(value)
