"""What `db check` finds that the chain alone does not: rows written around the program.

- a record, void or discharge with no audit row of its own (a raw INSERT: the program
  writes every one of them together with its audit row, in one transaction);
- a patient or follow-up whose values do not match the seal of its latest audit row
  (a raw UPDATE: every change the program makes is audited with the values it left);
- a schema that is not the one the migrations build (a trigger rewritten, a CHECK
  widened through `writable_schema`, a table added).
Each finding is a short text naming records by kind and id only.
"""

from __future__ import annotations

import functools
import json
import sqlite3

from ketacli.store import migrations
from ketacli.store.db import MUTABLE, Store, _statements, range_digest, row_digest
from ketacli.store.engine import has_table

# (table, audit entity) of every table whose rows are sealed by an audit row of their own
SEALED_BY = (
    ("patients", "patient"), ("screenings", "screening"), ("sessions", "session"),
    ("observations", "observation"), ("events", "event"), ("assessments", "assessment"),
    ("followups", "followup"), ("wastes", "waste"),
)
_HAS_SEAL = ("EXISTS (SELECT 1 FROM audit a WHERE a.entity = ? AND a.entity_id = t.id "
             "AND a.detail LIKE '%\"row_sha256\"%')")
_LIMIT = 200  # findings per kind: enough to act on, bounded however large the damage


def batches(store: Store) -> list[tuple[int, str, int, int, str]]:
    """(audit row, table, first id, last id, digest) of every bulk-inserted batch."""
    out = []
    for rid, detail in store.conn.execute(
            "SELECT id, json_extract(detail, '$.batch_sha256') FROM audit "
            "WHERE detail LIKE '%\"batch_sha256\"%' ORDER BY id"):
        out += [(rid, t, a, b, d) for t, a, b, d in json.loads(detail)]
    return out


def _in_batch(ranges: list[tuple[int, int]], rid: int) -> bool:
    return any(a <= rid <= b for a, b in ranges)


def unaudited_rows(store: Store) -> list[str]:
    """Records, voids and discharges that have no audit row of their own (nor a batch's)."""
    found: list[str] = []
    covered: dict[str, list[tuple[int, int]]] = {}
    for _, table, a, b, _d in batches(store):
        covered.setdefault(table, []).append((a, b))
    for table, entity in SEALED_BY:
        cur = store.conn.execute(
            f"SELECT t.id FROM {table} t WHERE NOT {_HAS_SEAL} ORDER BY t.id", (entity,))
        found += [f"{entity} {r[0]}" for r in cur
                  if not _in_batch(covered.get(table, []), r[0])][:_LIMIT]
    found += [f"void {r[0]} ({r[1]} {r[2]})" for r in store.all(
        "SELECT v.id, v.kind, v.target_id FROM voids v WHERE NOT EXISTS (SELECT 1 FROM audit a "
        "WHERE a.entity = v.kind AND a.entity_id = v.target_id AND a.action = 'void' "
        f"AND CAST(json_extract(a.detail, '$.void_id') AS INTEGER) = v.id) ORDER BY v.id LIMIT {_LIMIT}")]
    found += [f"discharge {r[0]} of session {r[1]}" for r in store.all(
        "SELECT d.id, d.session_id FROM discharges d WHERE NOT EXISTS (SELECT 1 FROM audit a "
        "WHERE a.entity = 'session' AND a.entity_id = d.session_id AND a.action = 'discharge' "
        "AND a.detail LIKE '%discharge_sha256%') ORDER BY d.id")
        if not _in_batch(covered.get("discharges", []), r[0])][:_LIMIT]
    if has_table(store.conn, "patient_changes"):
        found += [f"patient change {r[0]} of patient {r[1]}" for r in store.all(
            "SELECT c.id, c.patient_id FROM patient_changes c WHERE NOT EXISTS (SELECT 1 "
            "FROM audit a WHERE a.entity = 'patient' AND a.entity_id = c.patient_id "
            "AND a.action = 'edit' AND CAST(json_extract(a.detail, '$.change') AS INTEGER) = c.id) "
            f"ORDER BY c.id LIMIT {_LIMIT}")]
    found += [f"side effect {r[0]} of session {r[1]}" for r in store.all(
        "SELECT e.id, e.session_id FROM side_effects e WHERE NOT EXISTS (SELECT 1 FROM "
        f"discharges d WHERE d.session_id = e.session_id) ORDER BY e.id LIMIT {_LIMIT}")]
    return found


