"""Corrections after the fact (docs/cli-contract.md, late entries under `log-vitals`, `waste`,
`void`, and the `followup` group): a late vital or event on a discharged session, ketamine
wasted (witnessed) after the discharge or after a void, a wrong-patient session voided with
its drawn ketamine kept in the ledger, and follow-ups closed several at once.

The pinned clinic day: screened 07:00, started 07:40 (40 mg over 40 min, 50 mg drawn where
a test says so), discharged 08:55; now is 09:00 America/Chicago."""

from __future__ import annotations

import json
from datetime import timedelta

import ledger_support as ledger
import pytest
from helpers import FIXED_NOW, counts, diff, ok, query
from infusion_support import (
    LATE,
    MRN,
    OTHER,
    assert_error,
    at,
    closed_session,
    discharge,
    event,
    open_session,
    panel_text,
    screened,
    start,
    summary_json,
    unchanged,
    utc,
    vitals,
)

from ketacli.clock import CLOCK

ledger_row = ledger.row


# -- late entries: log-vitals ------------------------------------------------------------
def test_a_late_vital_is_stored_marked_audited_and_shown(cli, db_path):
    sid = closed_session(cli)
    before = counts(db_path)
    r = ok(vitals(cli, sid, "--bp", "126/80", "--hr", "74", "--late", LATE, when=at("08:40")))
    d = r.json["data"]
    assert d["late"] == LATE and d["phase"] == "post" and d["minutes_into_infusion"] == 60
    assert diff(before, counts(db_path)) == {"observations": 1, "audit": 1}
    assert query(db_path, "SELECT late_reason, at FROM observations WHERE id = ?",
                 (d["observation_id"],)) == [(LATE, utc("08:40"))]
    detail = json.loads(query(db_path, "SELECT detail FROM audit ORDER BY id DESC LIMIT 1")[0][0])
    assert detail["late"] == LATE and detail["row_sha256"]
    # the summary marks it, in JSON and on the panel
    obs = summary_json(cli, sid)["observations"]
    assert [o["late"] for o in obs if o["observation_id"] == d["observation_id"]] == [LATE]
    panel = panel_text(cli("summary", sid).stdout)
    assert "08:40*" in panel and "* late entry" in panel
    assert f"Late entries: 08:40 vitals by nurse.test: {LATE}" in panel
    # the human line says so too
    r = ok(vitals(cli, sid, "--hr", "72", "--late", LATE, when=at("08:50"), json_out=False))
    assert f"Late entry: {LATE}" in r.stdout.splitlines()


def test_a_late_vital_inside_the_infusion_is_intra(cli, db_path):
    sid = closed_session(cli)
    d = ok(vitals(cli, sid, "--bp", "140/88", "--late", LATE, when=at("08:00"))).json["data"]
    assert d["phase"] == "intra" and d["minutes_into_infusion"] == 20


def test_without_late_a_discharged_session_is_exit_3_naming_the_discharge(cli, db_path):
    sid = closed_session(cli)
    before = counts(db_path)
    r = vitals(cli, sid, "--hr", "74", when=at("08:40"), json_out=False)
    assert_error(r, 3)
    assert r.stderr.splitlines()[0] == (
        f"error: session {sid} was discharged at 08:55; add a late entry with --late REASON")
    r = vitals(cli, sid, "--hr", "74", when=at("08:40"))
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "session_closed"
    unchanged(db_path, before)


def test_a_late_entry_after_the_discharge_time_is_exit_2(cli, db_path):
    sid = closed_session(cli)
    before = counts(db_path)
    for when in (at("08:56"), None):  # None: --at defaults to now (09:00), after it too
        r = vitals(cli, sid, "--hr", "74", "--late", LATE, when=when)
        assert_error(r, 2, json_out=True)
        assert r.json["error"]["code"] == "after_discharge"
        assert "after the discharge at 08:55" in r.json["error"]["message"]
    # and before the start, as for any reading
    r = vitals(cli, sid, "--hr", "74", "--late", LATE, when=at("07:30"))
    assert_error(r, 2, json_out=True)
    unchanged(db_path, before)


