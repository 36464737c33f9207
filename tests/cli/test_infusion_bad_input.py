"""Bad input on the infusion-day commands: the documented exit code, one `error:`
line, no traceback, never the patient's name, and nothing stored."""

from __future__ import annotations

import pytest
from helpers import counts, diff, ok
from infusion_support import (
    MRN,
    assert_error,
    at,
    closed_session,
    discharge,
    event,
    open_session,
    screen,
    screened,
    start,
    vitals,
)

OTHER = "KX-200"  # screened, no session: for start-session cases


@pytest.fixture
def live(cli, db_path):
    """MRN has an open session (started 07:40); OTHER is screened and waiting.
    Returns (session id, row counts)."""
    sid = open_session(cli, MRN)
    screened(cli, OTHER)
    return sid, counts(db_path)


@pytest.fixture
def closed(cli, db_path):
    sid = closed_session(cli, MRN)
    return sid, counts(db_path)


def unchanged(db_path, before) -> None:
    assert diff(before, counts(db_path)) == {}


# -- implausible vitals: exit 2 on screen, start-session, log-vitals, discharge -----------
IMPLAUSIBLE = [
    pytest.param(("--bp", "400/80"), id="sbp-400"),
    pytest.param(("--bp", "120/120"), id="dbp-equals-sbp"),
    pytest.param(("--bp", "120/130"), id="dbp-above-sbp"),
    pytest.param(("--bp", "45/30"), id="sbp-45"),
    pytest.param(("--bp", "120/15"), id="dbp-15"),
    pytest.param(("--bp", "120"), id="bp-not-a-pair"),
    pytest.param(("--hr", "10"), id="hr-10"),
    pytest.param(("--hr", "251"), id="hr-251"),
    pytest.param(("--spo2", "120"), id="spo2-120"),
    pytest.param(("--spo2", "49"), id="spo2-49"),
]


def _with(defaults: dict, override: tuple) -> list[str]:
    opts = dict(defaults)
    opts[override[0]] = override[1]
    return [x for kv in opts.items() for x in kv]


@pytest.mark.parametrize("bad", IMPLAUSIBLE)
def test_screen_implausible_vitals(cli, db_path, live, bad):
    _, before = live
    args = _with({"--bp": "128/82", "--hr": "72", "--spo2": "98"}, bad)
    r = cli("screen", "KX-NEW", "--name", "New Person", "--weight", "80", *args)
    assert_error(r, 2)
    unchanged(db_path, before)


@pytest.mark.parametrize("bad", IMPLAUSIBLE)
def test_start_session_implausible_vitals(cli, db_path, live, bad):
    _, before = live
    args = _with({"--bp": "128/82", "--hr": "72", "--spo2": "98"}, bad)
    r = cli("start-session", OTHER, *args, "--json")
    assert_error(r, 2, json_out=True)
    assert r.json["error"]["code"] in ("implausible_vital", "invalid_bp")
    unchanged(db_path, before)


@pytest.mark.parametrize("bad", [*IMPLAUSIBLE,
                                 pytest.param(("--rr", "61"), id="rr-61"),
                                 pytest.param(("--rr", "-1"), id="rr-neg"),
                                 pytest.param(("--etco2", "101"), id="etco2-101"),
                                 pytest.param(("--moaas", "6"), id="moaas-6"),
                                 pytest.param(("--dissociation", "11"), id="dissociation-11")])
def test_log_vitals_implausible(cli, db_path, live, bad):
    sid, before = live
    r = vitals(cli, sid, *bad, when=at("08:00"), json_out=False)
    assert_error(r, 2)
    unchanged(db_path, before)


@pytest.mark.parametrize("bad", IMPLAUSIBLE[:7])
def test_discharge_implausible_vitals(cli, db_path, live, bad):
    sid, before = live
    args = _with({"--bp": "128/82", "--hr": "72"}, bad)
    r = cli("discharge", sid, "--aldrete", "10", "--transport", "escort", *args,
            "--at", at("08:55"))
    assert_error(r, 2)
    unchanged(db_path, before)


