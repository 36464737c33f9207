"""`audit [--patient MRN] [--since DATE] [--verify]`."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import Json, Since
from ketacli.errors import Code


@command
def audit(
    patient: Annotated[str | None, typer.Option("--patient", help="Only this MRN.")] = None,
    since: Since = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most the last N rows.")] = 200,
    verify: Annotated[bool, typer.Option("--verify", help="Check the hash chain; exit 4 if broken.")] = False,
    json_out: Json = False,
) -> None:
    """The append-only, hash-chained audit log: who did what, when."""
    from ketacli.cli.settings import settings
    from ketacli.clock import day_start_utc, parse_date, to_utc_iso
    from ketacli.domain import validate
    from ketacli.errors import StorageError
    from ketacli.render.out import emit
    from ketacli.store import audit as store_audit

    s = settings()
    mrn = validate.mrn(patient) if patient is not None else None
    since_d = parse_date(since, option="--since")
    store = s.store(create=False)
    if verify:
        report = store_audit.verify(store.conn, store.key)
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
        data = {"verified": True, "rows": report.rows}
        emit(data, json_out, lambda con: con.print(f"Audit chain intact: {report.rows} rows."))
        return
    rows = store_audit.listing(
        store, patient=mrn, since=to_utc_iso(day_start_utc(since_d, s.tz)) if since_d else None,
        limit=limit,
    )

    def human(con):
        from ketacli.render.audit import audit_table

        con.print(audit_table(rows, s.tz))

    emit(rows, json_out, human)
