"""Rich views of follow-ups."""

from __future__ import annotations

import sys
from datetime import date

from rich import box
from rich.table import Table
from rich.text import Text

from ketacli.domain.scales import LABELS
from ketacli.render import csv_writer
from ketacli.render.fmt import dash
from ketacli.render.out import console, print_json

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


DUE_FIELDS = ("followup_id", "patient", "name", "phone", "kind", "due", "overdue", "notified_at")


def due_writer(fmt: str, target, upto):
    """The function that writes `followup due` rows in one format (called by the store
    while its stamping transaction is open, see store.followups.due)."""

    def write(rows: list[dict]) -> None:
        if fmt == "json":

            print_json({"data": rows})
        elif fmt == "csv":

            w = csv_writer.dict_writer(sys.stdout, DUE_FIELDS)
            w.writeheader()
            for r in rows:
                w.writerow({**r, "overdue": "yes" if r["overdue"] else "no",
                            "notified_at": r["notified_at"] or ""})
            sys.stdout.flush()
        else:

            console().print(due_table(rows, target, upto))

    return write


def assessment_lines(data: dict, phq9_items) -> Text:
    """`followup record` for a person: the suicide-risk banner, then each score."""
    from ketacli.domain.identity import who
    from ketacli.render.screening import risk_text

    t = Text()
    risk = risk_text(phq9_items[8] if phq9_items else None, data.get("cssrs"),
                     flagged=data["suicide_risk_flag"],
                     action="a suicide risk assessment is needed before the next infusion")
    if risk is not None:
        t.append(risk)
        t.append("\n")
    t.append(f"Assessment {data['assessment_id']} for {who(data.get('name'), data['patient'])}" + (
        f" (completed follow-up {data['completed_followup_id']})"
        if data["completed_followup_id"] else ""))

    for measure, label in LABELS.items():
        e = data[measure]
        if e:
            extra = (f"  {e['change_pct']:+.0f}% from baseline {e['baseline']}: {e['status']}"
                     if e.get("change_pct") is not None else "")
            t.append(f"\n  {label} {e['total']} ({e['severity']}){extra}")
    return t


def closed_line(rows: list[dict], status: str) -> str:
    """'Follow-up 3 done.' or 'Follow-ups 3, 4 cancelled.'"""
    ids = ", ".join(str(r["followup_id"]) for r in rows)
    return f"Follow-up{'s' if len(rows) > 1 else ''} {ids} {status}."
