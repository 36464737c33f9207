"""Rich views of follow-ups."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from ketacli.render.fmt import dash

STATUS_STYLE = {"pending": "bold", "done": "green", "cancelled": "dim"}


def followup_table(rows: list[dict], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("ID", "Kind", "Due", "Status", "Note"):
        t.add_column(col)
    for r in rows:
        note = r["cancel_reason"] if r["status"] == "cancelled" else r["note"]
        t.add_row(str(r["followup_id"]), r["kind"], r["due"],
                  Text(r["status"], style=STATUS_STYLE[r["status"]]), Text(dash(note)))
    if not rows:
        t.caption = "No follow-ups."
    return t


def due_table(rows: list[dict], target, upto) -> Table:
    span = f"due by {upto}" if upto != target else f"due by {target}"
    t = Table(title=f"Follow-ups {span} ({len(rows)})", title_justify="left", box=box.SIMPLE_HEAD,
              pad_edge=False)
    t.add_column("ID", justify="right")
    t.add_column("MRN", no_wrap=True)
    t.add_column("Name", min_width=12)
    t.add_column("Phone", no_wrap=True)
    t.add_column("Kind", no_wrap=True)
    t.add_column("Due", no_wrap=True)
    t.add_column("Late", justify="right", no_wrap=True)
    sent = any(r["notified_at"] for r in rows)
    if sent:
        t.add_column("Sent", no_wrap=True)
    for r in rows:
        from datetime import date

        late = (target - date.fromisoformat(r["due"])).days if r["overdue"] else 0
        cells = [str(r["followup_id"]), Text(r["patient"]), Text(r["name"]),
                 Text(dash(r["phone"])), r["kind"], r["due"],
                 Text(f"{late} d", style="bold red") if late else "-"]
        if sent:
            cells.append("yes" if r["notified_at"] else "-")
        t.add_row(*cells)
    if not rows:
        t.caption = "Nothing due."
    return t
