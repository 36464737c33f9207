"""Rich view of a screening."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ketacli.domain.cssrs import answered_labels
from ketacli.domain.identity import who
from ketacli.domain.scales import LABELS
from ketacli.render.fmt import dash, num, when

DECISION_STYLE = {"eligible": "bold green", "needs-review": "bold yellow",
                  "ineligible": "bold white on red"}


def risk_text(item9: int | None, cssrs: dict | None, *, flagged: bool,
              action: str = "a suicide risk assessment is required before treatment"
              ) -> Text | None:
    """PHQ-9 item 9 and the C-SSRS screener in one prominent line (None when neither
    says anything): red when the suicide risk is flagged; short question labels only."""
    bits = []
    answered = bool(item9 and cssrs and cssrs["risk"] in ("none", "low"))
    if item9 is not None and (item9 >= 1 or cssrs):
        bits.append(f"PHQ-9 item 9 = {item9}")
    if cssrs:
        yes = answered_labels(cssrs["answers"])
        bits.append(("answered by " if answered else "") + f"C-SSRS {cssrs['risk']} risk"
                    + (f" ({', '.join(yes)})" if yes else ""))
    if not bits:
        return None
    if flagged and not answered:
        return Text("!! SUICIDE RISK FLAG: " + "; ".join(bits)
                    + ("" if cssrs else f": {action}"), style="bold white on red")
    return Text("Suicide risk: " + "; ".join(bits),
                style="bold yellow" if item9 or (cssrs and cssrs["risk"] != "none") else "")


def screening_panel(r: dict, tz) -> Panel:
    parts: list = []
    item9 = r["phq9_items"][8] if r.get("phq9_items") else None
    line = risk_text(item9, r.get("cssrs"), flagged=r["suicide_risk_flag"])
    if line is not None:
        parts.append(line)
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
    title = (f"Screening {r['screening_id']} - {who(r.get('name'), r['patient'])} - "
             f"{when(r['at'], tz)} - {r['clinician']}")
    return Panel(Group(*parts), title=Text(title), title_align="left")
