"""`board` (docs/cli-contract.md): one row per open session with every contract key, what
is due and overdue, `--watch` without a TTY printing once, 80 columns, `--chair`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import ok, on_pg, query
from infusion_support import (
    MRN,
    OTHER,
    assert_error,
    at,
    discharge,
    event,
    open_session,
    screened,
    start,
    vitals,
)

from ketacli.clock import CLOCK

KEYS = {"session_id", "patient", "name", "chair", "started_at", "minutes_in", "phase",
        "last_vitals", "next_vitals_due", "vitals_overdue", "bp_40min", "earliest_discharge"}


def board(cli, *extra):
    return ok(cli("board", "--json", *extra)).json["data"]


def test_nothing_open_is_an_empty_board(cli):
    screened(cli, MRN)
    assert board(cli) == []
    r = ok(cli("board"))
    assert "No open sessions." in r.stdout


def test_board_without_a_database_exits_4_and_creates_none(cli, db_path):
    r = cli("board")
    assert_error(r, 4)
    assert not db_path.exists()


def test_one_row_per_open_session_ordered_by_start(cli):
    first = open_session(cli, MRN, "--chair", "Chair 2", when=at("07:40"))
    second = open_session(cli, OTHER, when=at("08:30"))
    rows = board(cli)
    assert [r["session_id"] for r in rows] == [first, second]
    assert set(rows[0]) >= KEYS
    assert rows[0]["patient"] == MRN and rows[0]["chair"] == "Chair 2"
    assert rows[1]["chair"] is None
    assert rows[0]["started_at"] == "2026-11-27T13:40:00+00:00"
    assert rows[0]["minutes_in"] == 80  # now is 09:00


def test_a_discharged_session_leaves_the_board(cli):
    sid = open_session(cli, MRN)
    ok(discharge(cli, sid))
    assert board(cli) == []


def test_phase_due_overdue_and_bp_40min(cli):
    sid = open_session(cli, MRN, when=at("08:30"))
    CLOCK.pin(datetime(2026, 11, 27, 14, 38, tzinfo=UTC))  # 08:38: last reading 08:30
    [row] = board(cli)
    assert row["phase"] == "infusing" and row["minutes_in"] == 8
    assert row["last_vitals"]["bp"] == "130/80" and row["last_vitals"]["alerts"] == []
    assert row["next_vitals_due"] == "2026-11-27T14:40:00+00:00"
    assert row["vitals_overdue"] is False
    assert row["bp_40min"] == "due"
    assert row["earliest_discharge"] == "2026-11-27T15:40:00+00:00"  # end 09:10 + 30
    CLOCK.pin(datetime(2026, 11, 27, 14, 41, tzinfo=UTC))
    assert board(cli)[0]["vitals_overdue"] is True
    ok(vitals(cli, sid, "--bp", "150/90", "--hr", "80", when=at("08:41")))
    [row] = board(cli)
    assert row["vitals_overdue"] is False and row["last_vitals"]["bp"] == "150/90"


def test_a_pause_shows_and_moves_the_earliest_discharge(cli):
    sid = open_session(cli, MRN, when=at("08:30"))
    CLOCK.pin(datetime(2026, 11, 27, 14, 45, tzinfo=UTC))
    ok(event(cli, sid, "pause", when=at("08:40")))
    [row] = board(cli)
    assert row["phase"] == "paused"
    # 10 min ran, 30 to go from now (08:45): ends 09:15, discharge from 09:45
    assert row["earliest_discharge"] == "2026-11-27T15:45:00+00:00"


def test_observing_after_the_end_and_bp_40min_done_or_missed(cli):
    sid = open_session(cli, MRN, when=at("07:40"))  # ends 08:20; now 09:00
    [row] = board(cli)
    assert row["phase"] == "observing"
    assert row["bp_40min"] == "missed"
    assert row["vitals_overdue"] is True
    ok(vitals(cli, sid, "--bp", "140/85", "--hr", "80", when=at("08:20")))
    [row] = board(cli)
    assert row["bp_40min"] == "done"
    assert row["next_vitals_due"] == "2026-11-27T14:35:00+00:00"  # 08:20 + 15 (observing)


def test_watch_without_a_tty_prints_once(cli):
    open_session(cli, MRN)
    r = ok(cli("board", "--watch", "--interval", "1"))
    assert r.stdout.count("Board 09:00 America/Chicago") == 1
    assert r.json is None


@pytest.mark.parametrize("seconds", ["0", "-5", "nan", "100000"])
def test_a_bad_interval_is_exit_2(cli, seconds):
    open_session(cli, MRN)
    assert_error(cli("board", "--interval", seconds), 2)


def test_human_board_fits_80_columns_and_marks_overdue_in_words(cli):
    sid = open_session(cli, MRN, "--chair", "Recliner 12 by window")
    ok(vitals(cli, sid, "--bp", "185/112", "--hr", "135", "--spo2", "88", when=at("07:50")))
    r = ok(cli("board"))
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in r.stdout
    assert "1 OVERDUE" in lines[0]
    assert "OVERDUE" in "\n".join(lines[1:])
    assert "missed" in r.stdout and "185/112" in r.stdout
    assert "!! 4 critical" in r.stdout and "! 2 warning" in r.stdout  # counted at 80
    assert "Recliner" in r.stdout and "red]x[/]" in r.stdout  # the name as typed


def test_a_wide_board_lists_each_alert(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    sid = open_session(cli, MRN)
    ok(vitals(cli, sid, "--bp", "185/112", "--hr", "135", "--spo2", "88", when=at("07:50")))
    r = ok(cli("board"))
    assert max(len(line) for line in r.stdout.splitlines()) <= 120
    assert "!! SBP=185 DBP=112 HR=135 SpO2=88" in r.stdout
    assert "! SBP+55 DBP+32" in r.stdout


def test_start_session_chair_is_stored_and_returned(cli, db_path):
    screened(cli, MRN)
    data = ok(start(cli, MRN, "--chair", "Chair 3")).json["data"]
    assert data["chair"] == "Chair 3"
    assert query(db_path, "SELECT chair FROM sessions") == [("Chair 3",)]
    assert ok(cli("summary", data["session_id"], "--json")).json["data"]["chair"] == "Chair 3"


@pytest.mark.parametrize("chair", ["x" * 25, "Chair\x1b[2J"])
def test_a_bad_chair_is_exit_2_and_stores_nothing(cli, db_path, chair):
    screened(cli, MRN)
    assert_error(start(cli, MRN, "--chair", chair), 2, json_out=True)
    assert query(db_path, "SELECT count(*) FROM sessions") == [(0,)]


def test_a_redraw_is_one_statement(cli, db_path, monkeypatch):
    from ketacli import protocol
    from ketacli.cli.board import _snapshot
    from ketacli.store.db import Actor, open_store

    open_session(cli, MRN)
    open_session(cli, OTHER, when=at("08:00"))
    store = open_store(db_path, Actor("t", "t"), create=False)
    statements: list[str] = []
    if on_pg():  # every statement the store sends goes through pg.translate
        from ketacli.store import pg

        sent = pg.translate
        monkeypatch.setattr(pg, "translate", lambda sql: (statements.append(sql), sent(sql))[1])
    else:
        store.conn.set_trace_callback(statements.append)
    try:
        _, rows = _snapshot(store, protocol.load())
    finally:
        store.close()
    assert len(rows) == 2
    assert len(statements) == 1


def test_a_voided_session_leaves_the_board_and_is_listed_voided(cli):
    sid = open_session(cli, MRN)
    ok(cli("void", "session", sid, "--reason", "started on the wrong patient"))
    assert board(cli) == []
    assert [r["status"] for r in ok(cli("sessions", "--json")).json["data"]] == ["voided"]
    assert ok(cli("sessions", "--open", "--json")).json["data"] == []


@pytest.mark.sqlite_only  # SQLite's migration 9; a PostgreSQL store starts at version 9
def test_open_sessions_backfill_of_the_migration(cli, db_path):
    """The migration fills open_sessions from what is there: not discharged, not voided."""
    import sqlite3

    from ketacli.store import migrations
    from ketacli.store.db import _statements

    kept = open_session(cli, MRN)
    ok(discharge(cli, open_session(cli, OTHER, when=at("07:45"))))
    screened(cli, "KX-300")
    voided = ok(start(cli, "KX-300", when=at("07:50"))).json["data"]["session_id"]
    ok(cli("void", "session", voided, "--reason", "started on the wrong patient"))
    [backfill] = [s for s in _statements(migrations.V9) if s.startswith("INSERT INTO open_")]
    con = sqlite3.connect(db_path)
    con.execute("DELETE FROM open_sessions")
    con.execute(backfill)
    assert con.execute("SELECT session_id FROM open_sessions").fetchall() == [(kept,)]
    con.close()


@pytest.mark.parametrize(("chair", "shown"), [("2", "in chair 2:"), ("Room 3", "in Room 3:")])
def test_summary_names_the_chair_readably(cli, chair, shown):
    """trial2: a chair numbered '1' read 'Infusion 1 in 1' in the session panel."""
    screened(cli, MRN)
    sid = ok(start(cli, MRN, "--chair", chair)).json["data"]["session_id"]
    assert f"Infusion 1 {shown} started" in ok(cli("summary", sid)).stdout


def test_a_wide_board_gives_a_long_name_and_chair_room(cli, monkeypatch):
    """trial2: at 120 columns a long name still folded mid-word in an 18-column cell."""
    monkeypatch.setenv("COLUMNS", "120")
    screened(cli, MRN, name="Dee Long-Hyphenated-Surname")
    ok(start(cli, MRN, "--chair", "Recliner A wall", when=at("07:40")))
    r = ok(cli("board"))
    assert max(len(line) for line in r.stdout.splitlines()) <= 120
    assert "Long-Hyphenated-Surname" in r.stdout and "Recliner A wall" in r.stdout
