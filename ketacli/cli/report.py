"""`report outcomes` (and later `report controlled`)."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import Json, Since, Until
from ketacli.errors import Code

app = typer.Typer(help="Clinic reports: outcomes, controlled-substance ledger.",
                  no_args_is_help=True)


def period(since: str | None, until: str | None, tz):
    """--since/--until dates (inclusive, clinic zone) → UTC ISO bounds [lo, hi)."""
    from datetime import timedelta

    from ketacli.clock import day_start_utc, parse_date, to_utc_iso
    from ketacli.errors import Invalid

    s = parse_date(since, option="--since")
    u = parse_date(until, option="--until")
    if s and u and u < s:
        raise Invalid("--until is before --since", code=Code.INVALID_PERIOD)
    lo = to_utc_iso(day_start_utc(s, tz)) if s else None
    hi = to_utc_iso(day_start_utc(u + timedelta(days=1), tz)) if u else None
    return s, u, lo, hi


@app.command("outcomes")
@command
def outcomes_report(since: Since = None, until: Until = None, json_out: Json = False) -> None:
    """Clinic figures: patients, sessions, mean dose, alerts, side effects, response and
    remission (PHQ-9) among patients who finished induction, overrides."""
    from ketacli.cli.settings import settings
    from ketacli.domain import outcomes
    from ketacli.render.out import emit
    from ketacli.store import reports

    s = settings()
    d_since, d_until, lo, hi = period(since, until, s.tz)
    induction = s.protocol.schedule.induction_sessions
    raw = reports.outcomes(s.store(create=False), since=lo, until=hi, induction=induction)
    cohort = outcomes.cohort(raw.pop("finishers"))
    discharged = raw["sessions_discharged"]
    data = {
        "since": d_since.isoformat() if d_since else None,
        "until": d_until.isoformat() if d_until else None,
        **{k: raw[k] for k in ("patients_screened", "patients_treated", "sessions",
                               "sessions_discharged", "mean_dose_mg_per_kg")},
        "alert_rate": outcomes.rate(raw["sessions_with_alert"], raw["sessions"]),
        "sessions_with_alert": raw["sessions_with_alert"],
        "side_effect_rates": {code: outcomes.rate(c, discharged)
                              for code, c in raw["side_effect_counts"].items()},
        "induction_sessions": induction,
        "patients_completed_induction": cohort["n"],
        "response_rate": cohort["response_rate"],
        "remission_rate": cohort["remission_rate"],
        "overrides": raw["overrides"],
    }

    def human(con):
        from ketacli.render.reports import outcomes_view

        con.print(outcomes_view(data))

    emit(data, json_out, human)


LEDGER_FIELDS = ("session_id", "date", "patient", "lot", "drawn_mg", "administered_mg",
                 "wasted_mg", "waste_witness", "clinician", "status", "unaccounted_mg",
                 "discrepancy")


@app.command("controlled")
@command
def controlled(
    since: Since = None,
    until: Until = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    json_out: Json = False,
) -> None:
    """The controlled-substance ledger (ketamine, Schedule III): drawn, administered and
    wasted mg per session, totals per lot, discrepancies flagged."""
    import sys

    from ketacli.cli.settings import settings
    from ketacli.domain import ledger
    from ketacli.errors import Invalid
    from ketacli.render.out import emit
    from ketacli.store import reports

    s = settings()
    fmt = "json" if json_out else fmt.strip().lower()
    if fmt not in ("table", "csv", "json"):
        raise Invalid("--format must be table, csv or json", code=Code.INVALID_CHOICE)
    d_since, d_until, lo, hi = period(since, until, s.tz)
    store = s.store(create=False)
    entries = [ledger.entry(dict(r)) for r in reports.ledger(store, since=lo, until=hi)]
    for e in entries:
        e["date"] = _local_date(e["date"], s.tz)
    lots = ledger.totals(entries)
    if fmt == "csv":
        import csv

        w = csv.DictWriter(sys.stdout, fieldnames=LEDGER_FIELDS, lineterminator="\r\n")
        w.writeheader()
        for e in entries:
            w.writerow({**e, "discrepancy": "YES" if e["discrepancy"] else "",
                        "wasted_mg": "" if e["wasted_mg"] is None else e["wasted_mg"],
                        "unaccounted_mg": "" if e["unaccounted_mg"] is None else e["unaccounted_mg"],
                        "waste_witness": e["waste_witness"] or ""})
        # then one total row per lot (status "lot-total"; discrepancy = how many)
        for t in lots:
            w.writerow({"lot": t["lot"], "drawn_mg": t["drawn_mg"],
                        "administered_mg": t["administered_mg"], "wasted_mg": t["wasted_mg"],
                        "status": "lot-total", "unaccounted_mg": t["unaccounted_mg"],
                        "discrepancy": t["discrepancies"] or ""})
        return
    data = {"since": d_since.isoformat() if d_since else None,
            "until": d_until.isoformat() if d_until else None,
            "sessions": entries, "lots": lots,
            "discrepancies": sum(e["discrepancy"] for e in entries)}

    def human(con):
        from ketacli.render.reports import ledger_view

        con.print(ledger_view(data))

    emit(data, fmt == "json", human)


def _local_date(iso: str, tz) -> str:
    from datetime import datetime

    return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M")