def test_implausible_message_names_the_value(cli, live):
    sid, _ = live
    r = vitals(cli, sid, "--bp", "400/80", json_out=False)
    assert "400" in r.stderr and "50-300" in r.stderr


# -- scales, dose, weight, duration ------------------------------------------------------------
@pytest.mark.parametrize("items", ["1,1,1,1,1,1,1,1", "1,1,1,1,1,1,1,1,1,1", "1,1,1,1,4,1,1,1,1",
                                   "1,1,1,1,-1,1,1,1,1", "a,1,1,1,1,1,1,1,1", "1;1;1;1;1;1;1;1;1"])
def test_phq9_bad_items_exit_2(cli, db_path, live, items):
    _, before = live
    r = screen(cli, OTHER, name=None, phq9=items)
    assert_error(r, 2, json_out=True)
    assert "--phq9" in r.stderr
    unchanged(db_path, before)


@pytest.mark.parametrize(("opt", "value"), [("--gad7", "1,1,1,1,1,1"), ("--gad7", "1,1,1,1,1,1,4"),
                                            ("--madrs", "61"), ("--pcl5", "81")])
def test_other_scales_out_of_range_exit_2(cli, db_path, live, opt, value):
    _, before = live
    assert_error(screen(cli, OTHER, opt, value, name=None, json_out=False), 2)
    unchanged(db_path, before)


@pytest.mark.parametrize("weight", ["5", "19.9", "351"])
def test_screen_weight_out_of_range_exit_2(cli, db_path, live, weight):
    _, before = live
    r = screen(cli, OTHER, name=None, weight=weight, json_out=False)
    assert_error(r, 2)
    assert "--weight" in r.stderr
    unchanged(db_path, before)


@pytest.mark.parametrize(("opt", "value"), [
    ("--dose", "9"), ("--dose", "0"), ("--dose", "-0.5"), ("--weight", "5"),
    ("--duration", "1000"), ("--duration", "1"), ("--concentration", "0"), ("--drawn-mg", "10"),
    ("--lot", "L\u00f6t"),
])
def test_start_session_bad_numbers_exit_2(cli, db_path, live, opt, value):
    _, before = live
    r = start(cli, OTHER, opt, value, when=at("07:40"))
    assert_error(r, 2, json_out=True)
    unchanged(db_path, before)


# -- times -------------------------------------------------------------------------------
FUTURE = at("09:10")  # the pinned now is 09:00: ten minutes ahead


def test_future_at_on_every_recording_command(cli, db_path, live):
    sid, before = live
    cases = [
        screen(cli, OTHER, name=None, when=FUTURE, json_out=False),
        screen(cli, "KX-NEW", when="2026-11-27T15:10:00+00:00", json_out=False),
        start(cli, OTHER, when=FUTURE, json_out=False),
        vitals(cli, sid, "--hr", "80", when=FUTURE, json_out=False),
        vitals(cli, sid, "--hr", "80", when="09:10", json_out=False),
        event(cli, sid, "pause", when=FUTURE, json_out=False),
        discharge(cli, sid, when=FUTURE, json_out=False),
        cli("discharge", sid, "--aldrete", "10", "--bp", "120/80", "--hr", "70",
            "--transport", "escort", "--infusion-end", FUTURE),
    ]
    for r in cases:
        assert_error(r, 2)
        assert "future" in r.stderr
    unchanged(db_path, before)


def test_five_minutes_ahead_is_tolerated(cli, live):
    sid, _ = live
    r = ok(vitals(cli, sid, "--hr", "80", when=at("09:05")))
    assert r.json["data"]["recorded_at"] == "2026-11-27T15:05:00+00:00"


@pytest.mark.parametrize("when", ["yesterday", "2026-13-01 08:00", "25:00", "2026-11-27"])
def test_unparseable_at_exits_2(cli, db_path, live, when):
    sid, before = live
    assert_error(vitals(cli, sid, "--hr", "80", when=when, json_out=False), 2)
    unchanged(db_path, before)


