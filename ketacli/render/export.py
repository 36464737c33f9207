"""Streaming writers for `export`: CSV, JSON, NDJSON and a FHIR R4 Bundle.

Rows arrive as tuples from a cursor and leave one at a time: memory stays flat
however large the database.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator

JSON_COLUMNS = {"phq9_items", "gad7_items", "conditions", "meds", "reasons", "alerts",
                "overridden", "criteria", "detail", "aldrete_items"}
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


def write_csv(out, cols: list[str], rows: Iterable[tuple], tick: Callable[[int], None]) -> int:
    w = csv.writer(out, lineterminator="\n")
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
        from ketacli.render.fhir import entry

        self.out.write(("\n" if self.n == 0 else ",\n") + json.dumps(entry(resource),
                                                                      ensure_ascii=False))
        self.n += 1

    def close(self) -> int:
        self.out.write("\n]}\n" if self.n else "]}\n")
        return self.n


class FhirNdjson:
    """FHIR resources one per line (the FHIR Bulk Data NDJSON shape), for large exports that
    an importer streams instead of parsing one huge Bundle. References are relative
    (`Patient/<id>`): every referenced resource comes earlier in the stream."""

    def __init__(self, out, timestamp: str) -> None:
        self.out = out
        self.n = 0
        self.types: dict[str, str] = {}

    def _relative(self, node):
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and ref.startswith("urn:uuid:"):
                rid = ref[len("urn:uuid:"):]
                return {**node, "reference": f"{self.types[rid]}/{rid}"}
            return {k: self._relative(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self._relative(v) for v in node]
        return node

    def add(self, resource: dict | None) -> None:
        if resource is None:
            return
        self.types[resource["id"]] = resource["resourceType"]
        self.out.write(json.dumps(self._relative(resource), ensure_ascii=False) + "\n")
        self.n += 1

    def close(self) -> int:
        return self.n
