"""Batched inserts for generated data (the demo clinic, benchmark seeding).

Rows arrive with their ids already assigned (from `next_ids`) so that one
executemany per table and per batch does the work, inside the caller's
BEGIN IMMEDIATE transaction.
"""

from __future__ import annotations

from ketacli.store.db import Tx

TABLES = ("patients", "screenings", "sessions", "observations", "events", "discharges",
          "side_effects", "followups", "assessments")


def next_ids(tx: Tx) -> dict[str, int]:
    return {t: (tx.execute(f"SELECT max(id) FROM {t}").fetchone()[0] or 0) + 1 for t in TABLES}


def insert_many(tx: Tx, table: str, rows: list[dict]) -> int:
    if not rows:
        return 0
    cols = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    tx.conn.executemany(sql, [tuple(r[c] for c in cols) for r in rows])
    if "id" in rows[0]:  # sealed by the caller's next audit row
        tx.note_batch(table, min(r["id"] for r in rows), max(r["id"] for r in rows))
    return len(rows)


def demo_state(store) -> tuple[int, int]:
    """(demo patients, other patients) in the database."""
    row = store.one("SELECT coalesce(sum(demo), 0), count(*) - coalesce(sum(demo), 0) FROM patients")
    return row[0], row[1]