def test_a_late_entry_at_the_discharge_instant_is_accepted(cli, db_path):
    sid = closed_session(cli)
    ok(vitals(cli, sid, "--spo2", "97", "--late", LATE, when=at("08:55")))


def test_late_entries_close_after_records_late_entry_hours(cli, db_path, tmp_path):
    sid = closed_session(cli)
    before = counts(db_path)
    CLOCK.pin(FIXED_NOW + timedelta(hours=23, minutes=54))  # 08:54 tomorrow: 23 h 59 min
    ok(vitals(cli, sid, "--hr", "70", "--late", LATE, when=at("08:30")))
    CLOCK.pin(FIXED_NOW + timedelta(hours=23, minutes=55))  # exactly 24 h after 08:55
    r = vitals(cli, sid, "--hr", "70", "--late", LATE, when=at("08:31"))
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "late_window_closed"
    assert "more than 24 h ago" in r.json["error"]["message"]
    assert "2026-11-27 08:55" in r.json["error"]["message"]  # another day: the date is named
    assert diff(before, counts(db_path)) == {"observations": 1, "audit": 1}
    # the clinic sets the window
    f = tmp_path / "clinic.toml"
    f.write_text("[records]\nlate_entry_hours = 48\n", encoding="utf-8")
    ok(cli("--protocol", f, "log-vitals", sid, "--hr", "70", "--late", LATE,
           "--at", at("08:32"), "--json"))


@pytest.mark.parametrize("bad", ["", "   "])
def test_an_empty_late_reason_is_exit_2(cli, db_path, bad):
    sid = closed_session(cli)
    before = counts(db_path)
    r = vitals(cli, sid, "--hr", "70", "--late", bad, when=at("08:30"))
    assert_error(r, 2, json_out=True)
    unchanged(db_path, before)


def test_late_by_patient_means_their_latest_session(cli, db_path):
    sid = closed_session(cli)
    r = ok(cli("log-vitals", "--patient", MRN, "--hr", "70", "--late", LATE,
               "--at", at("08:30"), "--json"))
    assert r.json["data"]["session_id"] == sid
    r = cli("log-vitals", "--patient", MRN, "--hr", "70", "--at", at("08:30"), "--json")
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "no_open_session"
    # trial2: the hint said only "start one", as if a new infusion were the way to chart it
    r = cli("log-event", "--patient", MRN, "medication", "--detail", "ondansetron 4 mg",
            "--at", at("08:30"))
    assert_error(r, 3)
    assert f"hint: their session {sid} is closed: chart on it with --late REASON" in r.stderr


def test_late_on_an_open_session_is_marked(cli, db_path):
    sid = open_session(cli)
    d = ok(vitals(cli, sid, "--hr", "70", "--late", "monitor was unplugged",
                  when=at("08:00"))).json["data"]
    assert d["late"] == "monitor was unplugged"
    assert ok(vitals(cli, sid, "--hr", "71", when=at("08:10"))).json["data"]["late"] is None


# -- late entries: log-event --------------------------------------------------------------
def test_a_forgotten_anti_emetic_is_added_late(cli, db_path):
    sid = closed_session(cli)
    before = counts(db_path)
    r = ok(event(cli, sid, "medication", "--detail", "ondansetron 4 mg IV", "--late", LATE,
                 when=at("08:30")))
    d = r.json["data"]
    assert d["late"] == LATE and d["minutes_into_infusion"] == 50
    assert diff(before, counts(db_path)) == {"events": 1, "audit": 1}
    assert query(db_path, "SELECT kind, late_reason FROM events WHERE id = ?",
                 (d["event_id"],)) == [("medication", LATE)]
    ev = summary_json(cli, sid)["events"]
    assert [(e["kind"], e["late"]) for e in ev] == [("medication", LATE)]
    # the discharged dose is what it was
    assert summary_json(cli, sid)["delivered_mg"] == 40


