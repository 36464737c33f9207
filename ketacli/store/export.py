"""Streaming reads for `export`: one cursor per table, voided rows left out.

Each exported table is described once (`Query`): its FROM/JOIN clause, its
(expression, column name) pairs in output order, the time column `--since`
bounds, the void kind that leaves records out, and the id column that slices
it. `select_sql` composes the statement from that description, with or
without `_pid` (the internal patient id, used for de-identification and then
dropped) and with or without an id-range slice for the parallel workers.

Rows are never collected in memory: callers iterate the cursor (`rows`,
`Reader`), or let worker processes format id slices (`parallel_slices`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from ketacli.domain.vocab import EXPORT_TABLES
from ketacli.store.db import Store
from ketacli.store.voids import not_voided

TABLES = EXPORT_TABLES
# Tables formatted by parallel workers when large: append-only rows joined only to rows
# that existed before them, so id bounds and the voids bound give the snapshot's rows.
APPEND_ONLY = ("observations", "events", "audit")
EVERYTHING = "0000"  # a --since bound before every stored time: no bound
BATCH = 5000  # rows fetched (and formatted) at a time

Column = tuple[str, str]  # (SQL expression, exported column name)


def own(alias: str, *names: str) -> tuple[Column, ...]:
    """Columns exported under their stored names: `own("o", "at")` is `o.at AS at`."""
    return tuple((f"{alias}.{n}", n) for n in names)


@dataclass(frozen=True)
class Query:
    """One exported table, declared: composed into SQL by `select_sql`."""

    source: str                    # FROM ... [JOIN ...], the table's own rows under `alias`
    alias: str                     # the alias of the exported table's own rows
    pid: str                       # expression of the internal patient id (`_pid`)
    columns: tuple[Column, ...]    # exported columns, in output order
    time: str                      # the column `--since` bounds
    void_kind: str | None = None   # records of this kind in `voids` are left out
    session: str | None = None     # the session a row belongs to: a voided one leaves it out

    @property
    def id(self) -> str:
        """The id column that orders the rows and bounds a slice."""
        return f"{self.alias}.id"


MRN: Column = ("p.mrn", "patient")

QUERIES: dict[str, Query] = {
    "patients": Query(
        source="patients p",
        alias="p", pid="p.id",
        columns=(MRN, *own("p", "name", "dob", "sex", "phone", "demo", "created_at", "created_by",
                           "address")),
        time="p.created_at"),
    "screenings": Query(
        source="screenings sc JOIN patients p ON p.id = sc.patient_id",
        alias="sc", pid="sc.patient_id",
        columns=(("sc.id", "screening_id"), MRN,
                 *own("sc", "at", "clinician", "weight_kg", "height_cm", "sbp", "dbp", "hr", "spo2",
                      "indication", "phq9_items", "phq9_total", "gad7_items", "gad7_total",
                      "madrs_total", "pcl5_total", "conditions", "meds", "decision", "reasons",
                      "suicide_risk_flag", "valid_until", "note", "cssrs_answers", "cssrs_risk")),
        time="sc.at", void_kind="screening"),
    "sessions": Query(
        source="sessions s JOIN patients p ON p.id = s.patient_id "
               "LEFT JOIN discharges d ON d.session_id = s.id",
        alias="s", pid="s.patient_id",
        columns=(("s.id", "session_id"), MRN,
                 *own("s", "screening_id", "number_in_series", "started_at", "clinician", "weight_kg",
                      "dose_mg_per_kg", "dose_mg", "duration_min", "rate_mg_per_h",
                      "concentration_mg_per_ml", "rate_ml_per_h", "lot", "drawn_mg", "site", "override",
                      "overridden"),
                 ("CASE WHEN d.id IS NULL THEN 'open' ELSE 'discharged' END", "status"),
                 ("d.at", "discharged_at"), ("d.clinician", "discharged_by"),
                 *own("d", "infusion_end_at", "aldrete_total", "delivered_mg", "wasted_mg",
                      "waste_witness", "transport", "escort", "criteria"),
                 ("d.override", "discharge_override"),
                 ("(SELECT group_concat(e.code || ':' || e.severity, ';') FROM side_effects e "
                  "WHERE e.session_id = s.id)", "side_effects"),
                 ("d.note", "discharge_note")),
        time="s.started_at", session="s.id"),
    "observations": Query(
        source="observations o JOIN sessions s ON s.id = o.session_id "
               "JOIN patients p ON p.id = s.patient_id",
        alias="o", pid="s.patient_id",
        columns=(("o.id", "observation_id"), ("o.session_id", "session_id"), MRN,
                 *own("o", "phase", "at", "clinician", "minutes_into_infusion", "sbp", "dbp", "hr",
                      "spo2", "rr", "etco2", "moaas", "dissociation", "alerts", "note",
                      "late_reason")),
        time="o.at", void_kind="observation", session="o.session_id"),
    "events": Query(
        source="events e JOIN sessions s ON s.id = e.session_id "
               "JOIN patients p ON p.id = s.patient_id",
        alias="e", pid="s.patient_id",
        columns=(("e.id", "event_id"), ("e.session_id", "session_id"), MRN,
                 *own("e", "kind", "at", "clinician", "rate_mg_per_h", "detail", "late_reason")),
        time="e.at", void_kind="event", session="e.session_id"),
    "assessments": Query(
        source="assessments a JOIN patients p ON p.id = a.patient_id",
        alias="a", pid="a.patient_id",
        columns=(("a.id", "assessment_id"), MRN,
                 *own("a", "followup_id", "at", "clinician", "phq9_items", "phq9_total", "gad7_items",
                      "gad7_total", "madrs_total", "pcl5_total", "note", "cssrs_answers",
                      "cssrs_risk")),
        time="a.at", void_kind="assessment"),
    "followups": Query(
        source="followups f JOIN patients p ON p.id = f.patient_id",
        alias="f", pid="f.patient_id",
        columns=(("f.id", "followup_id"), MRN,
                 *own("f", "session_id", "kind", "due", "status", "created_at", "created_by",
                      "closed_at", "closed_by", "notified_at", "cancel_reason", "note")),
        time="f.created_at"),
    "audit": Query(
        source="audit a LEFT JOIN patients p ON p.mrn = a.patient",
        alias="a", pid="p.id",
        columns=(("a.id", "audit_id"),
                 *own("a", "at", "clinician", "os_user", "action", "entity", "entity_id", "patient",
                      "detail", "prev_hash", "hash")),
        time="a.at"),
}


# The FHIR export's sessions: the sessions table's columns plus the first and last
# observation of each (an Encounter's period covers every Observation in it). Not an
# exported table of its own. De-identification shifts these times (domain.deid.DATE_TIME).
_OBS_OF_SESSION = ("FROM observations o WHERE o.session_id = s.id AND "
                   + not_voided("observation", "o.id"))
READ_ONLY_QUERIES: dict[str, Query] = {}  # read for an export's sake, never exported as such
READ_ONLY_QUERIES["encounters"] = replace(QUERIES["sessions"], columns=(
    *QUERIES["sessions"].columns,
    (f"(SELECT min(o.at) {_OBS_OF_SESSION})", "first_observation_at"),
    (f"(SELECT max(o.at) {_OBS_OF_SESSION})", "last_observation_at")))


def clinic_namespace(store: Store) -> str | None:
    """A stable id of this clinic's database, to namespace identifiers (the Encounter's
    session id) and FHIR resource ids: derived from the clinic key's id (random per clinic;
    the key itself cannot be recovered from it), else from the first audit row's hash (a
    database from before the key); None in an empty database."""
    import hashlib

    from ketacli.store.engine import has_table

    has_key = has_table(store.conn, "clinic_key")
    key_id = store.scalar("SELECT key_id FROM clinic_key WHERE id = 1") if has_key else None
    if key_id:
        return hashlib.sha256(f"ketacli-clinic:{key_id}".encode()).hexdigest()[:16]
    first = store.scalar("SELECT hash FROM audit ORDER BY id LIMIT 1")
    return str(first)[:16] if first else None


def columns(table: str, *, with_pid: bool) -> list[str]:
    """The column names `select_sql(table, with_pid=...)` yields, in order."""
    q = QUERIES.get(table) or READ_ONLY_QUERIES[table]
    return (["_pid"] if with_pid else []) + [name for _, name in q.columns]


# table -> the audit entity of its rows (`--after`: rows with an audit row after the export's)
ENTITIES = {"patients": "patient", "screenings": "screening", "sessions": "session",
            "observations": "observation", "events": "event", "assessments": "assessment",
            "followups": "followup", "encounters": "session"}


def written_after(table: str, after: int) -> str:
    """SQL: the row was written (or changed) after audit row `after`."""
    q = QUERIES.get(table) or READ_ONLY_QUERIES[table]
    if table == "audit":
        return f"{q.id} > {int(after)}"
    return (f"EXISTS (SELECT 1 FROM audit wa WHERE wa.entity = '{ENTITIES[table]}' "
            f"AND wa.entity_id = {q.id} AND wa.id > {int(after)})")


def _bounded(voided: str, voids_upto: int | None) -> str:
    """A not-voided condition counting only voids up to `voids_upto` (when given)."""
    return voided if voids_upto is None else voided[:-1] + f" AND v.id <= {int(voids_upto)})"


def select_sql(table: str, *, with_pid: bool, sliced: bool = False, until: bool = False,
               after: int | None = None, voids_upto: int | None = None) -> str:
    """The table's export query, in id order. Parameters: (since,), then the `until` bound
    (exclusive) when `until`, then (first id, last id) when `sliced`. With `with_pid`,
    `_pid` comes first. `after`: only rows written after that audit row; `voids_upto`:
    only voids up to that id count (a worker outside the export's snapshot sees the voids
    the snapshot saw)."""
    q = QUERIES.get(table) or READ_ONLY_QUERIES[table]
    cols = ((q.pid, "_pid"),) * with_pid + q.columns
    select = ", ".join(f"{expr} AS {name}" for expr, name in cols)
    where = [f"{q.time} >= ?"]
    if until:
        where.append(f"{q.time} < ?")
    if q.void_kind:
        where.append(_bounded(not_voided(q.void_kind, q.id), voids_upto))
    if q.session:
        where.append(_bounded(not_voided("session", q.session), voids_upto))
    if after is not None:
        where.append(written_after(table, after))
    if sliced:
        where.append(f"{q.id} BETWEEN ? AND ?")
    return f"SELECT {select} FROM {q.source} WHERE {' AND '.join(where)} ORDER BY {q.id}"


def rows(store: Store, table: str, since: str | None, *,
         with_pid: bool, until: str | None = None,
         after: int | None = None) -> tuple[list[str], Iterator[tuple]]:
    """(column names, plain-tuple row iterator) for one table, from `since` to before
    `until`; `_pid` first if asked."""
    cur = store.conn.cursor()
    cur.row_factory = None
    cur.execute(select_sql(table, with_pid=with_pid, until=until is not None, after=after),
                (since or EVERYTHING, *([until] if until is not None else [])))
    return [d[0] for d in cur.description], cur


# -- de-identification: the local link table and key -------------------------------------
def ensure_study_ids(store: Store, at: str) -> int:
    """Give every patient without one a random study id and date shift (never derived
    from the MRN), kept in the local link table. Returns how many were created."""
    with store.write() as tx:
        missing = [r[0] for r in tx.execute(
            "SELECT id FROM patients WHERE id NOT IN (SELECT patient_id FROM study_ids)")]
        rng = secrets.SystemRandom()
        for pid in missing:
            while True:
                sid = "S" + secrets.token_hex(5).upper()
                if not tx.execute("SELECT 1 FROM study_ids WHERE study_id = ?", (sid,)).fetchone():
                    break
            tx.execute("INSERT INTO study_ids VALUES (?, ?, ?, ?)",
                       (pid, sid, rng.randrange(0, 365), at))
        if missing:
            tx.audit("assign", "study_ids", None, at=at, detail={"count": len(missing)})
        if tx.execute("SELECT 1 FROM deid_keys").fetchone() is None:
            tx.execute("INSERT INTO deid_keys VALUES (1, ?, ?)", (secrets.token_hex(32), at))
            tx.audit("create", "deid_key", 1, at=at)
    return len(missing)


def deid_key(store: Store) -> bytes:
    return bytes.fromhex(store.scalar("SELECT secret FROM deid_keys WHERE id = 1"))


def study_map(store: Store) -> dict[int, tuple[str, int]]:
    """patient id -> (study id, date shift days). Small: one entry per patient."""
    return {r[0]: (r[1], r[2]) for r in store.all(
        "SELECT patient_id, study_id, date_shift_days FROM study_ids")}


def record_export(store: Store, detail: dict, at: str) -> int:
    """The export's audit row, written (committed) before any data: its id is the
    export's id (`--after EXPORT_ID`)."""
    with store.write() as tx:
        return tx.audit("export", "database", None, at=at, detail=detail)


