"""Database administration: info, checks, backups."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sqlite3
import stat
from pathlib import Path

from ketacli import safefile
from ketacli.errors import Code, Invalid, StorageError
from ketacli.store import audit, cipher, clinic, migrations, pg, tamper
from ketacli.store.db import (
    ENTITY_TABLE,
    Store,
    db_errors,
    row_digest,
    schema_version,
    storage_error,
)
from ketacli.store.engine import trigger_names
from ketacli.store.sessions import side_effects_digest

TABLES = (
    "patients", "screenings", "sessions", "observations", "events", "discharges",
    "side_effects", "assessments", "followups", "voids", "wastes", "patient_changes", "audit",
)


def info(store: Store) -> dict:
    counts = {t: store.scalar(f"SELECT count(*) FROM {t}") for t in TABLES}
    if store.engine == pg.ENGINE:
        where: dict = {
            "engine": "postgresql", "server": "PostgreSQL " + store.scalar("SHOW server_version"),
            "journal_mode": None, "mode": None,
            "size_bytes": store.scalar("SELECT pg_database_size(current_database())"),
            "role": store.scalar("SELECT current_user")}
    else:
        size = Path(store.path).stat().st_size
        wal = Path(f"{store.path}-wal")
        where = {"engine": "sqlite", "server": None,
                 "journal_mode": store.scalar("PRAGMA journal_mode"),
                 "size_bytes": size + (wal.stat().st_size if wal.exists() else 0),
                 "mode": oct(stat.S_IMODE(Path(store.path).stat().st_mode))}
    return {
        "path": str(store.path),
        "schema_version": schema_version(store),
        **where,
        "clinic_tz": clinic.zone_name(store),  # every command shows times in it
        "encrypted": store.encrypted,
        "key_file": str(store.key_file),
        "key": "ok" if store.keyed and store.key_problem is None
        else (store.key_problem or "none (database from before the clinic key)"),
        "counts": counts,
        "migrations": [
            {"version": r["version"], "description": r["description"], "applied_at": r["applied_at"]}
            for r in store.all("SELECT version, description, applied_at FROM schema_migrations "
                               "ORDER BY version")
        ],
    }


def check(store: Store) -> dict:
    """See `_check`. On a server, from one snapshot: a patient edit or a reminder stamped by
    another workstation meanwhile is not mistaken for a change made outside ketacli."""
    if store.engine != pg.ENGINE:
        return _check(store)
    store.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    try:
        return _check(store)
    finally:
        with contextlib.suppress(*db_errors()):
            store.conn.execute("ROLLBACK")


def _check(store: Store) -> dict:
    """Integrity, foreign keys, audit chain, sealed and unaudited rows, schema, guards,
    file permissions. Every finding is one line (`findings`)."""
    on_pg = store.engine == pg.ENGINE
    integrity = pg_integrity(store) if on_pg else [r[0] for r in store.all("PRAGMA integrity_check")]
    fk = pg_foreign_keys(store) if on_pg else [
        {"table": r[0], "rowid": r[1], "parent": r[2]}
        for r in store.all("PRAGMA foreign_key_check")
    ]
    chain = audit.verify(store.conn, store.key)
    altered = sealed_rows_altered(store)
    unaudited = tamper.unaudited_rows(store)
    updated = tamper.rows_updated(store)
    board = tamper.open_sessions_differ(store)
    schema = tamper.schema_differences(store)
    missing = sorted(expected_triggers(store) - active_triggers(store))
    checks = [
        {"name": "integrity", "ok": integrity == ["ok"],
         "detail": "ok" if integrity == ["ok"] else "; ".join(integrity[:5])},
        {"name": "foreign_keys", "ok": not fk,
         "detail": "ok" if not fk else f"{len(fk)} rows point at missing parents"},
        {"name": "audit_chain", "ok": chain.ok, "detail": chain_detail(chain)},
        {"name": "clinical_rows", "ok": not altered,
         "detail": "every sealed record matches its audit row" if not altered
         else f"{len(altered)} records changed since recorded, first {altered[0]}"},
        {"name": "unaudited_rows", "ok": not unaudited,
         "detail": "every record has its own audit row" if not unaudited
         else f"{len(unaudited)} records with no audit row of their own, first {unaudited[0]}"},
        {"name": "updated_rows", "ok": not updated and not board,
         "detail": "patients, follow-ups, the zone and the board match the audit"
         if not (updated or board)
         else f"{len(updated) + len(board)} rows changed outside ketacli, first "
              f"{(updated or board)[0]}"},
        {"name": "schema", "ok": not schema,
         "detail": "as the migrations made it" if not schema
         else f"{len(schema)} differences, first {schema[0]}"},
        {"name": "append_only", "ok": not missing,
         "detail": "all guards in place" if not missing
         else f"{len(missing)} guard triggers removed{' or changed' if on_pg else ''}: "
              f"{', '.join(missing[:4])}"},
        _role(store) if on_pg else _permissions(stat.S_IMODE(Path(store.path).stat().st_mode),
                                                store),
    ]
    findings = [
        *([f"audit_chain: {chain_detail(chain)}"] if chain.unverifiable else
          [f"audit_chain: audit row {p['id']}: {p['problem']}" for p in chain.problems]),
        *(f"clinical_rows: {a} changed since recorded" for a in altered),
        *(f"unaudited_rows: {u} has no audit row of its own" for u in unaudited),
        *(f"updated_rows: {u} does not match its latest audit row" for u in updated),
        *(f"updated_rows: {b}" for b in board),
        *(f"schema: {d}" for d in schema),
        *(f"append_only: guard trigger {t} is missing" + (" or was changed" if on_pg else "")
          for t in missing),
    ]
    return {"ok": all(c["ok"] for c in checks), "checks": checks, "findings": findings,
            "audit_problems": chain.problems[:20], "foreign_key_problems": fk[:20]}


def _permissions(mode: int, store: Store) -> dict:
    """The database and its clinic key: neither readable by group or others (0600)."""
    try:
        key_mode: int | None = stat.S_IMODE(store.key_file.stat().st_mode)
    except OSError:
        key_mode = None  # a missing key is the audit chain's finding
    loose_key = key_mode is not None and bool(key_mode & 0o077)
    detail = oct(mode) + ("" if not mode & 0o077 else " (readable by others: chmod 600)")
    if loose_key:
        detail += f"; clinic key {oct(key_mode or 0)} (readable by others: chmod 600 {store.key_file})"
    return {"name": "permissions", "ok": not mode & 0o077 and not loose_key, "detail": detail}


def chain_detail(chain: audit.ChainReport) -> str:
    if chain.unverifiable:
        return f"chain not verifiable: {chain.unverifiable}"
    if chain.ok:
        return f"{chain.rows} rows, {'keyed ' if chain.keyed else ''}chain intact"
    return f"{len(chain.problems)} problems, first at audit row {chain.problems[0]['id']}"


def backup_destination(raw: str | Path) -> Path:
    """DEST of `db backup` names the backup file, in a folder that exists (exit 2 for a
    folder, a path ending in a slash, or a missing folder: never a file named like the
    folder, never a folder created by a typo)."""
    text = str(raw)
    if not text.strip():
        raise Invalid("DEST is empty: name the backup file", code=Code.INVALID_BACKUP_PATH)
    dest = Path(text)
    example = "e.g. ketacli-YYYY-MM-DD.db"
    if text.endswith(("/", os.sep)) or dest.is_dir():
        raise Invalid(f"the backup destination is a folder: name the backup file in it "
                      f"({example})", code=Code.INVALID_BACKUP_PATH)
    if not dest.parent.is_dir():
        raise Invalid("the folder of the backup destination does not exist",
                      code=Code.INVALID_BACKUP_PATH, hint="create it first, or name another")
    return dest


def backup(store: Store, dest: Path) -> dict:
    """An online, consistent copy via the backup API, verified, written 0600.

    Written in a private temporary folder beside `dest` (ketacli.safefile: exclusive,
    unpredictable, never following a link), fsynced, then renamed into place."""

    dest = Path(dest)
    if dest.exists() and not dest.is_symlink():  # a planted symlink is replaced, not followed
        raise StorageError("the backup destination exists", code=Code.DESTINATION_EXISTS,
                           hint="choose a new file name")
    work = None
    try:
        work = safefile.new_dir(dest)
        tmp = work / "backup.db"
        if store.engine == pg.ENGINE:  # a consistent SQLite copy of the whole clinic
            from ketacli.store import transfer

            chain, _ = transfer.to_sqlite_file(store, tmp)
        else:
            chain = copy_verified(store.conn, tmp, store.key, store.encrypted)
        os.chmod(tmp, 0o600)
        safefile.fsync_path(tmp)
        safefile.publish(tmp, dest)
    except db_errors() as exc:
        raise storage_error(exc) from None
    except OSError as exc:
        raise StorageError(f"cannot write the backup: {exc.strerror}",
                           code=Code.BACKUP_UNWRITABLE) from None
    finally:
        safefile.discard(work)
    return {"backup": str(dest), "size_bytes": dest.stat().st_size, "integrity": "ok",
            "audit_rows": chain.rows, "mode": "0o600"}


def copy_verified(source: sqlite3.Connection, tmp: Path, key=None, encrypted: bool = False):
    """Copy `source` into the new file `tmp` (rollback journal, no -wal beside it) and
    verify the copy: integrity, foreign keys, the audit chain."""
    old = os.umask(0o077)
    try:
        target = (cipher.connect(tmp, key, timeout=5) if encrypted  # a copy stays encrypted
                  else sqlite3.connect(tmp))
    finally:
        os.umask(old)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode = DELETE")
        result = target.execute("PRAGMA integrity_check").fetchone()[0]
        fk = target.execute("PRAGMA foreign_key_check").fetchall()
        chain = audit.verify(target, key)  # with the clinic's key: a backup has none of its own
    finally:
        target.close()
    if chain.unverifiable:
        raise StorageError(f"the copy's chain is not verifiable: {chain.unverifiable}; "
                           "nothing kept", code=Code.CLINIC_KEY_MISSING,
                           hint="put this clinic's key beside the database (PATH.key) or set "
                                "KETACLI_KEY_FILE")
    if result != "ok" or fk or not chain.ok:
        raise StorageError("the backup copy failed verification; nothing kept",
                           code=Code.BACKUP_UNVERIFIED)
    return chain


def expected_triggers(store: Store | None = None) -> set[str]:
    """The guard triggers the migrations create (append-only, never-delete, fixed)."""
    if store is not None and store.engine == pg.ENGINE:
        from ketacli.store.pgschema import PG_MIGRATIONS

        scripts = [sql for _, _, sql in PG_MIGRATIONS]
    else:
        scripts = [sql for _, _, sql in migrations.MIGRATIONS]
    return {m for sql in scripts for m in re.findall(r"CREATE TRIGGER (\w+)", sql)}


def active_triggers(store: Store) -> set[str]:
    """The triggers in force (on PostgreSQL, a disabled trigger guards nothing, nor one
    enabled for replica sessions only)."""
    if store.engine == pg.ENGINE:
        expected = _pg_trigger_shapes()
        return {r[0] for r in store.all(
            "SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c "
            "ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT t.tgisinternal AND t.tgenabled IN ('O', 'A') "
            "AND n.nspname = current_schema()")
            if r[0] not in expected or _trigger_shape(r[1]) == expected[r[0]]}
    return trigger_names(store.conn)


def _trigger_shape(definition: str) -> tuple[str, str, bool, str]:
    """(when and on what events, table, with a WHEN condition, function) of a CREATE
    TRIGGER statement, as written in the baseline or as pg_get_triggerdef gives it."""
    m = re.match(r"CREATE TRIGGER \w+\s+(.*?)\s+ON\s+(?:\w+\.)?(\w+)\s+(.*)EXECUTE "
                 r"FUNCTION\s+(?:\w+\.)?(\w+)\(", " ".join(definition.split()))
    if m is None:
        return ("", "", False, "")
    return (m[1].upper(), m[2], "WHEN" in m[3].upper(), m[4])


@functools.cache
def _pg_trigger_shapes() -> dict[str, tuple[str, str, bool, str]]:
    """Each guard trigger of the PostgreSQL baseline: a trigger of that name recreated with
    a condition (WHEN (false)), on other events or calling another function guards nothing."""
    from ketacli.store.pgschema import PG_MIGRATIONS

    out = {}
    for _, _, sql in PG_MIGRATIONS:
        for stmt in re.findall(r"CREATE TRIGGER .*?;", sql, re.S):
            out[stmt.split()[2]] = _trigger_shape(stmt)
    return out


def pg_integrity(store: Store) -> list[str]:
    """PostgreSQL keeps its own pages consistent; what a change outside the program could
    break is ours to find: constraints not validated, and the guard functions' bodies."""
    from ketacli.store.pgschema import PG_MIGRATIONS

    out = [f"constraint {r[0]} on {r[1]} is not validated" for r in store.all(
        "SELECT con.conname, cl.relname FROM pg_constraint con JOIN pg_class cl "
        "ON cl.oid = con.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace "
        "WHERE n.nspname = current_schema() AND NOT con.convalidated")]
    expected = {name: " ".join(body.split()) for sql in (m[2] for m in PG_MIGRATIONS)
                for name, body in re.findall(
                    r"CREATE FUNCTION (\w+)\(.*?\$\$(.*?)\$\$", sql, re.S)}
    stored = {r[0]: " ".join((r[1] or "").split()) for r in store.all(
        "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n "
        "ON n.oid = p.pronamespace WHERE n.nspname = current_schema()")}
    out += [f"function {name} was changed" if name in stored else f"function {name} is missing"
            for name, body in sorted(expected.items()) if stored.get(name) != body]
    return out or ["ok"]


