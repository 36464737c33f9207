"""The `followup` group: schedule, list, due (the cron entry point), record, done, cancel."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.common import command, emit, settings
from ketacli.cli.options import At, Json, Mrn, Note

app = typer.Typer(help="Follow-up calls, infusions and assessments; cron reminders.",
                  no_args_is_help=True)
KINDS = ("infusion", "assessment", "call")
DUE_FIELDS = ("followup_id", "patient", "name", "phone", "kind", "due", "overdue", "notified_at")


@app.command("schedule")
@command
def schedule(
    mrn: Mrn,
    kind: Annotated[str, typer.Option("--kind", help="infusion, assessment or call.")],
    due: Annotated[str, typer.Option("--due", help="Due date YYYY-MM-DD (clinic zone).")],
    note: Note = None,
    json_out: Json = False,
) -> None:
    """Schedule a follow-up for a patient."""
    from ketacli.clock import CLOCK, parse_date, to_utc_iso, today
    from ketacli.domain import validate
    from ketacli.errors import Invalid
    from ketacli.store import followups, patients

    s = settings()
    mrn = validate.mrn(mrn)
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise Invalid("--kind must be infusion, assessment or call", code="invalid_choice")
    day = parse_date(due, option="--due")
    if day < today(s.tz):
        raise Invalid("--due is in the past", code="past_date")
    note = validate.free_text(note, "--note", multiline=True)
    store = s.store(create=False)  # the patient must exist, so must the database
    p = patients.get(store, mrn)
    with store.write() as tx:
        fid = followups.add(tx, patient_id=p["id"], mrn=mrn, kind=kind, due=day.isoformat(),
                            at=to_utc_iso(CLOCK.now()), note=note)
    data = followups.as_dict(followups.get(store, fid))
    emit(data, json_out, lambda con: con.print(f"Follow-up {fid}: {kind} for {mrn} due {day}."))


@app.command("list")
@command
def list_(mrn: Mrn, json_out: Json = False) -> None:
    """All of a patient's follow-ups: pending, done and cancelled."""
    from ketacli.domain import validate
    from ketacli.store import followups, patients

    s = settings()
    store = s.store(create=False)
    p = patients.get(store, validate.mrn(mrn))
    rows = [followups.as_dict(r) for r in followups.for_patient(store, p["id"])]

    def human(con):
        from ketacli.render.followups import followup_table

        con.print(followup_table(rows, f"Follow-ups of {p['mrn']}"))

    emit(rows, json_out, human)