@pytest.mark.parametrize("kind", ["pause", "resume", "stop", "rate-change"])
def test_a_late_pump_event_is_refused_exit_3(cli, db_path, kind):
    sid = closed_session(cli)
    before = counts(db_path)
    extra = ["--rate", "30"] if kind == "rate-change" else []
    r = event(cli, sid, kind, *extra, "--late", LATE, when=at("08:00"))
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "late_event_kind"
    unchanged(db_path, before)


def test_an_event_on_a_discharged_session_without_late_is_exit_3(cli, db_path):
    sid = closed_session(cli)
    r = event(cli, sid, "adverse", "--detail", "nausea", when=at("08:30"), json_out=False)
    assert_error(r, 3)
    assert "add a late entry with --late REASON" in r.stderr


# -- waste -----------------------------------------------------------------------------------


# -- void session ------------------------------------------------------------------------------
def test_a_wrong_patient_session_is_voided_and_its_ketamine_reconciled(cli, db_path):
    """Started on the wrong MRN: voided, the right patient starts (not refused as an open
    session, numbered 1), the voided draw is a ledger discrepancy until wasted."""
    screened(cli, OTHER)
    wrong = ok(start(cli, OTHER, "--lot", "L1", when=at("07:40"))).json["data"]["session_id"]
    ok(vitals(cli, wrong, "--hr", "80", when=at("07:50")))
    before = counts(db_path)
    r = ok(cli("void", "session", wrong, "--reason", "started on the wrong patient", "--json"))
    assert r.json["data"]["kind"] == "session" and r.json["data"]["patient"] == OTHER
    assert diff(before, counts(db_path)) == {"voids": 1, "audit": 1}
    # nothing more is charted on it
    r = vitals(cli, wrong, "--hr", "80", when=at("07:55"))
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "session_voided"
    assert_error(discharge(cli, wrong), 3, json_out=True)
    # OTHER has no open session any more: a new start is number 1 again
    again = ok(start(cli, OTHER, when=at("08:00"))).json["data"]
    assert again["number_in_series"] == 1
    # the ledger keeps the voided draw as a discrepancy
    row = ledger_row(cli, wrong)
    assert (row["status"], row["administered_mg"], row["unaccounted_mg"], row["discrepancy"]) == (
        "voided", 0.0, 40.0, True)
    assert "VOIDED" in cli("report", "controlled").stdout
    # until it is wasted, witnessed (no --late needed: the void closed it)
    d = ok(cli("waste", wrong, "--mg", "40", "--witness", "rn.b", "--json")).json["data"]
    assert d["voided_session"] is True and d["unaccounted_mg"] == 0.0
    row = ledger_row(cli, wrong)
    assert (row["status"], row["unaccounted_mg"], row["discrepancy"]) == ("voided", 0.0, False)
    # summaries mark it; exports leave it and everything in it out
    s = summary_json(cli, wrong)
    assert s["status"] == "voided" and s["void"]["reason"] == "started on the wrong patient"
    assert "VOIDED (entered in error)" in panel_text(cli("summary", wrong).stdout)
    sessions = json.loads(cli("export", "sessions", "--format", "json").stdout)
    assert [x["session_id"] for x in sessions["data"]] == [again["session_id"]]
    observations = json.loads(cli("export", "observations", "--format", "json").stdout)
    assert {x["session_id"] for x in observations["data"]} == {again["session_id"]}


def test_voiding_a_session_twice_is_exit_3(cli, db_path):
    sid = open_session(cli)
    ok(cli("void", "session", sid, "--reason", "wrong patient"))
    before = counts(db_path)
    r = cli("void", "session", sid, "--reason", "wrong patient", "--json")
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "already_voided"
    assert_error(cli("void", "session", 999, "--reason", "x", "--json"), 3, json_out=True)
    unchanged(db_path, before)