def pg_foreign_keys(store: Store) -> list[dict]:
    """Foreign keys the server no longer enforces (dropped, or not validated), and rows
    that point at a missing parent."""
    want = {"screenings", "sessions", "discharges", "side_effects", "observations", "events",
            "assessments", "followups", "wastes", "patient_changes", "study_ids",
            "open_sessions"}
    have = {r[0] for r in store.all(
        "SELECT DISTINCT cl.relname FROM pg_constraint con JOIN pg_class cl "
        "ON cl.oid = con.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace "
        "WHERE n.nspname = current_schema() AND con.contype = 'f' AND con.convalidated")}
    found = [{"table": t, "rowid": None, "parent": None} for t in sorted(want - have)]
    # rows pointing at a missing parent (written with the constraint's trigger bypassed,
    # e.g. session_replication_role = replica): what PRAGMA foreign_key_check finds
    for child, col, parent, pcol in store.all(
            "SELECT cl.relname, a.attname, pcl.relname, pa.attname FROM pg_constraint con "
            "JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_class pcl ON pcl.oid = con.confrelid "
            "JOIN pg_namespace n ON n.oid = cl.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1] "
            "JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = con.confkey[1] "
            "WHERE n.nspname = current_schema() AND con.contype = 'f' ORDER BY 1, 2"):
        found += [{"table": child, "rowid": r[0], "parent": parent} for r in store.all(
            f'SELECT c."{col}" FROM "{child}" c WHERE c."{col}" IS NOT NULL AND NOT EXISTS '
            f'(SELECT 1 FROM "{parent}" p WHERE p."{pcol}" = c."{col}") LIMIT 20')]
    return found


