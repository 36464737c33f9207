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
        from ketacli.render.protocol import protocol_view

        con.print(protocol_view(rows))

    emit(data, json_out, human)
