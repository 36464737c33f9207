"""Rich views of an infusion session: start, observations, the summary panel."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ketacli.domain.identity import who
from ketacli.render.fmt import dash, hm, num, when
from ketacli.render.lines import LEVEL_MARK, LEVEL_STYLE
from ketacli.render.screening import risk_text


def alert_text(alerts: list[dict]) -> Text:
    t = Text()
    for i, a in enumerate(alerts):
        if i:
            t.append("\n")
        t.append(f"{LEVEL_MARK[a['level']]}: {a['message']}", style=LEVEL_STYLE[a["level"]])
    return t


def _rates(d: dict) -> str:
    ml = f", {num(d['rate_ml_per_h'])} mL/h" if d.get("rate_ml_per_h") else ""
    conc = (f" at {num(d['concentration_mg_per_ml'])} mg/mL"
            if d.get("concentration_mg_per_ml") else "")
    return f"{num(d['rate_mg_per_h'])} mg/h{ml}{conc}"


def _weight_line(d: dict) -> str:
    bmi = f", BMI {num(d['bmi'])}" if d.get("bmi") is not None else ""
    if d["weight_basis"] == "actual":
        return f"Dosing weight {num(d['dosing_weight_kg'])} kg (actual weight{bmi})"
    return (f"Dosing weight {num(d['dosing_weight_kg'])} kg ({d['weight_basis']} body weight; "
            f"actual {num(d['weight_kg'])} kg{bmi})")


def override_text(d: dict) -> Text:
    """OVERRIDE of the rules lifted, with the reason and the co-signer."""
    by = f" (co-signed by {d['cosign']})" if d.get("cosign") else ""
    return Text(f"OVERRIDE of {', '.join(d['overridden'])}{by}: {d['override']}",
                style="bold yellow")


def start_panel(d: dict, tz) -> Panel:
    parts: list = [
        Text(f"Dose {num(d['dose_mg_per_kg'], 2)} mg/kg x {num(d['dosing_weight_kg'])} kg = "
             f"{num(d['dose_mg'])} mg over {num(d['duration_min'])} min"),
        Text(_weight_line(d)),
        Text(f"Rate {_rates(d)}"),
        Text(f"Drawn {num(d['drawn_mg'])} mg  lot {dash(d['lot'])}"
             + (f"  draw {num(d['volume_ml'])} mL" if d.get("volume_ml") else "")),
    ]
    if d.get("chair"):
        parts.append(Text(f"Chair: {d['chair']}"))
    if d["override"]:
        parts.append(override_text(d))
    if d["pre_infusion_alerts"]:
        parts.append(alert_text(d["pre_infusion_alerts"]))
    parts.append(Text(f"Next: ketacli log-vitals {d['session_id']} --bp SYS/DIA --hr N --spo2 N",
                      style="dim"))
    title = (f"Session {d['session_id']} started - {who(d.get('name'), d['patient'])} - infusion "
             f"{d['number_in_series']} - {when(d['started_at'], tz)}")
    return Panel(Group(*parts), title=Text(title), title_align="left")


def followup_lines(rows: list[dict]) -> Text:
    if not rows:
        return Text("No follow-ups scheduled.")
    t = Text("Follow-ups scheduled:")
    for r in rows:
        t.append(f"\n  #{r['followup_id']} {r['kind']} due {r['due']}")
    return t


SHORT = {"sbp": "SBP", "dbp": "DBP", "hr": "HR", "spo2": "SpO2", "rr": "RR", "etco2": "EtCO2",
         "moaas": "MOAA/S", "sbp_rise": "SBP", "dbp_rise": "DBP"}
COLUMNS = (("hr", "HR"), ("spo2", "SpO2"), ("rr", "RR"), ("etco2", "EtCO2"),
           ("moaas", "MOAA/S"), ("dissociation", "Diss"))


def short_alerts(alerts: list[dict]) -> Text:
    """Alerts for a table cell: '!! SBP 185' (critical), '! DBP 100' (warning)."""
    t = Text()
    for i, a in enumerate(alerts):
        if i:
            t.append("\n")
        mark = "!!" if a["level"] == "critical" else "!"
        value = f"+{a['value']}" if a["parameter"].endswith("_rise") else a["value"]
        t.append(f"{mark} {SHORT.get(a['parameter'], a['parameter'])} {value}",
                 style=LEVEL_STYLE[a["level"]])
    return t


def _obs_table(d: dict, tz) -> Table:
    obs = d["observations"]
    shown = [(k, label) for k, label in COLUMNS if any(o[k] is not None for o in obs)]
    any_alert = any(o["alerts"] for o in obs)
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False, title="Observations",
              title_justify="left", caption_justify="left", collapse_padding=True,
              caption=" ".join(x for x in (
                  "!! critical  ! warning (protocol thresholds)" if any_alert else "",
                  "* late entry" if any(o.get("late") for o in obs) else "") if x) or None)
    # values never shrink (min_width: their widest), only the alerts wrap: nothing is cut
    t.add_column("Time", no_wrap=True, min_width=5)
    t.add_column("Min", justify="right", no_wrap=True, min_width=5)
    t.add_column("BP", no_wrap=True, min_width=7)
    for _, label in shown:
        t.add_column(label, justify="right", no_wrap=True, min_width=len(label))
    t.add_column("Alerts", overflow="fold", min_width=8)
    for o in obs:
        levels = {a["level"] for a in o["alerts"]}
        style = "red" if "critical" in levels else "yellow" if levels else None
        bp = f"{o['sbp']}/{o['dbp']}" if o["sbp"] is not None else "-"
        label = {"pre": "pre", "discharge": "disch"}.get(o["phase"], num(o["minutes_into_infusion"]))
        t.add_row(hm(o["at"], tz) + ("*" if o.get("late") else ""), label, bp,
                  *(dash(o[k]) for k, _ in shown),
                  short_alerts(o["alerts"]) if o["alerts"] else Text("-"), style=style)
    return t


def _ranges(r: dict) -> str:
    """'BP 128-185/80-104, HR 70-88, SpO2 97-98': lowest-highest of each recorded vital."""
    def span(key):
        lo, hi = r[key]
        return f"{lo}-{hi}" if lo != hi else f"{lo}"

    bits = []
    if "sbp" in r and "dbp" in r:
        bits.append(f"BP {span('sbp')}/{span('dbp')}")
    for key, label in (("hr", "HR"), ("spo2", "SpO2"), ("rr", "RR"), ("etco2", "EtCO2")):
        if key in r:
            bits.append(f"{label} {span(key)}")
    return ", ".join(bits)


def _head(d: dict, tz) -> list:
    p = d["patient"]
    parts: list = [Text.assemble(
        (p["name"], "bold"), f"  MRN {p['mrn']}  DOB {dash(p['dob'])}  sex {p['sex']}")]
    sc = d["screening"]
    if sc:
        line = Text(f"Screening {sc['screening_id']} ({when(sc['at'], tz, date_only=True)}): "
                    f"{sc['decision']}; PHQ-9 {dash(sc['phq9_total'])}")
        parts.append(line)
        risk = risk_text(sc.get("phq9_item9"), sc.get("cssrs"), flagged=sc["suicide_risk_flag"])
        if risk is not None:
            parts.append(risk)
    else:
        parts.append(Text("No screening (started with override)", style="yellow"))
    if "suicide-risk" in d.get("overridden", []):
        parts.append(Text("Started over a suicide-risk refusal (override)", style="bold yellow"))
    status = (f"discharged {when(d['discharge']['discharged_at'], tz)}" if d["discharge"]
              else "OPEN")
    if d.get("void"):
        status += ", VOIDED"
    chair = f" in {chair_label(d['chair'])}" if d.get("chair") else ""
    parts.append(Text(f"Infusion {d['number_in_series']}{chair}: started "
                      f"{when(d['started_at'], tz)}, {status}"))
    return parts


def chair_label(chair: str) -> str:
    """'Room 3' or 'Chair 3' as typed; a bare number '1' as 'chair 1' (not 'in 1')."""
    return f"chair {chair}" if chair[:1].isdigit() else chair


def _delivered(d: dict, tz) -> str:
    """What the pump delivered: once discharged, the recorded amount; while open, by the
    pump's end (pauses and rate changes move it later), or so far while paused."""
    mg = num(d["delivered_mg"])
    if d["discharge"]:
        return f"delivered {mg} mg"
    if d["ended_by"] == "dose":
        return f"{mg} mg by the pump's end {hm(d['infusion_end'], tz)}"
    return f"{mg} mg delivered"