def _role(store: Store) -> dict:
    """On PostgreSQL: the rights of the role in use. A role that owns the tables could
    drop their guards; the check names it (documented: a workstation role owns nothing)."""
    owner = store.scalar("SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() "
                         "AND tablename = 'audit'")
    role = store.scalar("SELECT current_user")
    detail = f"role {role}" + (" owns the tables (it could drop their guards: use a "
                               "workstation role, see the README)" if owner == role else
                               f"; tables owned by {owner}")
    try:  # the clinic key is a file on a workstation, as with SQLite: 0600
        key_mode: int | None = stat.S_IMODE(store.key_file.stat().st_mode)
    except OSError:
        key_mode = None  # a missing key is the audit chain's finding
    loose_key = key_mode is not None and bool(key_mode & 0o077)
    if loose_key:
        detail += f"; clinic key {oct(key_mode or 0)} (readable by others: chmod 600 {store.key_file})"
    return {"name": "permissions", "ok": not loose_key, "detail": detail}


def sealed_rows_altered(store: Store) -> list[str]:
    """Records whose stored content no longer matches the digest sealed in their audit row."""

    bad = []
    cur = store.conn.execute(
        "SELECT entity, entity_id, json_extract(detail, '$.row_sha256') FROM audit "
        "WHERE detail LIKE '%row_sha256%'")
    for entity, rid, digest in cur:
        table = ENTITY_TABLE.get(entity)
        if table and digest and row_digest(store.conn, table, rid) != digest:
            bad.append(f"{entity} {rid}")

    cur = store.conn.execute(
        "SELECT entity_id, json_extract(detail, '$.discharge_sha256'), "
        "json_extract(detail, '$.side_effects_sha256') FROM audit "
        "WHERE action = 'discharge' AND detail LIKE '%discharge_sha256%'")
    for sid, dis_digest, se_digest in cur:
        did = store.scalar("SELECT id FROM discharges WHERE session_id = ?", (sid,))
        if did is None or row_digest(store.conn, "discharges", did) != dis_digest:
            bad.append(f"discharge of session {sid}")
        elif side_effects_digest(store.conn, sid) != se_digest:
            bad.append(f"side effects of session {sid}")

    cur = store.conn.execute(
        "SELECT json_extract(detail, '$.void_id'), json_extract(detail, '$.void_sha256') "
        "FROM audit WHERE action = 'void' AND detail LIKE '%void_sha256%'")
    for vid, digest in cur:
        if row_digest(store.conn, "voids", vid) != digest:
            bad.append(f"void {vid}")
    return bad + tamper.batches_altered(store)


