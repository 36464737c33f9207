"""A clinic copied whole between engines: `db copy SRC DEST` (SQLite <-> PostgreSQL, or
PostgreSQL -> PostgreSQL) and `db backup` of a PostgreSQL clinic (an SQLite file).

Every row is copied as stored, ids included, from one consistent snapshot of the source,
into a destination that has the schema and nothing else (no migration or audit rows of
its own): the copy holds the same audit chain, and its rows the same values, so the seals
in the chain verify on the destination. Before anything is kept, the destination is
verified: the same row counts, the chain intact with the clinic key and ending with the
same MAC as the source's, every sealed row matching its seal.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ketacli.errors import Code, StorageError
from ketacli.store import audit, keys, migrations, pg
from ketacli.store.db import Store, _statements, db_errors, storage_error
from ketacli.store.engine import has_table, is_pg

# In an order that satisfies the foreign keys; open_sessions is kept by triggers on the
# destination as the sessions, discharges and voids arrive.
TABLES = ("schema_migrations", "patients", "screenings", "sessions", "followups",
          "assessments", "observations", "events", "discharges", "side_effects", "wastes",
          "voids", "patient_changes", "study_ids", "deid_keys", "clinic_key",
          "clinic_settings", "audit")
BATCH = 5000


@contextlib.contextmanager
def snapshot(store: Store) -> Iterator[None]:
    """One read transaction over the whole copy (writers go on; they are not copied)."""
    if store.engine == pg.ENGINE:
        store.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    else:
        store.conn.execute("BEGIN")
    store.conn.execute("SELECT count(*) FROM audit").fetchone()  # the snapshot starts here
    try:
        yield
    finally:
        with contextlib.suppress(*db_errors()):
            store.conn.execute("COMMIT")


def tables_of(conn) -> list[str]:
    return [t for t in TABLES if has_table(conn, t)]


def _columns(conn, table: str) -> list[str]:
    cur = conn.execute(f"SELECT * FROM {table} WHERE 1 = 0")
    names = [d[0] for d in cur.description]
    cur.fetchall()
    return names


def create_schema(conn) -> None:
    """The destination's schema, with no rows (not even a migration's or an audit row)."""
    if is_pg(conn):
        from ketacli.store.pgschema import PG_MIGRATIONS

        conn.execute("BEGIN")
        for _, _, sql in PG_MIGRATIONS:
            conn.script(sql)
        conn.execute("COMMIT")
        return
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("BEGIN")
    for _, _, sql in migrations.MIGRATIONS:
        for statement in _statements(sql):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {migrations.LATEST}")
    conn.execute("COMMIT")


def _row_text(row) -> bytes:
    return json.dumps(list(row), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def table_digests(conn, tables) -> dict[str, str]:
    """SHA-256 of each table's rows in key order, values as the engine returns them."""
    out = {}
    for table in tables:
        cols = _columns(conn, table)
        h = hashlib.sha256()
        cur = conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY 1")
        for row in cur:
            h.update(_row_text(row))
        out[table] = h.hexdigest()
    return out


class Copied(dict):
    """Row counts per table (the dict), and the SHA-256 of each table's rows as read from
    the source (`digests`)."""

    digests: dict[str, str]


