"""The append-only, hash-chained audit log.

Each row stores the hash of the row before it and a SHA-256 over its own
content (including its id and that previous hash), so an edit, a deletion
inside the chain or a reordering outside the program breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass

from ketacli.clock import CLOCK, to_utc_iso

GENESIS = "0" * 64


@dataclass
class Actor:
    """Who writes: the clinician named on the record and the OS login."""

    clinician: str
    os_user: str

FIELDS = ("id", "at", "clinician", "os_user", "action", "entity", "entity_id", "patient", "detail")


def row_hash(prev_hash: str, values: list) -> str:
    body = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def append(
    conn: sqlite3.Connection,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: int | None,
    *,
    patient: str | None = None,
    detail: dict | None = None,
    at: str | None = None,
) -> int:
    """Append one audit row; must run inside the caller's write transaction."""

    last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    new_id = (last[0] + 1) if last else 1
    prev = last[1] if last else GENESIS
    detail_json = (
        json.dumps(detail, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        if detail is not None
        else None
    )
    values = [
        new_id, at or to_utc_iso(CLOCK.now()), actor.clinician, actor.os_user,
        action, entity, entity_id, patient, detail_json,
    ]
    digest = row_hash(prev, values)
    conn.execute(
        "INSERT INTO audit (id, at, clinician, os_user, action, entity, entity_id, patient, "
        "detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [*values, prev, digest],
    )
    return new_id


@dataclass
class ChainReport:
    rows: int
    problems: list[dict]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(conn: sqlite3.Connection) -> ChainReport:
    """Walk the chain in id order; report every row whose link or content is wrong."""
    problems: list[dict] = []
    prev = GENESIS
    expected_id = 1
    count = 0
    cur = conn.execute(
        "SELECT id, at, clinician, os_user, action, entity, entity_id, patient, detail, "
        "prev_hash, hash FROM audit ORDER BY id"
    )
    for row in cur:
        count += 1
        values = list(row[:9])
        rid = values[0]
        if rid != expected_id:
            problems.append({"id": rid, "problem": f"gap: expected row {expected_id}"})
        if row[9] != prev:
            problems.append({"id": rid, "problem": "link to the previous row is broken"})
        if row_hash(row[9], values) != row[10]:
            problems.append({"id": rid, "problem": "content does not match its hash"})
        prev = row[10]
        expected_id = rid + 1
    return ChainReport(rows=count, problems=problems)


def listing(store, *, patient: str | None, since: str | None, limit: int) -> list[dict]:
    where, params = [], []
    if patient:
        where.append("patient = ?")
        params.append(patient)
    if since:
        where.append("at >= ?")
        params.append(since)
    sql = (
        "SELECT id, at, clinician, os_user, action, entity, entity_id, patient, detail, hash "
        f"FROM audit {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY id DESC LIMIT ?"
    )
    rows = store.all(sql, [*params, limit])
    return [
        {"audit_id": r["id"], "at": r["at"], "clinician": r["clinician"], "os_user": r["os_user"],
         "action": r["action"], "entity": r["entity"], "entity_id": r["entity_id"],
         "patient": r["patient"], "detail": json.loads(r["detail"]) if r["detail"] else None,
         "hash": r["hash"]}
        for r in reversed(rows)
    ]