def _ended(d: dict, tz) -> str:
    """How the infusion ended when it was not the full dose: a stop (the only early stop),
    a pause not resumed, or an explicit end before the pump's."""
    if d["ended_by"] == "end":
        return f"; ended {hm(d['infusion_end'], tz)}, before the pump's end"
    return {"stop": "; stopped early", "pause": "; paused, not resumed"}.get(d["ended_by"], "")


def _dose(d: dict, tz) -> list:
    dis = d["discharge"]
    # the rates on a line of their own, as in the start panel: at 80 columns "at 10 mg/mL"
    # never splits a number from its unit
    parts: list = [Text(
        f"Dose {num(d['dose_mg_per_kg'], 2)} mg/kg x {num(d['weight_kg'])} kg = "
        f"{num(d['dose_mg'])} mg over {num(d['duration_min'])} min"),
        Text(f"Rate {_rates(d)}")]
    # what happened to the rest (waste and its witness, a pause, an early end) on the next
    # line, so "witness rn.chen" never breaks between the word and the name
    rest = ((f"; wasted {num(dis['wasted_mg'])} mg, witness {dis['waste_witness']}"
             if dis and dis["wasted_mg"] else "")
            + (f"; paused {num(d['paused_min'])} min" if d["paused_min"] else "")
            + _ended(d, tz))
    parts.append(Text(
        f"Lot {dash(d['lot'])}; drawn {num(d['drawn_mg'])} mg; {_delivered(d, tz)}"
        + (f";\n  {rest[2:]}" if rest else "")))
    if d["override"]:
        by = f", co-signed by {d['cosign']}" if d.get("cosign") else ""
        parts.append(Text(f"Start override ({', '.join(d['overridden'])}{by}): {d['override']}",
                          style="bold yellow"))
    rng = _ranges(d["vitals_range"])
    if rng:
        parts.append(Text(f"Vitals range: {rng}"))
    ac = d["alert_counts"]
    if ac["critical"] or ac["warning"]:
        parts.append(Text(f"Alerts: {ac['critical']} critical, {ac['warning']} warning",
                          style="bold red" if ac["critical"] else "bold yellow"))
    return parts


