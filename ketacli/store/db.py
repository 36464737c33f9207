"""Opening the database: path and permissions, pragmas, migrations, transactions.

This package is the only code that opens the database or writes SQL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ketacli.errors import Code, KetaError, StorageError
from ketacli.store import audit, cipher, keys, migrations, pg, rows
from ketacli.store.audit import GENESIS, Actor  # noqa: F401 - part of the store API
from ketacli.store.engine import has_table, is_pg
from ketacli.store.migrations import ADDED_COLUMNS

SQLITE_MAGIC = b"SQLite format 3\x00"


MAX_BUSY_TIMEOUT_S = 600


def busy_timeout_s() -> float:
    """KETACLI_BUSY_TIMEOUT: how long a command waits for another writer, 0-600 seconds
    (default 15); anything else is exit 2, never silently replaced."""
    import math

    from ketacli.errors import Invalid

    raw = os.environ.get("KETACLI_BUSY_TIMEOUT", "").strip() or "15"
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= MAX_BUSY_TIMEOUT_S):
        raise Invalid(f"KETACLI_BUSY_TIMEOUT must be 0-{MAX_BUSY_TIMEOUT_S} seconds",
                      code=Code.INVALID_SETTING)
    return value


def default_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("ketacli", appauthor=False)) / "ketacli.db"


# SQLite's primary result codes (sqlite3.Error.sqlite_errorname, extended codes such as
# SQLITE_BUSY_SNAPSHOT reduced to their primary) -> how a clinic reads them.
_BY_ERRORNAME = {
    "SQLITE_BUSY": "locked", "SQLITE_LOCKED": "locked",
    "SQLITE_NOTADB": "corrupt", "SQLITE_CORRUPT": "corrupt",
    "SQLITE_READONLY": "readonly", "SQLITE_PERM": "readonly",
    "SQLITE_FULL": "full",
    "SQLITE_CANTOPEN": "cantopen",
}


def _kind(exc: BaseException) -> str | None:
    name = getattr(exc, "sqlite_errorname", None) or ""
    for primary, kind in _BY_ERRORNAME.items():
        if name == primary or name.startswith(primary + "_"):
            return kind
    return None


def storage_error(exc: BaseException, path: Path | str | None = None) -> StorageError:
    """Word a sqlite3/OS error as one line (never with the SQL parameters); SQLite errors
    are classified by their result code, not by message text."""
    if isinstance(exc, pg.errors()):
        return pg.storage_error(exc, str(path) if pg.is_url(str(path)) else None)
    where = f" ({path})" if path else ""
    kind = _kind(exc)
    if kind == "locked":
        try:
            waited = f"{busy_timeout_s():g} s"
        except KetaError:
            waited = "the busy timeout"
        return StorageError(
            f"database is locked by another writer{where}; gave up after {waited}",
            code=Code.DATABASE_LOCKED,
            hint="retry; set KETACLI_BUSY_TIMEOUT (0-600 seconds) to wait longer",
        )
    if kind == "corrupt":
        return StorageError(f"database file is corrupt or not SQLite{where}",
                            code=Code.DATABASE_CORRUPT)
    if kind == "readonly":
        return StorageError(f"database is read-only{where}", code=Code.DATABASE_READONLY)
    if kind == "full":
        return StorageError(f"disk full while writing{where}", code=Code.DISK_FULL)
    if kind == "cantopen":
        return StorageError(f"cannot open database{where}", code=Code.DATABASE_UNOPENABLE)
    if isinstance(exc, OSError):
        return StorageError(f"{exc.strerror or exc}{where}", code=Code.STORAGE_ERROR)
    return StorageError(f"database error: {exc}{where}", code=Code.STORAGE_ERROR)


def _not_ketacli(path: Path | str, why: str, code: str = Code.NOT_A_DATABASE) -> StorageError:
    return StorageError(f"not a ketacli database: {path} {why}", code=code,
                        hint="check --db / KETACLI_DB")


def _key_missing(path: Path) -> StorageError:
    """An encrypted database moved without its clinic key (another machine, another
    account): say what is missing rather than "not SQLite"."""
    return StorageError(
        f"cannot open {path}: encrypted or not a ketacli database, and no clinic key at "
        f"{keys.key_path(path)}", code=Code.CLINIC_KEY_MISSING,
        hint="put this clinic's key beside the database (PATH.key) or set KETACLI_KEY_FILE")


_KINDS = ((stat.S_ISDIR, "is a directory"), (stat.S_ISFIFO, "is a FIFO"),
          (stat.S_ISCHR, "is a device"), (stat.S_ISBLK, "is a device"),
          (stat.S_ISSOCK, "is a socket"))


def check_kind(path: Path) -> os.stat_result:
    """A database path must be a regular file: never a directory, FIFO or device."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise storage_error(exc, path) from None
    for test, why in _KINDS:
        if test(st.st_mode):
            raise _not_ketacli(path, why)
    if not stat.S_ISREG(st.st_mode):
        raise _not_ketacli(path, "is not a regular file")
    return st


