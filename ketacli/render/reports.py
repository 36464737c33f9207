"""Rich views of clinic-level figures."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text


def demo_overview(d: dict, tz) -> Panel:
    c = d["counts"]
    t = Table(box=None, show_header=False, pad_edge=False)
    t.add_column(justify="right")
    t.add_column()
    dec = d["latest_decisions"]
    t.add_row(f"{c['patients']:,}", "patients screened ("
              + ", ".join(f"{dec.get(k, 0)} {k}" for k in ("eligible", "needs-review", "ineligible"))
              + ")")
    t.add_row(f"{d['patients_treated']:,}", "patients treated")
    share = d["sessions_with_alert"] / c["sessions"] if c["sessions"] else 0
    t.add_row(f"{c['sessions']:,}", f"infusion sessions ({share:.0%} with an alert)")
    t.add_row(f"{c['observations']:,}", "vital-sign observations")
    t.add_row(f"{c['assessments']:,}", "outcome assessments")
    t.add_row(f"{c['followups']:,}", f"follow-ups ({d['followups_due']} due or overdue)")
    tries = []
    ex = d["example_session"]
    if ex:
        tries.append(f"ketacli summary {ex['session_id']}   # a session with alerts")
        tries.append(f"ketacli patient show {ex['patient']}")
    for o in d["open_sessions"][:1]:
        tries.append(f"ketacli log-vitals {o['session_id']} --bp 142/88 --hr 84   "
                     f"# {o['patient']} is in the chair")
    tries += ["ketacli patient list", "ketacli audit --verify", "ketacli db check"]
    parts = [t, Text(""), Text("Try next:", style="bold")]
    parts += [Text("  " + line) for line in tries]
    return Panel(Group(*parts), title=Text(f"Demo clinic - {d['database']}"), title_align="left")
