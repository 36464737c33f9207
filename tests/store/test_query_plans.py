"""The hot commands' queries never scan observations or assessments whole.

Every SQL statement the commands run is captured with sqlite3's trace callback
and explained; a full `SCAN` of a big table fails the test.
"""

from __future__ import annotations

import sqlite3

import pytest

from ketacli.store import db as store_db

BIG_TABLES = ("observations", "assessments", "screenings", "sessions", "followups", "events",
              "audit")


@pytest.fixture
def traced(monkeypatch):
    statements: list[str] = []
    real_connect = store_db._connect

    def connect(path, **options):
        conn = real_connect(path, **options)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(store_db, "_connect", connect)
    return statements


def full_scans(db_path, statements: list[str]) -> list[tuple[str, str]]:
    con = sqlite3.connect(db_path)
    bad = []
    for sql in statements:
        head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if head not in ("SELECT", "WITH"):
            continue
        if " ".join(sql.split()).endswith("ORDER BY id DESC LIMIT 1"):
            continue  # the newest row by rowid: a one-step backward walk, not a scan
        try:
            plan = con.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
        except sqlite3.Error:
            continue  # statements with bound parameters already inlined by the trace are fine
        for row in plan:
            detail = row[3]
            for t in BIG_TABLES:
                if detail.startswith(f"SCAN {t}") or detail.startswith(f"SCAN {t[0]} "):
                    if "COVERING INDEX" in detail and t in ("sessions", "screenings"):
                        continue
                    bad.append((detail, " ".join(sql.split())[:160]))
    con.close()
    return bad


@pytest.mark.sqlite_only  # sqlite3's trace callback and EXPLAIN QUERY PLAN
def test_hot_commands_use_indexes(cli, db_path, traced):
    assert cli("demo", "--patients", "6", "--seed", "4").exit_code == 0
    con = sqlite3.connect(db_path)
    open_sid = con.execute(
        "SELECT s.id FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM discharges d "
        "WHERE d.session_id = s.id)").fetchone()[0]
    done_sid, mrn = con.execute(
        "SELECT s.id, p.mrn FROM sessions s JOIN patients p ON p.id = s.patient_id "
        "JOIN discharges d ON d.session_id = s.id ORDER BY s.id LIMIT 1").fetchone()
    con.close()
    traced.clear()
    for argv in (
        ["log-vitals", str(open_sid), "--bp", "130/80", "--hr", "80", "--at", "2026-11-27 08:59"],
        ["summary", str(done_sid)],
        ["summary", "--patient", mrn],
        ["board", "--json"],
        ["sessions", "--open", "--json"],
        ["sessions", "--patient", mrn, "--json"],
        ["sessions", "--date", "2026-11-27", "--json"],
        ["followup", "due", "--json"],
        ["trend", mrn, "--json"],
        ["report", "outcomes", "--json"],
        ["screen", "DEMO-NEW-1", "--name", "New Patient", "--weight", "70", "--bp", "120/80",
         "--hr", "70", "--at", "2026-11-27 08:00"],
        ["start-session", "DEMO-NEW-1", "--bp", "120/80", "--hr", "70", "--at", "2026-11-27 08:30"],
    ):
        r = cli(*argv)
        assert r.exit_code == 0, (argv, r.stderr)
    assert len(traced) > 20
    bad = full_scans(db_path, traced)
    assert bad == [], "\n".join(f"{d}: {s}" for d, s in bad)
