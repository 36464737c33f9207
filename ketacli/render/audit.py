"""Rich view of the audit log."""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text

from ketacli.render.fmt import dash, when

# seals and chain values are for machines (`audit --json`, `audit --verify`), not a reader
_SEALS = ("row_sha256", "hash", "mac", "prev_hash", "content_sha256")


def detail_text(detail: dict | None) -> str:
    """The audit detail as `key=value` pairs, seals left out (they are in `--json`)."""
    if not detail:
        return "-"
    pairs = [f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
             for k, v in detail.items() if k not in _SEALS and v not in (None, [], {})]
    return "  ".join(pairs) or "-"


def audit_table(rows: list[dict], tz) -> Table:
    """One line per audit row, nothing wrapped: a narrow terminal cuts the detail with an
    ellipsis (all of it is in `audit --json`, and on a wider terminal)."""
    from rich import box

    t = Table(title=f"Audit log ({len(rows)} rows)", title_justify="left", box=box.SIMPLE_HEAD,
              pad_edge=False, show_edge=False, padding=(0, 1, 0, 0))
    t.add_column("#", justify="right", no_wrap=True)
    t.add_column("When", no_wrap=True)
    t.add_column("Who", no_wrap=True)
    t.add_column("Action", no_wrap=True)
    t.add_column("Record", no_wrap=True)
    t.add_column("Patient", no_wrap=True)
    t.add_column("Detail", min_width=12)  # the one column that gives way at 80 columns
    for r in rows:
        who = r["clinician"] if r["clinician"] == r["os_user"] else f"{r['clinician']} ({r['os_user']})"
        record = f"{r['entity']} {r['entity_id']}" if r["entity_id"] is not None else r["entity"]
        t.add_row(str(r["audit_id"]), when(r["at"], tz), Text(who), r["action"], record,
                  Text(dash(r["patient"])), Text(detail_text(r["detail"]), no_wrap=True, overflow="ellipsis"))
    return t