def batches_altered(store: Store) -> list[str]:
    """Bulk-inserted batches whose rows no longer match their audit row's digest."""
    return [f"{table} {a}-{b} (batch of audit row {rid})"
            for rid, table, a, b, digest in batches(store)
            if range_digest(store.conn, table, a, b) != digest]


def open_sessions_differ(store: Store) -> list[str]:
    """The board's open_sessions (kept by triggers) against what the sessions, discharges
    and voids say: a session hidden from the board, or one shown though it ended."""
    if not has_table(store.conn, "open_sessions"):
        return []
    rows = store.all(
        "SELECT s.id, (o.session_id IS NOT NULL) AS listed FROM sessions s "
        "LEFT JOIN open_sessions o ON o.session_id = s.id "
        "WHERE (o.session_id IS NOT NULL) <> (NOT EXISTS (SELECT 1 FROM discharges d "
        "WHERE d.session_id = s.id) AND NOT EXISTS (SELECT 1 FROM voids v "
        "WHERE v.kind = 'session' AND v.target_id = s.id)) ORDER BY s.id")
    return [f"session {r[0]} " + ("is on the board though it ended" if r[1]
                                  else "is missing from the board though open")
            for r in rows[:_LIMIT]]


def rows_updated(store: Store) -> list[str]:
    """Patients and follow-ups whose stored values differ from their latest audit row's seal."""
    found: list[str] = []
    for entity, table in MUTABLE.items():
        latest: dict[int, str] = {}
        for rid, digest in store.conn.execute(
                "SELECT entity_id, json_extract(detail, '$.row_sha256') FROM audit "
                "WHERE entity = ? AND detail LIKE '%\"row_sha256\"%' ORDER BY id", (entity,)):
            latest[rid] = digest
        for (rid,) in store.conn.execute(f"SELECT id FROM {table} ORDER BY id"):
            seal = latest.get(rid)
            if seal is not None and row_digest(store.conn, table, rid) != seal:
                found.append(f"{entity} {rid}")
                if len(found) >= _LIMIT:
                    return found
    return found + _zone_updated(store)


def _zone_updated(store: Store) -> list[str]:
    """The clinic zone (it decides how every 'HH:MM' is read and every time shown) must be
    the one its latest `set-tz` audit row set: every change ketacli makes is audited."""
    from ketacli.store import clinic

    stored = clinic.zone_name(store)
    audited = store.scalar("SELECT json_extract(detail, '$.to') FROM audit WHERE "
                           "action = 'set-tz' AND entity = 'clinic' ORDER BY id DESC LIMIT 1")
    return [] if stored == audited else ["the clinic zone"]


@functools.cache
def expected_schema() -> frozenset[tuple[str, str, str]]:
    """(type, name, SQL) of every table, index, trigger and view the migrations create."""
    con = sqlite3.connect(":memory:")
    try:
        for _, _, sql in migrations.MIGRATIONS:
            for statement in _statements(sql):
                con.execute(statement)
        return frozenset(_schema(con))
    finally:
        con.close()


