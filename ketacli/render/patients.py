"""Rich views of patients."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ketacli.render.fmt import dash, num, when

DECISION_STYLE = {"eligible": "green", "needs-review": "yellow", "ineligible": "bold red"}


def patient_table(rows: list[dict], tz) -> Table:
    t = Table(title=f"Patients ({len(rows)})", title_justify="left")
    t.add_column("MRN", no_wrap=True)
    t.add_column("Name")
    t.add_column("DOB", no_wrap=True)
    t.add_column("Sex")
    t.add_column("Sessions", justify="right")
    t.add_column("Last session", no_wrap=True)
    t.add_column("Pending", justify="right")
    for r in rows:
        t.add_row(
            Text(r["mrn"]), Text(r["name"]), dash(r["dob"]), r["sex"], str(r["sessions"]),
            when(r["last_session"], tz, date_only=True), str(r["pending_followups"]),
        )
    if not rows:
        t.caption = "No patients yet: add one with 'ketacli patient add' or 'ketacli screen'."
    return t


def patient_overview(data: dict, tz) -> Panel:
    p = data["patient"]
    head = Text.assemble(
        (p["name"], "bold"), f"  MRN {p['mrn']}",
        f"  DOB {dash(p['dob'])}  sex {p['sex']}  phone {dash(p['phone'])}",
    )
    parts: list = [head]
    if data["screenings"]:
        t = Table(title="Screenings", title_justify="left", expand=False)
        for col in ("ID", "Date", "Decision", "PHQ-9", "Valid until", "Reasons"):
            t.add_column(col)
        for s in data["screenings"]:
            flag = " (suicide risk flag)" if s["suicide_risk_flag"] else ""
            t.add_row(
                str(s["screening_id"]), when(s["at"], tz, date_only=True),
                Text(s["decision"] + flag, style=DECISION_STYLE.get(s["decision"], "")),
                dash(s["phq9_total"]), s["valid_until"], Text("; ".join(s["reasons"]) or "-"),
            )
        parts.append(t)
    else:
        parts.append(Text("No screening recorded."))
    if data["sessions"]:
        t = Table(title="Sessions", title_justify="left")
        for col in ("ID", "#", "Started", "Dose", "Status"):
            t.add_column(col)
        for s in data["sessions"]:
            t.add_row(
                str(s["session_id"]), str(s["number_in_series"]), when(s["started_at"], tz),
                f"{num(s['dose_mg'])} mg ({num(s['dose_mg_per_kg'], 2)} mg/kg)", s["status"],
            )
        parts.append(t)
    if data["pending_followups"]:
        t = Table(title="Pending follow-ups", title_justify="left")
        for col in ("ID", "Kind", "Due", "Note"):
            t.add_column(col)
        for f in data["pending_followups"]:
            t.add_row(str(f["followup_id"]), f["kind"], f["due"], Text(dash(f["note"])))
        parts.append(t)
    return Panel(Group(*parts), title=f"Patient {p['mrn']}", title_align="left")


def added_line(p: dict) -> Text:
    return Text.assemble("Added patient ", (p["mrn"], "bold"), ".")
