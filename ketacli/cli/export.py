"""`export TABLE|all --format csv|json|ndjson|fhir|fhir-ndjson [--since DATE] [--deidentify]
[--output PATH]`.

The command parses and checks its options; the engine does the rest: store/export.py
reads (one cursor per table, parallel id slices for large CSV tables),
domain/deid.py de-identifies, render/export.py and render/fhir.py write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ketacli.cli.common import command, settings

FORMATS = ("csv", "json", "ndjson", "fhir", "fhir-ndjson")


def register(app: typer.Typer) -> None:
    app.command("export", short_help="CSV, JSON, NDJSON or FHIR R4; de-identified.")(export)


@command
def export(
    table: Annotated[str, typer.Argument(
        help="patients, screenings, sessions, observations, events, assessments, followups, "
        "audit, or all.")],
    fmt: Annotated[str, typer.Option(
        "--format", help="csv, json, ndjson, fhir (an R4 Bundle) or fhir-ndjson (one FHIR "
        "resource per line, for large exports).")] = "csv",
    since: Annotated[str | None, typer.Option(
        "--since", help="Only records from this date (YYYY-MM-DD, clinic zone).")] = None,
    deidentify: Annotated[bool, typer.Option(
        "--deidentify", help="HIPAA Safe Harbor: study ids, shifted dates, no names, phones, "
        "MRNs or free text.")] = False,
    output: Annotated[Path | None, typer.Option(
        "--output", help="Write to this file (a directory for 'all --format csv'); written "
        "atomically, mode 0600. Default: stdout.")] = None,
) -> None:
    """Export records for an EHR, billing or research: CSV, JSON, NDJSON or a FHIR R4 Bundle.

    Streams rows (memory stays flat); voided records are left out.
    """
    import sys

    from ketacli.cli import output as files
    from ketacli.cli.common import _write
    from ketacli.clock import CLOCK, to_utc_iso, today
    from ketacli.render import export as engine
    from ketacli.store import export as xs

    s = settings()
    table, fmt = table.strip().lower(), fmt.strip().lower()
    since_iso = _check(table, fmt, since, deidentify, output, s.tz)
    store = s.store(create=False)
    _refuse_database(output, table, fmt, Path(store.path))
    now = to_utc_iso(CLOCK.now())
    reader = xs.open_reader(store, since_iso, deidentify=deidentify, today=today(s.tz), at=now)
    with files.progress(enabled=output is not None and sys.stderr.isatty()) as tick:
        counts = engine.export(reader, table, fmt, output, files=files, timestamp=now, tick=tick)
    xs.record_export(store, {
        "table": table, "format": fmt, "deidentified": deidentify, "since": since,
        "output": str(output) if output else "stdout", "rows": counts,
    }, to_utc_iso(CLOCK.now()))
    if output is not None:
        _write(sys.stderr, f"Exported {sum(counts.values()):,} records to {output}.\n")


def _check(table: str, fmt: str, since: str | None, deidentify: bool, output: Path | None,
           tz) -> str | None:
    """Refuse what cannot be exported (exit 2); the --since bound as a stored UTC time."""
    from ketacli.clock import day_start_utc, parse_date, to_utc_iso, today
    from ketacli.errors import Invalid
    from ketacli.render.fhir import TABLES as FHIR_TABLES
    from ketacli.store.export import TABLES

    if table not in (*TABLES, "all"):
        raise Invalid(f"unknown table {table!r}: one of {', '.join(TABLES)} or all",
                      code="invalid_choice")
    if fmt not in FORMATS:
        raise Invalid("--format must be csv, json, ndjson, fhir or fhir-ndjson",
                      code="invalid_choice")
    if fmt.startswith("fhir") and table not in (*FHIR_TABLES, "all"):
        raise Invalid(f"{table} has no FHIR mapping: export it as csv, json or ndjson",
                      code="invalid_choice")
    if fmt == "csv" and table == "all" and output is None:
        raise Invalid("'export all --format csv' writes one file per table: give --output DIR",
                      code="missing_value")
    since_day = parse_date(since, option="--since")
    if since_day and since_day > today(tz):
        raise Invalid("--since is in the future", code="future_time")
    since_iso = to_utc_iso(day_start_utc(since_day, tz)) if since_day else None
    if deidentify and table == "audit":
        raise Invalid("the audit log cannot be de-identified (its order and times would "
                      "undo the date shifts): export it without --deidentify",
                      code="invalid_choice")
    return since_iso


def _refuse_database(output: Path | None, table: str, fmt: str, db: Path) -> None:
    """--output (or one of the files 'all --format csv' writes there) must not be the
    database: exit 2."""
    from ketacli.errors import Invalid
    from ketacli.store.export import TABLES

    if output is None:
        return
    targets = [output / f"{t}.csv" for t in TABLES] if fmt == "csv" and table == "all" \
        else [output]
    if any(_is_database(t, db) for t in targets):
        raise Invalid("--output is the database itself: choose another file",
                      code="output_is_database")


def _is_database(target: Path, db: Path) -> bool:
    """Would writing `target` replace the database file (or its WAL / journal)?"""
    import os

    files = [db, *(db.with_name(db.name + s) for s in ("-wal", "-shm", "-journal"))]
    target = Path(target)
    for f in files:
        if target.resolve() == f.resolve():
            return True
        try:
            if os.path.samefile(target, f):
                return True
        except OSError:
            pass
    return False
