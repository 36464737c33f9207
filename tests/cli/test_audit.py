"""`audit` (ketacli.cli.audit; docs/cli-contract.md, "Records and safety"): every row in
order, the --patient, --since (a clinic day) and --limit filters, the human view (patients
by MRN only), bad input, --verify, and a missing database. A chain edited outside the
program is in test_db.py (seen by `audit --verify` and `db check`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import assert_one_error, new_database_actions, on_pg

from ketacli.clock import CLOCK

# A new database starts with one 'migrate' audit row per schema migration.
# a new database's own rows: migrations, the clinic key's, the clinic zone's
NEW = new_database_actions()
M = len(NEW)


@pytest.fixture(autouse=True)
def _new_rows(engine):
    """NEW and M for this test's engine (PostgreSQL starts from one baseline migration)."""
    global NEW, M
    NEW = new_database_actions()
    M = len(NEW)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


AUDIT_KEYS = {"audit_id", "at", "clinician", "os_user", "action", "entity", "entity_id",
              "patient", "detail", "hash"}


@pytest.fixture
def history(cli, db_path):
    """Audit rows on three clinic days (America/Chicago is UTC-6 in late November).

    1..M  migrate   2026-11-20 16:00Z (and the clinic key's and set-tz rows)
    M+1   create A  2026-11-20 16:00Z
    M+2   create B  2026-11-25 05:30Z = 2026-11-24 23:30 in Chicago
    M+3   create A2 2026-11-25 06:30Z = 2026-11-25 00:30 in Chicago
    """
    for when, mrn in ((utc(2026, 11, 20, 16), "A-1"), (utc(2026, 11, 25, 5, 30), "B-1"),
                      (utc(2026, 11, 25, 6, 30), "A-2")):
        CLOCK.pin(when)
        r = cli("patient", "add", mrn, "--name", f"Person {mrn}")
        assert r.exit_code == 0, r.stderr
    CLOCK.pin(utc(2026, 11, 27, 15))
    return db_path


def test_audit_lists_every_row_in_order(cli, history):
    r = cli("audit", "--json")
    assert r.exit_code == 0, r.stderr
    rows = r.json["data"]
    assert [row["audit_id"] for row in rows] == list(range(1, M + 4))
    assert all(set(row) == AUDIT_KEYS for row in rows)
    assert [row["action"] for row in rows] == [*NEW, "create", "create", "create"]
    assert [row["patient"] for row in rows] == [None] * M + ["A-1", "B-1", "A-2"]
    assert rows[M]["entity"] == "patient" and rows[M]["entity_id"] == 1
    assert rows[M]["clinician"] == "nurse.test"
    assert rows[M]["at"] == "2026-11-20T16:00:00+00:00"
    assert rows[0]["detail"]["description"].startswith(
        "PostgreSQL baseline" if on_pg() else "initial schema")
    assert all(len(row["hash"]) == 64 for row in rows)


def test_audit_patient_filter(cli, history):
    r = cli("audit", "--patient", "A-1", "--json")
    assert r.exit_code == 0, r.stderr
    assert [(row["audit_id"], row["patient"]) for row in r.json["data"]] == [(M + 1, "A-1")]
    r = cli("audit", "--patient", "NOBODY", "--json")
    assert r.exit_code == 0
    assert r.json["data"] == []


def test_audit_since_is_a_clinic_day(cli, history):
    r = cli("audit", "--since", "2026-11-25", "--json")
    assert r.exit_code == 0, r.stderr
    # 05:30Z on the 25th is still the 24th in Chicago: excluded
    assert [row["audit_id"] for row in r.json["data"]] == [M + 3]
    r = cli("audit", "--since", "2026-11-24", "--json")
    assert [row["audit_id"] for row in r.json["data"]] == [M + 2, M + 3]
    # the clinic zone is the database's: another --tz is refused, db set-tz changes it
    r = cli("--tz", "UTC", "audit", "--since", "2026-11-25", "--json")
    assert r.exit_code == 2 and r.json["error"]["code"] == "clinic_zone_mismatch"
    assert cli("db", "set-tz", "UTC", "--reason", "the clinic moved its server").exit_code == 0
    r = cli("--tz", "UTC", "audit", "--since", "2026-11-25", "--json")
    assert [row["audit_id"] for row in r.json["data"]] == [M + 2, M + 3, M + 4]


