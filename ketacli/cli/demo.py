"""`demo [--patients N] [--seed S] | demo --remove`: a synthetic clinic to explore."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import Json


@command
def demo(
    patients: Annotated[int, typer.Option(
        "--patients", min=1, max=100000, help="How many synthetic patients.")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same clinic).")] = 7,
    remove: Annotated[bool, typer.Option(
        "--remove", help="Delete the demo database (and its -wal/-shm files).")] = False,
    json_out: Json = False,
) -> None:
    """Fill the database with a synthetic clinic (MRNs DEMO-...) to explore.

    Screenings, induction series, vitals with alerts, discharges, follow-ups and
    outcome assessments, charted by the same rules as real records. The database
    becomes a demo database: it refuses real patients. Run again after an
    interruption to complete it; --remove deletes it.

    Refuses (exit 3) a database that holds real (non-demo) patients.
    """
    from ketacli import demo as gen
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK, today
    from ketacli.render.out import emit, warn
    from ketacli.store import reports

    s = settings()
    if remove:
        gone = gen.remove(s.store(create=False))
        emit(gone, json_out, lambda con: con.print(f"Removed the demo database {gone['database']}."))
        return
    store = s.store()
    work = gen.todo(store, gen.Plan(seed, patients, CLOCK.now()))
    if work.note:
        warn(work.note)
    with _progress(work.remaining) as tick:
        created = gen.build(store, s.protocol, s.tz, work.plan, done=work.done, progress=tick)
    data = {**reports.overview(store, today(s.tz).isoformat()), "created_patients": created,
            "database": str(store.path)}

    def human(con):
        from ketacli.render.reports import demo_overview

        con.print(demo_overview(data, s.tz))

    emit(data, json_out, human)


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None] | None]:
    """A transient progress bar on a terminal for a large clinic; nothing otherwise."""
    import sys

    if not (sys.stderr.isatty() and total >= 200):
        yield None
        return
    from rich.progress import Progress

    from ketacli.render.out import console

    with Progress(console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("Building the demo clinic", total=total)
        yield lambda done: bar.update(task, completed=done)
