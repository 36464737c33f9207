"""The audit log's hash chain (ketacli.store.audit): every row links to the one before from
GENESIS, verify() passes on an intact (or empty) chain and names the first row that was
edited, removed or re-hashed, and details are stored as sorted JSON
(docs/cli-contract.md, "Tamper evidence and encryption at rest")."""

from __future__ import annotations

import itertools
import sqlite3

from store_support import add_patient

from ketacli.store import audit, migrations
from ketacli.store.db import GENESIS


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
    assert report.rows == len(rows) == len(migrations.MIGRATIONS) + 4  # migrations, the key, 3 patients
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


def test_verify_reports_the_tampered_row(store):
    for i in range(4):
        add_patient(store, f"C-{i}")
    store.conn.execute("DROP TRIGGER audit_no_update")
    target = len(migrations.MIGRATIONS) + 3  # the second patient's row, mid-chain
    store.conn.execute(f"UPDATE audit SET clinician = 'mallory' WHERE id = {target}")
    report = audit.verify(store.conn, store.key)
    assert not report.ok
    assert report.rows == len(migrations.MIGRATIONS) + 5
    assert report.problems == [{"id": target, "problem": "content does not match its MAC"}]


def test_verify_reports_a_gap(store):
    for i in range(3):
        add_patient(store, f"C-{i}")
    store.conn.execute("DROP TRIGGER audit_no_delete")
    store.conn.execute("DELETE FROM audit WHERE id = 2")
    report = audit.verify(store.conn, store.key)
    assert not report.ok
    assert {p["id"] for p in report.problems} == {3}
    assert any("gap" in p["problem"] for p in report.problems)
    assert any("link" in p["problem"] for p in report.problems)


def test_a_rehashed_edit_still_breaks_the_next_link(store):
    """Recomputing the edited row's own hash is not enough: the next row's link breaks."""
    for i in range(3):
        add_patient(store, f"C-{i}")
    store.conn.execute("DROP TRIGGER audit_no_update")
    row = store.one("SELECT * FROM audit WHERE id = 2")
    values = [row[k] for k in audit.FIELDS]
    values[audit.FIELDS.index("patient")] = "FORGED"
    store.conn.execute("UPDATE audit SET patient = 'FORGED', hash = ? WHERE id = 2",
                       (audit.row_hash(row["prev_hash"], values),))
    report = audit.verify(store.conn, store.key)
    assert [p["id"] for p in report.problems] == [3]


def test_audit_detail_is_stored_as_sorted_json(store):
    with store.write() as tx:
        tx.audit("note", "test", detail={"b": 1, "a": "é"})
    assert store.scalar("SELECT detail FROM audit ORDER BY id DESC LIMIT 1") == '{"a":"é","b":1}'
    assert audit.verify(store.conn, store.key).ok
