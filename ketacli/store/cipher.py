"""Encryption at rest (optional): SQLCipher through the `sqlcipher3` package.

`sqlcipher3` is a drop-in DB-API module (the stdlib sqlite3's interface) over SQLCipher,
published as manylinux wheels with SQLCipher statically linked, so `pip install
'ketacli[encryption]'` needs no system library or compiler. The SQLCipher key is derived
from the clinic key (store/keys.py), so the file is readable only with the key that also
verifies its audit chain. A plain database is converted with `sqlcipher_export` (a full
copy, verified, then renamed over the original), and decrypted the same way.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
from pathlib import Path
from typing import Any

from ketacli.errors import Code, StorageError
from ketacli.store.keys import ClinicKey

SQLITE_MAGIC = b"SQLite format 3\x00"


def module() -> Any:
    """The sqlcipher3 DB-API module, or exit 4 saying how to get it."""
    try:
        import sqlcipher3.dbapi2 as sc  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise StorageError(
            "encryption needs the sqlcipher3 package, which is not installed",
            code=Code.STORAGE_ERROR, hint="pip install 'ketacli[encryption]'") from None
    return sc


def errors() -> tuple[type[BaseException], ...]:
    """sqlcipher3's error base once an encrypted database was opened (for `except`
    clauses; never imports the package for a plain database)."""
    sc = sys.modules.get("sqlcipher3.dbapi2")
    return (sc.Error,) if sc is not None else ()


def looks_encrypted(path: Path) -> bool:
    """A non-empty file that does not start with SQLite's header: SQLCipher's are random."""
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return len(head) == 16 and head != SQLITE_MAGIC


def wrong_key(path: Path | str) -> StorageError:
    return StorageError(f"cannot open {path}: wrong clinic key or not a ketacli database",
                        code=Code.CLINIC_KEY_WRONG, hint="set KETACLI_KEY_FILE to this clinic's key file")


def _keyed(sc: Any, conn: Any, key: ClinicKey | None, path: Path | str) -> Any:
    with contextlib.suppress(sc.Error):
        conn.execute("PRAGMA cipher_log_level = NONE")  # errors are ours to word, once
    if key is not None:
        conn.execute(f'PRAGMA key = "{key.cipher}"')
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sc.Error:
        conn.close()
        raise wrong_key(path) from None
    return conn


def connect(path: Path | str, key: ClinicKey | None, *, timeout: float) -> Any:
    """An open SQLCipher connection (rows as sqlcipher3's Row), checked with the key."""
    sc = module()
    if key is None:
        raise wrong_key(path)
    conn = sc.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
    conn.row_factory = sc.Row
    return _keyed(sc, conn, key, path)


def export(source: Path, dest: Path, *, key: ClinicKey | None, into: ClinicKey | None,
           timeout: float) -> None:
    """Copy the database at `source` (encrypted with `key`, or plain when None) to the new
    file `dest` (encrypted with `into`, or plain), schema version included."""
    sc = module()
    conn = sc.connect(str(source), timeout=timeout, isolation_level=None)
    try:
        _keyed(sc, conn, key, source)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        secret = into.cipher if into is not None else ""
        conn.execute(f"ATTACH DATABASE ? AS target KEY \"{secret}\"", (str(dest),))
        conn.execute("SELECT sqlcipher_export('target')")
        conn.execute(f"PRAGMA target.user_version = {int(version)}")
        conn.execute("DETACH DATABASE target")
    except sc.Error as exc:
        raise StorageError(f"cannot copy the database to {dest}: {exc}",
                           code=Code.STORAGE_ERROR) from None
    finally:
        conn.close()


def temp_beside(path: Path) -> Path:
    """An unused name for a new file in `path`'s folder."""
    return path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")