def test_voiding_a_discharged_session_cancels_what_it_booked(cli, db_path):
    sid = closed_session(cli)
    booked = [b[0] for b in query(
        db_path, "SELECT id FROM followups WHERE session_id = ? ORDER BY id", (sid,))]
    assert len(booked) == 2  # the call and the next infusion
    r = cli("void", "session", sid, "--reason", "charted on the wrong MRN")
    assert r.exit_code == 0, r.stderr
    listed = ", ".join(f"#{b}" for b in booked)
    assert f"Cancelled the follow-ups it booked: {listed}" in r.stdout.replace("\n", " ")
    assert query(db_path, "SELECT status, cancel_reason FROM followups ORDER BY id") == [
        ("cancelled", f"session {sid} voided (entered in error)")] * 2
    assert query(db_path, "SELECT entity_id FROM audit WHERE action = 'cancel' ORDER BY id") == [
        (b,) for b in booked]


# -- follow-ups ------------------------------------------------------------------------------
def _three(cli) -> list[int]:
    ok(cli("patient", "add", "FU-9", "--name", "Fay Up"))
    return [ok(cli("followup", "schedule", "FU-9", "--kind", kind, "--due", "2026-12-01",
                   "--json")).json["data"]["followup_id"] for kind in ("call", "infusion", "call")]


def test_followup_done_of_several_ids(cli, db_path):
    a, b, c = _three(cli)
    r = ok(cli("followup", "done", a, b, "--json"))
    assert [(x["followup_id"], x["status"]) for x in r.json["data"]] == [(a, "done"), (b, "done")]
    assert query(db_path, "SELECT id, status FROM followups ORDER BY id") == [
        (a, "done"), (b, "done"), (c, "pending")]
    assert query(db_path, "SELECT count(*) FROM audit WHERE action = 'complete'") == [(2,)]
    assert cli("followup", "cancel", c, "--reason", "moved away").stdout.strip() == (
        f"Follow-up {c} cancelled.")


@pytest.mark.parametrize("which", ["unknown", "closed"])
def test_followup_done_of_several_is_all_or_none(cli, db_path, which):
    a, b, c = _three(cli)
    if which == "closed":
        ok(cli("followup", "done", b))
        bad = b
    else:
        bad = 999
    before = counts(db_path)
    for args in (["done", a, bad, c], ["cancel", a, bad, c, "--reason", "no longer needed"]):
        r = cli("followup", *args, "--json")
        assert_error(r, 3, json_out=True)
        assert str(bad) in r.json["error"]["message"]
        assert "nothing was changed" in r.json["error"]["message"]
    unchanged(db_path, before)
    assert query(db_path, "SELECT status FROM followups WHERE id IN (?, ?)", (a, c)) == [
        ("pending",), ("pending",)]


def test_followup_cancel_of_several_ids(cli, db_path):
    a, b, c = _three(cli)
    r = ok(cli("followup", "cancel", a, c, "--reason", "booked twice", "--json"))
    assert [x["status"] for x in r.json["data"]] == ["cancelled", "cancelled"]
    out = cli("followup", "done", b, b).stdout.strip()  # an id twice counts once
    assert out == f"Follow-up {b} done."


def test_a_new_screening_completes_the_screening_followup(cli, db_path):
    ok(cli("patient", "add", "FU-8", "--name", "Sam Screen"))
    fid = ok(cli("followup", "schedule", "FU-8", "--kind", "screening", "--due", "2026-12-20",
                 "--json")).json["data"]["followup_id"]
    screened(cli, "FU-8", name=None)
    assert query(db_path, "SELECT status FROM followups WHERE id = ?", (fid,)) == [("done",)]
    assert query(db_path, "SELECT json_extract(detail, '$.by') FROM audit WHERE action = "
                          "'complete' AND entity_id = ?", (fid,)) == [("screening 1",)]


# -- smaller stumbles ----------------------------------------------------------------------------
def test_ctrl_d_at_a_prompt_exits_130_and_stores_nothing(cli, db_path, monkeypatch):
    from ketacli.cli import prompts

    monkeypatch.setattr(prompts, "interactive", lambda: True)
    before = counts(db_path)
    r = cli("screen", "CD-1", "--name", "Dee Eof", "--weight", "70", "--bp", "120/80",
            "--hr", "70", input="1\n2\n")  # the input ends at the third item (Ctrl-D)
    assert r.exit_code == 130, (r.exit_code, r.stderr)
    assert r.stderr.splitlines()[-1].startswith("error: interrupted")
    assert "Traceback" not in r.stderr
    after = counts(db_path)  # at most the new database's own migration rows
    assert {t: n for t, n in diff(before, after).items() if t != "audit"} == {}
    # the new database's own rows: its migrations, its clinic key and the clinic zone it stored
    sql = ("SELECT count(*) FROM audit WHERE action NOT IN ('migrate', 'set-tz') "
           "AND entity != 'clinic_key'")
    assert query(db_path, sql) == [(0,)]