def record_export_done(store: Store, export_id: int, counts: dict, at: str) -> None:
    with store.write() as tx:
        tx.audit("exported", "database", export_id, at=at, detail={"rows": counts})


def check_export_id(store: Store, export_id: int) -> None:
    """`--after EXPORT_ID` must name an export's audit row (exit 3 otherwise)."""
    from ketacli.errors import Code, NotFound

    if store.scalar("SELECT 1 FROM audit WHERE id = ? AND action = 'export'",
                    (export_id,)) is None:
        raise NotFound(f"no export {export_id} in the audit log", code=Code.RECORD_NOT_FOUND,
                       hint="'ketacli audit' lists exports (action export)")


@contextlib.contextmanager
def snapshot(store: Store) -> Iterator[None]:
    """One read transaction for the whole export: every table read from the same
    committed state, whatever others commit meanwhile (WAL readers never block writers)."""
    from ketacli.store.db import db_errors, storage_error

    try:
        if store.engine == "postgresql":
            store.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            store.conn.execute("SELECT 1").fetchone()  # the snapshot
        else:
            store.conn.execute("BEGIN")
            store.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot
    except db_errors() as exc:
        raise storage_error(exc, store.path) from None
    try:
        yield
    finally:
        with contextlib.suppress(*db_errors()):
            store.conn.execute("COMMIT")