# -- encryption at rest -----------------------------------------------------------------------
def _verified_copy(path: Path, key, *, encrypted: bool, counts: dict[str, int]) -> None:
    """The copy at `path` holds the same rows, passes the integrity check and its chain
    verifies with the clinic key; else exit 4 (and the caller keeps nothing)."""
    conn = cipher.connect(path, key, timeout=5) if encrypted else sqlite3.connect(path)
    try:
        same = all(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] == n
                   for t, n in counts.items())
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        chain = audit.verify(conn, key)
    finally:
        conn.close()
    if not (same and ok and chain.ok):
        raise StorageError("the converted copy failed verification; nothing changed",
                           code=Code.BACKUP_UNVERIFIED)


def _require_key(store: Store) -> None:
    if store.key is None or store.key_problem is not None:
        raise StorageError(f"encryption needs this clinic's key ({store.key_file})",
                           code=Code.CLINIC_KEY_MISSING,
                           hint="set KETACLI_KEY_FILE to this clinic's key file")


def encrypt(store: Store) -> dict:
    """Convert the database in place to SQLCipher with a key derived from the clinic key:
    an exported copy, verified, renamed over the file; refused while others have it open."""
    cipher.module()
    if store.encrypted:
        raise StorageError(f"{store.path} is already encrypted", code=Code.STORAGE_ERROR)
    _require_key(store)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if store.scalar("PRAGMA journal_mode = DELETE") != "delete":
        raise StorageError("another process has the database open; close it and retry",
                           code=Code.DATABASE_LOCKED)
    try:
        with store.write() as tx:
            tx.audit("encrypt", "database", detail={"cipher": "sqlcipher"})
    except StorageError:
        store.conn.execute("PRAGMA journal_mode = WAL")
        raise
    counts = {t: store.scalar(f"SELECT count(*) FROM {t}") for t in TABLES}
    store.close()
    path = Path(store.path)  # a file: the command is refused on a server
    tmp = cipher.temp_beside(path)
    try:
        cipher.export(path, tmp, key=None, into=store.key, timeout=5)
        os.chmod(tmp, 0o600)
        _verified_copy(tmp, store.key, encrypted=True, counts=counts)
        os.replace(tmp, path)
        safefile.fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
    return {"path": str(store.path), "encrypted": True, "counts": counts}


