"""`trend MRN [--measure] [--svg FILE] [--html FILE]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ketacli.cli.edge import command
from ketacli.cli.options import Json, Mrn
from ketacli.errors import Code


@command
def trend(
    mrn: Mrn,
    measure: Annotated[str, typer.Option("--measure", help="phq9, gad7, madrs or pcl5.")] = "phq9",
    svg: Annotated[Path | None, typer.Option("--svg", help="Also write the view as SVG.")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Also write the view as HTML.")] = None,
    all_points: Annotated[bool, typer.Option(
        "--all", help="List every point in the table (default: baseline and the latest 12).")] = False,
    json_out: Json = False,
) -> None:
    """Scores over time from the screening baseline, as a chart with infusions marked.

    Status per point: response >= 50 % drop, partial 25-49 %, no response < 25 %;
    remission PHQ-9 or GAD-7 < 5, MADRS <= 10.
    """
    from ketacli.cli.settings import settings
    from ketacli.domain import outcomes, validate
    from ketacli.domain.scales import MEASURES
    from ketacli.errors import Invalid, NotFound
    from ketacli.render.out import emit
    from ketacli.store import assessments, patients

    s = settings()
    mrn = validate.mrn(mrn)
    measure = measure.strip().lower().replace("-", "")
    if measure not in MEASURES:
        raise Invalid("--measure must be phq9, gad7, madrs or pcl5", code=Code.INVALID_CHOICE)
    store = s.store(create=False)
    from ketacli.cli.output import refuse_database

    refuse_database([f for f in (svg, html) if f is not None], store.path)
    p = patients.get(store, mrn)
    hist = assessments.history(store, p["id"], measure)
    data = outcomes.trend(measure, hist, assessments.infusion_starts(store, p["id"]), s.tz)
    if data["baseline"] is None:
        raise NotFound(f"patient {mrn} has no {measure} score at screening to trend from",
                       code=Code.NO_SCORES, hint=f"record one with 'ketacli screen {mrn} ... --{measure}'")
    mrn = p["mrn"]
    data = {"patient": mrn, **data, "suicide_risk": assessments.suicide_history(store, p["id"])}

    def render(con):
        from ketacli.render.trend import trend_view

        con.print(trend_view(data, mrn, width=min(con.width, 100), tz=s.tz,
                             rows=None if all_points else 12))

    for path, kind in ((svg, "svg"), (html, "html")):
        if path is not None:
            _export(render, path, kind)
    emit(data, json_out, render)


def _export(render, path: Path, kind: str) -> None:
    """The same view as SVG or HTML, written atomically with mode 0600 (patient data)."""
    import io

    from rich.console import Console

    from ketacli.cli import output

    rec = Console(record=True, width=100, file=io.StringIO(), force_terminal=True)
    render(rec)
    text = rec.export_svg(title="ketacli trend") if kind == "svg" else rec.export_html()
    with output.atomic(path) as fh:
        fh.write(text)
