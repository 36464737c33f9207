"""The clinic key: 32 random bytes kept outside the database, in the file named by
`KETACLI_KEY_FILE` (default: the database path + `.key`, mode 0600).

Every secret the store uses is derived from it with HMAC-SHA256 and a label, so one
key never serves two purposes: the audit chain's MAC key, the key id stored in the
database (which tells a wrong key from a broken chain) and the SQLCipher key.
Someone who can write the database but cannot read the key can change rows, but
cannot make the keyed audit chain agree with the change.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ketacli import safefile
from ketacli.errors import Code, StorageError

KEY_BYTES = 32
HEADER = "ketacli-clinic-key v1"


def key_path(db_path: Path | str) -> Path:
    """Where the clinic key of the database at `db_path` is kept. A PostgreSQL clinic has
    no file to put it beside: its key is in the user-data folder, named after the server
    and database (each workstation holds a copy, or names it with KETACLI_KEY_FILE)."""
    env = os.environ.get("KETACLI_KEY_FILE")
    if env:
        return Path(env)
    from ketacli.store import pg

    if pg.is_url(str(db_path)):
        import platformdirs

        where = pg.describe(str(db_path))
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in
                       f"{where['host']}-{where['port']}-{where['database'] or 'postgres'}")
        return Path(platformdirs.user_data_dir("ketacli", appauthor=False)) / "keys" / f"{name}.key"
    return Path(f"{db_path}.key")


def derive(key: bytes, label: str) -> bytes:
    return hmac.new(key, f"ketacli {label} v1".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class ClinicKey:
    raw: bytes

    @property
    def chain(self) -> bytes:
        """The key of the audit chain's HMAC."""
        return derive(self.raw, "audit chain")

    @property
    def key_id(self) -> str:
        """A public fingerprint of the key, stored in the database."""
        return derive(self.raw, "key id").hex()[:32]

    @property
    def cipher(self) -> str:
        """The SQLCipher raw key (a PRAGMA key value)."""
        return "x'" + derive(self.raw, "sqlcipher").hex() + "'"


def _parse(text: str, path: Path) -> ClinicKey:
    words = text.split()
    hexkey = words[-1] if words else ""
    try:
        raw = bytes.fromhex(hexkey)
    except ValueError:
        raw = b""
    if len(raw) != KEY_BYTES:
        raise StorageError(f"the clinic key file {path} is not a ketacli key",
                           code=Code.CLINIC_KEY_WRONG)
    return ClinicKey(raw)


def load(path: Path) -> ClinicKey | None:
    """The key in `path`, or None when there is no such file."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot read the clinic key file {path}: {exc.strerror}",
                           code=Code.CLINIC_KEY_MISSING) from None
    return _parse(text, path)


def load_or_create(path: Path) -> ClinicKey:
    """The key in `path`, creating it (0600, exclusively, never over an existing file)."""
    found = load(path)
    if found is not None:
        return found
    return save(path, ClinicKey(secrets.token_bytes(KEY_BYTES)))


def save(path: Path, key: ClinicKey) -> ClinicKey:
    """Write `key` to the new file `path` (0600, exclusively); the key already there if
    another process wrote one first."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    old = os.umask(0o077)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(f"{HEADER} {key.raw.hex()}\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process wrote
        except FileExistsError:
            return _parse(path.read_text(encoding="ascii", errors="replace"), path)
        safefile.fsync_dir(path.parent)
        return key
    except OSError as exc:
        raise StorageError(f"cannot create the clinic key file {path}: {exc.strerror}",
                           code=Code.CLINIC_KEY_MISSING) from None
    finally:
        os.umask(old)
        with contextlib.suppress(OSError):
            tmp.unlink()


def mac(key: bytes, prev: str, body: str) -> str:
    """The audit chain's link: HMAC-SHA256 over the previous row's MAC and this row."""
    return hmac.new(key, f"{prev}\n{body}".encode(), hashlib.sha256).hexdigest()