def test_vitals_before_the_start_exit_2(cli, db_path, live):
    sid, before = live
    assert_error(vitals(cli, sid, "--hr", "80", when=at("07:30"), json_out=False), 2)
    assert_error(event(cli, sid, "pause", when=at("07:30"), json_out=False), 2)
    unchanged(db_path, before)


# -- not found and state conflicts: exit 3 ---------------------------------------------
def test_unknown_session_exits_3(cli, db_path, live):
    _, before = live
    for r in (vitals(cli, 999, "--hr", "80"), event(cli, 999, "pause"), discharge(cli, 999),
              cli("summary", "999", "--json")):
        assert_error(r, 3, json_out=True)
        assert "999" in r.stderr
    unchanged(db_path, before)


def test_unknown_patient_exits_3(cli, db_path, live):
    _, before = live
    for r in (cli("log-vitals", "--patient", "NOPE-1", "--hr", "80"),
              cli("log-event", "--patient", "NOPE-1", "pause"),
              cli("discharge", "--patient", "NOPE-1", "--aldrete", "10", "--bp", "120/80",
                  "--hr", "70", "--transport", "escort"),
              start(cli, "NOPE-1", json_out=False)):
        assert_error(r, 3)
        assert "NOPE-1" in r.stderr
    unchanged(db_path, before)


def test_closed_session_exits_3(cli, db_path, closed):
    sid, before = closed
    cases = [
        vitals(cli, sid, "--hr", "80"),
        event(cli, sid, "medication", "--detail", "ondansetron"),
        discharge(cli, sid),
        cli("log-vitals", "--patient", MRN, "--hr", "80", "--json"),
        cli("log-event", "--patient", MRN, "pause", "--json"),
    ]
    for r in cases:
        assert_error(r, 3, json_out=True)
        assert r.json["error"]["code"] in ("session_closed", "no_open_session")
    unchanged(db_path, before)


def test_second_start_while_open_exits_3(cli, db_path, live):
    _, before = live
    r = start(cli, MRN, when=at("08:30"))
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "open_session_exists"
    # even with an override: a state conflict is not a clinical rule
    assert_error(start(cli, MRN, "--override", "double booking", json_out=False), 3)
    unchanged(db_path, before)


# -- usage ---------------------------------------------------------------------------------
def test_log_vitals_needs_a_measure(cli, db_path, live):
    sid, before = live
    r = vitals(cli, sid, when=at("08:00"))
    assert_error(r, 2, json_out=True)
    assert r.json["error"]["code"] == "missing_value"
    unchanged(db_path, before)


def test_log_vitals_needs_exactly_one_target(cli, db_path, live):
    sid, before = live
    assert_error(cli("log-vitals", "--hr", "80"), 2)
    assert_error(cli("log-vitals", sid, "--patient", MRN, "--hr", "80"), 2)
    unchanged(db_path, before)


@pytest.mark.parametrize(("args", "needle"), [
    (("rate-change",), "--rate"),
    (("medication",), "--detail"),
    (("adverse",), "--detail"),
    (("medication", "--detail", "   "), "--detail"),
    (("pause", "--rate", "30"), "--rate"),
    (("rate-change", "--rate", "0"), "--rate"),
    (("explode",), "KIND"),
])
def test_log_event_usage_exit_2(cli, db_path, live, args, needle):
    sid, before = live
    r = cli("log-event", sid, *args, "--at", at("08:00"))
    assert_error(r, 2)
    assert needle in r.stderr
    unchanged(db_path, before)


def test_log_event_without_kind_exits_2(cli, db_path, live):
    sid, before = live
    assert_error(cli("log-event", sid), 2)
    assert_error(cli("log-event", "--patient", MRN), 2)
    assert_error(cli("log-event", "abc", "pause"), 2)
    unchanged(db_path, before)


def test_unknown_option_is_one_error_line(cli, db_path, live):
    sid, before = live
    r = cli("log-vitals", sid, "--hr", "80", "--bogus")
    assert_error(r, 2)
    r = cli("log-vitals", sid, "--hr", "eighty")
    assert_error(r, 2)
    unchanged(db_path, before)
