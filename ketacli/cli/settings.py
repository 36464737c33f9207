"""The global settings of one run (--db, --clinician, --tz, --protocol) and what they
open lazily: the clinic zone, the protocol, the store."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def os_user() -> str:
    """The OS login recorded beside the clinician on every audit row: the account of the
    process's real user id (pwd), never $USER / $LOGNAME, which anyone can set."""
    if not hasattr(os, "getuid"):  # not POSIX: the best the platform offers
        import getpass

        try:
            return getpass.getuser()
        except Exception:
            return "unknown"
    import pwd

    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no account (containers)
        return f"uid-{uid}"


@dataclass
class Settings:
    db: Path | str | None = None  # a file, or a PostgreSQL URL
    clinician: str | None = None
    tz_name: str | None = None
    protocol_path: Path | None = None
    db_empty: bool = False  # --db "" or KETACLI_DB="": refused when the database is needed
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def who(self) -> str:
        name = (self.clinician or "").strip() or os_user()
        from ketacli.domain.validate import free_text

        return free_text(name, "--clinician", max_len=80, required=True, person=True)

    @property
    def tz(self):
        """The clinic zone: the one stored in the database (opened for it when the file
        exists); for a database not yet created, --tz / KETACLI_TZ, else the system zone."""
        if "tz" not in self._cache:
            from ketacli.clock import zone

            if "store" not in self._cache and self._db_exists():
                self.store(create=False)  # binds the stored zone
            if "tz" not in self._cache:
                self._cache["tz"] = zone(self.tz_name)
        return self._cache["tz"]

    def _db_exists(self) -> bool:
        from ketacli.store.db import default_path
        from ketacli.store.pg import is_url

        if is_url(self.db):  # a database on the server: one with the ketacli schema
            from ketacli.errors import Code, StorageError

            try:
                self.store(create=False)
            except StorageError as exc:
                if exc.code == Code.DATABASE_MISSING:
                    return False
                raise
            return True
        path = self.db if self.db is not None else default_path()
        return os.path.lexists(path)

    def bind_zone(self, store) -> None:
        """Use the database's clinic zone; a database without one stores the zone in force.
        A --tz / KETACLI_TZ naming another zone than the stored one is refused (exit 2)."""
        from ketacli.clock import system_zone_name, zone
        from ketacli.errors import Code, Invalid, StorageError
        from ketacli.store import clinic

        stored = clinic.zone_name(store)
        if stored is None:
            name = self.tz_name or system_zone_name()
            zone(name)  # a bad --tz is refused before anything is stored
            try:
                stored = clinic.init_zone(store, name)
            except StorageError as exc:  # a read-only database from before the zone was kept
                if exc.code != Code.DATABASE_READONLY:
                    raise
                stored = name
        elif self.tz_name and self.tz_name != stored:
            raise Invalid(f"this database's clinic zone is {stored}; change it with "
                          "'ketacli db set-tz ZONE'", code=Code.CLINIC_ZONE_MISMATCH,
                          hint="leave out --tz / KETACLI_TZ: every command uses the stored zone")
        self._cache["tz"] = zone(stored)

    def note_created(self, store) -> None:
        if store.created:
            import sys

            from ketacli.render.out import write

            write(sys.stderr, f"note: created a new database at {store.path}\n")

    @property
    def protocol(self):
        if "protocol" not in self._cache:
            from ketacli import protocol

            self._cache["protocol"] = protocol.load(self.protocol_path)
        return self._cache["protocol"]

    def db_path(self) -> Path | str | None:
        """--db / KETACLI_DB (None: the default); an empty one is refused (exit 2)."""
        if self.db_empty:
            from ketacli.errors import Code, Invalid

            raise Invalid("--db / KETACLI_DB is empty: name the database file",
                          code=Code.INVALID_DATABASE_PATH)
        return self.db

    def store(self, *, create: bool = True):
        """The open database (created on first write; read-only commands need it to exist)."""
        if "store" not in self._cache:
            from ketacli.store.db import Actor, open_store

            store = open_store(self.db_path(), Actor(clinician=self.who, os_user=os_user()),
                               create=create)
            self._cache["store"] = store
            try:
                self.note_created(store)
                self.bind_zone(store)
            except BaseException:
                self.close()
                raise
        return self._cache["store"]

    def close(self) -> None:
        st = self._cache.pop("store", None)
        if st is not None:
            st.close()


_SETTINGS = Settings()


def set_settings(s: Settings) -> None:
    global _SETTINGS
    _SETTINGS.close()
    _SETTINGS = s


def settings() -> Settings:
    return _SETTINGS