# -- what one export reads -----------------------------------------------------------------
Transform = Callable[[list[str]], tuple[list[str], Callable[[tuple], tuple]]]


class Reader:
    """The rows of one export: every table from the `--since` bound on, each row passed
    through `transform` when there is one (de-identification: columns whose first is
    `_pid` -> output columns and a row function)."""

    EVERYTHING = EVERYTHING  # a `since` that overrides the export's bound with none

    def __init__(self, store: Store, since: str | None,
                 transform: Transform | None = None, until: str | None = None,
                 after: int | None = None) -> None:
        self.store = store
        self.since = since
        self.until = until  # exclusive; None: no bound
        self.transform = transform
        self.after = after

    @property
    def deidentified(self) -> bool:
        return self.transform is not None

    def rows(self, table: str, *, need_pid: bool = False,
             since: str | None = None) -> tuple[list[str], Iterator[tuple]]:
        """(columns, rows) of one table; `since` overrides the export's bound
        (EVERYTHING: no bound)."""
        cols, cur = rows(self.store, table, since or self.since,
                         with_pid=need_pid or self.transform is not None, until=self.until,
                         after=self.after)
        if self.transform is None:
            return cols, cur
        out_cols, fn = self.transform(cols)
        return out_cols, (fn(r) for r in cur)

    def clinic(self) -> str | None:
        """The clinic's namespace for identifiers (see `clinic_namespace`)."""
        return clinic_namespace(self.store)

    def dicts(self, table: str, since: str | None = None) -> Iterator[dict]:
        """One dict per row, `_pid` included (the FHIR builders need it)."""
        cols, rows_ = self.rows(table, need_pid=True, since=since)
        for r in rows_:
            yield dict(zip(cols, r, strict=True))

    def parallel_slices(self, table: str, render: Callable[[Iterable[list[tuple]]], str]
                        ) -> tuple[list[str], Generator[tuple[str, int], None, None]] | None:
        """(columns, rendered slices) of the table's rows, without `_pid`, by worker
        processes (see `parallel_slices`); None when de-identifying or when the table is
        too small to be worth it."""
        if (self.transform is not None or self.after is not None or table not in APPEND_ONLY
                or self.store.encrypted  # workers open the plain file themselves
                or self.store.engine != "sqlite"):  # the server streams one cursor
            return None
        slices = parallel_slices(self.store, table, self.since, render, until=self.until)
        return None if slices is None else (columns(table, with_pid=False), slices)


