"""`demo [--patients N] [--seed S]`: a synthetic clinic to explore."""

from __future__ import annotations

from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.errors import Code


@command
def demo(
    patients: Annotated[int, typer.Option(
        "--patients", min=1, max=100000, help="How many synthetic patients.")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same clinic).")] = 7,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Fill the database with a synthetic clinic (MRNs DEMO-...) to explore.

    Screenings, induction series, vitals with alerts, discharges, follow-ups and
    outcome assessments, built with the same rules as real records.

    Refuses (exit 3) a database that holds real (non-demo) patients.
    """
    import sys

    from ketacli import demo as gen
    from ketacli.cli.settings import settings
    from ketacli.clock import CLOCK, today
    from ketacli.errors import Conflict
    from ketacli.render.out import emit
    from ketacli.store import bulk, reports

    s = settings()
    store = s.store()
    n_demo, n_real = bulk.demo_state(store)
    if n_real:
        raise Conflict(
            f"this database holds {n_real} real patients: the demo only fills an empty or "
            "demo database", code=Code.DATABASE_NOT_DEMO, hint="use --db with a new file",
        )
    created = 0
    if n_demo:
        from ketacli.render.out import warn

        warn(f"the demo clinic is already here ({n_demo} patients): showing it; "
             "use --db with a new file for a fresh one")
    else:
        clinic = gen.Clinic(s.protocol, s.tz, CLOCK.now(), seed, patients)
        size = 25
        progress = None
        if sys.stderr.isatty() and patients >= 200:
            from rich.progress import Progress

            from ketacli.render.out import console

            progress = Progress(console=console(stderr=True), transient=True)
            task = progress.add_task("Building the demo clinic", total=patients)
            progress.start()
        try:
            for lo in range(0, patients, size):
                hi = min(patients, lo + size)
                with store.write() as tx:
                    batch = clinic.batch(bulk.next_ids(tx), lo, hi)
                    for table in bulk.TABLES:
                        bulk.insert_many(tx, table, batch.rows.get(table, []))
                    tx.audit("demo", "patients", None, detail={
                        "seed": seed, "from": batch.patients[0], "to": batch.patients[-1],
                        "rows": {t: len(r) for t, r in batch.rows.items()},
                    })
                created += hi - lo
                if progress:
                    progress.update(task, completed=created)
        finally:
            if progress:
                progress.stop()
    data = reports.overview(store, today(s.tz).isoformat())
    data["created_patients"] = created
    data["database"] = str(store.path)

    def human(con):
        from ketacli.render.reports import demo_overview

        con.print(demo_overview(data, s.tz))

    emit(data, json_out, human)
