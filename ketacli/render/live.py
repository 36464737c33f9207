"""`board --watch`: the board redrawn in place (Rich Live) until Ctrl-C."""

from __future__ import annotations

import time
from collections.abc import Callable


def watch_board(snapshot: Callable[[], tuple[str, list[dict]]], tz, interval_s: float) -> None:
    """Redraw every `interval_s` seconds on the alternate screen; Ctrl-C leaves it and
    restores the terminal (cursor shown, screen as it was)."""
    from rich.live import Live

    from ketacli.render.board import board_view
    from ketacli.render.out import console

    con = console()

    def view():
        now_iso, rows = snapshot()
        return board_view(rows, now_iso, tz, watching=True, width=con.width)

    try:
        with Live(view(), console=con, screen=True,
                  auto_refresh=False, transient=True, redirect_stdout=False,
                  redirect_stderr=False) as live:
            while True:
                time.sleep(interval_s)
                live.update(view(), refresh=True)
    except KeyboardInterrupt:
        return
