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
from ketacli.render.out import console, write_utf8

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


def due_writer(fmt: str, target, upto, batch: int | None = None, claimed: bool = False):
    """The function that writes `followup due` rows in one format to a stream (stdout or
    the --output file). A claimed batch is the JSON document's top-level "batch", a
    `batch` column in CSV, a line on stderr for the table."""

    def write(rows: list[dict], fh) -> None:
        if fmt == "json":
            import json

            doc: dict = {"data": rows}
            if claimed:
                doc["batch"] = batch
            write_utf8(fh, json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n")
        elif fmt == "csv":
            fields = (*DUE_FIELDS, "batch") if claimed else DUE_FIELDS
            w = csv_writer.dict_writer(fh, fields)
            w.writeheader()
            for r in rows:
                cells = {**r, "overdue": "yes" if r["overdue"] else "no",
                         "notified_at": r["notified_at"] or ""}
                w.writerow({**cells, "batch": batch} if claimed else cells)
        else:
            con = console() if fh is sys.stdout else console(file=fh, width=100)
            con.print(due_table(rows, target, upto))
        if claimed and fmt == "table" and batch is not None:
            sys.stderr.write(f"batch {batch}: acknowledge with 'ketacli followup ack {batch}'\n")
        fh.flush()

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
