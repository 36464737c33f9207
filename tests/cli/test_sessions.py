"""`sessions` and `summary --patient` (docs/cli-contract.md): sessions as rows with
their filters; the latest session of a patient; monitoring gaps in the summary."""

from __future__ import annotations

from helpers import ok
from infusion_support import (
    MRN,
    OTHER,
    assert_error,
    at,
    discharge,
    open_session,
    panel_text,
    screened,
    start,
    vitals,
)

KEYS = ["session_id", "patient", "number_in_series", "started_at", "status", "dose_mg",
        "chair", "alerts", "discharged_at"]


def rows(cli, *args):
    return ok(cli("sessions", "--json", *args)).json["data"]


def two_days(cli):
    """MRN: session 1 on 11-25 (discharged), session 2 today (open, one alert);
    OTHER: one session today (discharged)."""
    screened(cli, MRN, when=at("07:00", "2026-11-25"))
    first = ok(start(cli, MRN, when=at("07:40", "2026-11-25"))).json["data"]["session_id"]
    ok(discharge(cli, first, when=at("08:55", "2026-11-25")))
    second = ok(start(cli, MRN, "--chair", "Chair 1")).json["data"]["session_id"]
    ok(vitals(cli, second, "--bp", "165/95", "--hr", "80", when=at("07:50")))
    third = open_session(cli, OTHER, when=at("07:45"))
    ok(discharge(cli, third))
    return first, second, third


def test_rows_have_the_contract_keys_in_start_order(cli):
    first, second, third = two_days(cli)
    data = rows(cli)
    assert [r["session_id"] for r in data] == [first, second, third]
    assert list(data[0]) == KEYS
    assert data[0]["status"] == "discharged" and data[0]["discharged_at"] is not None
    assert data[1] == {"session_id": second, "patient": MRN, "number_in_series": 2,
                       "started_at": "2026-11-27T13:40:00+00:00", "status": "open",
                       "dose_mg": 40.0, "chair": "Chair 1", "alerts": 1,
                       "discharged_at": None}


def test_filters(cli):
    first, second, third = two_days(cli)
    assert [r["session_id"] for r in rows(cli, "--open")] == [second]
    assert [r["session_id"] for r in rows(cli, "--date", "2026-11-27")] == [second, third]
    assert [r["session_id"] for r in rows(cli, "--date", "2026-11-25")] == [first]
    assert [r["session_id"] for r in rows(cli, "--patient", MRN)] == [first, second]
    assert [r["session_id"] for r in rows(cli, "--since", "2026-11-26")] == [second, third]
    assert [r["session_id"] for r in rows(cli, "--until", "2026-11-26")] == [first]
    assert rows(cli, "--patient", OTHER, "--open") == []


def test_bad_filters(cli):
    two_days(cli)
    assert_error(cli("sessions", "--date", "2026-11-27", "--since", "2026-11-01"), 2)
    assert_error(cli("sessions", "--date", "27/11/2026"), 2)
    assert_error(cli("sessions", "--patient", "NOPE-1"), 3)


def test_human_sessions_fit_80_columns(cli):
    two_days(cli)
    r = ok(cli("sessions"))
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    assert "2026-11-27 07:40" in r.stdout and "discharged" in r.stdout


def test_summary_patient_is_the_latest_session(cli):
    first, second, _ = two_days(cli)
    data = ok(cli("summary", "--patient", MRN, "--json")).json["data"]
    assert data["session_id"] == second and data["status"] == "open"
    assert_error(cli("summary", "--patient", "NOPE-1"), 3)
    assert_error(cli("summary"), 2)
    assert_error(cli("summary", str(first), "--patient", MRN), 2)


def test_summary_patient_without_a_session_is_exit_3(cli):
    screened(cli, MRN)
    assert_error(cli("summary", "--patient", MRN), 3)


def test_summary_shows_gaps_in_monitoring(cli):
    sid = open_session(cli, MRN, when=at("07:40"))  # pre reading 07:40; ends 08:20
    ok(vitals(cli, sid, "--bp", "130/80", "--hr", "70", when=at("07:50")))
    ok(vitals(cli, sid, "--bp", "130/80", "--hr", "70", when=at("08:15")))
    data = ok(cli("summary", sid, "--json")).json["data"]
    assert data["monitoring_gaps"] == [{"from": "2026-11-27T13:50:00+00:00",
                                        "to": "2026-11-27T14:15:00+00:00", "minutes": 25,
                                        "due_every_min": 10}]
    text = panel_text(ok(cli("summary", sid)).stdout)
    assert "no vitals 07:50-08:15 (25 min); due every 10 min" in text


def test_summary_at_80_columns_cuts_no_value(cli):
    sid = open_session(cli, MRN)
    ok(vitals(cli, sid, "--bp", "185/112", "--hr", "135", "--spo2", "88", "--rr", "7",
              "--etco2", "62", "--moaas", "1", "--dissociation", "8", when=at("07:55")))
    r = ok(cli("summary", sid))
    assert "…" not in r.stdout
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    for value in ("185/112", "135", "88", "62", "!! MOAA/S 1", "! SBP +55"):
        assert value in r.stdout
