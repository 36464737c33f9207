"""The start decision (ketacli.domain.start): the plan, every unmet rule, the override,
the records a start stores and the booked infusion it closes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ketacli import protocol
from ketacli.clock import CLOCK
from ketacli.domain import start
from ketacli.domain.followups import Pending
from ketacli.domain.forms import StartForm
from ketacli.errors import Invalid, Refused

P = protocol.load()
TZ = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned():
    CLOCK.pin(NOW)
    yield
    CLOCK.pin(None)


def form(**kw) -> StartForm:
    args = dict(mrn="MRN-1", at=None, bp="130/80", hr=70, spo2=None, dose=None, duration=None,
                weight=None, concentration=10.0, drawn_mg=None, lot="KET-1", site=None,
                override=None, tz=TZ, dose_protocol=P.dose)
    args.update(kw)
    return StartForm.parse(**args)


def ctx(decision="eligible", valid_until=date(2026, 12, 20), weight=80.0, last=None,
        pending=(), sessions=0, screening=True) -> start.StartContext:
    sc = start.ScreeningOnFile(5, decision, valid_until, ("why",), weight) if screening else None
    return start.StartContext(1, "MRN-1", sc, last, sessions, tuple(pending))


def decide(f=None, c=None):
    return start.decide(f or form(), c or ctx(), P, tz=TZ, clinician="rn.a", now=NOW)


def test_check_vector_and_records():
    d = decide()
    assert not d.refused and d.unmet == ()
    assert (d.plan.dose_mg, d.plan.rate_mg_per_h, d.plan.rate_ml_per_h) == (40.0, 60.0, 6.0)
    s = d.session()
    assert (s.patient_id, s.screening_id, s.number_in_series, s.drawn_mg) == (1, 5, 1, 40.0)
    assert s.override is None and s.overridden == ()
    pre = d.pre_observation(9)
    assert (pre.session_id, pre.phase, pre.sbp, pre.dbp, pre.minutes_into_infusion) == (
        9, "pre", 130, 80, 0.0)
    r = d.result(9)
    assert r["session_id"] == 9 and r["dose_mg"] == 40.0 and r["override"] is None


def test_weight_from_the_screening_unless_given():
    assert decide(form(weight=70.0)).plan.weight_kg == 70.0
    with pytest.raises(Invalid):
        decide(c=ctx(screening=False))


def test_every_unmet_rule_and_the_override():
    c = ctx(decision="needs-review", last=NOW - timedelta(hours=3))
    d = decide(form(bp="170/104", dose=1.2), c)
    assert d.refused
    assert [r.name for r in d.unmet] == ["review", "bp", "dose", "interval"]
    err = d.refusal()
    assert isinstance(err, Refused) and err.code == "start_refused"
    assert err.message.startswith("cannot start the infusion: screening needs clinician review")
    assert err.hint
    o = decide(form(bp="170/104", dose=1.2, override="reviewed with Dr Who"), c)
    assert not o.refused
    assert o.session().override == "reviewed with Dr Who"
    assert o.session().overridden == ("review", "bp", "dose", "interval")


def test_ineligible_is_never_overridable():
    d = decide(form(override="really, reviewed"), ctx(decision="ineligible"))
    assert d.refused
    assert "(not overridable)" in d.refusal().message
    assert d.refusal().hint is None


def test_drawn_below_the_dose_is_invalid():
    with pytest.raises(Invalid) as e:
        decide(form(drawn_mg=30.0))
    assert e.value.code == "drawn_below_dose"


def test_the_start_closes_the_earliest_booked_infusion():
    pending = (Pending(3, "call", "2026-11-20"), Pending(4, "infusion", "2026-12-01"),
               Pending(2, "infusion", "2026-11-29"))
    assert decide(c=ctx(pending=pending)).closes() == [2]
    assert decide().closes() == []