@pytest.mark.parametrize("fmt", ["fhir", "fhir-ndjson"])
def test_exported_n_records_counts_the_resources_written(cli, db_path, tmp_path, fmt):
    closed_session(cli)
    out = tmp_path / f"out.{fmt}"
    r = cli("export", "all", "--format", fmt, "--output", out)
    assert r.exit_code == 0, r.stderr
    text = out.read_text(encoding="utf-8")
    written = (len(json.loads(text)["entry"]) if fmt == "fhir"
               else len(text.splitlines()))
    assert f"Exported {written} records" in r.stderr


def test_voiding_a_start_books_again_the_infusion_it_completed(cli, db_path):
    """Infusion 2 started on the booked infusion follow-up, then voided: that infusion is
    still owed, so it is booked again (pending, same due day); the call it superseded is not."""
    screened(cli, when="2026-11-25 07:00")
    ok(start(cli, when="2026-11-25 07:40"))
    ok(discharge(cli, 1, when="2026-11-25 08:55"))
    second = ok(start(cli, when=at("07:40"))).json["data"]["session_id"]
    assert query(db_path, "SELECT kind, status FROM followups ORDER BY id") == [
        ("call", "done"), ("infusion", "done")]
    d = ok(cli("void", "session", second, "--reason", "charted on the wrong MRN",
               "--json")).json["data"]
    assert d["cancelled_followups"] == []
    [new] = d["rebooked_followups"]
    assert query(db_path, "SELECT id, kind, due, status FROM followups ORDER BY id") == [
        (1, "call", "2026-11-26", "done"), (2, "infusion", "2026-11-27", "done"),
        (new, "infusion", "2026-11-27", "pending")]
    assert query(db_path, "SELECT action FROM audit WHERE entity = 'followup' AND entity_id = ?",
                 (new,)) == [("schedule",)]
    # the next start completes it, and is number 2 again
    r = ok(start(cli, when=at("08:30"))).json["data"]
    assert r["number_in_series"] == 2
    assert query(db_path, "SELECT status FROM followups WHERE id = ?", (new,)) == [("done",)]


def test_patient_show_marks_a_voided_session_and_list_does_not_count_it(cli, db_path):
    sid = open_session(cli)
    ok(cli("void", "session", sid, "--reason", "wrong patient"))
    shown = ok(cli("patient", "show", MRN, "--json")).json["data"]["sessions"]
    assert [(x["session_id"], x["status"]) for x in shown] == [(sid, "voided")]
    listed = ok(cli("patient", "list", "--json")).json["data"]
    assert [(x["mrn"], x["sessions"], x["last_session"]) for x in listed] == [(MRN, 0, None)]


def test_a_late_reading_contradicting_one_at_the_same_instant_is_exit_3(cli, db_path):
    sid = closed_session(cli)
    ok(vitals(cli, sid, "--hr", "72", "--late", LATE, when=at("08:40")))
    before = counts(db_path)
    r = vitals(cli, sid, "--hr", "90", "--late", LATE, when=at("08:40"))
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "conflicting_reading"
    unchanged(db_path, before)
    # the same value again, or another measure, is no contradiction
    ok(vitals(cli, sid, "--hr", "72", "--spo2", "97", "--late", LATE, when=at("08:40")))
    # after voiding the wrong one, the right value goes in
    wrong = query(db_path, "SELECT id FROM observations WHERE at = ? ORDER BY id", (utc("08:40"),))
    for (oid,) in wrong:
        ok(cli("void", "observation", oid, "--reason", "wrong row on the paper chart"))
    ok(vitals(cli, sid, "--hr", "90", "--late", LATE, when=at("08:40")))
