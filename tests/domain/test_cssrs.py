"""The C-SSRS screener (docs/cli-contract.md, `screen`, "C-SSRS screener"): answers checked
as typed, the risk of every answer pattern by Columbia's triage, and the suicide-risk pathway
between screenings that `start-session` and `patient show` read."""

from __future__ import annotations

import itertools

import pytest

from ketacli.domain import cssrs
from ketacli.domain.cssrs import AssessmentRisk, Cssrs, standing_risk
from ketacli.errors import Invalid


def every_pattern():
    """Every answer pattern the screener's skip logic allows (54 of them)."""
    for q1, q2, q6 in itertools.product("yn", repeat=3):
        middles = itertools.product("yn", repeat=3) if q2 == "y" else [("-", "-", "-")]
        for q345 in middles:
            tails = [("y",), ("n",)] if q6 == "y" else [()]
            for tail in tails:
                yield (q1, q2, *q345, q6, *tail)


def triage(a):
    """Columbia's triage written out as the contract says it, independently."""
    q = dict(enumerate(a, start=1))
    if q[4] == "y" or q[5] == "y" or (q[6] == "y" and q.get(7) == "y"):
        return "high"
    if q[3] == "y" or q[6] == "y":
        return "moderate"
    if q[1] == "y" or q[2] == "y":
        return "low"
    return "none"


def test_there_are_54_patterns():
    assert len(set(every_pattern())) == 54


@pytest.mark.parametrize("answers", list(every_pattern()), ids=",".join)
def test_every_pattern_parses_and_has_its_triage_risk(answers):
    c = Cssrs.parse(",".join(answers))
    assert c is not None
    assert c.answers == answers
    assert c.risk == triage(answers)
    assert c.as_dict() == {"answers": list(answers), "risk": triage(answers)}


@pytest.mark.parametrize(("text", "risk"), [
    ("n,n,-,-,-,n", "none"),
    ("y,n,-,-,-,n", "low"),              # wish to be dead only
    ("n,y,n,n,n,n", "low"),              # thoughts without method, intent or plan
    ("y,y,y,n,n,n", "moderate"),         # a method, no intent
    ("n,n,-,-,-,y,n", "moderate"),       # behaviour, longer than 3 months ago
    ("y,y,n,y,n,n", "high"),             # intent
    ("y,y,n,n,y,n", "high"),             # plan with intent
    ("n,n,-,-,-,y,y", "high"),           # behaviour within 3 months
    ("Y, Y ,N,N,N,N", "low"),            # case and spaces
])
def test_risk_at_each_boundary(text, risk):
    assert Cssrs.parse(text).risk == risk


@pytest.mark.parametrize("text", [
    "n,n,-,-,-",            # 5 answers
    "n,n,-,-,-,y,y,n",      # 8 answers
    "x,n,-,-,-,n",          # not y/n
    "n,n,-,-,-,n,n",        # a 7th answer when 6 is n
    "n,n,-,-,-,y",          # no 7th answer when 6 is y
    "y,y,-,-,-,n",          # '-' for 3-5 when 2 is y
    "y,y,y,-,n,n",
    "y,n,y,n,n,n",          # 3-5 answered when 2 is n
    "-,n,-,-,-,n",          # 1 is always asked
    "n,n,-,-,-,-",          # 6 is always asked
    "n,n,-,-,-,y,-",        # the 7th is y or n
    "",
    "yes,no,-,-,-,no",
])
def test_bad_answers_are_invalid(text):
    with pytest.raises(Invalid) as e:
        Cssrs.parse(text)
    assert e.value.exit_code == 2
    assert "--cssrs" in e.value.message


def test_not_given_is_none():
    assert Cssrs.parse(None) is None


def test_labels_are_short_and_only_of_yes_answers():
    assert cssrs.answered_labels(("y", "n", "-", "-", "-", "y", "n")) == [
        "wish to be dead", "suicidal behaviour"]
    assert all(len(label) <= 30 for label in cssrs.LABELS)


@pytest.mark.parametrize(("item9", "risk", "flag"), [
    (None, None, False), (0, None, False), (1, None, True), (0, "none", False),
    (0, "low", False), (0, "moderate", True), (0, "high", True), (2, "low", True),
])
def test_suicide_risk_flag(item9, risk, flag):
    assert cssrs.flagged(item9, risk) is flag


# -- the pathway between screenings -------------------------------------------------------

def a(aid, item9=None, risk=None):
    return AssessmentRisk(aid, f"2026-12-{aid:02d}", item9, risk)


def standing(*assessments):
    return standing_risk(list(assessments), ineligible=("high",), review=("moderate",))


def test_nothing_since_the_screening_stands_nothing():
    assert standing() is None
    assert standing(a(1, item9=0), a(2, risk="none")) is None


def test_item9_at_a_followup_needs_an_assessment():
    r = standing(a(1, item9=0), a(3, item9=1))
    assert (r.level, r.assessment_id, r.item9) == ("review", 3, 1)
    assert r.message == ("suicide risk flagged on assessment 3 (2026-12-03): a suicide risk "
                         "assessment is needed before the next infusion")
    assert r.as_dict()["overridable"] is True


def test_a_none_or_low_cssrs_in_the_same_assessment_answers_item9():
    assert standing(a(1, item9=2, risk="low")) is None
    assert standing(a(1, item9=3, risk="none")) is None


def test_a_later_none_or_low_cssrs_answers_it():
    assert standing(a(1, item9=1), a(2, risk="low")) is None
    assert standing(a(1, risk="moderate"), a(2, risk="none")) is None


def test_an_earlier_cssrs_does_not_answer_a_later_flag():
    r = standing(a(1, risk="none"), a(2, item9=1))
    assert r.assessment_id == 2


def test_moderate_is_review_and_names_the_latest_open_flag():
    r = standing(a(1, item9=1), a(2, risk="moderate"))
    assert (r.level, r.assessment_id, r.cssrs_risk) == ("review", 2, "moderate")


def test_high_stands_whatever_comes_later_and_is_not_overridable():
    r = standing(a(1, risk="high"), a(2, risk="none"))
    assert (r.level, r.assessment_id) == ("ineligible", 1)
    assert r.as_dict()["overridable"] is False
    assert "a new screening is needed" in r.message


def test_the_protocol_lists_decide():
    r = standing_risk([a(1, risk="moderate")], ineligible=("moderate", "high"), review=())
    assert r.level == "ineligible"
    assert standing_risk([a(1, risk="moderate")], ineligible=("high",), review=()) is None
    r = standing_risk([a(1, risk="low")], ineligible=("high",), review=("low", "moderate"))
    assert r.level == "review"