def test_audit_filters_combine_and_limit_keeps_the_latest(cli, history):
    r = cli("audit", "--patient", "A-2", "--since", "2026-11-25", "--json")
    assert [row["audit_id"] for row in r.json["data"]] == [M + 3]
    r = cli("audit", "--patient", "A-1", "--since", "2026-11-25", "--json")
    assert r.json["data"] == []
    r = cli("audit", "--limit", "2", "--json")
    assert [row["audit_id"] for row in r.json["data"]] == [M + 2, M + 3]


def test_audit_human_view(cli, history):
    r = cli("audit")
    assert r.exit_code == 0, r.stderr
    assert f"Audit log ({M + 3} rows)" in r.stdout
    assert "2026-11-20 10:00" in r.stdout  # 16:00Z shown in the clinic zone
    assert "B-1" in r.stdout
    assert "Person" not in r.stdout  # the log names patients by MRN only


def test_audit_at_80_columns_is_one_line_a_row_without_seals(cli, history):
    """The boxed table folded each detail over 5-8 lines of 8 characters, seals included;
    now one line a row, ids and times whole, the detail cut last (all of it in --json)."""
    r = cli("audit")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert len(lines) == 3 + M + 3  # title, header, rule, then one line per row
    assert "row_sha256" not in r.stdout
    assert "2026-11-20 10:00" in r.stdout


@pytest.mark.parametrize("args", [["--patient", "bad mrn!"], ["--since", "2026/11/01"],
                                  ["--since", "2026-02-30"], ["--limit", "0"]])
def test_audit_bad_input_exits_2(cli, history, args):
    assert_one_error(cli("audit", *args), 2)


def test_audit_verify_json(cli, history):
    r = cli("audit", "--verify", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json == {"data": {"verified": True, "rows": M + 3}}
    r = cli("audit", "--verify")
    assert r.exit_code == 0
    assert f"Audit chain intact: {M + 3} rows." in r.stdout


def test_audit_on_a_missing_database_exits_4(cli, db_path):
    assert_one_error(cli("audit"), 4)
    assert_one_error(cli("audit", "--verify"), 4)
    assert not db_path.exists()


# -- anchors --------------------------------------------------------------------------------------
def test_an_anchor_names_the_last_row_and_its_mac(cli, history):
    r = cli("audit", "anchor")
    assert r.exit_code == 0, r.stderr
    tag, version, count, mac, at = r.stdout.split()
    assert (tag, version, int(count)) == ("ketacli-anchor", "v1", M + 3)
    last = cli("audit", "--json").json["data"][-1]
    assert last["audit_id"] == M + 3 and last["hash"] == mac
    assert at == "2026-11-27T15:00:00Z"
    assert cli("audit", "anchor", "--json").json == {"data": {"anchor": r.stdout.strip()}}
    ok = cli("audit", "--verify", "--anchor", r.stdout.strip(), "--json")
    assert ok.json == {"data": {"verified": True, "rows": M + 3, "anchors": [M + 3]}}


def test_anchors_from_a_file(cli, history, tmp_path):
    first = cli("audit", "anchor").stdout
    cli("patient", "add", "C-1", "--name", "Person C")
    second = cli("audit", "anchor").stdout
    path = tmp_path / "anchors.txt"
    path.write_text(f"kept by the practice manager\n{first}{second}")
    r = cli("audit", "--verify", "--anchor", str(path))
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == f"Audit chain intact: {M + 4} rows, every anchored row present " \
                               "(2 anchors)."


@pytest.mark.parametrize("args", [
    ("audit", "--verify", "--anchor", "ketacli-anchor v1 x y z"),
    ("audit", "--verify", "--anchor", "/no/such/anchors.txt"),
    ("audit", "--anchor", "ketacli-anchor v1 1 " + "a" * 64 + " 2026-11-27T15:00:00Z"),
    ("audit", "anchors"),
])
def test_bad_anchor_usage_exits_2(cli, history, args):
    r = cli(*args)
    assert_one_error(r, 2)


def test_an_anchor_beyond_the_chain_is_a_cut_off_chain(cli, history):
    line = cli("audit", "anchor").stdout.split()
    line[2] = str(M + 10)
    r = cli("audit", "--verify", "--anchor", " ".join(line), "--json")
    assert r.exit_code == 4
    assert r.json["error"]["code"] == "audit_chain_broken"
    assert "cut off" in r.json["error"]["message"]
    line[2] = str(M + 1)  # a row that is there, with another row's MAC
    r = cli("audit", "--verify", "--anchor", " ".join(line))
    assert r.exit_code == 4 and "does not match the anchor" in r.stderr
