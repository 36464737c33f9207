"""The demo database: whether a database is one, how far its building got, removing it.

A database is the demo's when it holds demo patients and no others (the demo refuses a
database with real patients, and a demo database refuses real patients). The demo
writes one audit row per batch of patients (action `demo`) with its plan and the rows
the batch wrote: the last one says where an interrupted demo stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from ketacli.store.bulk import TABLES  # the tables a demo batch writes
from ketacli.store.db import Store, Tx


def demo_state(store: Store) -> tuple[int, int]:
    """(demo patients, other patients) in the database."""
    row = store.one("SELECT coalesce(sum(demo), 0), count(*) - coalesce(sum(demo), 0) "
                    "FROM patients")
    return (row[0], row[1]) if row else (0, 0)


def is_demo(store_or_tx: Store | Tx) -> bool:
    """Demo patients and no other (read inside the write that adds a patient)."""
    if store_or_tx.one("SELECT 1 FROM patients WHERE demo = 0 LIMIT 1"):
        return False
    return store_or_tx.one("SELECT 1 FROM patients WHERE demo = 1 LIMIT 1") is not None


def progress(store: Store) -> dict[str, Any] | None:
    """The last batch the demo wrote (its plan, `to`: patients done), if any."""
    row = store.one("SELECT detail FROM audit WHERE action = 'demo' ORDER BY id DESC LIMIT 1")
    return json.loads(row[0]) if row and row[0] else None


def row_marks(tx: Tx) -> dict[str, int]:
    """The highest id of each table, before a batch."""
    return {t: tx.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0] for t in TABLES}


def rows_since(tx: Tx, marks: dict[str, int]) -> dict[str, int]:
    """Rows each table gained since `marks` (inside one writer, ids are consecutive)."""
    now = row_marks(tx)
    return {t: now[t] - marks[t] for t in TABLES if now[t] > marks[t]}


def record_batch(tx: Tx, detail: dict[str, Any]) -> None:
    tx.audit("demo", "patients", None, detail=detail)


def remove(store: Store) -> list[Path]:
    """Delete the demo database and its -wal/-shm files, once no writer is inside it, and
    its clinic key when that is the one beside it (a KETACLI_KEY_FILE elsewhere is kept);
    returns the files deleted. The caller checked that it is a demo database. On
    PostgreSQL the database is the server's: its ketacli schema is dropped (the database
    is then as new), and the clinic key file of that URL deleted (not a KETACLI_KEY_FILE)."""
    if store.engine == "postgresql":
        from ketacli.store import transfer

        transfer.drop_schema(store.conn)
        store.close()
        key = Path(store.key_file)
        if os.environ.get("KETACLI_KEY_FILE"):  # a key kept elsewhere is kept
            return []
        with contextlib.suppress(FileNotFoundError):
            key.unlink()
            return [key]
        return []
    path = Path(store.path)
    with store.write():  # waits for a writer in progress; then nothing else writes
        pass
    store.close()
    beside = Path(f"{path}.key")
    own_key = [beside] if Path(store.key_file) == beside else []
    gone = []
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), *own_key):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p)
            gone.append(p)
    return gone
