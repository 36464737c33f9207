"""`void KIND ID --reason TEXT`: mark a record entered-in-error; the original stays."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.common import command, emit, settings
from ketacli.cli.options import Json

KINDS = ("observation", "assessment", "event", "screening")


def register(app: typer.Typer) -> None:
    app.command("void", short_help="Mark a record entered-in-error (kept, skipped).")(void)


@command
def void(
    kind: Annotated[str, typer.Argument(help="observation, assessment, event or screening.")],
    record_id: Annotated[int, typer.Argument(metavar="ID", help="The record's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it was entered in error.")],
    json_out: Json = False,
) -> None:
    """Mark a record entered-in-error; the original stays, summaries and exports skip it.

    The void, its reason and who made it are in the audit log.
    """
    from ketacli.domain import validate
    from ketacli.errors import Invalid
    from ketacli.store import voids

    kind = kind.strip().lower()
    if kind not in KINDS:
        raise Invalid(f"KIND must be one of {', '.join(KINDS)}", code="invalid_choice")
    reason = validate.free_text(reason, "--reason", max_len=500, required=True)
    store = settings().store(create=False)
    data = voids.void(store, kind, record_id, reason)

    def human(con):
        con.print(f"Voided {kind} {record_id} (void {data['void_id']}); the original is kept.")

    emit(data, json_out, human)
