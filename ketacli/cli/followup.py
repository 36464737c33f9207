"""The `followup` group: schedule, list, due (the cron entry point), record, done, cancel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import At, CssrsOpt, Gad7, Json, Madrs, Mrn, Note, Pcl5, Phq9, Reason, TableFormat

app = typer.Typer(help="Follow-up calls, infusions and assessments; cron reminders.",
                  no_args_is_help=True)


@app.command("schedule")
@command
def schedule(
    mrn: Mrn,
    kind: Annotated[str, typer.Option("--kind", help="infusion, assessment, call or screening.")],
    due: Annotated[str, typer.Option("--due", help="Due date YYYY-MM-DD (clinic zone).")],
    note: Note = None,
    json_out: Json = False,
) -> None:
    """Schedule a follow-up for a patient."""
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK, to_utc_iso, today
    from ketacli.domain import followups as rules
    from ketacli.render.out import emit
    from ketacli.store import followups, patients

    s = settings()
    form = rules.ScheduleForm.parse(mrn=mrn, kind=kind, due=due, note=note, today=today(s.tz))
    store = s.store(create=False)  # the patient must exist, so must the database
    p = patients.get(store, form.mrn)
    with store.write() as tx:
        fid = followups.add(tx, form.record(p["id"], clinician=store.actor.clinician,
                                            at=to_utc_iso(CLOCK.now())), mrn=p["mrn"])
    data = followups.as_dict(followups.get(store, fid))
    emit(data, json_out, lambda con: con.print(
        f"Follow-up {fid}: {form.kind} for {p['name']} ({p['mrn']}) due {form.due}."))


@app.command("list")
@command
def list_(mrn: Mrn, json_out: Json = False) -> None:
    """All of a patient's follow-ups: pending, done and cancelled."""
    from ketacli.cli.settings import settings
    from ketacli.domain import validate
    from ketacli.render.out import emit
    from ketacli.store import followups, patients

    store = settings().store(create=False)
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
        "--unnotified", help="Only rows not yet notified (nor claimed by a lasting claim).")] = False,
    mark_notified: Annotated[bool, typer.Option(
        "--mark-notified", help="Stamp the rows notified once the reader has them all.")] = False,
    claim: Annotated[bool, typer.Option(
        "--claim", help="Claim the rows as a batch; 'followup ack BATCH' stamps them.")] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", help="Write to this file (fsynced before anything is stamped).")] = None,
    fmt: TableFormat = "table",
    json_out: Json = False,
) -> None:
    """Due and overdue follow-ups with name and phone: the cron entry point for reminders.

    Safe to run twice: with --unnotified --mark-notified a second run prints none of the
    rows again; rows are stamped only once the reader has taken every byte (or the
    --output file is written and fsynced), and no lock is held while writing.
    """
    from ketacli.cli.output import refuse_database
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK, to_utc_iso, today
    from ketacli.domain import followups as rules
    from ketacli.errors import Code, Invalid
    from ketacli.render.followups import due_writer
    from ketacli.store import followups

    s = settings()
    if claim and mark_notified:
        raise Invalid("--claim and --mark-notified: choose one", code=Code.INVALID_OPTION)
    query = rules.DueQuery.parse(day=date, within=within, fmt="json" if json_out else fmt,
                                 today=today(s.tz))
    cutoff = rules.claim_cutoff(CLOCK.now(), s.protocol.reminders.claim_minutes)
    store = s.store(create=False)
    if output is not None:
        refuse_database([output], store.path)
    at = to_utc_iso(CLOCK.now())
    q: dict[str, Any] = {"target": query.target.isoformat(), "upto": query.upto.isoformat(),
                         "overdue_only": overdue, "unnotified": unnotified,
                         "claim_cutoff": to_utc_iso(cutoff) if cutoff else None}
    # --mark-notified claims too (released if the output fails): two cron runs at once
    # never print the same reminder, and no lock is held while the output is written
    rows, batch = (followups.claim(store, at=at, **q) if claim or mark_notified
                   else (followups.due(store, **q), None))
    write = due_writer(query.fmt, query.target, query.upto, batch, claimed=claim)
    _deliver_then_stamp(store, rows, batch, write, output, at=at, stamp=mark_notified)


def _deliver_then_stamp(store, rows: list[dict], batch: int | None, write, output: Path | None,
                        *, at: str, stamp: bool) -> None:
    """Write the rows out; stamp them notified only once delivered (a failed delivery
    releases the claim, so they are due again at once)."""
    from ketacli.cli.output import deliver
    from ketacli.store import followups

    for r in rows if stamp else ():
        r["notified_at"] = at  # the stamp they get once delivered
    try:
        deliver(write, rows, output, confirm=stamp or batch is not None)
    except BaseException:
        if batch is not None:
            followups.release(store, batch, at=at)
        raise
    if stamp:
        followups.stamp(store, rows, at=at)