def _schema(con) -> list[tuple[str, str, str]]:
    return [(r[0], r[1], " ".join((r[2] or "").split())) for r in con.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")]


def schema_differences(store: Store) -> list[str]:
    """How the stored schema differs from the migrations' (missing triggers are reported
    by the guard check)."""
    if store.engine == "postgresql":
        return pg_schema_differences(store)
    expected = expected_schema()
    actual = set(_schema(store.conn))
    names = {(t, n): sql for t, n, sql in expected}
    out = []
    for kind, name, _sql in sorted(actual - expected):
        if (kind, name) in names:
            out.append(f"{kind} {name} was changed")
        else:
            out.append(f"{kind} {name} is not part of ketacli's schema")
    have = {(t, n) for t, n, _ in actual}
    out += [f"{kind} {name} is missing" for kind, name, _sql in sorted(expected)
            if (kind, name) not in have and kind != "trigger"]
    return out


def _pg_expected() -> tuple[set[tuple[str, str]], dict[str, int]]:
    """(kind, name) of every table and index the PostgreSQL baseline creates, and the
    number of CHECK constraints of each table."""
    import re

    from ketacli.store.pgschema import PG_MIGRATIONS

    names: set[tuple[str, str]] = set()
    checks: dict[str, int] = {}
    for _, _, sql in PG_MIGRATIONS:
        for table, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\);", sql, re.S):
            names.add(("table", table))
            checks[table] = body.count("CHECK (")
        names |= {("index", n) for n in re.findall(r"CREATE (?:UNIQUE )?INDEX (\w+)", sql)}
    return names, checks


def pg_schema_differences(store: Store) -> list[str]:
    """PostgreSQL: tables and indexes added or missing, and CHECK constraints dropped or
    added (a changed guard function is the integrity check's; triggers the guard check's)."""
    expected, checks = _pg_expected()
    actual = {("table", r[0]) for r in store.all(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    actual |= {("index", r[0]) for r in store.all(
        "SELECT i.indexname FROM pg_indexes i WHERE i.schemaname = current_schema() "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)")}
    out = [f"{kind} {name} is not part of ketacli's schema"
           for kind, name in sorted(actual - expected)]
    out += [f"{kind} {name} is missing" for kind, name in sorted(expected - actual)]
    stored = {r[0]: r[1] for r in store.all(
        "SELECT cl.relname, count(*) FROM pg_constraint con JOIN pg_class cl "
        "ON cl.oid = con.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace "
        "WHERE n.nspname = current_schema() AND con.contype = 'c' GROUP BY cl.relname")}
    changed = {t for t, n in checks.items() if ("table", t) in actual and stored.get(t, 0) != n}
    changed |= {t for t in _pg_checks_rewritten(store) if ("table", t) in actual}
    out += [f"table {t} was changed (its checks)" for t in sorted(changed)]
    return out


def _pg_checks_rewritten(store: Store) -> set[str]:
    """Tables whose CHECK constraints are not the baseline's (one dropped and added wider
    keeps their number): the baseline's tables made again as empty temporary tables,
    without their foreign keys, in a step that is rolled back, and the server's own
    spelling of each table's checks compared. Nothing is found where the role may not
    make temporary tables, or the session is read-only (the count above still holds)."""
    import re

    from ketacli.store import pg
    from ketacli.store.pgschema import PG_MIGRATIONS

    bodies = [(t, re.sub(r"\s+REFERENCES \w+\s*\(\w+\)", "", body))
              for _, _, sql in PG_MIGRATIONS
              for t, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\);", sql, re.S)]
    defs = ("SELECT cl.relname, pg_get_constraintdef(con.oid) FROM pg_constraint con "
            "JOIN pg_class cl ON cl.oid = con.conrelid WHERE con.contype = 'c' AND {where}")
    conn = store.conn
    nested = conn.in_transaction
    conn.execute("SAVEPOINT ketacli_checks" if nested else "BEGIN")
    try:
        for table, body in bodies:
            conn.execute(f"CREATE TEMPORARY TABLE ketacli_expected_{table} ({body})")
        expected = conn.execute(defs.format(
            where="cl.relnamespace = pg_my_temp_schema() AND cl.relname LIKE 'ketacli\\_expected\\_%'"
        )).fetchall()
    except pg.errors():
        expected = None
    finally:
        conn.execute("ROLLBACK TO SAVEPOINT ketacli_checks" if nested else "ROLLBACK")
    if expected is None:
        return set()
    want: dict[str, list[str]] = {}
    for relname, text in expected:
        want.setdefault(relname.removeprefix("ketacli_expected_"), []).append(text)
    have: dict[str, list[str]] = {}
    for relname, text in conn.execute(defs.format(
            where="cl.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
    )).fetchall():
        have.setdefault(relname, []).append(text)
    return {t for t in want if sorted(want[t]) != sorted(have.get(t, []))}
