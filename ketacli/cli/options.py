"""Shared option types (Annotated) so every command spells them the same way."""

from __future__ import annotations

from typing import Annotated

import typer

Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
At = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="When it happened: ISO-8601 with offset, 'YYYY-MM-DD HH:MM' or 'HH:MM' "
        "(clinic zone). Default: now. Not more than 5 minutes in the future.",
    ),
]
Mrn = Annotated[str, typer.Argument(help="The clinic's MRN (1-32 of A-Z a-z 0-9 - _).")]
Since = Annotated[str | None, typer.Option("--since", help="From this date (YYYY-MM-DD), inclusive.")]
Until = Annotated[str | None, typer.Option("--until", help="Up to this date (YYYY-MM-DD), inclusive.")]
Note = Annotated[str | None, typer.Option("--note", help="Free-text note (kept out of logs and errors).")]
