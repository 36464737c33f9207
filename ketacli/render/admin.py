"""Views of the database itself: `db info`, `db check`."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text


def info_view(d: dict) -> Group:
    t = Table(title="Records", title_justify="left")
    t.add_column("Table")
    t.add_column("Rows", justify="right")
    for k, v in d["counts"].items():
        t.add_row(k, f"{v:,}")
    if d.get("engine") == "postgresql":
        where = [Text(f"Database  {d['path']}"),
                 Text(f"Server    {d['server']} (role {d['role']})"),
                 Text(f"Schema    version {d['schema_version']}"),
                 Text(f"Size      {d['size_bytes']:,} bytes")]
    else:
        where = [Text(f"Database  {d['path']}"),
                 Text(f"Schema    version {d['schema_version']}  ({d['journal_mode']})"),
                 Text(f"Size      {d['size_bytes']:,} bytes  mode {d['mode']}"
                      + ("  encrypted (SQLCipher)" if d.get("encrypted") else ""))]
    return Group(
        *where,
        Text(f"Key       {d.get('key_file')}  ({d.get('key')})"),
        Text(f"Zone      {d.get('clinic_tz') or '-'} (the clinic zone; 'ketacli db set-tz')"),
        t,
    )


def check_lines(d: dict) -> Text:
    return Text("\n".join(f"{'ok  ' if c['ok'] else 'FAIL'}  {c['name']:<14} {c['detail']}"
                          for c in d["checks"]))
