"""The audit log's hash chain (ketacli.store.audit): every row links to the one before from
GENESIS, verify() passes on an intact (or empty) chain and names the first row that was
edited, removed or re-hashed, and details are stored as sorted JSON
(docs/cli-contract.md, "Tamper evidence and encryption at rest")."""

from __future__ import annotations

import itertools
import sqlite3

from helpers import on_pg, tamper
from store_support import add_patient

from ketacli.store import audit, migrations, pgschema
from ketacli.store.db import GENESIS


def new_rows() -> int:
    """The audit rows of a new store: one per migration (on PostgreSQL, the one baseline)
    and the clinic key's."""
    return len(pgschema.PG_MIGRATIONS if on_pg() else migrations.MIGRATIONS) + 1


def test_chain_links_and_verifies(store):
    for i in range(3):
        add_patient(store, f"C-{i}")
    rows = store.all("SELECT id, prev_hash, hash FROM audit ORDER BY id")
    assert rows[0]["prev_hash"] == GENESIS
    for prev, row in itertools.pairwise(rows):
        assert row["prev_hash"] == prev["hash"]
    assert len({r["hash"] for r in rows}) == len(rows)
    report = audit.verify(store.conn, store.key)
    assert report.ok
    assert report.rows == len(rows) == new_rows() + 3  # migrations, the key, 3 patients
    assert report.problems == []


def test_verify_of_an_empty_chain_is_ok():
    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY, at, clinician, os_user, "
                     "action, entity, entity_id, patient, detail, prev_hash, hash)")
        report = audit.verify(conn)
        assert report.ok and report.rows == 0
    finally:
        conn.close()


def test_verify_reports_the_tampered_row(store, db_path):
    for i in range(4):
        add_patient(store, f"C-{i}")
    target = new_rows() + 2  # the second patient's row, mid-chain
    tamper(db_path, f"UPDATE audit SET clinician = 'mallory' WHERE id = {target}",
           drop=("audit_no_update",))
    report = audit.verify(store.conn, store.key)
    assert not report.ok
    assert report.rows == new_rows() + 4
    assert report.problems == [{"id": target, "problem": "content does not match its MAC"}]


def test_verify_reports_a_gap(store, db_path):
    for i in range(3):
        add_patient(store, f"C-{i}")
    tamper(db_path, "DELETE FROM audit WHERE id = 2", drop=("audit_no_delete",))
    report = audit.verify(store.conn, store.key)
    assert not report.ok
    assert {p["id"] for p in report.problems} == {3}
    assert any("gap" in p["problem"] for p in report.problems)
    assert any("link" in p["problem"] for p in report.problems)


def test_a_rehashed_edit_still_breaks_the_next_link(store, db_path):
    """Recomputing the edited row's own hash is not enough: the next row's link breaks."""
    for i in range(3):
        add_patient(store, f"C-{i}")
    # a row from before the clinic key (a keyed row's MAC would catch the edit itself); on
    # PostgreSQL only the baseline migration's row precedes the key
    target = 1 if on_pg() else 2
    row = store.one("SELECT * FROM audit WHERE id = ?", (target,))
    values = [row[k] for k in audit.FIELDS]
    values[audit.FIELDS.index("patient")] = "FORGED"
    tamper(db_path, f"UPDATE audit SET patient = 'FORGED', hash = ? WHERE id = {target}",
           drop=("audit_no_update",), params=[(audit.row_hash(row["prev_hash"], values),)])
    report = audit.verify(store.conn, store.key)
    assert [p["id"] for p in report.problems] == [target + 1], report.problems


def test_audit_detail_is_stored_as_sorted_json(store):
    with store.write() as tx:
        tx.audit("note", "test", detail={"b": 1, "a": "é"})
    assert store.scalar("SELECT detail FROM audit ORDER BY id DESC LIMIT 1") == '{"a":"é","b":1}'
    assert audit.verify(store.conn, store.key).ok
