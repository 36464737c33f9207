"""`audit [anchor] [--patient MRN] [--since DATE] [--verify [--anchor LINE|FILE]]`."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import Json, Since
from ketacli.errors import Code


@command
def audit(
    action: Annotated[str | None, typer.Argument(
        metavar="anchor", help="'anchor': print one line (ketacli-anchor v1 COUNT MAC TIME) to keep off the "
        "machine; 'audit --verify --anchor LINE' later proves those rows are unchanged.",
        show_default=False)] = None,
    patient: Annotated[str | None, typer.Option("--patient", help="Only this MRN.")] = None,
    since: Since = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most the last N rows.")] = 200,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Check the keyed chain; exit 4 if broken.")] = False,
    anchor: Annotated[str | None, typer.Option(
        "--anchor", help="With --verify: an anchor line, or a file of them; every row up to "
        "each anchor must still be there, unchanged.")] = None,
    json_out: Json = False,
) -> None:
    """The append-only, keyed hash-chained audit log: who did what, when."""
    from ketacli.cli.settings import settings
    from ketacli.clock import day_start_utc, parse_date, to_utc_iso
    from ketacli.domain import validate
    from ketacli.errors import Invalid
    from ketacli.render.out import emit
    from ketacli.store import audit as store_audit

    s = settings()
    if action not in (None, "anchor"):
        raise Invalid("unknown audit action; use 'ketacli audit anchor'", code=Code.INVALID_CHOICE)
    if anchor is not None and not verify:
        raise Invalid("--anchor goes with --verify", code=Code.USAGE_ERROR)
    mrn = validate.mrn(patient) if patient is not None else None
    since_d = parse_date(since, option="--since")
    anchors = _anchors(anchor) if anchor is not None else []
    store = s.store(create=False)
    if verify or action == "anchor":
        report = _verified(store, store_audit, anchors)
        if action == "anchor":
            line = _anchor_line(store_audit, report)
            emit({"anchor": line}, json_out, lambda con: con.print(line, soft_wrap=True))
            return
        data = {"verified": True, "rows": report.rows,
                **({"anchors": [a.count for a in anchors]} if anchors else {})}
        emit(data, json_out, lambda con: con.print(
            f"Audit chain intact: {report.rows} rows"
            + (f", every anchored row present ({len(anchors)} anchor"
               f"{'s' if len(anchors) > 1 else ''})." if anchors else ".")))
        return
    if mrn is not None:  # an MRN in any case: the audit rows carry the stored spelling
        from ketacli.store import patients

        found = patients.find(store, mrn)
        mrn = found["mrn"] if found is not None else mrn
    rows = store_audit.listing(
        store, patient=mrn, since=to_utc_iso(day_start_utc(since_d, s.tz)) if since_d else None,
        limit=limit,
    )

    def human(con):
        from ketacli.render.audit import audit_table

        con.print(audit_table(rows, s.tz))

    emit(rows, json_out, human)


def _anchors(value: str) -> list:
    """The anchors of `--anchor`: one line, or every anchor line in a file."""
    from pathlib import Path

    from ketacli.errors import Invalid
    from ketacli.store.audit import ANCHOR_TAG, parse_anchor

    if value.lstrip().startswith(ANCHOR_TAG):
        lines = [value]
    else:
        try:
            lines = [ln for ln in Path(value).read_text(encoding="utf-8", errors="replace")
                     .splitlines() if ln.strip().startswith(ANCHOR_TAG)]
        except OSError:
            raise Invalid("--anchor is neither an anchor line nor a readable file",
                          code=Code.INVALID_ANCHOR) from None
    found = [parse_anchor(ln) for ln in lines]
    if not found or None in found:
        raise Invalid("not a ketacli anchor (expected 'ketacli-anchor v1 COUNT MAC TIME')",
                      code=Code.INVALID_ANCHOR)
    return found


def _verified(store, store_audit, anchors: list):
    """The chain report; exit 4 when it is broken, unverifiable or misses an anchored row."""
    from ketacli.errors import StorageError

    report = store_audit.verify(store.conn, store.key, want=tuple(a.count for a in anchors))
    if report.unverifiable:
        raise StorageError(
            f"chain not verifiable: {report.unverifiable} ({store.key_file})",
            code=Code.CLINIC_KEY_WRONG if "wrong" in report.unverifiable
            else Code.CLINIC_KEY_MISSING, hint="set KETACLI_KEY_FILE to this clinic's key file")
    if not report.ok:
        first = report.problems[0]
        raise StorageError(
            f"audit chain broken: {len(report.problems)} problems, first at audit row "
            f"{first['id']} ({first['problem']})",
            code=Code.AUDIT_CHAIN_BROKEN, details=report.problems[:50],
        )
    for a in anchors:
        problem = store_audit.anchor_problem(report, a)
        if problem:
            raise StorageError(problem, code=Code.AUDIT_CHAIN_BROKEN,
                               details=[{"id": a.count, "problem": problem}])
    return report


def _anchor_line(store_audit, report) -> str:
    from ketacli.clock import CLOCK, to_utc_iso
    from ketacli.errors import StorageError

    if not report.keyed or report.last_mac is None:
        raise StorageError("nothing to anchor: this database has no keyed chain yet",
                           code=Code.AUDIT_CHAIN_BROKEN, hint="run 'ketacli db migrate'")
    at = to_utc_iso(CLOCK.now()).replace("+00:00", "Z")
    return store_audit.Anchor(report.rows, report.last_mac, at).line
