"""Streaming writers for `export`: CSV, JSON, NDJSON and FHIR R4 (a Bundle or NDJSON),
and the export engine that drives them: `export` (the command's one call: one file per
table, or one stream), `write_stream`, `write_table_files`, `write_table`.

Rows arrive as tuples from a cursor (store.export.Reader) and leave one at a time:
memory stays flat however large the database. Large CSV tables are formatted by
worker processes over id slices (`csv_text`), with the same bytes.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, closing
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from ketacli.render import csv_writer, fhir

if TYPE_CHECKING:
    from ketacli.store.export import Reader

Tick = Callable[[int], None]

JSON_COLUMNS = {"phq9_items", "gad7_items", "conditions", "meds", "reasons", "alerts",
                "overridden", "criteria", "detail", "aldrete_items", "cssrs_answers"}
BOOL_COLUMNS = {"demo", "suicide_risk_flag"}
# Columns named like a JSON column that hold free text in one table: never decoded
# (an event detail such as "[L arm] swelling" is text, not a list).
TEXT_COLUMNS = {"events": frozenset({"detail"})}


def _objects(cols: list[str], rows: Iterable[tuple],
             text: frozenset[str] = frozenset()) -> Iterator[dict]:
    decode = [c in JSON_COLUMNS and c not in text for c in cols]
    boolean = [c in BOOL_COLUMNS for c in cols]
    for r in rows:
        d = {}
        for c, v, dec, b in zip(cols, r, decode, boolean, strict=True):
            if dec and isinstance(v, str) and v[:1] in "[{":
                v = json.loads(v)
            elif b and v is not None:
                v = bool(v)
            d[c] = v
        yield d


def write_csv(out, cols: list[str], rows: Iterable[tuple], tick: Tick) -> int:
    """A header row, then the rows, 5,000 at a time."""
    w = csv_writer.writer(out)
    w.writerow(cols)
    n = 0
    chunk = []
    for r in rows:
        chunk.append(r)
        if len(chunk) == 5000:
            w.writerows(chunk)
            n += len(chunk)
            tick(n)
            chunk = []
    w.writerows(chunk)
    return n + len(chunk)


def write_json_array(out, cols, rows, tick, *, text: frozenset[str] = frozenset()) -> int:
    n = 0
    out.write("[")
    for d in _objects(cols, rows, text):
        out.write(("\n" if n == 0 else ",\n") + json.dumps(d, ensure_ascii=False))
        n += 1
        if n % 5000 == 0:
            tick(n)
    out.write("\n]" if n else "]")
    return n


def write_ndjson(out, cols, rows, tick, table: str | None = None, *,
                 text: frozenset[str] = frozenset()) -> int:
    n = 0
    for d in _objects(cols, rows, text):
        if table:
            d = {"table": table, **d}
        out.write(json.dumps(d, ensure_ascii=False) + "\n")
        n += 1
        if n % 5000 == 0:
            tick(n)
    return n


class FhirBundle:
    """Writes `{"resourceType": "Bundle", "type": "collection", "entry": [...]}` entry by entry."""

    def __init__(self, out, timestamp: str) -> None:
        self.out = out
        self.n = 0
        out.write('{"resourceType": "Bundle", "type": "collection", '
                  f'"timestamp": {json.dumps(timestamp)}, "entry": [')

    def add(self, resource: dict | None) -> None:
        if resource is None:
            return
        self.out.write(("\n" if self.n == 0 else ",\n") + json.dumps(fhir.entry(resource),
                                                                      ensure_ascii=False))
        self.n += 1

    def close(self) -> int:
        self.out.write("\n]}\n" if self.n else "]}\n")
        return self.n


# the resource types other resources point to: the only ids NDJSON keeps in memory to make
# references relative (every Observation id would grow with the database)
REFERENCED = frozenset({"Patient", "Encounter", "Procedure", "MedicationAdministration",
                        "QuestionnaireResponse"})


_URN = re.compile(r'"urn:uuid:([^"\\]+)"')
# a reference's element names its target's type (fhir.py's builders): how a reference to a
# resource outside this export (`--after`, `--since`, one table) is still made relative
_KEYED = re.compile(r'("(\w+)": \[?\{"reference": )"urn:uuid:([^"\\]+)"')
KEY_TYPES = {"subject": "Patient", "patient": "Patient", "encounter": "Encounter",
             "context": "Encounter", "partOf": "Procedure", "instance": "MedicationAdministration",
             "derivedFrom": "QuestionnaireResponse"}


class _Relative:
    """`urn:uuid:` references made relative (`Patient/<id>`), as NDJSON needs: every
    referenced resource comes earlier in the export. Done on the serialised line (a
    walk of every node of every resource would cost as much as the rest of the export);
    a string that is no reference of an earlier resource is left as it is."""

    def __init__(self) -> None:
        self.types: dict[str, str] = {}

    def _sub(self, m: re.Match) -> str:
        kind = self.types.get(m[1])
        return f'"{kind}/{m[1]}"' if kind else m[0]

    def _keyed(self, m: re.Match) -> str:
        kind = self.types.get(m[3]) or KEY_TYPES.get(m[2])
        return f'{m[1]}"{kind}/{m[3]}"' if kind else m[0]

    def line(self, resource: dict) -> str:
        if resource["resourceType"] in REFERENCED:
            self.types[resource["id"]] = resource["resourceType"]
        text = json.dumps(resource, ensure_ascii=False)
        if "urn:uuid:" in text:
            text = _KEYED.sub(self._keyed, text)
        return (_URN.sub(self._sub, text) if "urn:uuid:" in text else text) + "\n"


class FhirNdjson:
    """FHIR resources one per line (the FHIR Bulk Data NDJSON shape) in one stream, for
    large exports that an importer streams instead of parsing one huge Bundle. References
    are relative (`Patient/<id>`)."""

    def __init__(self, out, timestamp: str) -> None:
        self.out = out
        self.n = 0
        self.relative = _Relative()

    def add(self, resource: dict | None) -> None:
        if resource is None:
            return
        self.out.write(self.relative.line(resource))
        self.n += 1

    def close(self) -> int:
        return self.n


class BulkData:
    """FHIR Bulk Data files: each resource type in its own `<Type>.ndjson` (opened by
    `open_file(name)` when its first resource comes), counted for the manifest."""

    def __init__(self, open_file: Callable[[str], TextIO]) -> None:
        self.open_file = open_file
        self.n = 0
        self.files: dict[str, TextIO] = {}
        self.counts: dict[str, int] = {}
        self.relative = _Relative()

    def add(self, resource: dict | None) -> None:
        if resource is None:
            return
        kind = resource["resourceType"]
        if kind not in self.files:
            self.files[kind] = self.open_file(f"{kind}.ndjson")
            self.counts[kind] = 0
        self.files[kind].write(self.relative.line(resource))
        self.counts[kind] += 1
        self.n += 1

    def close(self) -> int:
        return self.n

    def manifest(self, transaction_time: str, request: str) -> dict:
        """The Bulk Data manifest (file-relative urls: the files sit beside it)."""
        return {"transactionTime": transaction_time, "request": request,
                "requiresAccessToken": False,
                "output": [{"type": k, "url": f"{k}.ndjson", "count": n}
                           for k, n in self.counts.items()],
                "error": []}


def remove_stale_bulk_files(folder: Path, written: set[str]) -> None:
    """Remove the `<Type>.ndjson` files an earlier export left in `folder` that this one
    did not write: a consumer reading the folder must never import another export's
    records beside this manifest (identified records beside a de-identified one, records
    voided since, another database's)."""
    stale = set(fhir.RESOURCE_TYPES)
    try:
        old = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        stale |= {str(o["type"]) for o in old.get("output", []) if isinstance(o, dict)}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass  # no earlier manifest (or not one of ours): the known types only
    # a manifest entry that is not a resource type names no file of ours
    remove_stale_files(folder, (f"{kind}.ndjson" for kind in sorted(stale - written)
                                if re.fullmatch(r"[A-Z][A-Za-z]{1,63}", kind)))


def remove_stale_files(folder: Path, names: Iterable[str]) -> None:
    """Remove the files `names` an earlier export left in `folder` (a CSV directory's
    audit.csv beside a de-identified export, a Bulk Data type not written again)."""
    for name in names:
        try:
            (folder / name).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            from ketacli.errors import Code, StorageError

            raise StorageError(f"cannot remove an earlier export's {name}: {exc.strerror}",
                               code=Code.OUTPUT_UNWRITABLE) from None


def write_bulk_data(reader: Reader, table: str, folder: Path, files: Files, *, timestamp: str,
                    request: str, tick: Tick) -> dict[str, int]:
    """`export all --format fhir-ndjson --output DIR` (or one table's resources): one
    NDJSON file per resource type,
    then `manifest.json` (written last: a folder without one is not a finished export)."""
    with ExitStack() as stack:
        sink = BulkData(lambda name: stack.enter_context(files.atomic(folder / name)))
        tables = spanned_tables(table, "fhir-ndjson", reader.deidentified)
        counts = fhir.write_resources(sink, reader, tables, tick)
    remove_stale_bulk_files(folder, set(sink.counts))
    with files.atomic(folder / "manifest.json") as fh:
        json.dump(sink.manifest(timestamp, request), fh, indent=2)
        fh.write("\n")
    return counts


def csv_text(batches: Iterable[list[tuple]]) -> str:
    """CSV text (no header) of row batches: one slice of a parallel export, formatted in a
    worker process (module-level, so it can be sent there)."""
    buf = io.StringIO(newline="")
    w = csv_writer.writer(buf)
    for rows in batches:
        w.writerows(rows)
    return buf.getvalue()


def write_csv_slices(out, cols: list[str], slices: Iterable[tuple[str, int]], tick: Tick) -> int:
    """A header row, then each slice's text as it comes (in id order)."""
    csv_writer.writer(out).writerow(cols)
    n = 0
    for text, count in slices:
        out.write(text)
        n += count
        tick(n)
    return n


# -- the engine --------------------------------------------------------------------------
def write_table(out, reader: Reader, table: str, fmt: str, tick: Tick,
                tag: str | None = None) -> int:
    """One table as csv, json (an array) or ndjson (each line tagged with `tag`, if any).
    Large tables in CSV are formatted by worker processes. Returns the row count."""
    if fmt == "csv":
        parallel = reader.parallel_slices(table, csv_text)
        if parallel is not None:
            cols, slices = parallel
            with closing(slices):
                return write_csv_slices(out, cols, slices, tick)
    cols, rows = reader.rows(table)
    text = TEXT_COLUMNS.get(table, frozenset())
    if fmt == "csv":
        return write_csv(out, cols, rows, tick)
    if fmt == "json":
        return write_json_array(out, cols, rows, tick, text=text)
    return write_ndjson(out, cols, rows, tick, table=tag, text=text)


def write_table_files(reader: Reader, tables: list[str],
                      open_file: Callable[[str], AbstractContextManager[TextIO]],
                      tick: Tick) -> dict[str, int]:
    """One CSV file per table (`open_file(table)` gives its stream): rows per table."""
    counts: dict[str, int] = {}
    for t in tables:
        with open_file(t) as fh:
            counts[t] = write_table(fh, reader, t, "csv", tick)
    return counts


def spanned_tables(table: str, fmt: str, deidentified: bool) -> list[str]:
    """The tables an export of `table` (or "all") spans: for 'all' as FHIR the mapped ones;
    never the audit log when de-identifying (its order and times would undo the shifts)."""
    from ketacli.store.export import TABLES

    if fmt.startswith("fhir") and table == "all":
        return list(fhir.TABLES)
    tables = list(TABLES if table == "all" else [table])
    return [t for t in tables if not (deidentified and t == "audit")]


def write_stream(out, reader: Reader, table: str, fmt: str, *, timestamp: str,
                 tick: Tick) -> dict[str, int]:
    """`table` (a table or "all") as one stream in `fmt`: csv, json, ndjson, fhir or
    fhir-ndjson. Returns the counts the export's audit row records."""
    tables = spanned_tables(table, fmt, reader.deidentified)
    if fmt.startswith("fhir"):
        sink = (FhirNdjson if fmt == "fhir-ndjson" else FhirBundle)(out, timestamp)
        return fhir.write_resources(sink, reader, tables, tick)
    counts: dict[str, int] = {}
    if fmt == "json" and table == "all":
        out.write('{"data": {')
        for i, t in enumerate(tables):
            out.write(("" if i == 0 else ",") + f'\n"{t}": ')
            counts[t] = write_table(out, reader, t, "json", tick)
        out.write("\n}}\n")
    elif fmt == "json":
        out.write('{"data": ')
        counts[table] = write_table(out, reader, table, "json", tick)
        out.write("}\n")
    else:
        for t in tables:
            counts[t] = write_table(out, reader, t, fmt, tick, tag=t if table == "all" else None)
    return counts


class Files(Protocol):
    """Where an export's bytes go (cli/output.py): written atomically, mode 0600."""

    def directory(self, path: Path) -> AbstractContextManager[Path]: ...

    def atomic(self, path: Path) -> AbstractContextManager[TextIO]: ...

    def destination(self, path: Path | None) -> AbstractContextManager[TextIO]: ...


def write_redcap(reader: Reader, folder: Path, files: Files) -> dict[str, int]:
    """`export redcap --output DIR`: the REDCap data dictionary and its import file."""
    from ketacli.render import redcap

    with files.atomic(folder / redcap.DICTIONARY) as fh:
        redcap.write_dictionary(fh, reader.deidentified)
    with files.atomic(folder / redcap.IMPORT) as fh:
        return redcap.write_import(fh, reader)


def bulk_data(table: str, fmt: str, output: Path | None) -> bool:
    """Whether an export writes a FHIR Bulk Data directory: `fhir-ndjson` with an `--output`
    that is a directory or a name without an extension (`bulk/`); a file name with one
    (`all.ndjson`) takes the single stream."""
    if fmt != "fhir-ndjson" or output is None:
        return False
    return Path(output).is_dir() or Path(output).suffix == ""


def export(reader: Reader, table: str, fmt: str, output: Path | None, *, files: Files,
           timestamp: str, tick: Tick, request: str = "") -> dict[str, int]:
    """Write one export: `table` (or "all") in `fmt`, to `output` through `files`.
    'all --format csv' is one `<table>.csv` per table in the `output` directory;
    `fhir-ndjson` to a directory the FHIR Bulk Data files and manifest (`request`: what
    was asked); everything else one stream (stdout when `output` is None). Returns the
    counts the export's audit row records."""
    if table == "redcap":
        with files.directory(output) as folder:
            return write_redcap(reader, folder, files)
    if bulk_data(table, fmt, output):
        with files.directory(output) as folder:
            return write_bulk_data(reader, table, folder, files, timestamp=timestamp,
                                   request=request, tick=tick)
    if fmt == "csv" and table == "all":
        tables = spanned_tables(table, fmt, reader.deidentified)
        with files.directory(output) as folder:
            counts = write_table_files(reader, tables,
                                       lambda t: files.atomic(folder / f"{t}.csv"), tick)
            remove_stale_files(folder, (f"{t}.csv" for t in spanned_tables(table, fmt, False)
                                        if t not in tables))
            return counts
    with files.destination(output) as fh:
        return write_stream(fh, reader, table, fmt, timestamp=timestamp, tick=tick)