def check_file(path: Path) -> None:
    """An existing database path must be a non-empty SQLite file (never opened when it is
    a directory, FIFO or device: no hang, no -wal beside /dev/null), and a -wal beside it
    must be able to belong to it."""
    st = check_kind(path)
    if st.st_size == 0:
        raise _not_ketacli(path, "is empty")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            head = os.read(fd, 100)
        finally:
            os.close(fd)
    except OSError as exc:
        raise storage_error(exc, path) from None
    if len(head) >= 16 and head[:16] != SQLITE_MAGIC:
        if keys.key_path(path).exists():
            return  # SQLCipher (encryption at rest): opened with the clinic key
        if st.st_size % 512 == 0:
            raise _key_missing(path)  # whole pages of random bytes: encrypted, keyless
    if len(head) < 100 or head[:16] != SQLITE_MAGIC:
        raise _not_ketacli(path, "is not SQLite", Code.DATABASE_CORRUPT)
    _check_wal(path, head)


def _check_wal(path: Path, head: bytes) -> None:
    """A -wal beside a database in rollback-journal mode (a restored or copied backup)
    cannot be its own: replaying it would corrupt the file (exit 4, never replayed)."""
    wal = Path(f"{path}-wal")
    try:
        size = wal.stat().st_size
    except OSError:
        return
    legacy = head[18] == 1 and head[19] == 1
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page  # the header stores 64 KiB as 1
    foreign = legacy and size > 0
    if not foreign and size >= 32:
        with contextlib.suppress(OSError), wal.open("rb") as fh:
            header = fh.read(32)
            # a valid WAL header (SQLite ignores any other) for pages of another size
            foreign = (header[:4] in (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
                       and int.from_bytes(header[8:12], "big") != page)
    if foreign:
        raise StorageError(
            f"{wal} does not belong to the database {path}: it was left by another file; "
            "nothing was replayed",
            code=Code.FOREIGN_WAL,
            hint="move the -wal and -shm files aside, or restore with 'ketacli db restore'",
        )


def check_schema(conn: sqlite3.Connection, path: Path) -> None:
    """An SQLite file that ketacli did not make (no ketacli schema) is refused (exit 4)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    has_audit = has_table(conn, "audit")
    if version == 0 or not has_audit:
        raise _not_ketacli(path, "has no ketacli schema")


def _prepare_path(path: Path, create: bool, is_default: bool) -> bool:
    """Check an existing database file, or make the folder of a new one; True when the
    database is still to be created."""
    if str(path).strip() in ("", "."):
        raise StorageError("the database path is empty", code=Code.INVALID_DATABASE_PATH)
    if os.path.lexists(path) and (path.exists() or not create):
        check_file(path)
        return False
    if not create:
        raise StorageError(
            f"no database at {path}", code=Code.DATABASE_MISSING,
            hint="check --db / KETACLI_DB, or create it with 'ketacli db migrate'",
        )
    old = os.umask(0o077)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if is_default:
            os.chmod(path.parent, 0o700)
    except OSError as exc:
        raise StorageError(
            f"cannot create the database at {path}: {exc.strerror}", code=Code.DATABASE_UNOPENABLE
        ) from None
    finally:
        os.umask(old)
    return True


def _create(path: Path, actor: Actor) -> list[int]:
    """Build a new database in a private folder beside `path` and link it into place only
    when complete: no other process ever sees an empty or half-made database file."""
    from ketacli import safefile

    work = None
    try:
        work = safefile.new_dir(path)
        tmp = work / "new.db"
        old = os.umask(0o077)
        try:
            conn = _connect(tmp)
        finally:
            os.umask(old)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            building = Store(conn, tmp, actor)
            building.key_file = keys.key_path(path)  # the clinic key belongs beside `path`
            building.key = keys.load(building.key_file)
            applied = apply_migrations(building)
        finally:
            conn.close()
        os.chmod(tmp, 0o600)
        safefile.fsync_path(tmp)
        try:
            os.link(tmp, path)  # fails if another process created it meanwhile: use theirs
        except FileExistsError:
            pass
        except OSError:
            if not os.path.lexists(path):
                os.rename(tmp, path)
        safefile.fsync_dir(path.parent)
    except sqlite3.Error as exc:
        raise storage_error(exc, path) from None
    except OSError as exc:
        raise StorageError(
            f"cannot create the database at {path}: {exc.strerror}", code=Code.DATABASE_UNOPENABLE
        ) from None
    finally:
        safefile.discard(work)
    return applied


def db_errors() -> tuple[type[BaseException], ...]:
    """What a database call may raise: sqlite3's errors, SQLCipher's and psycopg's when
    installed."""
    return (sqlite3.Error, *cipher.errors(), *pg.errors())


def _integrity_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "IntegrityError" or isinstance(exc, pg.integrity_errors())


class _Reads:
    conn: Any  # sqlite3 / SQLCipher, or store.pg.PgConnection

    def execute(self, sql: str, params=()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def one(self, sql: str, params=()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params=()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params=()):
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None


class Store(_Reads):
    """One open database. Use `with store.write() as tx:` for every write."""

    def __init__(self, conn, path: Path | str, actor: Actor, *,
                 encrypted: bool = False) -> None:
        self.conn = conn
        self.path = path  # a file, or a PostgreSQL URL without its password
        self.actor = actor
        self.encrypted = encrypted
        self.engine = pg.ENGINE if is_pg(conn) else "sqlite"
        # the migrations applied when this run created the database (None: it existed)
        self.created: list[int] | None = None
        self.key_file = keys.key_path(path)
        self.key: keys.ClinicKey | None = keys.load(self.key_file)
        self.refresh_key()

    def refresh_key(self) -> None:
        """Whether the database is keyed, and why its chain cannot be written (if so)."""
        if self.key is None:  # another process may have created it meanwhile
            self.key = keys.load(self.key_file)
        self.keyed = audit.key_record(self.conn) is not None
        self.key_problem = audit.key_problem(self.conn, self.key)

    @property
    def chain_key(self) -> bytes | None:
        return self.key.chain if (self.keyed and self.key is not None) else None

    # -- writing ---------------------------------------------------------
    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        """One write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN and the write
        lock): every write and its audit rows land together."""
        if self.key_problem is not None:
            raise StorageError(
                f"writes refused: chain not verifiable: {self.key_problem} ({self.key_file})",
                code=Code.CLINIC_KEY_WRONG if "wrong" in self.key_problem
                else Code.CLINIC_KEY_MISSING,
                hint="set KETACLI_KEY_FILE to this clinic's key file")
        try:
            if self.engine == pg.ENGINE:  # one writer at a time: see store/pg.py
                # READ COMMITTED whatever the server's default: each statement then reads
                # what the writers before this one committed (under SERIALIZABLE the
                # snapshot would be taken before the lock was granted)
                self.conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                self.conn.execute(f"SELECT pg_advisory_xact_lock({pg.WRITE_LOCK})")
            else:
                self.conn.execute("BEGIN IMMEDIATE")
        except db_errors() as exc:
            with contextlib.suppress(*db_errors()):
                self.conn.execute("ROLLBACK")
            raise storage_error(exc, self.path) from None
        tx = Tx(self)
        try:
            yield tx
            self._commit()
        except BaseException as exc:
            with contextlib.suppress(*db_errors()):
                self.conn.execute("ROLLBACK")
            if isinstance(exc, db_errors()) and _integrity_error(exc):
                raise StorageError(
                    f"the database refused the write: {pg.first_line(exc)}",
                    code=Code.CONSTRAINT_FAILED
                ) from None
            if isinstance(exc, db_errors()):
                raise storage_error(exc, self.path) from None
            raise

    def _commit(self) -> None:
        """COMMIT. On a server, a connection lost during COMMIT leaves the outcome unknown
        (the server may have committed before the line dropped): never "nothing stored",
        so that nobody records the same reading twice."""
        try:
            self.conn.execute("COMMIT")
        except pg.errors() as exc:
            if pg.lost_connection(exc):
                raise StorageError(
                    "the connection to the server was lost while committing: the write may "
                    "or may not have been stored", code=Code.COMMIT_UNKNOWN,
                    hint="check with 'ketacli audit --limit 5' (or the summary) before "
                         "recording it again") from None
            raise

    def close(self) -> None:
        with contextlib.suppress(*db_errors()):
            self.conn.close()


class Tx(_Reads):
    """A write transaction in progress."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.conn
        self._sealed: dict[tuple[str, int], str] = {}
        self._batch: list[tuple[str, int, int]] = []

    def note_batch(self, table: str, first: int, last: int) -> None:
        """Rows first..last of `table` were bulk-inserted (the demo, seeding): the next
        audit row seals them (`batch_sha256`), rows that may change each by a seal row."""
        self._batch.append((table, first, last))

    def insert(self, table: str, row: dict) -> int:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        if self.store.engine == pg.ENGINE:
            rid = self._pg_insert(table, row, cols, marks)
        else:
            cur = self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                                    list(row.values()))
            rid = cur.lastrowid
        if table in SEALED:
            self._sealed[(table, rid)] = row_digest(self.conn, table, rid)
        return rid

    def _pg_insert(self, table: str, row: dict, cols: str, marks: str) -> int:
        """PostgreSQL: the id SQLite would give (max + 1: writers are serialized)."""
        if table in _KEYED_BY or "id" in row:
            self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                              list(row.values()))
            return row[_KEYED_BY.get(table, "id")]
        return self.conn.execute(
            f"INSERT INTO {table} (id, {cols}) VALUES "
            f"((SELECT coalesce(max(id), 0) + 1 FROM {table}), {marks}) RETURNING id",
            list(row.values())).fetchone()[0]

    def record(self, record, *, patient: str | None, detail: dict | None = None) -> int:
        """Insert one clinical record (a `ketacli.domain.records` value), sealed, with its
        audit row: the one way a recording command or the demo stores a record."""
        table, build, action, entity, audit_detail, time_col = rows.RECORDS[type(record)]
        row = build(record)
        rid = self.insert(table, row)
        base = audit_detail(record)
        if detail:
            base = {**(base or {}), **detail}
        self.audit(action, entity, rid, patient=patient, at=row[time_col], detail=base)
        return rid

    def audit(
        self,
        action: str,
        entity: str,
        entity_id: int | None = None,
        *,
        patient: str | None = None,
        detail: dict | None = None,
        at: str | None = None,
    ) -> int:
        table = ENTITY_TABLE.get(entity)
        digest = self._sealed.get((table, entity_id)) if table else None
        if entity in MUTABLE and entity_id is not None:
            # the row's current values: a later raw UPDATE no longer matches them
            digest = row_digest(self.conn, MUTABLE[entity], entity_id)
        if digest:
            # the clinical row's content, sealed into the hash-chained audit row
            detail = {**(detail or {}), "row_sha256": digest}
        batch, self._batch = self._batch, []
        fixed = [[t, a, b, range_digest(self.conn, t, a, b)] for t, a, b in batch
                 if t not in MUTABLE.values()]
        if fixed:
            detail = {**(detail or {}), "batch_sha256": fixed}
        rid = audit.append(
            self.conn, self.store.actor, action, entity, entity_id,
            patient=patient, detail=detail, at=at, key=self.store.chain_key,
        )
        entities = {t: e for e, t in MUTABLE.items()}
        for table, first, last in batch:
            if table in entities:
                for (mid,) in self.all(f"SELECT id FROM {table} WHERE id BETWEEN ? AND ? "
                                       "ORDER BY id", (first, last)):
                    self.audit("seal", entities[table], mid, at=at)
        return rid


