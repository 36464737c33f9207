"""Rich views of clinic-level figures."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ketacli.render import csv_writer


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


def _pct(x) -> str:
    return "-" if x is None else f"{x:.0%}"


def outcomes_view(d: dict) -> Panel:
    period = f"{d['since'] or 'start'} to {d['until'] or 'today'}"
    t = Table(box=None, show_header=False, pad_edge=False)
    t.add_column(justify="right")
    t.add_column()
    t.add_row(f"{d['patients_screened']:,}", "patients screened")
    t.add_row(f"{d['patients_treated']:,}", "patients treated")
    t.add_row(f"{d['sessions']:,}", f"sessions ({d['sessions_discharged']:,} discharged)")
    md = d["mean_dose_mg_per_kg"]
    t.add_row("-" if md is None else f"{md:.2f}", "mean dose, mg/kg")
    t.add_row(_pct(d["alert_rate"]), "of sessions with any alert")
    n = d["patients_completed_induction"]
    t.add_row(_pct(d["response_rate"]),
              f"response (PHQ-9 drop >= 50% or remission), n = {n} with >= "
              f"{d['induction_sessions']} infusions")
    t.add_row(_pct(d["remission_rate"]), "remission (PHQ-9 < 5)")
    o = d["overrides"]
    t.add_row(str(o["start"] + o["discharge"]),
              f"overrides used ({o['start']} at start, {o['discharge']} at discharge)")
    parts: list = [t]
    if d["side_effect_rates"]:
        se = Table(box=None, pad_edge=False)
        se.add_column("Code")
        se.add_column("Rate", justify="right")
        for code, rate in d["side_effect_rates"].items():
            se.add_row(code, _pct(rate))
        parts += [Text(""), Text("Side effects (share of discharged sessions)"), se]
    return Panel(Group(*parts), title=Text(f"Clinic outcomes - {period}"), title_align="left")


def _mg(x) -> str:
    if x is None:
        return "-"
    return f"{x:.1f}"


def ledger_view(d: dict) -> Group:

    period = f"{d['since'] or 'start'} to {d['until'] or 'today'}"
    t = Table(title=f"Controlled-substance ledger: ketamine, {period} (mg)",
              title_justify="left", box=None, pad_edge=False, padding=(0, 1, 0, 0),
              show_edge=False)
    for col, just in (("Date", "left"), ("Sess", "right"), ("MRN", "left"), ("Lot", "left"),
                      ("Drawn", "right"), ("Given", "right"), ("Waste", "right"),
                      ("Witness", "left"), ("By", "left"), ("Check", "left")):
        # numbers and names never wrap (a staff name folded as "rn.bake / r" is misread);
        # only Check, which can say "!! VOIDED +30.0 mg", wraps at a word
        wraps = col == "Check"
        t.add_column(col, justify=just, no_wrap=not wraps,
                     overflow="fold" if wraps else "ellipsis",
                     min_width=9 if col == "Check" else None)
    for e in d["sessions"]:
        if e["status"] == "open":
            check = Text("OPEN", style="yellow")
        elif e.get("unverified"):
            check = Text("!! unaudited", style="bold white on red")
        elif e["discrepancy"]:
            voided = "VOIDED " if e["status"] == "voided" else ""
            check = Text(f"!! {voided}{e['unaccounted_mg']:+.1f} mg", style="bold white on red")
        elif e["status"] == "voided":
            check = Text("voided, ok", style="green")
        else:
            check = Text("ok", style="green")
        t.add_row(e["date"][:10], str(e["session_id"]), Text(e["patient"]), Text(e["lot"] or "-"),
                  _mg(e["drawn_mg"]), _mg(e["administered_mg"]) if e["status"] != "open" else "-",
                  _mg(e["wasted_mg"]), Text(e["waste_witness"] or "-"), Text(e["clinician"]), check)
    lots = Table(title="Totals per lot (mg)", title_justify="left", box=box.SIMPLE_HEAD,
                 pad_edge=False)
    for col in ("Lot", "Sessions", "Open", "Drawn", "Given", "Wasted", "Unaccounted", "Flags"):
        lots.add_column(col, justify="left" if col == "Lot" else "right")
    for lt in d["lots"]:
        lots.add_row(Text(lt["lot"]), str(lt["sessions"]), str(lt["open"]), _mg(lt["drawn_mg"]),
                     _mg(lt["administered_mg"]), _mg(lt["wasted_mg"]), _mg(lt["unaccounted_mg"]),
                     Text(str(lt["discrepancies"]), style="bold red" if lt["discrepancies"] else ""))
    n = d["discrepancies"]
    summary = Text(f"{n} {'discrepancy' if n == 1 else 'discrepancies'} on closed sessions"
                   if d["discrepancies"] else "No discrepancies on closed sessions.",
                   style="bold red" if d["discrepancies"] else "green")
    return Group(t, lots, summary)


LEDGER_FIELDS = ("session_id", "date", "patient", "lot", "drawn_mg", "administered_mg",
                 "wasted_mg", "waste_witness", "clinician", "status", "unaccounted_mg",
                 "discrepancy")


def ledger_csv(d: dict, out) -> None:
    """The ledger for a spreadsheet: one row per session, then one total row per lot
    (status "lot-total"; discrepancy = how many)."""

    w = csv_writer.dict_writer(out, LEDGER_FIELDS, extrasaction="ignore")
    w.writeheader()
    for e in d["sessions"]:
        w.writerow({**e, "discrepancy": "YES" if e["discrepancy"] else "",
                    "wasted_mg": "" if e["wasted_mg"] is None else e["wasted_mg"],
                    "unaccounted_mg": "" if e["unaccounted_mg"] is None else e["unaccounted_mg"],
                    "waste_witness": e["waste_witness"] or ""})
    for t in d["lots"]:
        w.writerow({"lot": t["lot"], "drawn_mg": t["drawn_mg"],
                    "administered_mg": t["administered_mg"], "wasted_mg": t["wasted_mg"],
                    "status": "lot-total", "unaccounted_mg": t["unaccounted_mg"],
                    "discrepancy": t["discrepancies"] or ""})
