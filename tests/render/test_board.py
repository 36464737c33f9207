"""`board --watch` (ketacli.render.live): one snapshot (one query) per redraw, and Ctrl-C
leaves quietly with the terminal restored."""

from __future__ import annotations

import io

from rich.console import Console

from ketacli.clock import zone
from ketacli.render import live
from ketacli.render.board import board_view

TZ = zone("America/Chicago")
ROW = {"session_id": 7, "patient": "KX-1", "name": "[bold]Ann[/]", "chair": "Chair 1",
       "started_at": "2026-11-27T13:40:00+00:00", "minutes_in": 80, "phase": "observing",
       "last_vitals": {"at": "2026-11-27T14:20:00+00:00", "bp": "150/90", "hr": 80,
                       "spo2": 97, "alerts": []},
       "next_vitals_due": "2026-11-27T14:35:00+00:00", "vitals_overdue": True,
       "bp_40min": "done", "infusion_end": "2026-11-27T14:20:00+00:00",
       "earliest_discharge": "2026-11-27T14:50:00+00:00"}
NOW = "2026-11-27T15:00:00+00:00"


def test_watch_redraws_one_snapshot_each_and_ctrl_c_leaves_quietly(monkeypatch):
    calls = []

    def snapshot():
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return NOW, [ROW]

    out = io.StringIO()
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr(live.time, "sleep", lambda s: None)
    monkeypatch.setattr("ketacli.render.out.console", lambda stderr=False: Console(
        file=out, force_terminal=True, width=80, color_system=None))
    assert live.watch_board(snapshot, TZ, 5.0) is None
    assert len(calls) == 3
    text = out.getvalue()
    assert "\x1b[?1049h" in text and text.rstrip().endswith("\x1b[?1049l")  # screen restored
    assert "\x1b[?25h" in text  # cursor shown again


def test_view_marks_overdue_in_words_and_shows_seconds_while_watching():
    con = Console(file=io.StringIO(), width=80, color_system=None)
    con.print(board_view([ROW], NOW, TZ, watching=True, width=80))
    text = con.file.getvalue()
    assert text.startswith("Board 09:00:00 America/Chicago: 1 open session  1 OVERDUE")
    assert "OVERDUE" in text.splitlines()[4] and "[bold]Ann[/]" in text
    assert "ready" in text  # earliest discharge 08:50 has passed
