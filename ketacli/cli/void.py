"""`void KIND ID --reason TEXT`: mark a record entered-in-error; the original stays."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import Json


@command
def void(
    kind: Annotated[str, typer.Argument(
        help="observation, assessment, event, screening or session.")],
    record_id: Annotated[int, typer.Argument(metavar="ID", help="The record's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it was entered in error.")],
    json_out: Json = False,
) -> None:
    """Mark a record entered-in-error; the original stays, summaries and exports skip it.

    The void, its reason and who made it are in the audit log. A voided session (e.g.
    started on the wrong patient) takes everything in it along; its drawn ketamine stays in
    the controlled-substance ledger as a discrepancy until wasted with 'ketacli waste'.
    """
    from ketacli.cli.settings import settings
    from ketacli.domain import validate
    from ketacli.domain.vocab import VOID_KINDS
    from ketacli.errors import Code, Invalid
    from ketacli.render.out import emit
    from ketacli.store import voids

    kind = kind.strip().lower()
    if kind not in VOID_KINDS:
        raise Invalid(f"KIND must be one of {', '.join(VOID_KINDS)}", code=Code.INVALID_CHOICE)
    reason = validate.free_text(reason, "--reason", max_len=500, required=True)
    data = voids.void(settings().store(create=False), kind, record_id, reason)
    def human(con):
        from ketacli.render.session import void_lines

        con.print(void_lines(data))

    emit(data, json_out, human)
