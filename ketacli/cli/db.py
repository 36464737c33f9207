"""`db info | check | backup | restore | migrate | encrypt | decrypt`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import Json
from ketacli.errors import Code

app = typer.Typer(help="The database file: info, checks, backups, migrations, clinic zone, "
                  "encryption.",
                  no_args_is_help=True)


@app.command("info")
@command
def info(json_out: Json = False) -> None:
    """Schema version, record counts, size and file mode."""
    from ketacli.cli.settings import settings
    from ketacli.render.out import emit
    from ketacli.store import admin

    data = admin.info(settings().store(create=False))

    def human(con):
        from ketacli.render.admin import info_view

        con.print(info_view(data))

    emit(data, json_out, human)


@app.command("check")
@command
def check(json_out: Json = False) -> None:
    """Integrity, keyed audit chain, unaudited or changed rows, schema; exit 4 if any fails.

    Also: foreign keys, guard triggers and file permissions; one line per finding."""
    from ketacli.cli.settings import settings
    from ketacli.errors import StorageError
    from ketacli.render.out import emit
    from ketacli.store import admin

    data = admin.check(settings().store(create=False))
    if not data["ok"]:
        failed = [c for c in data["checks"] if not c["ok"]]
        raise StorageError(
            "database check failed: " + "; ".join(f"{c['name']}: {c['detail']}" for c in failed),
            code=Code.CHECK_FAILED, details=data["checks"], lines=data["findings"][:50],
            hint=check_hint(data),
        )

    def human(con):
        from ketacli.render.admin import check_lines

        con.print(check_lines(data))

    emit(data, json_out, human)


def refuse_on_server(where, command: str, hint: str) -> None:
    """Commands about the database file itself are refused on PostgreSQL (exit 2)."""
    from ketacli.errors import Invalid
    from ketacli.store.pg import is_url

    if is_url(where):
        raise Invalid(f"'{command}' works on a database file, not on a PostgreSQL server",
                      code=Code.INVALID_OPTION, hint=hint)


def check_hint(data: dict) -> str | None:
    """What to do when the chain could not be checked at all: bring the clinic key."""
    chain = next(c for c in data["checks"] if c["name"] == "audit_chain")
    if "not verifiable" in chain["detail"] and "clinic key" in chain["detail"]:
        return "set KETACLI_KEY_FILE to this clinic's key file"
    return None


@app.command("backup")
@command
def backup(
    dest: Annotated[str, typer.Argument(
        metavar="DEST", help="The backup file to write (new), in a folder that exists.")],
    json_out: Json = False,
) -> None:
    """An online, consistent, verified copy (safe while others write)."""
    from ketacli.cli.output import refuse_database
    from ketacli.cli.settings import settings
    from ketacli.render.out import emit
    from ketacli.store import admin

    target = admin.backup_destination(dest)
    store = settings().store(create=False)
    refuse_database([target], store.path)
    data = admin.backup(store, target)
    with store.write() as tx:
        tx.audit("backup", "database", detail={"dest": data["backup"]})

    def human(con):
        con.print(f"Backup written and verified: {data['backup']} ({data['size_bytes']:,} bytes)")

    emit(data, json_out, human)


@app.command("restore")
@command
def restore(
    backup: Annotated[Path, typer.Argument(metavar="BACKUP", help="The backup file to put in place.")],
    db: Annotated[Path | None, typer.Option(
        "--db", help="The database to replace. Default: the global --db / KETACLI_DB.",
        show_default=False)] = None,
    json_out: Json = False,
) -> None:
    """Verify a backup (integrity, chain) and put it in place of the database; the current
    database and its -wal/-shm are moved aside to PATH.before-restore-TIMESTAMP."""
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK
    from ketacli.render.out import emit
    from ketacli.store import admin
    from ketacli.store.db import default_path

    s = settings()
    path = db if db is not None else (s.db_path() or default_path())
    refuse_on_server(path, "db restore", "put a backup on the server with "
                     "'ketacli db copy BACKUP postgresql://...' (into a new, empty database)")
    data = admin.restore(backup, Path(path), CLOCK.now().strftime("%Y%m%dT%H%M%SZ"))
    s.db, s.db_empty = path, False
    with s.store(create=False).write() as tx:
        tx.audit("restore", "database", detail={"backup": data["backup"],
                                                 "moved_aside": data["moved_aside"]})

    def human(con):
        con.print(f"Restored {data['restored']} from {data['backup']} (verified, "
                  f"{data['audit_rows']:,} audit rows).")
        for moved in data["moved_aside"]:
            con.print(f"Kept the earlier file as {moved}")

    emit(data, json_out, human)


@app.command("migrate")
@command
def migrate(json_out: Json = False) -> None:
    """Create the database if needed and apply pending schema migrations.

    On PostgreSQL, run it as the role that owns the schema; it lists the rights a
    workstation role needs (GRANT statements)."""
    from ketacli.cli.settings import os_user, settings
    from ketacli.render.out import emit
    from ketacli.store.db import Actor, apply_migrations, open_store, schema_version

    s = settings()
    store = open_store(s.db_path(), Actor(s.who, os_user()), create=True, migrate=False)
    try:
        s.note_created(store)
        before = 0 if store.created is not None else schema_version(store)
        applied = store.created if store.created is not None else apply_migrations(store)
        s.bind_zone(store)
        data = {"path": str(store.path), "from_version": before,
                "schema_version": schema_version(store), "applied": applied}
        if store.engine == "postgresql":  # the rights a workstation role needs
            from ketacli.store.pgschema import grants

            data["grants"] = grants("ROLE", store.scalar("SELECT current_database()"),
                                    store.scalar("SELECT current_schema()"))
    finally:
        store.close()

    def human(con):
        if applied:
            con.print(f"Migrated {data['path']} from version {before} to "
                      f"{data['schema_version']}.")
        else:
            con.print(f"Schema is up to date (version {data['schema_version']}).")
        if data.get("grants"):
            con.print("A workstation role (not the owner of the tables) needs, run as the owner:")
            for line in data["grants"]:
                con.print(f"  {line}", markup=False, highlight=False)

    emit(data, json_out, human)


@app.command("copy")
@command
def copy(
    src: Annotated[str, typer.Argument(metavar="SRC", help="The clinic to copy: a database "
                                       "file or a postgresql:// URL.")],
    dest: Annotated[str, typer.Argument(metavar="DEST", help="A new database file, or an "
                                        "empty PostgreSQL database (postgresql://...).")],
    json_out: Json = False,
) -> None:
    """Copy a whole clinic between SQLite and PostgreSQL (either way), every row with its
    id, the audit chain verified on both sides; the clinic key goes with it."""
    from ketacli.cli.settings import os_user, settings
    from ketacli.render.out import emit
    from ketacli.store import pg, transfer
    from ketacli.store.db import Actor, open_store

    s = settings()
    store = open_store(src if pg.is_url(src) else Path(src), Actor(s.who, os_user()),
                       create=False, migrate=False)
    try:
        data = transfer.copy(store, dest)
        with store.write() as tx:
            tx.audit("copy", "database", detail={"dest": data["dest"], "rows": data["rows"]})
    finally:
        store.close()

    def human(con):
        con.print(f"Copied {data['rows']:,} rows ({data['audit_rows']:,} audit rows) from "
                  f"{data['source']} to {data['dest']}; chain verified on both sides.")
        con.print(f"Clinic key: {data['key_file']}")

    emit(data, json_out, human)


@app.command("encrypt")
@command
def encrypt(json_out: Json = False) -> None:
    """Encrypt the database at rest (SQLCipher, a key derived from the clinic key); every
    command then opens it transparently. Needs: pip install 'ketacli[encryption]'."""
    from ketacli.cli.settings import settings
    from ketacli.render.out import emit
    from ketacli.store import admin

    s = settings()
    refuse_on_server(s.db, "db encrypt", "on PostgreSQL, encryption at rest is the server's "
                     "(an encrypted volume) and in transit TLS (sslmode=verify-full in the URL)")
    data = admin.encrypt(s.store(create=False))
    s._cache.pop("store", None)  # closed by the conversion

    def human(con):
        con.print(f"Encrypted {data['path']}: it opens only with this clinic's key.")

    emit(data, json_out, human)


@app.command("decrypt")
@command
def decrypt(
    dest: Annotated[str, typer.Argument(
        metavar="DEST", help="A new file for the plain (unencrypted) copy.")],
    json_out: Json = False,
) -> None:
    """Write a plain, unencrypted copy of an encrypted database (audited); the database
    itself stays encrypted."""
    from ketacli.cli.settings import settings
    from ketacli.render.out import emit
    from ketacli.store import admin

    refuse_on_server(settings().db, "db decrypt", "a PostgreSQL clinic is not encrypted by "
                     "ketacli: 'ketacli db backup DEST' writes a plain SQLite copy")
    data = admin.decrypt(settings().store(create=False), admin.backup_destination(dest))

    def human(con):
        con.print(f"Plain copy written and verified: {data['path']} (not encrypted: keep it "
                  "as safe as the records it holds).")

    emit(data, json_out, human)


@app.command("set-tz")
@command
def set_tz(
    zone_name: Annotated[str, typer.Argument(metavar="ZONE", help="IANA zone, e.g. America/Chicago.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why the clinic zone changes "
                                               "(kept in the audit log).")] = None,
    json_out: Json = False,
) -> None:
    """Change the clinic zone stored in the database (audited). Every command shows and
    reads times in it; stored times (UTC) do not change."""
    from ketacli.cli.settings import os_user, settings
    from ketacli.clock import zone
    from ketacli.domain.validate import free_text
    from ketacli.render.out import emit
    from ketacli.store import clinic
    from ketacli.store.db import Actor, open_store

    s = settings()
    name = zone_name.strip()
    zone(name)
    why = free_text(reason, "--reason", max_len=500, required=True)
    store = open_store(s.db, Actor(s.who, os_user()), create=False)
    try:
        data = clinic.set_zone(store, name, str(why))
    finally:
        store.close()

    def human(con):
        if data["changed"]:
            con.print(f"Clinic zone changed from {data['previous']} to {data['tz']} "
                      f"(audit {data['audit_id']}).")
        else:
            con.print(f"Clinic zone is already {data['tz']}.")

    emit(data, json_out, human)
