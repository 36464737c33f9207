"""Rich view of a screening."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ketacli.domain.scales import LABELS
from ketacli.render.fmt import dash, num, when

DECISION_STYLE = {"eligible": "bold green", "needs-review": "bold yellow",
                  "ineligible": "bold white on red"}


def screening_panel(r: dict, tz) -> Panel:
    parts: list = []
    if r["suicide_risk_flag"]:
        parts.append(Text(
            f"!! SUICIDE RISK FLAG: PHQ-9 item 9 = {r['phq9_items'][8]}: "
            "a suicide risk assessment is required before treatment",
            style="bold white on red",
        ))
    parts.append(Text.assemble(
        "Decision: ", (r["decision"].upper(), DECISION_STYLE[r["decision"]]),
        f"   valid until {r['valid_until']}",
    ))
    for reason in r["reasons"]:
        parts.append(Text(f"  - {reason}"))
    t = Table(show_header=True, box=None, pad_edge=False)
    t.add_column("Scale")
    t.add_column("Total", justify="right")
    t.add_column("Severity")
    t.add_column("Items")
    for key, label in LABELS.items():
        sc = r[key]
        if sc is None:
            continue
        items = r.get(f"{key}_items")
        t.add_row(label, str(sc["total"]), sc["severity"], ",".join(map(str, items)) if items else "")
    if t.row_count:
        parts.append(t)
    parts.append(Text(
        f"Weight {num(r['weight_kg'])} kg  height {num(r['height_cm'])} cm"
        + (f"  BMI {num(r['bmi'])}" if r.get("bmi") is not None else "") + f"  BP {r['bp']}  "
        f"HR {r['hr']}  SpO2 {dash(r['spo2'])}  indication {dash(r['indication'])}"
    ))
    if r["conditions"] or r["meds"]:
        parts.append(Text(f"Conditions: {', '.join(r['conditions']) or '-'}   "
                          f"Medications: {', '.join(r['meds']) or '-'}"))
    title = f"Screening {r['screening_id']} - {r['patient']} - {when(r['at'], tz)} - {r['clinician']}"
    return Panel(Group(*parts), title=Text(title), title_align="left")