def _events_table(d: dict, tz) -> Table:
    ev = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="Events", title_justify="left")
    for col in ("Time", "Min", "Event", "Detail"):
        ev.add_column(col)
    for e in d["events"]:
        extra = f"{num(e['rate_mg_per_h'])} mg/h" if e["rate_mg_per_h"] else ""
        ev.add_row(hm(e["at"], tz), num(e["minutes_into_infusion"]), e["kind"],
                   Text(" ".join(x for x in (extra, e["detail"] or "") if x) or "-"))
    return ev


def _discharge(dis: dict) -> list:
    crit = Text("Discharge criteria:")
    for c in dis["criteria"]:
        crit.append("\n  ")
        crit.append("met     " if c["met"] else "NOT MET ",
                    style="green" if c["met"] else "bold red")
        crit.append(c["detail"])
    parts: list = [crit]
    if dis["override"]:
        by = f" (co-signed by {dis['cosign']})" if dis.get("cosign") else ""
        parts.append(Text(f"Discharge override{by}: {dis['override']}", style="bold yellow"))
    parts.append(Text(f"Home by {dis['transport']}"
                      + (f" with {dis['escort']}" if dis["escort"] else "")
                      + "; no driving until the next day."))
    return parts


def _monitoring(m: dict) -> Text:
    yn = {True: "yes", False: "no"}
    return Text(
        f"Monitoring record: BP pre {dash(m['bp_pre'])}, ~40 min {dash(m['bp_40min'])}, "
        f"discharge {dash(m['bp_discharge'])}; monitored {dash(m['monitoring_minutes'])} min; "
        f"sedation {yn[m['sedation']]}, dissociation {yn[m['dissociation']]}, respiratory "
        f"depression {yn[m['respiratory_depression']]}; lot {dash(m['lot'])}; concomitant "
        f"{', '.join(m['concomitant_meds']) or 'none'}")


def gap_lines(d: dict, tz) -> list[Text]:
    """'no vitals 09:20-09:45; due every 10 min', one line a gap."""
    return [Text(f"Gap in monitoring: no vitals since {hm(g['from'], tz)} ({g['minutes']} min "
                 f"so far); due every {num(g['due_every_min'])} min" if g.get("ongoing") else
                 f"Gap in monitoring: no vitals {hm(g['from'], tz)}-{hm(g['to'], tz)} "
                 f"({g['minutes']} min); due every {num(g['due_every_min'])} min",
                 style="bold yellow") for g in d.get("monitoring_gaps", [])]


