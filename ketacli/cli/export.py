"""`export TABLE|all --format csv|json|ndjson|fhir|fhir-ndjson [--since DATE] [--deidentify]
[--output PATH]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ketacli.cli.common import command, settings

FORMATS = ("csv", "json", "ndjson", "fhir", "fhir-ndjson")
FHIR_TABLES = ("patients", "screenings", "sessions", "observations", "assessments")


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

    from ketacli.clock import CLOCK, day_start_utc, parse_date, to_utc_iso, today
    from ketacli.errors import Invalid
    from ketacli.store import export as xs

    s = settings()
    table = table.strip().lower()
    if table not in (*xs.TABLES, "all"):
        raise Invalid(f"unknown table {table!r}: one of {', '.join(xs.TABLES)} or all",
                      code="invalid_choice")
    fmt = fmt.strip().lower()
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
    if since_day and since_day > today(s.tz):
        raise Invalid("--since is in the future", code="future_time")
    since_iso = to_utc_iso(day_start_utc(since_day, s.tz)) if since_day else None
    if deidentify and table == "audit":
        raise Invalid("the audit log cannot be de-identified (its order and times would "
                      "undo the date shifts): export it without --deidentify",
                      code="invalid_choice")
    store = s.store(create=False)
    if output is not None:
        targets = [output / f"{t}.csv" for t in xs.TABLES] if fmt == "csv" and table == "all" \
            else [output]
        if any(_is_database(t, Path(store.path)) for t in targets):
            raise Invalid("--output is the database itself: choose another file",
                          code="output_is_database")
    now = CLOCK.now()
    study = None
    if deidentify:
        xs.ensure_study_ids(store, to_utc_iso(now))
        study = xs.study_map(store)
    tables = list(xs.TABLES if table == "all" else [table])
    if deidentify and "audit" in tables:
        tables.remove("audit")  # see above: never part of a de-identified export
    if fmt.startswith("fhir") and table == "all":
        tables = list(FHIR_TABLES)
    job = _Job(store, study, today(s.tz), since_iso)

    from ketacli.cli import output as out_mod

    counts: dict[str, int] = {}
    with out_mod.progress(enabled=output is not None and sys.stderr.isatty()) as tick:
        if fmt == "csv" and table == "all":
            with out_mod.directory(output) as folder:
                for t in tables:
                    with out_mod.atomic(folder / f"{t}.csv") as fh:
                        counts[t] = job.write_table(fh, t, "csv", tick)
        else:
            with out_mod.destination(output) as fh:
                if fmt.startswith("fhir"):
                    counts = job.write_fhir(fh, tables, table == "all", to_utc_iso(now), tick,
                                            ndjson=fmt == "fhir-ndjson")
                elif fmt == "json" and table == "all":
                    fh.write('{"data": {')
                    for i, t in enumerate(tables):
                        fh.write(("" if i == 0 else ",") + f'\n"{t}": ')
                        counts[t] = job.write_table(fh, t, "json", tick)
                    fh.write("\n}}\n")
                elif fmt == "json":
                    fh.write('{"data": ')
                    counts[table] = job.write_table(fh, table, "json", tick)
                    fh.write("}\n")
                else:
                    for t in tables:
                        counts[t] = job.write_table(fh, t, fmt, tick,
                                                    tag=t if table == "all" else None)
    xs.record_export(store, {
        "table": table, "format": fmt, "deidentified": deidentify, "since": since,
        "output": str(output) if output else "stdout", "rows": counts,
    }, to_utc_iso(CLOCK.now()))
    if output is not None:
        from ketacli.cli.common import _write

        total = sum(counts.values())
        _write(sys.stderr, f"Exported {total:,} records to {output}.\n")


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


class _Job:
    def __init__(self, store, study, today, since_iso) -> None:
        self.store = store
        self.study = study
        if study is not None:
            from ketacli.store import export as xs

            self.key = xs.deid_key(store)
        self.today = today
        self.since = since_iso

    def _rows(self, table: str, *, need_pid: bool):
        from ketacli.domain import deid
        from ketacli.store import export as xs

        cols, cur = xs.rows(self.store, table, self.since,
                            with_pid=need_pid or self.study is not None)
        if self.study is None:
            return cols, cur
        out_cols, fn = deid.transformer(cols, self.study, self.today, self.key)
        return out_cols, (fn(r) for r in cur)

    def write_table(self, fh, table: str, fmt: str, tick, tag: str | None = None) -> int:
        from ketacli.render import export as w

        if fmt == "csv" and self.study is None:
            parallel = self._parallel_csv(fh, table, tick)
            if parallel is not None:
                return parallel
        cols, rows = self._rows(table, need_pid=False)
        text = w.TEXT_COLUMNS.get(table, frozenset())
        if fmt == "csv":
            return w.write_csv(fh, cols, rows, tick)
        if fmt == "json":
            return w.write_json_array(fh, cols, rows, tick, text=text)
        return w.write_ndjson(fh, cols, rows, tick, table=tag, text=text)

    def _parallel_csv(self, fh, table: str, tick) -> int | None:
        """Large tables: CSV built by worker processes over id slices (one per core),
        written here in id order. Same bytes as the single-process path; None when the
        table is small enough that starting workers would cost more than it saves."""
        import multiprocessing
        import os

        from ketacli.store import export as xs

        workers = int(os.environ.get("KETACLI_EXPORT_WORKERS", "0") or 0) or min(
            4, os.cpu_count() or 1)
        threshold = int(os.environ.get("KETACLI_EXPORT_PARALLEL_ROWS", "200000"))
        bounds = xs.id_bounds(self.store, table)
        if workers < 2 or bounds is None or bounds[1] - bounds[0] + 1 < threshold:
            return None
        lo, hi = bounds  # rows added after this point are not part of this export
        # bounded slices (at most 50,000 ids, a few MB of text) and at most two slices per
        # worker in flight: memory stays flat however large the table or slow the reader
        step = min(50_000, max(1000, (hi - lo + 1) // (workers * 8)))
        sql = xs.sliced_sql(table)
        jobs = [(str(self.store.path), sql, (self.since or "0000", a, min(hi, a + step - 1)))
                for a in range(lo, hi + 1, step)]
        cols, cur = xs.rows(self.store, table, self.since, with_pid=False)
        cur.close()
        import csv

        csv.writer(fh, lineterminator="\n").writerow(cols)
        n = 0
        from collections import deque

        with multiprocessing.get_context().Pool(workers) as pool:
            pending: deque = deque()
            todo = iter(jobs)
            for job in todo:
                pending.append(pool.apply_async(xs.csv_slice, (job,)))
                if len(pending) >= 2 * workers:
                    break
            while pending:
                text, count = pending.popleft().get()
                fh.write(text)
                n += count
                tick(n)
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append(pool.apply_async(xs.csv_slice, (nxt,)))
        return n

    def _dicts(self, table: str, since_override: str | None = None):
        saved = self.since
        if since_override is not None:
            self.since = since_override
        try:
            cols, rows = self._rows(table, need_pid=True)
        finally:
            self.since = saved
        for r in rows:
            yield dict(zip(cols, r, strict=True))

    def write_fhir(self, fh, tables: list[str], everything: bool, timestamp: str, tick,
                   ndjson: bool = False) -> dict:
        from datetime import datetime, timedelta

        from ketacli.render import fhir
        from ketacli.render.export import FhirBundle, FhirNdjson

        deid = self.study is not None
        bundle = (FhirNdjson if ndjson else FhirBundle)(fh, timestamp)
        counts: dict[str, int] = {}
        # Patients: all of them when other records are exported (records since --since may
        # belong to earlier patients); `export patients --since` gives the new ones only.
        only_patients = tables == ["patients"]
        for row in self._dicts("patients", since_override=None if only_patients else "0000"):
            bundle.add(fhir.patient(row, deid))
        counts["patients"] = bundle.n
        # Encounters for sessions, also two days before --since so observations resolve.
        enc_since = "0000"
        if self.since:
            enc_since = (datetime.fromisoformat(self.since) - timedelta(days=2)).isoformat()
        if "sessions" in tables or "observations" in tables:
            before = bundle.n
            for row in self._dicts("sessions", since_override=enc_since):
                bundle.add(fhir.encounter(row, deid))
                if "sessions" in tables and (not self.since or row["started_at"] >= self.since):
                    bundle.add(fhir.medication_administration(row, deid))
            counts["sessions"] = bundle.n - before
            tick(bundle.n)
        if "screenings" in tables:
            before = bundle.n
            for row in self._dicts("screenings"):
                key = f"screening-{row['screening_id']}"
                for res in fhir.vitals(row, deid, key) + fhir.surveys(row, deid, key):
                    bundle.add(res)
                bundle.add(fhir.suicide_flag(row, deid))
            counts["screenings"] = bundle.n - before
        if "observations" in tables:
            before = bundle.n
            for row in self._dicts("observations"):
                for res in fhir.vitals(row, deid, f"obs-{row['observation_id']}",
                                       encounter_id=row["session_id"]):
                    bundle.add(res)
                if bundle.n % 5000 < 8:
                    tick(bundle.n)
            counts["observations"] = bundle.n - before
        if "assessments" in tables:
            before = bundle.n
            for row in self._dicts("assessments"):
                for res in fhir.surveys(row, deid, f"assessment-{row['assessment_id']}"):
                    bundle.add(res)
            counts["assessments"] = bundle.n - before
        bundle.close()
        counts["resources"] = bundle.n
        return counts