def decrypt(store: Store, dest: Path) -> dict:
    """A plain (unencrypted) copy of an encrypted database at `dest`, 0600, verified; the
    database itself stays encrypted. Audited: the copy is readable by anyone with the file."""
    if not store.encrypted:
        raise StorageError(f"{store.path} is not encrypted", code=Code.STORAGE_ERROR)
    dest = Path(dest)
    if dest.exists() or Path(f"{dest}-wal").exists():
        raise StorageError(f"destination exists: {dest}", code=Code.DESTINATION_EXISTS,
                           hint="choose a new file name")
    with store.write() as tx:
        tx.audit("decrypt", "database", detail={"dest": str(dest)})
    counts = {t: store.scalar(f"SELECT count(*) FROM {t}") for t in TABLES}
    tmp = cipher.temp_beside(dest)
    old = os.umask(0o077)
    try:
        cipher.export(Path(store.path), tmp, key=store.key, into=None, timeout=5)
        os.chmod(tmp, 0o600)
        _verified_copy(tmp, store.key, encrypted=False, counts=counts)
        os.replace(tmp, dest)
        safefile.fsync_dir(dest.parent)
    except OSError as exc:
        raise StorageError(f"cannot write {dest}: {exc.strerror}",
                           code=Code.BACKUP_UNWRITABLE) from None
    finally:
        os.umask(old)
        if tmp.exists():
            tmp.unlink()
    return {"path": str(dest), "encrypted": False, "counts": counts}