def _corrections(d: dict, tz) -> list:
    """Late entries, waste recorded after the fact, and the void of the session."""
    parts: list = []
    late = [(o["at"], "vitals", o["late"], o["clinician"]) for o in d["observations"] if o.get("late")]
    late += [(e["at"], e["kind"], e["late"], e["clinician"]) for e in d["events"] if e.get("late")]
    late += [(w["at"], f"waste {w['mg']:.1f} mg", w["late"], w["clinician"])
             for w in d.get("wastes", []) if w["late"]]
    if late:
        t = Text("Late entries:", style="bold")
        for at, what, why, who in sorted(late):
            t.append(f"\n  {hm(at, tz)} {what} by {who}: ", style="")
            t.append(why, style="")
        parts.append(t)
    for w in d.get("wastes", []):
        parts.append(Text(f"Wasted {w['mg']:.1f} mg at {hm(w['at'], tz)}, witnessed by "
                          f"{w['witness']} (waste {w['waste_id']})"))
    if d.get("void"):
        v = d["void"]
        t = Text(f"VOIDED (entered in error) at {hm(v['at'], tz)} by {v['clinician']}: ",
                 style="bold red")
        t.append(v["reason"], style="")
        parts.append(t)
    return parts


def summary_panel(d: dict, tz) -> Panel:
    """The session panel for the chart (80 columns)."""
    parts: list = [*_head(d, tz), *_dose(d, tz), _obs_table(d, tz), *gap_lines(d, tz)]
    if d["events"]:
        parts.append(_events_table(d, tz))
    parts.extend(_corrections(d, tz))
    if d["side_effects"]:
        parts.append(Text("Side effects: " + ", ".join(
            f"{e['code']} ({e['severity']})" for e in d["side_effects"])))
    if d["discharge"]:
        parts.extend(_discharge(d["discharge"]))
    parts.append(_monitoring(d["monitoring"]))
    parts.append(Text(f"Recorded by: {', '.join(d['clinicians'])}", style="dim"))
    title = (f"Session {d['session_id']} - {who(d['patient'].get('name'), d['patient']['mrn'])}"
             f" - {d['status']}")
    return Panel(Group(*parts), title=Text(title), title_align="left")


def event_line(d: dict, mrn: str) -> Text:
    extra = f" to {d['rate_mg_per_h']:g} mg/h" if d["rate_mg_per_h"] else ""
    late = " - late entry" if d.get("late") else ""
    return Text(f"Event {d['event_id']}: {d['kind']}{extra} at {d['minutes_into_infusion']:g} min "
                f"(session {d['session_id']}, {mrn}){late}")


def waste_line(d: dict, who: str | None = None) -> Text:
    """`who`: "Ann Example (MRN-1001)", so a wrong session id is caught at the chair."""
    t = Text(f"Waste {d['waste_id']}: {d['mg']:.1f} mg for session {d['session_id']}"
             f", {who or d['patient']}, witnessed by ")
    t.append(d["witness"])
    t.append(" (late entry)" if d["late"] else "")
    t.append(f"\nWasted so far {d['wasted_total_mg']:.1f} of {d['drawn_mg']:.1f} mg drawn")
    if d["unaccounted_mg"]:
        t.append(f"; {d['unaccounted_mg']:.1f} mg still unaccounted", style="bold yellow")
    return t


def void_lines(d: dict) -> Text:
    t = Text(f"Voided {d['kind']} {d['id']} (void {d['void_id']}); the original is kept.")
    if d["kind"] == "session":
        t.append("\nIts drawn ketamine stays in the controlled-substance ledger until "
                 f"wasted:\n  ketacli waste {d['id']} --mg MG --witness NAME")
    if d.get("cancelled_followups"):
        t.append("\nCancelled the follow-ups it booked: "
                 + ", ".join(f"#{i}" for i in d["cancelled_followups"]))
    if d.get("rebooked_followups"):
        t.append("\nBooked again the infusion it had completed: "
                 + ", ".join(f"#{i}" for i in d["rebooked_followups"]))
    return t