# Tables whose key is not an `id` assigned on insert: their key column.
_KEYED_BY = {"schema_migrations": "version", "study_ids": "patient_id",
             "open_sessions": "session_id", "clinic_settings": "key"}

# Append-only clinical tables whose rows are sealed by their audit row.
SEALED = ("screenings", "sessions", "observations", "events", "assessments", "wastes")
# Tables whose rows may change (through the program only): each audit row about one of
# them seals its values after the change, so the latest must match the stored row.
MUTABLE = {"patient": "patients", "followup": "followups"}
ENTITY_TABLE = {"screening": "screenings", "session": "sessions", "observation": "observations",
                "event": "events", "assessment": "assessments", "waste": "wastes"}


def range_digest(conn: sqlite3.Connection, table: str, first: int, last: int) -> str:
    """SHA-256 over the row digests of ids first..last (a bulk-inserted batch), in order."""
    h = hashlib.sha256()
    cur = conn.execute(f"SELECT * FROM {table} WHERE id BETWEEN ? AND ? ORDER BY id",
                       (first, last))
    names = [d[0] for d in cur.description]
    for row in cur:
        h.update(_content_digest(table, names, tuple(row)).encode())
    return h.hexdigest()


def _content_digest(table: str, names: list[str], values: tuple) -> str:
    content = {
        name: value for name, value in zip(names, values, strict=True)
        if (table, name) not in ADDED_COLUMNS or value != ADDED_COLUMNS[table, name]
    }
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def row_digest(conn: sqlite3.Connection, table: str, rid: int) -> str | None:
    """SHA-256 of a stored row's columns and values (as SQLite returns them)."""
    cur = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (rid,))
    row = cur.fetchone()
    if row is None:
        return None
    return _content_digest(table, [d[0] for d in cur.description], tuple(row))