def open_reader(store: Store, since: str | None, *, deidentify: bool, today: date,
                at: str, until: str | None = None, after: int | None = None) -> Reader:
    """The export's Reader, inside the export's snapshot. De-identifying gives every
    patient a study id (and the clinic its key: `ensure_study_ids`, written before the
    snapshot), then applies HIPAA Safe Harbor to every row (domain.deid)."""
    if not deidentify:
        return Reader(store, since, until=until, after=after)
    from functools import partial

    from ketacli.domain import deid

    if not store.conn.in_transaction:  # called outside an export's snapshot
        ensure_study_ids(store, at)
    study = study_map(store)
    key = deid_key(store)
    return Reader(store, since, partial(deid.transformer, study=study, today=today, key=key),
                  until=until, after=after)


# -- large tables: id slices formatted by worker processes ---------------------------------
def parallel_settings() -> tuple[int, int]:
    """(workers, rows threshold): KETACLI_EXPORT_WORKERS (default: one per core, at most
    4) and KETACLI_EXPORT_PARALLEL_ROWS (default 200,000 ids)."""
    workers = int(os.environ.get("KETACLI_EXPORT_WORKERS", "0") or 0) or min(
        4, os.cpu_count() or 1)
    threshold = int(os.environ.get("KETACLI_EXPORT_PARALLEL_ROWS", "200000"))
    return workers, threshold