@app.command("due")
@command
def due(
    date: Annotated[str | None, typer.Option(
        "--date", help="Target date YYYY-MM-DD. Default: today (clinic zone).")] = None,
    within: Annotated[int | None, typer.Option(
        "--within", min=0, max=365, help="Also what falls due in the next N days.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only what is past due.")] = False,
    unnotified: Annotated[bool, typer.Option(
        "--unnotified", help="Only rows not yet stamped by --mark-notified.")] = False,
    mark_notified: Annotated[bool, typer.Option(
        "--mark-notified", help="Stamp the printed rows as notified.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    json_out: Json = False,
) -> None:
    """Due and overdue follow-ups with name and phone: the cron entry point for reminders.

    Safe to run twice: with --unnotified --mark-notified a second run prints none of the
    rows again; rows are stamped only once they have been written out.
    """
    from datetime import timedelta

    from ketacli.clock import CLOCK, parse_date, to_utc_iso, today
    from ketacli.errors import Invalid
    from ketacli.store import followups

    s = settings()
    fmt = "json" if json_out else fmt.strip().lower()
    if fmt not in ("table", "csv", "json"):
        raise Invalid("--format must be table, csv or json", code="invalid_choice")
    target = parse_date(date, option="--date") or today(s.tz)
    upto = target + timedelta(days=within or 0)
    store = s.store(create=False)

    def write(rows: list[dict]) -> None:
        import sys

        if fmt == "json":
            from ketacli.cli.common import print_json

            print_json({"data": rows})
        elif fmt == "csv":
            import csv

            w = csv.DictWriter(sys.stdout, fieldnames=DUE_FIELDS, lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow({**r, "overdue": "yes" if r["overdue"] else "no",
                            "notified_at": r["notified_at"] or ""})
            sys.stdout.flush()
        else:
            from ketacli.cli.common import console
            from ketacli.render.followups import due_table

            console().print(due_table(rows, target, upto))

    followups.due(store, target=target.isoformat(), upto=upto.isoformat(), overdue_only=overdue,
                  unnotified=unnotified,
                  mark_at=to_utc_iso(CLOCK.now()) if mark_notified else None, emit=write)


@app.command("record")
@command
def record(
    mrn: Mrn,
    phq9: Annotated[str | None, typer.Option("--phq9", help="Nine PHQ-9 items 0-3.")] = None,
    gad7: Annotated[str | None, typer.Option("--gad7", help="Seven GAD-7 items 0-3.")] = None,
    madrs: Annotated[int | None, typer.Option("--madrs", help="MADRS total 0-60.")] = None,
    pcl5: Annotated[int | None, typer.Option("--pcl5", help="PCL-5 total 0-80.")] = None,
    at: At = None,
    note: Note = None,
    json_out: Json = False,
) -> None:
    """Record an outcome assessment; completes the earliest pending assessment follow-up
    due on or before that day."""
    from ketacli.clock import CLOCK, parse_at, to_utc_iso
    from ketacli.domain import outcomes, scales, validate
    from ketacli.errors import Invalid
    from ketacli.store import assessments, followups, patients
    from ketacli.store.db import dumps

    s = settings()
    mrn = validate.mrn(mrn)
    p9 = validate.int_list(phq9, "--phq9", count=9, lo=0, hi=3) if phq9 else None
    g7 = validate.int_list(gad7, "--gad7", count=7, lo=0, hi=3) if gad7 else None
    validate.number(madrs, "--madrs", 0, 60)
    validate.number(pcl5, "--pcl5", 0, 80)
    if p9 is None and g7 is None and madrs is None and pcl5 is None:
        raise Invalid("give at least one score: --phq9, --gad7, --madrs or --pcl5",
                      code="missing_value")
    when = parse_at(at, s.tz)
    note = validate.free_text(note, "--note", multiline=True)
    store = s.store(create=False)
    p = patients.get(store, mrn)
    now_iso = to_utc_iso(CLOCK.now())
    day = when.astimezone(s.tz).date().isoformat()
    with store.write() as tx:
        pending = tx.one(
            "SELECT id FROM followups WHERE patient_id = ? AND kind = 'assessment' "
            "AND status = 'pending' AND due <= ? ORDER BY due, id LIMIT 1", (p["id"], day))
        aid = assessments.add(tx, {
            "patient_id": p["id"], "followup_id": pending[0] if pending else None,
            "at": to_utc_iso(when), "recorded_at": now_iso, "clinician": store.actor.clinician,
            "phq9_items": dumps(p9) if p9 else None, "phq9_total": sum(p9) if p9 else None,
            "gad7_items": dumps(g7) if g7 else None, "gad7_total": sum(g7) if g7 else None,
            "madrs_total": madrs, "pcl5_total": pcl5, "note": note,
        }, mrn=mrn)
        if pending:
            followups.complete_earliest(tx, patient_id=p["id"], mrn=mrn, kind="assessment",
                                        on_or_before=day, at=now_iso, reason=f"assessment {aid}")
    totals = {"phq9": scales.from_items("phq9", p9).total if p9 else None,
              "gad7": scales.from_items("gad7", g7).total if g7 else None,
              "madrs": madrs, "pcl5": pcl5}
    flag = scales.suicide_risk(p9)
    data = {"assessment_id": aid, "patient": mrn, "at": to_utc_iso(when),
            "completed_followup_id": pending[0] if pending else None,
            "suicide_risk_flag": flag}
    for measure, total in totals.items():
        if total is None:
            data[measure] = None
            continue
        entry = scales.from_total(measure, total).as_dict()
        hist = assessments.history(store, p["id"], measure)
        # the baseline is the one `trend` uses (outcomes.baseline_row); a back-dated
        # assessment (not the latest) is compared with it too
        base = outcomes.baseline_row(hist, assessments.infusion_starts(store, p["id"]))
        if base and to_utc_iso(when) >= base["at"]:
            entry["baseline"] = base["total"]
            entry["change_pct"] = outcomes.change_pct(base["total"], total)
            entry["status"] = outcomes.status(measure, base["total"], total)
        data[measure] = entry

    def human(con):
        from rich.text import Text

        if flag:
            con.print(Text(f"!! SUICIDE RISK FLAG: PHQ-9 item 9 = {p9[8]}: a suicide risk "
                           "assessment is required", style="bold white on red"))
        con.print(Text(f"Assessment {aid} for {mrn}" + (
            f" (completed follow-up {data['completed_followup_id']})"
            if data["completed_followup_id"] else "")))
        for measure, label in (("phq9", "PHQ-9"), ("gad7", "GAD-7"), ("madrs", "MADRS"),
                               ("pcl5", "PCL-5")):
            e = data[measure]
            if e:
                extra = (f"  {e['change_pct']:+.0f}% from baseline {e['baseline']}: {e['status']}"
                         if e.get("change_pct") is not None else "")
                con.print(f"  {label} {e['total']} ({e['severity']}){extra}")

    if flag and json_out:
        from ketacli.cli.common import warn

        warn(f"assessment {aid} for {mrn}: PHQ-9 item 9 = {p9[8]}: "
             "a suicide risk assessment is required")
    emit(data, json_out, human)


@app.command("done")
@command
def done(followup_id: Annotated[int, typer.Argument(metavar="ID")], json_out: Json = False) -> None:
    """Mark a pending follow-up done."""
    from ketacli.clock import CLOCK, to_utc_iso
    from ketacli.store import followups

    data = followups.close(settings().store(create=False), followup_id, status="done",
                           at=to_utc_iso(CLOCK.now()))
    emit(data, json_out, lambda con: con.print(f"Follow-up {followup_id} done."))


@app.command("cancel")
@command
def cancel(
    followup_id: Annotated[int, typer.Argument(metavar="ID")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why it is cancelled.")] = None,
    json_out: Json = False,
) -> None:
    """Cancel a pending follow-up (a reason is required)."""
    from ketacli.clock import CLOCK, to_utc_iso
    from ketacli.domain import validate
    from ketacli.store import followups

    reason = validate.free_text(reason, "--reason", max_len=500, required=True)
    data = followups.close(settings().store(create=False), followup_id, status="cancelled",
                           at=to_utc_iso(CLOCK.now()), reason=reason)
    emit(data, json_out, lambda con: con.print(f"Follow-up {followup_id} cancelled."))