@app.command("ack")
@command
def ack(batch: Annotated[int, typer.Argument(metavar="BATCH", help="The batch id of a claim.")],
        json_out: Json = False) -> None:
    """Confirm a claimed batch was sent: its follow-ups are stamped notified."""
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK, to_utc_iso
    from ketacli.render.out import emit
    from ketacli.store import followups

    data = followups.ack(settings().store(create=False), batch, at=to_utc_iso(CLOCK.now()))
    emit(data, json_out, lambda con: con.print(
        f"Batch {batch}: {len(data['stamped'])} "
        f"reminder{'' if len(data['stamped']) == 1 else 's'} marked notified."))


@app.command("record")
@command
def record(
    mrn: Mrn,
    phq9: Phq9 = None,
    gad7: Gad7 = None,
    madrs: Madrs = None,
    pcl5: Pcl5 = None,
    cssrs: CssrsOpt = None,
    at: At = None,
    note: Note = None,
    json_out: Json = False,
) -> None:
    """Record an outcome assessment; completes the earliest pending assessment follow-up
    due on or before that day.

    PHQ-9 item 9 >= 1 (without a C-SSRS of risk none or low in it) or a C-SSRS risk that
    needs review refuses the next start-session until a later --cssrs of risk none or low;
    a high C-SSRS risk needs a new screening."""
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK
    from ketacli.domain import assessment
    from ketacli.domain.forms import AssessmentForm
    from ketacli.render.out import emit, warn
    from ketacli.store import assessments, followups, patients

    s = settings()
    form = AssessmentForm.parse(mrn=mrn, phq9=phq9, gad7=gad7, madrs=madrs, pcl5=pcl5, at=at,
                                note=note, tz=s.tz, cssrs=cssrs)
    store = s.store(create=False)
    p = patients.get(store, form.mrn)
    with store.write() as tx:
        a = assessment.record(form, p["id"], followups.pending(tx, p["id"]), tz=s.tz,
                              clinician=store.actor.clinician, now=CLOCK.now())
        aid = assessments.add(tx, a, mrn=p["mrn"])
        followups.complete(tx, [a.followup_id] if a.followup_id else [], mrn=p["mrn"],
                           at=a.recorded_at, reason=f"assessment {aid}")
    data = assessment.result(a, aid, p["mrn"], assessments.histories(store, p["id"]),
                             assessments.infusion_starts(store, p["id"]))
    if data["suicide_risk_flag"] and a.cssrs_risk not in ("none", "low") and json_out:
        warn(f"assessment {aid} for {p['mrn']}: suicide risk flagged: a suicide risk "
             "assessment is required before the next infusion (--cssrs)")

    def human(con):
        from ketacli.render.followups import assessment_lines

        con.print(assessment_lines(data | {"name": p["name"]}, a.phq9_items))

    emit(data, json_out, human)


@app.command("done")
@command
def done(
    followup_ids: Annotated[list[int], typer.Argument(
        metavar="ID", help="One or more follow-up ids (all are closed, or none).")],
    json_out: Json = False,
) -> None:
    """Mark pending follow-ups done (several ids at once: all or none).

    --json: the follow-up for one ID, a list of them for several.
    """
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK, to_utc_iso
    from ketacli.render.followups import closed_line
    from ketacli.render.out import emit
    from ketacli.store import followups

    rows = followups.close_many(settings().store(create=False), followup_ids, status="done",
                                at=to_utc_iso(CLOCK.now()))
    emit(rows[0] if len(followup_ids) == 1 else rows, json_out,
         lambda con: con.print(closed_line(rows, "done")))


@app.command("cancel")
@command
def cancel(
    followup_ids: Annotated[list[int], typer.Argument(
        metavar="ID", help="One or more follow-up ids (all are cancelled, or none).")],
    reason: Reason = None,
    json_out: Json = False,
) -> None:
    """Cancel pending follow-ups (a reason is required; several ids: all or none).

    --json: the follow-up for one ID, a list of them for several.
    """
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK, to_utc_iso
    from ketacli.domain import validate
    from ketacli.render.followups import closed_line
    from ketacli.render.out import emit
    from ketacli.store import followups

    reason = validate.free_text(reason, "--reason", max_len=500, required=True)
    rows = followups.close_many(settings().store(create=False), followup_ids,
                                status="cancelled", at=to_utc_iso(CLOCK.now()), reason=reason)
    emit(rows[0] if len(followup_ids) == 1 else rows, json_out,
         lambda con: con.print(closed_line(rows, "cancelled")))
