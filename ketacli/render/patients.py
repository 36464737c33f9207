"""Rich views of patients."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ketacli.domain.identity import who
from ketacli.render.fmt import dash, num, when

DECISION_STYLE = {"eligible": "green", "needs-review": "yellow", "ineligible": "bold red"}


def patient_table(rows: list[dict], tz) -> Table:
    from rich import box

    from ketacli.textsafety import escape  # before layout: a stored U+2028 must not split a row

    # a light table (no side borders): at 80 columns a name up to 28 characters stays on
    # its line, as it does on the board
    t = Table(title=f"Patients ({len(rows)})", title_justify="left", box=box.SIMPLE_HEAD,
              pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    t.add_column("MRN", no_wrap=True)
    t.add_column("Name", min_width=min(28, max((len(escape(r["name"])) for r in rows),
                                               default=4)))
    t.add_column("DOB", no_wrap=True)
    t.add_column("Sex")
    # "Infused", not "Last session": at 80 columns "Ann Example" stays on one line
    t.add_column("Sessions", justify="right")
    t.add_column("Infused", no_wrap=True)  # the last session's date
    t.add_column("Pending", justify="right")
    for r in rows:
        t.add_row(
            Text(r["mrn"]), Text(escape(r["name"])), dash(r["dob"]), r["sex"], str(r["sessions"]),
            when(r["last_session"], tz, date_only=True), str(r["pending_followups"]),
        )
    if not rows:
        t.caption = "No patients yet: add one with 'ketacli patient add' or 'ketacli screen'."
    return t


def _risk_cell(item9, cssrs) -> Text:
    """PHQ-9 item 9 and C-SSRS risk in one short table cell: "i9 2 / C-SSRS low"."""
    bits = [f"i9 {item9}"] if item9 is not None else []
    if cssrs:
        bits.append(f"C-SSRS {cssrs['risk']}")
    risky = (item9 or 0) >= 1 or (cssrs and cssrs["risk"] in ("moderate", "high"))
    return Text(" / ".join(bits) or "-", style="bold red" if risky else "")


def _standing_risk(risk: dict, mrn: str) -> Text:
    how = ("not overridable: a new screening is needed" if not risk["overridable"]
           else "until a C-SSRS of risk none or low is recorded "
                f"('ketacli followup record {mrn} --cssrs ...')")
    return Text(f"!! NEXT START REFUSED (suicide-risk): {risk['message']}; {how}",
                style="bold white on red")


def _screenings(data: dict, tz) -> Table:
    t = Table(title="Screenings", title_justify="left", expand=False)
    for col in ("ID", "Date", "Decision", "PHQ-9", "Risk", "Valid until", "Reasons"):
        t.add_column(col)
    for s in data["screenings"]:
        flag = " (suicide risk flag)" if s["suicide_risk_flag"] else ""
        t.add_row(
            str(s["screening_id"]), when(s["at"], tz, date_only=True),
            Text(s["decision"] + flag, style=DECISION_STYLE.get(s["decision"], "")),
            dash(s["phq9_total"]), _risk_cell(s.get("phq9_item9"), s.get("cssrs")),
            s["valid_until"], Text("; ".join(s["reasons"]) or "-"),
        )
    return t


def _assessments(rows: list[dict], tz) -> Table:
    t = Table(title="Assessments", title_justify="left", expand=False)
    for col in ("ID", "Date", "PHQ-9", "GAD-7", "Risk"):
        t.add_column(col)
    for a in rows:
        t.add_row(str(a["assessment_id"]), when(a["at"], tz, date_only=True),
                  dash(a["phq9_total"]), dash(a["gad7_total"]),
                  _risk_cell(a["phq9_item9"], a["cssrs"]))
    return t


def _changes(rows: list[dict], tz) -> Table:
    t = Table(title="Changes", title_justify="left", expand=False)
    for col in ("Date", "By", "Fields", "Reason"):
        t.add_column(col)
    for c in rows:
        t.add_row(when(c["at"], tz), Text(c["by"]), ", ".join(c["fields"]), Text(c["reason"]))
    return t


def patient_overview(data: dict, tz) -> Panel:
    p = data["patient"]
    head = Text.assemble(
        (p["name"], "bold"), f"  MRN {p['mrn']}",
        f"  DOB {dash(p['dob'])}  sex {p['sex']}  phone {dash(p['phone'])}",
    )
    parts: list = [head]
    if p.get("address"):
        parts.append(Text(f"Address: {p['address']}"))
    if data.get("suicide_risk"):
        parts.append(_standing_risk(data["suicide_risk"], p["mrn"]))
    if data.get("changes"):
        parts.append(_changes(data["changes"], tz))
    if data["screenings"]:
        parts.append(_screenings(data, tz))
    else:
        parts.append(Text("No screening recorded."))
    if data.get("assessments"):
        parts.append(_assessments(data["assessments"], tz))
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
    return Text.assemble("Added patient ", (who(p["name"], p["mrn"]), "bold"), ".")


def edited_line(r: dict) -> Text:
    return Text.assemble("Updated patient ", (who(r["name"], r["mrn"]), "bold"),
                         f": {', '.join(r['changed'])} (earlier values kept).")
