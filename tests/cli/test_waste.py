"""`waste SESSION_ID --mg MG --witness NAME [--at] [--late REASON]` (docs/cli-contract.md):
ketamine wasted (witnessed) while a session is open, after its discharge (late, within
`records.late_entry_hours`) or after a void; the ledger balances; bad amounts and witnesses
are exit 2 and store nothing; each waste is sealed by its audit row.

The pinned clinic day is that of test_corrections.py: screened 07:00, started 07:40,
discharged 08:55; now is 09:00 America/Chicago."""

from __future__ import annotations

from datetime import timedelta

import ledger_support as ledger
import pytest
from helpers import FIXED_NOW, counts, diff, ok, query
from infusion_support import (
    LATE,
    MRN,
    NAME,
    OTHER,
    assert_error,
    at,
    closed_session,
    discharge,
    panel_text,
    screened,
    start,
    summary_json,
    unchanged,
)

from ketacli.clock import CLOCK

ledger_row = ledger.row


def test_waste_after_the_discharge_balances_the_ledger(cli, db_path):
    screened(cli)
    sid = ok(start(cli, MRN, "--drawn-mg", "50")).json["data"]["session_id"]
    # 40 given of 50 drawn: 10 mg neither given nor wasted, the witness is away
    ok(discharge(cli, sid, "--override", "witness away, waste to follow", "--cosign", "dr.c"))
    assert ledger_row(cli, sid)["discrepancy"] is True
    before = counts(db_path)
    r = ok(cli("waste", sid, "--mg", "10", "--witness", "rn.b", "--late", "wasted after checkout",
               "--at", at("09:00"), "--json"))
    d = r.json["data"]
    assert (d["mg"], d["witness"], d["late"], d["wasted_total_mg"], d["unaccounted_mg"]) == (
        10.0, "rn.b", "wasted after checkout", 10.0, 0.0)
    assert diff(before, counts(db_path)) == {"wastes": 1, "audit": 1}
    assert query(db_path, "SELECT session_id, mg, witness, clinician FROM wastes") == [
        (sid, 10.0, "rn.b", "nurse.test")]
    row = ledger_row(cli, sid)
    assert (row["wasted_mg"], row["waste_witness"], row["unaccounted_mg"], row["discrepancy"]) == (
        10.0, "rn.b", 0.0, False)
    assert summary_json(cli, sid)["wastes"][0]["mg"] == 10.0
    assert "Wasted 10.0 mg at 09:00, witnessed by rn.b" in panel_text(cli("summary", sid).stdout)


def test_waste_while_open_counts_at_discharge(cli, db_path):
    screened(cli)
    sid = ok(start(cli, MRN, "--drawn-mg", "50")).json["data"]["session_id"]
    r = ok(cli("waste", sid, "--mg", "10", "--witness", "rn.b", "--at", at("07:45")))
    # trial2: the line names the patient, so a wrong session id is caught at the chair
    assert f"for session {sid}, {NAME} ({MRN}), witnessed by rn.b" in " ".join(r.stdout.split())
    d = ok(discharge(cli, sid)).json["data"]
    assert {c["name"]: c["met"] for c in d["criteria"]}["accounted"] is True
    assert ledger_row(cli, sid)["discrepancy"] is False
    # more waste than is left over (given 40 + waste 10 + 1 > 50) is exit 2
    screened(cli, OTHER)
    other = ok(start(cli, OTHER, "--drawn-mg", "50")).json["data"]["session_id"]
    ok(cli("waste", other, "--mg", "10", "--witness", "rn.b", "--at", at("07:45")))
    r = discharge(cli, other, "--wasted-mg", "1", "--waste-witness", "rn.b")
    assert_error(r, 2, json_out=True)
    assert r.json["error"]["code"] == "amounts_exceed_drawn"


@pytest.mark.parametrize(("args", "code"), [
    (["--mg", "11", "--witness", "rn.b"], "amounts_exceed_drawn"),     # 40 given + 11 > 50
    (["--mg", "5"], "missing_witness"),
    (["--mg", "5", "--witness", "nurse.test"], "invalid_witness"),  # the recorder
    (["--mg", "0", "--witness", "rn.b"], None),
    (["--mg", "-3", "--witness", "rn.b"], None),
    (["--witness", "rn.b"], "missing_value"),
])
def test_bad_waste_is_exit_2_and_stores_nothing(cli, db_path, args, code):
    screened(cli)
    sid = ok(start(cli, MRN, "--drawn-mg", "50")).json["data"]["session_id"]
    before = counts(db_path)
    r = cli("waste", sid, *args, "--at", at("08:00"), "--json")
    assert_error(r, 2, json_out=True)
    if code:
        assert r.json["error"]["code"] == code
    unchanged(db_path, before)


def test_waste_on_a_discharged_session_needs_late_and_the_window(cli, db_path):
    sid = closed_session(cli)
    before = counts(db_path)
    r = cli("waste", sid, "--mg", "1", "--witness", "rn.b", "--json")
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "session_closed"
    CLOCK.pin(FIXED_NOW + timedelta(hours=25))
    r = cli("waste", sid, "--mg", "1", "--witness", "rn.b", "--late", LATE, "--json")
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "late_window_closed"
    # drawn 40 = given 40: nothing is left to waste
    CLOCK.pin(FIXED_NOW)
    r = cli("waste", sid, "--mg", "1", "--witness", "rn.b", "--late", LATE, "--json")
    assert_error(r, 2, json_out=True)
    unchanged(db_path, before)
    assert_error(cli("waste", 999, "--mg", "1", "--witness", "rn.b", "--json"), 3,
                 json_out=True)


def test_a_waste_is_sealed_by_its_audit_row(cli, db_path):
    from helpers import tamper

    screened(cli)
    sid = ok(start(cli, MRN, "--drawn-mg", "50")).json["data"]["session_id"]
    ok(cli("waste", sid, "--mg", "0.5", "--witness", "rn.b", "--at", at("07:45")))
    assert cli("db", "check").exit_code == 0
    tamper(db_path, "UPDATE wastes SET mg = 0.1", drop=("wastes_no_update",))
    r = cli("db", "check", "--json")
    assert r.exit_code == 4
    checks = {c["name"]: c for c in r.json["error"]["details"]}
    assert checks["clinical_rows"]["ok"] is False
    assert "waste 1" in checks["clinical_rows"]["detail"]


def test_the_summary_keeps_a_witness_with_the_word_and_a_rate_with_its_unit(cli, db_path):
    """At 80 columns "witness / rn.chen" and "at 10 / mg/mL" broke between a word and its
    value: the rates and what became of the rest each have a line of their own."""
    screened(cli)
    sid = ok(start(cli, MRN, "--drawn-mg", "50", "--concentration", "10")).json["data"][
        "session_id"]
    ok(discharge(cli, sid, "--wasted-mg", "10", "--waste-witness", "rn.alexandra.whitfield"))
    lines = [line.strip("│ ") for line in ok(cli("summary", sid)).stdout.splitlines()]
    assert all(len(line) <= 80 for line in lines)
    assert any(line.startswith("Rate ") and line.endswith("at 10 mg/mL") for line in lines)
    assert any(line.startswith("wasted 10 mg, witness rn.alexandra.whitfield") for line in lines)