def id_bounds(store: Store, table: str) -> tuple[int, int] | None:
    row = store.one(f"SELECT min(id), max(id) FROM {table}")
    return None if row[0] is None else (row[0], row[1])


def slices(lo: int, hi: int, workers: int) -> list[tuple[int, int]]:
    """Consecutive id ranges covering lo..hi: about eight per worker, each 1,000 to 50,000
    ids (a few MB of text at most)."""
    step = min(50_000, max(1000, (hi - lo + 1) // (workers * 8)))
    return [(a, min(hi, a + step - 1)) for a in range(lo, hi + 1, step)]


# (database path, sliced SQL, (since, first id, last id), the renderer of row batches)
SliceJob = tuple[str, str, tuple, Callable[[Iterable[list[tuple]]], str]]


def parallel_slices(store: Store, table: str, since: str | None,
                    render: Callable[[Iterable[list[tuple]]], str], until: str | None = None
                    ) -> Generator[tuple[str, int], None, None] | None:
    """Large tables: (text, row count) of each id slice in id order, rendered by worker
    processes (`render(batches)` runs in the worker, so it must be a module-level function).
    The ids are bounded now: rows added later are not part of this export. None when the
    table is small enough that starting workers would cost more than it saves."""
    workers, threshold = parallel_settings()
    bounds = id_bounds(store, table)
    if workers < 2 or bounds is None or bounds[1] - bounds[0] + 1 < threshold:
        return None
    voids = store.scalar("SELECT max(id) FROM voids") or 0  # what the snapshot sees
    sql = select_sql(table, with_pid=False, sliced=True, until=until is not None,
                     voids_upto=voids)
    bound = (since or EVERYTHING, *([until] if until is not None else []))
    jobs = [(str(store.path), sql, (*bound, a, b), render)
            for a, b in slices(*bounds, workers)]
    return _in_pool(jobs, workers)


def _in_pool(jobs: list[SliceJob], workers: int) -> Generator[tuple[str, int], None, None]:
    """The jobs' results in order, at most two per worker in flight: memory stays flat
    however large the table or slow the reader."""
    import multiprocessing

    with multiprocessing.get_context().Pool(workers) as pool:
        pending: deque = deque()
        todo = iter(jobs)
        for job in todo:
            pending.append(pool.apply_async(read_slice, (job,)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            yield pending.popleft().get()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.apply_async(read_slice, (nxt,)))


def read_slice(job: SliceJob) -> tuple[str, int]:
    """Worker: (rendered text, row count) of one id range, from its own read-only
    connection."""
    path, sql, params, render = job
    con = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        con.execute("PRAGMA trusted_schema = OFF")
        cur = con.execute(sql, params)
        n = 0

        def batches() -> Iterator[list[tuple]]:
            nonlocal n
            while chunk := cur.fetchmany(BATCH):
                n += len(chunk)
                yield chunk

        return render(batches()), n
    finally:
        con.close()
