"""Clinic settings kept in the database: the clinic zone (`tz`)."""

from __future__ import annotations

from ketacli.clock import CLOCK, to_utc_iso
from ketacli.store.db import Store, Tx

ZONE_KEY = "tz"


def get(store_or_tx, key: str) -> str | None:
    """A stored setting, or None (also on a database from before the settings table)."""
    from ketacli.store.engine import has_table

    if not has_table(store_or_tx.conn, "clinic_settings"):
        return None
    return store_or_tx.scalar("SELECT value FROM clinic_settings WHERE key = ?", (key,))


def zone_name(store: Store) -> str | None:
    return get(store, ZONE_KEY)


def _put(tx: Tx, key: str, value: str) -> None:
    tx.execute(
        "INSERT INTO clinic_settings (key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, value, to_utc_iso(CLOCK.now())))


def init_zone(store: Store, name: str) -> str:
    """Store the clinic zone of a database that has none yet (a new database, or one from
    before the zone was kept); returns the zone in force (another writer may have been
    first)."""
    with store.write() as tx:
        stored = get(tx, ZONE_KEY)
        if stored is not None:
            return stored
        _put(tx, ZONE_KEY, name)
        tx.audit("set-tz", "clinic", detail={"from": None, "to": name, "reason": "new database"})
    return name


def set_zone(store: Store, name: str, reason: str) -> dict:
    """Change the clinic zone (audited with the old and new zone and the reason)."""
    with store.write() as tx:
        before = get(tx, ZONE_KEY)
        if before != name:
            _put(tx, ZONE_KEY, name)
        audit_id = tx.audit("set-tz", "clinic", detail={"from": before, "to": name,
                                                        "reason": reason})
    return {"tz": name, "previous": before, "changed": before != name, "audit_id": audit_id}