def copy_rows(source: Store, dest, *, own_transaction: bool = True) -> Copied:
    """Every row of every table of `source` into `dest` (one transaction: its own, or the
    caller's); row counts, and the digest of what was read."""
    counts = Copied()
    counts.digests = {}
    if own_transaction:
        dest.execute("BEGIN")
    try:
        for table in tables_of(source.conn):
            cols = _columns(source.conn, table)
            cur = source.conn.cursor()
            cur.row_factory = None
            cur.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY 1")
            n = 0
            h = hashlib.sha256()
            if is_pg(dest):
                with dest.raw.cursor().copy(
                        f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in cur:
                        copy.write_row(row)
                        h.update(_row_text(row))
                        n += 1
            else:
                sql = (f"INSERT INTO {table} ({', '.join(cols)}) "
                       f"VALUES ({', '.join('?' for _ in cols)})")
                while batch := cur.fetchmany(BATCH):
                    dest.executemany(sql, batch)
                    for row in batch:
                        h.update(_row_text(row))
                    n += len(batch)
            counts[table] = n
            counts.digests[table] = h.hexdigest()
        if own_transaction:
            dest.execute("COMMIT")
    except BaseException:
        if own_transaction:
            with contextlib.suppress(*db_errors()):
                dest.execute("ROLLBACK")
        raise
    return counts


def verify_copy(source_chain: audit.ChainReport, dest_store: Store,
                counts: Copied) -> audit.ChainReport:
    """The destination holds the source's rows (every table, value for value), chain and
    seals (exit 4 otherwise)."""
    from ketacli.store import admin

    same = (all(dest_store.scalar(f"SELECT count(*) FROM {t}") == n for t, n in counts.items())
            and table_digests(dest_store.conn, counts) == counts.digests)
    chain = audit.verify(dest_store.conn, dest_store.key)
    if chain.unverifiable:
        raise StorageError(f"the copy's chain is not verifiable: {chain.unverifiable}; "
                           "nothing kept", code=Code.CLINIC_KEY_MISSING,
                           hint="set KETACLI_KEY_FILE to this clinic's key file")
    altered = admin.sealed_rows_altered(dest_store)
    if not (same and chain.ok and chain.last_mac == source_chain.last_mac and not altered):
        raise StorageError("the copy failed verification; nothing kept",
                           code=Code.BACKUP_UNVERIFIED)
    return chain


def source_chain(store: Store) -> audit.ChainReport:
    """The source's chain, verified before anything is copied (a broken chain is not
    copied on as if it were whole)."""
    chain = audit.verify(store.conn, store.key)
    if chain.unverifiable:
        raise StorageError(f"the source's chain is not verifiable: {chain.unverifiable}",
                           code=Code.CLINIC_KEY_MISSING,
                           hint="set KETACLI_KEY_FILE to this clinic's key file")
    if not chain.ok:
        raise StorageError(f"the source's audit chain is broken ({len(chain.problems)} "
                           "problems): run 'ketacli db check' on it; nothing copied",
                           code=Code.AUDIT_CHAIN_BROKEN)
    return chain


def to_sqlite_file(store: Store, tmp: Path) -> tuple[audit.ChainReport, dict[str, int]]:
    """The clinic copied into the new SQLite file `tmp` and verified with the clinic key."""
    import os

    with snapshot(store):
        chain = source_chain(store)
        old = os.umask(0o077)
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
        finally:
            os.umask(old)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            create_schema(conn)
            counts = copy_rows(store, conn)
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok" or \
                    conn.execute("PRAGMA foreign_key_check").fetchall():
                raise StorageError("the copy failed verification; nothing kept",
                                   code=Code.BACKUP_UNVERIFIED)
        finally:
            conn.close()
    dest = _store_on(sqlite3.connect(tmp), tmp, store)
    try:
        return verify_copy(chain, dest, counts), counts
    finally:
        dest.close()


def _store_on(conn, where, source: Store, key: keys.ClinicKey | None = None) -> Store:
    if not is_pg(conn):
        conn.row_factory = sqlite3.Row
    dest = Store.__new__(Store)
    dest.conn, dest.path, dest.actor, dest.encrypted = conn, where, source.actor, False
    dest.engine = pg.ENGINE if is_pg(conn) else "sqlite"
    dest.created = None
    dest.key_file = source.key_file
    dest.key = key or source.key
    dest.keyed = audit.key_record(conn) is not None
    dest.key_problem = audit.key_problem(conn, dest.key)
    return dest


def to_postgresql(store: Store, url: str) -> tuple[audit.ChainReport, dict[str, int]]:
    """The clinic copied into the empty PostgreSQL database `url` and verified, all in one
    transaction under the write lock: nothing is committed before the copy verified, so a
    failure or a killed copy leaves the destination as it was (empty), and no workstation
    writes into a half-made copy."""
    from ketacli.store.db import busy_timeout_s
    from ketacli.store.engine import table_names

    conn = pg.connect(url, busy_timeout_s=busy_timeout_s())
    try:
        if table_names(conn):
            raise StorageError(f"the destination {pg.redact(url)} is not empty: copy into a new "
                               "database (createdb)", code=Code.DESTINATION_EXISTS)
        with snapshot(store):
            chain = source_chain(store)
            conn.execute("BEGIN")
            try:
                conn.execute(f"SELECT pg_advisory_xact_lock({pg.WRITE_LOCK})")
                for _, _, sql in _pg_migrations():
                    conn.script(sql)
                counts = copy_rows(store, conn, own_transaction=False)
                dest = _store_on(conn, pg.redact(url), store)
                verified = verify_copy(chain, dest, counts)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(*db_errors()):
                    conn.execute("ROLLBACK")
                conn.forget_tables()
                raise
        # planner statistics for the rows just loaded (PostgreSQL's advice after a bulk
        # load: "Run ANALYZE Afterwards"), not left to autovacuum's next round
        conn.execute("ANALYZE")
        return verified, counts
    except db_errors() as exc:
        raise storage_error(exc, pg.redact(url)) from None
    finally:
        conn.close()


def _pg_migrations():
    from ketacli.store.pgschema import PG_MIGRATIONS

    return PG_MIGRATIONS


def drop_schema(conn) -> None:
    """Drop every ketacli table and function of a PostgreSQL database, in one transaction
    under the write lock (the demo's `--remove`)."""
    conn.execute("BEGIN")
    try:
        conn.execute(f"SELECT pg_advisory_xact_lock({pg.WRITE_LOCK})")
        for table in reversed(TABLES):
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        conn.execute("DROP TABLE IF EXISTS open_sessions CASCADE")
        for (name,) in conn.execute(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = current_schema() AND (p.proname LIKE 'ketacli%' "
                "OR p.proname = 'json_extract')").fetchall():
            conn.execute(f"DROP FUNCTION IF EXISTS {name} CASCADE")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(*db_errors()):
            conn.execute("ROLLBACK")
        raise
    conn.forget_tables()


def copy(source: Store, dest: str) -> dict:
    """`db copy SRC DEST`: the clinic `source` into DEST, a new SQLite file or an empty
    PostgreSQL database, verified on both sides. The clinic key goes with it: DEST's key
    file (beside the file; for a URL, where ketacli keeps that URL's key) is written if
    it is missing, and must hold the same key if it exists."""
    import os

    from ketacli import safefile

    if source.key is None:
        raise StorageError(f"the source's clinic key is missing ({source.key_file})",
                           code=Code.CLINIC_KEY_MISSING,
                           hint="set KETACLI_KEY_FILE to this clinic's key file")
    key_file = keys.key_path(dest)
    found = keys.load(key_file)
    if found is not None and found.key_id != source.key.key_id:
        raise StorageError(f"{key_file} holds another clinic's key; nothing copied",
                           code=Code.CLINIC_KEY_WRONG,
                           hint="move it aside, or set KETACLI_KEY_FILE to this clinic's key")
    if pg.is_url(dest):
        chain, counts = to_postgresql(source, dest)
        where = pg.redact(dest)
    else:
        target = Path(dest)
        if os.path.lexists(target):
            raise StorageError("the destination exists", code=Code.DESTINATION_EXISTS,
                               hint="copy into a new file")
        if not target.parent.is_dir():
            from ketacli.errors import Invalid

            raise Invalid("the folder of the destination does not exist",
                          code=Code.INVALID_BACKUP_PATH)
        work = None
        try:
            work = safefile.new_dir(target)
            tmp = work / "copy.db"
            chain, counts = to_sqlite_file(source, tmp)
            os.chmod(tmp, 0o600)
            safefile.fsync_path(tmp)
            safefile.publish(tmp, target)
        except OSError as exc:
            raise StorageError(f"cannot write the copy: {exc.strerror}",
                               code=Code.BACKUP_UNWRITABLE) from None
        finally:
            safefile.discard(work)
        where = str(target)
    if found is None:
        keys.save(key_file, source.key)
    return {"source": str(source.path), "dest": where, "engine": "postgresql"
            if pg.is_url(dest) else "sqlite", "audit_rows": chain.rows,
            "rows": sum(counts.values()), "counts": counts, "key_file": str(key_file),
            "chain": "verified on both sides"}
