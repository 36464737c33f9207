"""Reminders that cannot be lost (contract: "Files, faults and hostile input", Reminders
never lost): `followup due --claim` / `followup ack BATCH`, claims that expire after
`reminders.claim_minutes`, `--output FILE`, and, through real pipes, a reader that closes
after 50 bytes (nothing stamped, exit 4) and a stalled reader that blocks no writer."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import timedelta

import pytest
from helpers import FIXED_NOW, assert_one_error, build_once, copy_db, csv_rows, on_pg, query, scalar
from outcome_support import A_WEEK_AGO, ok, schedule
from reliability_support import env_for, popen

from ketacli.clock import CLOCK


def _build(cli) -> dict[str, int]:
    ok(cli("patient", "add", "CL-A", "--name", "Ann Able", "--phone", "555-0101"))
    ok(cli("patient", "add", "CL-B", "--name", "Bob Baker"))
    CLOCK.pin(A_WEEK_AGO)
    ids = {"a": schedule(cli, "CL-A", "call", "2026-11-22")["followup_id"],
           "b": schedule(cli, "CL-B", "infusion", "2026-11-27")["followup_id"]}
    CLOCK.pin(FIXED_NOW)
    return ids


@pytest.fixture(scope="module")
def built(tmp_path_factory, engine):
    return build_once(tmp_path_factory, "claim", _build)


@pytest.fixture
def clinic(built, db_path) -> dict[str, int]:
    path, ids = built
    copy_db(path, db_path)
    return ids


UNNOTIFIED = ("followup", "due", "--unnotified", "--json")


def _notified(db) -> list[int]:
    return [r[0] for r in query(db, "SELECT id FROM followups WHERE notified_at IS NOT NULL "
                                    "ORDER BY id")]


def test_claim_then_ack(cli, db_path, clinic):
    r = cli("followup", "due", "--unnotified", "--claim", "--json")
    assert r.exit_code == 0, r.stderr
    batch = r.json["batch"]
    assert isinstance(batch, int)
    assert [x["followup_id"] for x in r.json["data"]] == [clinic["a"], clinic["b"]]
    assert _notified(db_path) == []
    # claimed: not listed by --unnotified while the claim lasts; still listed without it
    assert ok(cli(*UNNOTIFIED)) == []
    assert len(ok(cli("followup", "due", "--json"))) == 2
    acked = ok(cli("followup", "ack", str(batch), "--json"))
    assert acked["stamped"] == [clinic["a"], clinic["b"]]
    assert _notified(db_path) == [clinic["a"], clinic["b"]]
    notify = query(db_path, "SELECT entity_id, patient, detail FROM audit WHERE action = 'notify'")
    assert [(n[0], n[1], json.loads(n[2])["batch"]) for n in notify] == [
        (clinic["a"], "CL-A", batch), (clinic["b"], "CL-B", batch)]
    # a second ack of the same batch is harmless and stamps nothing more
    assert ok(cli("followup", "ack", str(batch), "--json"))["stamped"] == []
    assert scalar(db_path, "SELECT count(*) FROM audit WHERE action = 'notify'") == 2


def test_claim_formats_carry_the_batch(cli, clinic):
    r = cli("followup", "due", "--unnotified", "--claim", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    rows = csv_rows(r.stdout)
    assert list(rows[0])[-1] == "batch" and len({x["batch"] for x in rows}) == 1
    CLOCK.pin(FIXED_NOW + timedelta(minutes=61))  # the claim has expired: due again
    table = cli("followup", "due", "--unnotified", "--claim")
    assert table.exit_code == 0, table.stderr
    assert "CL-A" in table.stdout
    batch = int(rows[0]["batch"])
    assert f"batch {batch + 1}: acknowledge with 'ketacli followup ack {batch + 1}'" \
        in table.stderr or "followup ack" in table.stderr
    # nothing due: no batch
    empty = cli("followup", "due", "--unnotified", "--claim", "--json")
    assert empty.json == {"data": [], "batch": None}


def test_a_claim_expires_after_claim_minutes(cli, clinic, tmp_path):
    ok(cli("followup", "due", "--unnotified", "--claim", "--json"))
    CLOCK.pin(FIXED_NOW + timedelta(minutes=59))
    assert ok(cli(*UNNOTIFIED)) == []
    CLOCK.pin(FIXED_NOW + timedelta(minutes=61))
    assert len(ok(cli(*UNNOTIFIED))) == 2
    at_once = tmp_path / "p.toml"
    at_once.write_text("[reminders]\nclaim_minutes = 0\n")
    CLOCK.pin(FIXED_NOW + timedelta(minutes=62))
    ok(cli("--protocol", at_once, "followup", "due", "--unnotified", "--claim", "--json"))
    assert len(ok(cli("--protocol", at_once, *UNNOTIFIED))) == 2


@pytest.mark.parametrize("value", ["-1", "1441", "1.5", "nan"])
def test_claim_minutes_bounds(cli, clinic, tmp_path, value):
    bad = tmp_path / "p.toml"
    bad.write_text(f"[reminders]\nclaim_minutes = {value}\n")
    r = cli("--protocol", bad, *UNNOTIFIED)
    assert_one_error(r, 2)
    assert "reminders.claim_minutes" in r.stderr


def test_ack_of_an_unknown_batch_exits_3(cli, clinic):
    assert_one_error(cli("followup", "ack", "999"), 3)
    assert_one_error(cli("followup", "due", "--claim", "--mark-notified"), 2)


def test_output_file_is_written_before_rows_are_stamped(cli, db_path, clinic, tmp_path):
    out = tmp_path / "batch.csv"
    ok(cli("followup", "due", "--unnotified", "--mark-notified", "--format", "csv",
           "--output", out))
    assert [int(r["followup_id"]) for r in csv_rows(out.read_text())] == [clinic["a"], clinic["b"]]
    assert _notified(db_path) == [clinic["a"], clinic["b"]]
    if not on_pg():  # the database file itself is never an output (a server's is no file)
        r = cli("followup", "due", "--mark-notified", "--output", db_path)
        assert_one_error(r, 2)


def test_a_failed_output_file_stamps_nothing_and_releases_the_claim(cli, db_path, clinic, tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "batch.csv"
    for flag in ("--mark-notified", "--claim"):
        assert_one_error(cli("followup", "due", "--unnotified", flag, "--output", missing), 4)
    assert _notified(db_path) == []
    assert len(ok(cli(*UNNOTIFIED))) == 2  # the claim was released at once


# -- real pipes -------------------------------------------------------------------------
def _real_now_clinic(db_path) -> None:
    """The pinned-clock rows are due in the past, so a real-clock subprocess sees them."""
    assert scalar(db_path, "SELECT count(*) FROM followups") == 2


@pytest.mark.parametrize("flag", ["--mark-notified", "--claim"])
def test_a_reader_killed_after_50_bytes_loses_nothing(db_path, clinic, flag):
    _real_now_clinic(db_path)
    proc = popen(db_path, "followup", "due", "--unnotified", flag, "--format", "csv")
    head = b""
    while len(head) < 50:  # exactly 50 bytes from the pipe, as `head -c 50` takes them
        chunk = os.read(proc.stdout.fileno(), 50 - len(head))
        if not chunk:  # the command wrote less and ended (its stderr says why)
            break
        head += chunk
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 4, err
    assert len(head) == 50
    assert err.startswith("error: the reader closed the output early; nothing was marked notified")
    assert _notified(db_path) == []
    again = subprocess.run(
        [*popen_args("followup", "due", "--unnotified", "--json")], env=env_for(db_path),
        capture_output=True, timeout=60)
    assert len(json.loads(again.stdout)["data"]) == 2  # a released claim is due at once


def popen_args(*args) -> list[str]:
    from reliability_support import argv

    return argv(*args)


def test_a_stalled_reader_blocks_no_writer(db_path, clinic):
    _real_now_clinic(db_path)
    proc = popen(db_path, "followup", "due", "--unnotified", "--mark-notified", "--format", "csv")
    try:
        for _ in range(600):  # until it has claimed its rows (then it writes and waits)
            if scalar(db_path, "SELECT count(*) FROM audit WHERE action = 'claim'"):
                break
            time.sleep(0.05)
        time.sleep(0.2)  # it writes its rows into the pipe and waits for them to be drained
        writer = subprocess.run(
            popen_args("patient", "add", "CL-C", "--name", "Cy Coe"),
            env=env_for(db_path, KETACLI_BUSY_TIMEOUT="2"), capture_output=True, timeout=60)
        assert writer.returncode == 0, writer.stderr
        assert _notified(db_path) == []  # nothing stamped before the reader took the bytes
        out = proc.stdout.read()
    finally:
        proc.stdout.close()
        proc.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr.read()
    assert len(csv_rows(out.decode())) == 2
    assert _notified(db_path) == [clinic["a"], clinic["b"]]


def test_a_plain_listing_may_be_cut_short(db_path, clinic):
    """Without --mark-notified or --claim nothing is at stake: `| head` is exit 0."""
    proc = popen(db_path, "followup", "due", "--format", "csv")
    os.read(proc.stdout.fileno(), 10)
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    proc.stderr.close()