# A full disk cannot give the -shm (the shared WAL index) its pages: SQLite reports these.
_NO_ROOM_FOR_SHM = ("SQLITE_IOERR_SHMSIZE", "SQLITE_IOERR_SHMMAP", "SQLITE_IOERR_SHMOPEN",
                    "SQLITE_FULL")


def _connect_checked(path: Path, encrypted: bool = False) -> sqlite3.Connection:
    """Connect and check the schema. On a full disk, where the -shm cannot grow, reads
    still work: the connection keeps its WAL index in memory (EXCLUSIVE locking mode, for
    this one command); writes then fail as "disk full"."""
    try:
        return _connect(path, check=True, encrypted=encrypted)
    except db_errors() as exc:
        if getattr(exc, "sqlite_errorname", "") not in _NO_ROOM_FOR_SHM:
            raise
    return _connect(path, check=True, exclusive=True, encrypted=encrypted)


def _connect(path: Path, *, check: bool = False, exclusive: bool = False,
             encrypted: bool = False) -> sqlite3.Connection:
    if encrypted:  # SQLCipher, with the key derived from the clinic key
        conn = cipher.connect(path, keys.load(keys.key_path(path)), timeout=busy_timeout_s())
    else:
        conn = sqlite3.connect(
            path, timeout=busy_timeout_s(), isolation_level=None, check_same_thread=False
        )
    try:
        if exclusive:
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        if not encrypted:
            conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s() * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA trusted_schema = OFF")
        if check:
            check_schema(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def open_store(
    path: Path | str | None,
    actor: Actor,
    *,
    create: bool = True,
    migrate: bool = True,
) -> Store:
    """Open (and if asked create and migrate) the database at `path` (a file, or a
    PostgreSQL URL)."""
    if pg.is_url(path):
        return _open_pg(str(path), actor, create=create, migrate=migrate)
    is_default = path is None
    path = Path(path) if path is not None else default_path()
    created = _create(path, actor) if _prepare_path(path, create, is_default) else None
    check_file(path)
    encrypted = cipher.looks_encrypted(path) and keys.key_path(path).exists()
    try:
        conn = _connect_checked(path, encrypted)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > migrations.LATEST:
            conn.close()
            raise StorageError(
                f"database schema version {version} is newer than this ketacli "
                f"understands ({migrations.LATEST})",
                code=Code.SCHEMA_TOO_NEW,
                hint="upgrade ketacli",
            )
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal" and os.access(path, os.W_OK):
            conn.execute("PRAGMA journal_mode = WAL")
        store = Store(conn, path, actor, encrypted=encrypted)
        store.created = created
        if migrate and version < migrations.LATEST:
            apply_migrations(store)
        elif not store.keyed and _has_key_table(store):
            store.close()
            raise key_without_chain(store)  # the key record removed: never rekeyed silently
        return store
    except db_errors() as exc:
        raise storage_error(exc, path) from None


def _open_pg(url: str, actor: Actor, *, create: bool, migrate: bool) -> Store:
    """A clinic on PostgreSQL. The database itself is the server's to create (createdb);
    a database without the ketacli schema is what a missing file is on SQLite: a write
    command creates the schema (and says so), a read command exits 4."""
    from ketacli.store import pgschema

    conn = pg.connect(url, busy_timeout_s=busy_timeout_s())
    try:
        store = Store(conn, pg.redact(url), actor)
        version = _pg_version(conn)
        if version == 0:
            if _foreign_tables(conn):
                raise _not_ketacli(store.path, "has tables of another program")
            if not create:
                raise StorageError(f"no database at {store.path}", code=Code.DATABASE_MISSING,
                                   hint="create it with 'ketacli db migrate'")
            store.created = apply_migrations(store)
        elif version > pgschema.PG_MIGRATIONS[-1][0]:
            raise StorageError(
                f"database schema version {version} is newer than this ketacli "
                f"understands ({pgschema.PG_MIGRATIONS[-1][0]})",
                code=Code.SCHEMA_TOO_NEW, hint="upgrade ketacli")
        elif migrate and version < pgschema.PG_MIGRATIONS[-1][0]:
            apply_migrations(store)
        elif not store.keyed and _has_key_table(store):
            raise key_without_chain(store)
        return store
    except BaseException as exc:
        conn.close()
        if isinstance(exc, db_errors()):
            raise pg.storage_error(exc, url) from None
        raise


def _pg_version(conn) -> int:
    if not has_table(conn, "schema_migrations"):
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def _foreign_tables(conn) -> bool:
    from ketacli.store.engine import table_names

    return bool(table_names(conn) - {"audit", "schema_migrations"})


def schema_version(store: Store) -> int:
    if store.engine == pg.ENGINE:
        return _pg_version(store.conn)
    return store.scalar("PRAGMA user_version")


def _migrations(store: Store) -> list[tuple[int, str, str]]:
    if store.engine == pg.ENGINE:
        from ketacli.store.pgschema import PG_MIGRATIONS

        return PG_MIGRATIONS
    return migrations.MIGRATIONS


def apply_migrations(store: Store) -> list[int]:
    """Apply every pending migration, each in its own transaction with an audit row."""
    from ketacli.clock import CLOCK, to_utc_iso
    applied = []
    fresh = schema_version(store) == 0
    for version, description, sql in _migrations(store):
        if version <= schema_version(store):
            continue
        with store.write() as tx:
            # re-read inside the lock: another process may have migrated meanwhile (on
            # PostgreSQL the connection's table names are from before the lock: ask again)
            if store.engine == pg.ENGINE:
                store.conn.forget_tables()
            if schema_version(store) >= version:
                continue
            if store.engine == pg.ENGINE:
                tx.conn.script(sql)
            else:
                for statement in _statements(sql):
                    tx.execute(statement)
            now = to_utc_iso(CLOCK.now())
            tx.insert(
                "schema_migrations",
                {"version": version, "description": description, "applied_at": now},
            )
            if store.engine != pg.ENGINE:
                tx.execute(f"PRAGMA user_version = {int(version)}")
            tx.audit("migrate", "schema", version, detail={"description": description})
            if "CREATE TABLE clinic_key" in sql:  # keyed in the same transaction
                install_clinic_key(tx, fresh=fresh)
        applied.append(version)
    store.refresh_key()
    return applied


def install_clinic_key(tx: Tx, *, fresh: bool) -> None:
    """Inside the migration that adds the key table: give the database its clinic key (a
    new file beside it, or the file KETACLI_KEY_FILE names) and start the keyed chain from
    its last row. Rows that can change (patients, follow-ups) get an audit row sealing
    their current values."""
    from ketacli.clock import CLOCK, to_utc_iso

    store = tx.store
    if store.key_file.exists() and not fresh:
        raise key_without_chain(store)
    store.key = keys.load_or_create(store.key_file)
    now = to_utc_iso(CLOCK.now())
    first = (tx.scalar("SELECT max(id) FROM audit") or 0) + 1
    tx.execute("INSERT INTO clinic_key (id, key_id, chain_from, created_at) VALUES "
               "(1, ?, ?, ?)", (store.key.key_id, first, now))
    store.keyed = True
    tx.audit("create", "clinic_key", 1, at=now, detail={"key_id": store.key.key_id})
    for entity, sql in _SEAL_ALL.items():
        for rid, mrn in tx.all(sql):
            tx.audit("seal", entity, rid, patient=mrn, at=now)


def key_without_chain(store: Store) -> StorageError:
    return StorageError(
        f"a clinic key exists at {store.key_file}, but this database has no keyed chain "
        "(a copy from before the key, or one whose key record was removed)",
        code=Code.CLINIC_KEY_WRONG,
        hint="compare it with a backup; to key an old copy anew, point KETACLI_KEY_FILE "
             "elsewhere")


_SEAL_ALL = {
    "patient": "SELECT id, mrn FROM patients ORDER BY id",
    "followup": "SELECT f.id, p.mrn FROM followups f JOIN patients p ON p.id = f.patient_id "
                "ORDER BY f.id",
}


def _has_key_table(store: Store) -> bool:
    return has_table(store.conn, "clinic_key")


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (triggers contain ';' inside BEGIN..END)."""
    out, buf = [], []
    for line in sql.splitlines(keepends=True):
        buf.append(line)
        chunk = "".join(buf)
        if sqlite3.complete_statement(chunk):
            if chunk.strip():
                out.append(chunk.strip())
            buf = []
    if "".join(buf).strip():
        out.append("".join(buf).strip())
    return out



def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
