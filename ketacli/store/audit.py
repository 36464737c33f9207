"""The append-only, keyed hash-chained audit log.

Each row stores the MAC of the row before it and its own: an HMAC-SHA256, with a key
derived from the clinic key (store/keys.py), over that previous MAC and its own content
(including its id). An edit, a deletion inside the chain or a reordering outside the
program breaks the chain, and without the key nobody can recompute it. Rows written
before the database had a key (below `clinic_key.chain_from`) carry a plain SHA-256;
the first keyed row (the clinic key's own) covers their last hash, so they cannot be
rehashed either.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field

from ketacli.clock import CLOCK, to_utc_iso
from ketacli.store import keys

GENESIS = "0" * 64


@dataclass
class Actor:
    """Who writes: the clinician named on the record and the OS login."""

    clinician: str
    os_user: str

FIELDS = ("id", "at", "clinician", "os_user", "action", "entity", "entity_id", "patient", "detail")


def row_hash(prev_hash: str, values: list, key: bytes | None = None) -> str:
    """The row's link: HMAC-SHA256 with the chain key, or (rows from before the clinic
    key, key None) a plain SHA-256."""
    body = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    if key is not None:
        return keys.mac(key, prev_hash, body)
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
    key: bytes | None = None,
) -> int:
    """Append one audit row (keyed with `key`, the chain key); must run inside the
    caller's write transaction."""

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
    digest = row_hash(prev, values, key)
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
    unverifiable: str | None = None  # "clinic key missing" / "wrong clinic key"
    keyed: bool = False
    last_mac: str | None = None
    macs: dict[int, str] = field(default_factory=dict)  # only the rows asked for

    @property
    def ok(self) -> bool:
        return not self.problems and self.unverifiable is None


def key_record(conn: sqlite3.Connection) -> tuple[int, str] | None:
    """(chain_from, key_id) of a keyed database; None for one from before the clinic key."""
    from ketacli.store.engine import has_table

    if not has_table(conn, "clinic_key"):
        return None
    row = conn.execute("SELECT chain_from, key_id FROM clinic_key WHERE id = 1").fetchone()
    return None if row is None else (row[0], row[1])


def key_problem(conn: sqlite3.Connection, key: keys.ClinicKey | None) -> str | None:
    """Why the chain of this database cannot be verified with `key` (None: it can)."""
    record = key_record(conn)
    if record is None:
        return None
    if key is None:
        return "clinic key missing"
    if key.key_id != record[1]:
        return "wrong clinic key"
    return None


def verify(conn: sqlite3.Connection, key: keys.ClinicKey | None = None, *,
           want: tuple[int, ...] = ()) -> ChainReport:
    """Walk the chain in id order; report every row whose link or content is wrong.
    A keyed database whose key is missing or wrong is not verifiable (`unverifiable`)."""
    record = key_record(conn)
    problem = key_problem(conn, key)
    if problem is not None:
        return ChainReport(rows=conn.execute("SELECT count(*) FROM audit").fetchone()[0],
                           problems=[], unverifiable=problem, keyed=True)
    chain_from = record[0] if record else None
    mac_key = key.chain if (key is not None and record) else None
    problems: list[dict] = []
    macs: dict[int, str] = {}
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
        keyed = chain_from is not None and rid >= chain_from
        if row_hash(row[9], values, mac_key if keyed else None) != row[10]:
            problems.append({"id": rid, "problem": "content does not match its MAC" if keyed
                             else "content does not match its hash"})
        if keyed and rid == chain_from and row[5] != "clinic_key":
            problems.append({"id": rid, "problem": "the keyed chain does not start with the "
                                                   "clinic key's row"})
        if rid in want:
            macs[rid] = row[10]
        prev = row[10]
        expected_id = rid + 1
    if chain_from is not None and expected_id <= chain_from:
        problems.append({"id": chain_from, "problem": "the keyed chain is missing (rows cut off)"})
    return ChainReport(rows=count, problems=problems, keyed=record is not None,
                       last_mac=prev if count else None, macs=macs)


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


# -- anchors: the chain's head, kept off the machine ----------------------------------------
ANCHOR_TAG = "ketacli-anchor"


@dataclass(frozen=True)
class Anchor:
    count: int
    mac: str
    at: str

    @property
    def line(self) -> str:
        return f"{ANCHOR_TAG} v1 {self.count} {self.mac} {self.at}"


def parse_anchor(text: str) -> Anchor | None:
    words = text.split()
    if len(words) != 5 or words[0] != ANCHOR_TAG or words[1] != "v1":
        return None
    count, mac_, at = words[2], words[3], words[4]
    if not count.isdigit() or int(count) < 1 or len(mac_) != 64 or not all(
            c in "0123456789abcdef" for c in mac_):
        return None
    return Anchor(int(count), mac_, at)


def anchor_problem(report: ChainReport, anchor: Anchor) -> str | None:
    """Why the chain (verified with `want=(anchor.count,)`) does not hold the anchored rows."""
    if anchor.count not in report.macs:
        return (f"audit chain cut off: the anchor names row {anchor.count}, "
                f"the chain has {report.rows} rows")
    if report.macs[anchor.count] != anchor.mac:
        return f"audit chain does not match the anchor at row {anchor.count}"
    return None
