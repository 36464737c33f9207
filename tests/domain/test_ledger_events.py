"""Domain rules: the ledger's amount checks and the order of infusion events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ketacli.domain import infusion, ledger
from ketacli.errors import Invalid

T0 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def ev(kind: str, minute: int) -> infusion.Event:
    return infusion.Event(kind, T0 + timedelta(minutes=minute))


def test_drawn_must_cover_the_dose():
    ledger.check_drawn(40, 40)
    with pytest.raises(Invalid) as e:
        ledger.check_drawn(39.9, 40)
    assert e.value.exit_code == 2 and e.value.code == "drawn_below_dose"


@pytest.mark.parametrize("wasted, witness, code", [
    (5, None, "missing_witness"), (5, "", "missing_witness"), (5, "RN.One", "invalid_witness")])
def test_waste_needs_a_second_person(wasted, witness, code):
    with pytest.raises(Invalid) as e:
        ledger.check_waste_witness(wasted, witness, "rn.one")
    assert e.value.code == code


def test_no_waste_needs_no_witness():
    ledger.check_waste_witness(0, None, "rn.one")
    ledger.check_waste_witness(5, "rn.two", "rn.one")


def test_amounts_never_exceed_drawn_and_unaccounted_is_returned():
    assert ledger.check_amounts(50, 40, 10) == 0
    assert ledger.check_amounts(50, 40, 0) == 10
    with pytest.raises(Invalid) as e:
        ledger.check_amounts(50, 40, 10.5)
    assert e.value.code == "amounts_exceed_drawn"


def test_entry_flags_a_discrepancy_only_on_closed_sessions():
    row = {"session_id": 1, "started_at": "x", "patient": "M", "lot": "L", "drawn_mg": 50.0,
           "delivered_mg": 40.0, "wasted_mg": 0.0, "waste_witness": None, "clinician": "c",
           "discharged_at": "y"}
    e = ledger.entry(row)
    assert e["discrepancy"] is True and e["unaccounted_mg"] == 10
    e = ledger.entry({**row, "discharged_at": None})
    assert e["status"] == "open" and e["discrepancy"] is False


def test_state_at_follows_pauses_and_stops():
    events = [ev("pause", 10), ev("resume", 15), ev("stop", 30)]
    assert infusion.state_at(events, T0 + timedelta(minutes=5)) == "running"
    assert infusion.state_at(events, T0 + timedelta(minutes=12)) == "paused"
    assert infusion.state_at(events, T0 + timedelta(minutes=20)) == "running"
    assert infusion.state_at(events, T0 + timedelta(minutes=31)) == "stopped"


@pytest.mark.parametrize("events, kind, minute, code", [
    ([], "resume", 5, "event_state"),
    ([ev("pause", 10)], "pause", 12, "event_state"),
    ([ev("stop", 20)], "rate-change", 25, "event_state"),
    ([ev("stop", 20)], "stop", 25, "event_state"),
    ([ev("pause", 10), ev("resume", 15)], "pause", 12, "event_order"),  # backdated
    ([ev("stop", 30)], "pause", 20, "event_order"),
])
def test_event_conflicts(events, kind, minute, code):
    got = infusion.event_conflict(events, kind, T0 + timedelta(minutes=minute))
    assert got is not None and got[0] == code


@pytest.mark.parametrize("events, kind, minute", [
    ([], "pause", 5), ([ev("pause", 10)], "resume", 12), ([ev("stop", 20)], "medication", 25),
    ([ev("stop", 20)], "adverse", 25), ([], "rate-change", 5),
])
def test_allowed_events(events, kind, minute):
    assert infusion.event_conflict(events, kind, T0 + timedelta(minutes=minute)) is None


def test_default_end_is_the_stop_else_start_plus_duration():
    assert infusion.default_end(T0, 40, []) == T0 + timedelta(minutes=40)
    assert infusion.default_end(T0, 40, [ev("pause", 10), ev("resume", 20)]) == \
        T0 + timedelta(minutes=40)  # pauses do not extend it
    assert infusion.default_end(T0, 40, [ev("stop", 25)]) == T0 + timedelta(minutes=25)


def test_course_to_default_end_pro_rates_pauses():
    c = infusion.course_to_default_end(T0, 40, 60, 40, [ev("pause", 10), ev("resume", 20)])
    assert c.end_at == T0 + timedelta(minutes=40)
    assert c.delivered_mg == pytest.approx(30) and c.paused_min == pytest.approx(10)
    early = infusion.course_to_default_end(T0, 40, 60, 40, [], not_after=T0 + timedelta(minutes=20))
    assert early.delivered_mg == pytest.approx(20) and early.stopped_early


def test_safety_refusal_rule():
    from ketacli.domain import safety

    soft = infusion.Rule("bp", "BP high")
    hard = infusion.Rule("screening", "ineligible", overridable=False)
    assert safety.refused([], None) is False
    assert safety.refused([soft], None) is True
    assert safety.refused([soft], "reviewed by Dr A") is False
    assert safety.refused([soft, hard], "reviewed by Dr A") is True
    assert safety.override_hint([soft]) and safety.override_hint([soft, hard]) is None


def test_cohort_rates_skip_missing_scores():
    from ketacli.domain import outcomes

    c = outcomes.cohort([(20, 10), (20, 4), (20, 16), (None, 5), (18, None)])
    assert c == {"n": 3, "response_rate": round(2 / 3, 4), "remission_rate": round(1 / 3, 4)}
    assert outcomes.cohort([]) == {"n": 0, "response_rate": None, "remission_rate": None}
