"""Schema versions (ketacli.store.migrations, applied by ketacli.store.db): every migration
recorded with its audit row, none applied twice, a file left at version 0 when asked, and a
schema newer than the program refused (exit 4)."""

from __future__ import annotations

import sqlite3

import pytest
from store_support import ACTOR, NOW

from ketacli.errors import StorageError
from ketacli.store import migrations
from ketacli.store.db import open_store


def test_migrations_are_recorded(store):
    assert store.scalar("PRAGMA user_version") == migrations.LATEST
    rows = store.all("SELECT version, description, applied_at FROM schema_migrations "
                     "ORDER BY version")
    assert [r["version"] for r in rows] == [v for v, _, _ in migrations.MIGRATIONS]
    assert [r["description"] for r in rows] == [d for _, d, _ in migrations.MIGRATIONS]
    assert all(r["applied_at"] == NOW for r in rows)  # the pinned clock
    audited = store.all("SELECT action, entity, entity_id FROM audit ORDER BY id")
    assert [tuple(r) for r in audited] == [("migrate", "schema", v)
                                           for v, _, _ in migrations.MIGRATIONS]


def test_reopening_does_not_reapply(tmp_path):
    path = tmp_path / "r.db"
    open_store(path, ACTOR).close()
    st = open_store(path, ACTOR)
    try:
        assert st.scalar("SELECT count(*) FROM schema_migrations") == len(migrations.MIGRATIONS)
        assert st.scalar("SELECT count(*) FROM audit") == len(migrations.MIGRATIONS)
        from ketacli.store.db import apply_migrations

        assert apply_migrations(st) == []
        assert st.scalar("SELECT count(*) FROM audit") == len(migrations.MIGRATIONS)
    finally:
        st.close()


def test_open_without_migrate_leaves_a_new_file_at_version_0(tmp_path):
    st = open_store(tmp_path / "v0.db", ACTOR, migrate=False)
    try:
        assert st.scalar("PRAGMA user_version") == 0
        assert st.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'patients'") == 0
    finally:
        st.close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "n.db"
    open_store(path, ACTOR).close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(StorageError) as exc:
        open_store(path, ACTOR)
    assert exc.value.code == "schema_too_new"
    assert exc.value.exit_code == 4
