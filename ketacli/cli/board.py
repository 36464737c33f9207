"""`board [--watch] [--interval SECONDS] [--json]`."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import Json

INTERVAL_S = (1.0, 3600.0)


@command
def board(
    watch: Annotated[bool, typer.Option(
        "--watch", help="Redraw in place every --interval seconds until Ctrl-C (on a terminal; "
        "without one, print once).")] = False,
    interval: Annotated[float, typer.Option(
        "--interval", help="Seconds between redraws with --watch (1-3600).")] = 5.0,
    json_out: Json = False,
) -> None:
    """The chairs at a glance: every open session, its phase, last vitals, when vitals are
    next due (OVERDUE marked), the 40-minute BP and the earliest discharge."""
    import os
    import sys

    from ketacli.cli.settings import settings
    from ketacli.domain.validate import number
    from ketacli.render.out import emit

    s = settings()
    seconds = number(interval, "--interval", *INTERVAL_S)
    store, tz = s.store(create=False), s.tz
    if watch and not json_out and sys.stdout.isatty() and os.environ.get("TERM") != "dumb":
        from ketacli.render.live import watch_board

        watch_board(lambda: _snapshot(store, s.protocol), tz, float(seconds or 5.0))
        return
    now_iso, rows = _snapshot(store, s.protocol)

    def human(con):
        from ketacli.render.board import board_view

        con.print(board_view(rows, now_iso, tz, width=con.width))

    emit(rows, json_out, human)


def _snapshot(store, protocol) -> tuple[str, list[dict]]:
    """Now and the board's rows: one query, then the domain's rules."""
    from ketacli.clock import CLOCK, to_utc_iso
    from ketacli.domain import board as rules
    from ketacli.store import floor

    now = CLOCK.now()
    rows = rules.board(floor.open_sessions(store), now, protocol.monitoring, protocol.discharge)
    return to_utc_iso(now), rows
