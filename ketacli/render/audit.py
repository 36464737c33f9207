"""Rich view of the audit log."""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text

from ketacli.render.fmt import dash, when


def audit_table(rows: list[dict], tz) -> Table:
    t = Table(title=f"Audit log ({len(rows)} rows)", title_justify="left")
    t.add_column("#", justify="right")
    t.add_column("When", no_wrap=True)
    t.add_column("Who")
    t.add_column("Action")
    t.add_column("Record")
    t.add_column("Patient")
    t.add_column("Detail")
    for r in rows:
        who = r["clinician"] if r["clinician"] == r["os_user"] else f"{r['clinician']} ({r['os_user']})"
        record = f"{r['entity']} {r['entity_id']}" if r["entity_id"] is not None else r["entity"]
        detail = json.dumps(r["detail"], ensure_ascii=False) if r["detail"] else "-"
        t.add_row(str(r["audit_id"]), when(r["at"], tz), Text(who), r["action"], record,
                  Text(dash(r["patient"])), Text(detail))
    return t
