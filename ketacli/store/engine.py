"""What differs between the two engines, asked of a connection: SQLite (a sqlite3 or
SQLCipher connection) or PostgreSQL (store/pg.py's PgConnection)."""

from __future__ import annotations

from typing import Any


def is_pg(conn: Any) -> bool:
    return getattr(conn, "engine", None) == "postgresql"


def has_table(conn: Any, name: str) -> bool:
    return name in table_names(conn)


def trigger_names(conn: Any) -> set[str]:
    if is_pg(conn):
        sql = ("SELECT DISTINCT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
               "JOIN pg_namespace n ON n.oid = c.relnamespace "
               "WHERE NOT t.tgisinternal AND n.nspname = current_schema()")
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    return {r[0] for r in conn.execute(sql)}


def table_names(conn: Any) -> set[str]:
    """The tables of the database (PostgreSQL: of its current schema, asked once per
    connection)."""
    if is_pg(conn):
        return set(conn.tables())
    return {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