# -- restore ------------------------------------------------------------------------------
_SHM_DMS = 128  # the byte of the -shm every open SQLite connection holds a shared lock on


def in_use(path: Path) -> bool:
    """Does another process have the database open? (Its connections hold a shared lock on
    the -shm's "dead man switch" byte for as long as they are open.)"""
    import fcntl

    shm = Path(f"{path}-shm")
    try:
        fd = os.open(shm, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS)
        except OSError:
            return True
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _SHM_DMS)
        return False
    finally:
        os.close(fd)


def restore(backup_path: Path, path: Path, stamp: str) -> dict:
    """Put a verified copy of `backup_path` in place of the database at `path`; the current
    database and its -wal/-shm are moved aside to PATH.before-restore-STAMP (never deleted).
    Refused while another process has the database open (exit 4)."""
    from ketacli.store import keys
    from ketacli.store.db import check_file, check_kind, check_schema

    backup_path, path = Path(backup_path), Path(path)
    key = keys.load(keys.key_path(path))  # a backup is verified with the clinic's key
    encrypted = key is not None and cipher.looks_encrypted(backup_path)
    if encrypted:
        check_kind(backup_path)
    else:
        check_file(backup_path)
    if os.path.exists(path):
        check_kind(path)  # a damaged database may be replaced; a FIFO or device never
    work = None
    try:
        work = safefile.new_dir(path)
        tmp = work / "restore.db"
        source = (cipher.connect(backup_path, key, timeout=5) if encrypted
                  else sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True))
        try:
            check_schema(source, backup_path)
            chain = copy_verified(source, tmp, key, encrypted)
        finally:
            source.close()
        os.chmod(tmp, 0o600)
        safefile.fsync_path(tmp)
        if in_use(path):
            raise StorageError(f"the database {path} is open in another process; nothing restored",
                               code=Code.DATABASE_IN_USE,
                               hint="close every ketacli (board --watch too) and retry")
        aside = _move_aside(path, stamp)
        safefile.publish(tmp, path)
    except db_errors() as exc:
        raise storage_error(exc, backup_path) from None
    except OSError as exc:
        raise StorageError(f"cannot restore the database: {exc.strerror}",
                           code=Code.BACKUP_UNWRITABLE) from None
    finally:
        safefile.discard(work)
    return {"restored": str(path), "backup": str(backup_path), "moved_aside": aside,
            "audit_rows": chain.rows}


def _move_aside(path: Path, stamp: str) -> list[str]:
    """The current database and its -wal/-shm, renamed together (so the set still opens)."""
    aside = Path(f"{path}.before-restore-{stamp}")
    n = 1
    while any(os.path.lexists(f"{aside}{s}") for s in ("", "-wal", "-shm")):
        n += 1
        aside = Path(f"{path}.before-restore-{stamp}-{n}")
    moved = []
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if os.path.lexists(src):
            os.rename(src, f"{aside}{suffix}")
            moved.append(f"{aside}{suffix}")
    return moved
