"""The board: the chairs at a glance, for the screen a charge nurse leaves open.

Overdue vital signs are marked in words ("OVERDUE"), not only in colour, so they stand
out with NO_COLOR and on a monochrome terminal. At 80 columns each session takes two
lines (MRN over name, phase over minutes in); nothing is cut: long values fold.
"""

from __future__ import annotations

from datetime import datetime

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ketacli.render.fmt import hm
from ketacli.render.session import LEVEL_STYLE, SHORT

PHASE_STYLE = {"infusing": "bold cyan", "paused": "bold magenta", "observing": "green"}
BP40_STYLE = {"done": "green", "due": "yellow", "missed": "bold white on red"}
OVERDUE_STYLE = "bold white on red"


def _patient(r: dict) -> Text:
    t = Text(r["patient"], style="bold")
    t.append("\n")
    t.append(r["name"])
    return t


def _phase(r: dict) -> Text:
    t = Text(r["phase"], style=PHASE_STYLE.get(r["phase"]))
    t.append(f"\n{r['minutes_in']} min")
    return t


def _last(r: dict, tz, wide: bool) -> Text:
    """Time, BP; HR, SpO2; the reading's alerts: each one on a wide terminal, counted by
    level below WIDE columns (the summary has them all)."""
    v = r["last_vitals"]
    if v is None:
        return Text("none yet")
    parts = [p for p in (v["bp"], f"HR {v['hr']}" if v["hr"] is not None else None,
                         f"{v['spo2']}%" if v["spo2"] is not None else None) if p]
    t = Text(hm(v["at"], tz))
    if v["bp"]:
        t.append(f" {v['bp']}")
    rest = [p for p in parts if p != v["bp"]]
    if rest:
        t.append(f"\n{' '.join(rest)}")
    for level, mark in (("critical", "!!"), ("warning", "!")):
        found = [a for a in v["alerts"] if a["level"] == level]
        if found:
            t.append("\n")
            what = " ".join(_alert(a) for a in found) if wide else f"{len(found)} {level}"
            t.append(f"{mark} {what}", style=LEVEL_STYLE[level])
    return t


def _alert(a: dict) -> str:
    """'SBP=185', 'SBP+55' (a rise): one word, so a narrow cell wraps between alerts."""
    name = SHORT.get(a["parameter"], a["parameter"])
    return f"{name}+{a['value']}" if a["parameter"].endswith("_rise") else f"{name}={a['value']}"


def _due(r: dict, tz) -> Text:
    if r["vitals_overdue"]:
        return Text(f"{hm(r['next_vitals_due'], tz)}\nOVERDUE", style=OVERDUE_STYLE)
    return Text(hm(r["next_vitals_due"], tz))


def _out(r: dict, now_iso: str, tz) -> Text:
    ready = r["phase"] == "observing" and r["earliest_discharge"] <= now_iso
    t = Text("ready" if ready else hm(r["earliest_discharge"], tz),
             style="bold green" if ready else None)
    t.append(f"\n#{r['session_id']}")
    return t


WIDE = 110  # columns from which the board lists each alert of the last reading


def board_table(rows: list[dict], now_iso: str, tz, width: int = 80) -> Table:
    """Two lines a session; a blank line between sessions while they fit a 24-line screen."""
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False, show_edge=False,
              collapse_padding=True)
    # at 80 columns: chair, patient and last vitals fold within their share; the rest
    # are short and never wrap
    t.add_column("Chair", overflow="fold", max_width=10)
    t.add_column("Patient", overflow="fold", max_width=18)
    t.add_column("Phase", no_wrap=True, min_width=9)
    t.add_column("Last vitals", overflow="fold", min_width=13,
                 max_width=44 if width >= WIDE else 22)
    t.add_column("Vitals due", no_wrap=True, min_width=7)
    t.add_column("BP 40'", no_wrap=True, min_width=6)
    t.add_column("Out at", no_wrap=True, min_width=6)
    spaced = len(rows) <= 5
    for r in rows:
        t.add_row(
            Text(r["chair"] or "-"), _patient(r), _phase(r), _last(r, tz, width >= WIDE), _due(r, tz),
            Text(r["bp_40min"], style=BP40_STYLE[r["bp_40min"]]), _out(r, now_iso, tz),
            style="bold" if r["vitals_overdue"] else None, end_section=spaced)
    return t


def headline(rows: list[dict], now_iso: str, tz, *, seconds: bool = False) -> Text:
    """'Board 09:00 America/Chicago: 3 open sessions  1 OVERDUE' (with seconds while
    watching, so a frozen screen would be seen)."""
    overdue = sum(r["vitals_overdue"] for r in rows)
    zone = getattr(tz, "key", None) or getattr(tz, "name", None) or str(tz)
    clock = datetime.fromisoformat(now_iso).astimezone(tz).strftime("%H:%M:%S") if seconds \
        else hm(now_iso, tz)
    t = Text(f"Board {clock} {zone}: ", style="bold")
    t.append(f"{len(rows)} open session{'s' if len(rows) != 1 else ''}")
    if overdue:
        t.append("  ")
        t.append(f"{overdue} OVERDUE", style=OVERDUE_STYLE)
    return t


def board_view(rows: list[dict], now_iso: str, tz, *, watching: bool = False,
               width: int = 80) -> Group:
    parts: list = [headline(rows, now_iso, tz, seconds=watching)]
    parts.append(board_table(rows, now_iso, tz, width) if rows else Text("No open sessions."))
    if watching:
        parts.append(Text("Out at: earliest discharge; #: session id.  Ctrl-C to leave.",
                          style="dim"))
    elif rows:
        parts.append(Text("Out at: earliest discharge; #: session id.", style="dim"))
    return Group(*parts)


STATUS_STYLE = {"open": "bold cyan", "discharged": "green", "voided": "dim strike"}


def sessions_table(rows: list[dict], tz) -> Table | Text:
    """`sessions`: one line per session (dates in the clinic zone)."""
    from ketacli.render.fmt import num, when

    if not rows:
        return Text("No sessions.")
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False, show_edge=False,
              collapse_padding=True)
    for label, justify, wrap in (("ID", "right", False), ("Patient", "left", True),
                                 ("#", "right", False), ("Started", "left", False),
                                 ("Status", "left", False), ("mg", "right", False),
                                 ("Chair", "left", True), ("Alerts", "right", False),
                                 ("Out", "left", False)):
        t.add_column(label, justify=justify, overflow="fold",  # type: ignore[arg-type]
                     no_wrap=not wrap)
    for r in rows:
        t.add_row(str(r["session_id"]), Text(r["patient"]), str(r["number_in_series"]),
                  when(r["started_at"], tz), Text(r["status"], style=STATUS_STYLE[r["status"]]),
                  num(r["dose_mg"]), Text(r["chair"] or "-"), str(r["alerts"]),
                  hm(r["discharged_at"], tz) if r["discharged_at"] else "-")
    return t
