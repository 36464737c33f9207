"""The response trend drawn in the terminal: a time-scaled chart plus a table.

Plain characters only ('*' a score, '^' an infusion, '-' the response line,
'.' the remission line) so it reads the same with NO_COLOR and LANG=C.
"""

from __future__ import annotations

from datetime import date

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ketacli.domain import outcomes
from ketacli.domain.scales import SCALES

STATUS_STYLE = {"remission": "bold green", "response": "green", "partial-response": "yellow",
                "no-response": "red", "baseline": "bold"}
REMISSION_LINE = {"phq9": 4.5, "gad7": 4.5, "madrs": 10}


def chart(d: dict, width: int = 70, height: int = 12) -> Text:
    pts = d["points"]
    days = [date.fromisoformat(p["date"]) for p in pts] + [
        date.fromisoformat(x) for x in d["infusions"] if x >= pts[0]["date"]]
    first, last = min(days), max(days)
    span = max(1, (last - first).days)
    top = max(max(p["total"] for p in pts), 1)
    half = d["baseline"] / 2
    label_w = max(len(str(top)), len(f"{half:g}")) + 1
    plot_w = max(20, width - label_w - 2)

    def col(day: date) -> int:
        return round((day - first).days / span * (plot_w - 1))

    def row(value: float) -> int:
        return height - 1 - round(value / top * (height - 1))

    grid = [[" "] * plot_w for _ in range(height)]
    styles = [[""] * plot_w for _ in range(height)]
    r_resp = row(half)
    for c in range(plot_w):
        grid[r_resp][c] = "-"
        styles[r_resp][c] = "dim"
    rem = REMISSION_LINE.get(d["measure"])
    if rem is not None and rem < top:
        rr = row(rem)
        if rr != r_resp:
            for c in range(plot_w):
                grid[rr][c] = "."
                styles[rr][c] = "dim green"
    for p in pts:
        c, r = col(date.fromisoformat(p["date"])), row(p["total"])
        grid[r][c] = "*"
        styles[r][c] = STATUS_STYLE.get(p["status"], "")
    out = Text()
    for r in range(height):
        value = round(top - r * top / (height - 1))
        # the response line is labelled with its own value, not the row's rounded one
        label = f"{half:g}" if r == r_resp else str(value) if r in (0, height - 1) else ""
        out.append(label.rjust(label_w) + " |")
        for c in range(plot_w):
            out.append(grid[r][c], style=styles[r][c] or None)
        out.append("\n")
    axis = [" "] * plot_w
    for x in d["infusions"]:
        if x >= pts[0]["date"]:
            axis[col(date.fromisoformat(x))] = "^"
    out.append(" " * label_w + " +" + "".join(axis) + "\n")
    left, right = first.isoformat(), last.isoformat()
    out.append(" " * (label_w + 2) + left + right.rjust(plot_w - len(left)) + "\n")
    out.append(" " * (label_w + 2) + "* score   ^ infusion   - 50% of baseline (response)",
               style="dim")
    if rem is not None and rem < top:
        out.append("   . remission", style="dim")
    return out


def _risk_line(r: dict, tz) -> Text:
    """One screening or assessment's PHQ-9 item 9 and C-SSRS (short labels only)."""
    from ketacli.domain.cssrs import answered_labels
    from ketacli.render.fmt import when

    item9, cssrs = r["phq9_item9"], r["cssrs"]
    bits = [f"PHQ-9 item 9 = {item9}"] if item9 is not None else []
    if cssrs:
        yes = answered_labels(cssrs["answers"])
        bits.append(f"C-SSRS {cssrs['risk']} risk" + (f" ({', '.join(yes)})" if yes else ""))
    risky = cssrs["risk"] in ("moderate", "high") if cssrs else (item9 or 0) >= 1
    return Text(f"Suicide risk {when(r['at'], tz, date_only=True)} {r['source']} {r['id']}: "
                + "; ".join(bits), style="bold red" if risky else "yellow")


def trend_view(d: dict, mrn: str, width: int = 80, rows: int | None = 12, tz=None) -> Panel:
    """The chart, then a table of the baseline and the latest `rows` points (None: all)."""
    label = SCALES[d["measure"]][4]
    parts: list = [Text(f"{label} baseline {d['baseline']} "
                        f"({d['points'][0]['date']}), {len(d['infusions'])} infusions")]
    if len(d["points"]) > 1:
        parts.append(chart(d, width=width - 6))
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for colname in ("Date", "Source", "Infusions", label, "Change", "Status"):
        t.add_column(colname, justify="right" if colname in ("Infusions", label, "Change") else "left")
    points = d["points"]
    hidden = 0
    if rows is not None and len(points) > rows + 1:
        hidden = len(points) - rows - 1
        points = [points[0], *points[-rows:]]
    for i, p in enumerate(points):
        if hidden and i == 1:
            t.add_row("...", f"{hidden} more", "", "", "", Text("see --all", style="dim"))
        ch = "-" if p["change_pct"] is None else f"{p['change_pct']:+.0f}%"
        t.add_row(p["date"], p["source"], str(p["infusions_before"]), str(p["total"]), ch,
                  Text(p["status"], style=STATUS_STYLE.get(p["status"], "")))
    parts.append(t)
    if d["latest_status"]:
        parts.append(Text.assemble("Latest: ", (d["latest_status"],
                                                STATUS_STYLE.get(d["latest_status"], ""))))
    if d["review_note"]:
        parts.append(Text("NOTE: " + d["review_note"], style="bold yellow"))
    for r in d.get("suicide_risk", []):
        parts.append(_risk_line(r, tz))
    return Panel(Group(*parts), title=Text(f"Trend - {mrn} - {label}"), title_align="left")


__all__ = ["chart", "outcomes", "trend_view"]
