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
from ketacli.domain.safety import Override
from ketacli.errors import Invalid, Refused

P = protocol.load()
TZ = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned():
    CLOCK.pin(NOW)
    yield
    CLOCK.pin(None)


def form(override=None, cosign=None, **kw) -> StartForm:
    args = dict(mrn="MRN-1", at=None, bp="130/80", hr=70, spo2=None, dose=None, duration=None,
                weight=None, concentration=10.0, drawn_mg=None, lot="KET-1", site=None,
                tz=TZ, dose_protocol=P.dose)
    args.update(kw)
    return StartForm.parse(**args, override=Override.parse(
        override, cosign, clinician="rn.a", rules=P.overrides))


def ctx(decision="eligible", valid_until=date(2026, 12, 20), weight=80.0, last=None,
        pending=(), sessions=0, screening=True, height=None, sex=None) -> start.StartContext:
    sc = (start.ScreeningOnFile(5, decision, valid_until, ("why",), weight, height)
          if screening else None)
    return start.StartContext(1, "MRN-1", sc, last, sessions, tuple(pending), sex=sex)


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
    # 40 mg at 10 mg/mL: 4 mL to draw; dosed on the actual weight
    assert (r["volume_ml"], r["weight_kg"], r["dosing_weight_kg"], r["weight_basis"]) == (
        4.0, 80.0, 80.0, "actual")
    assert (r["cosign"], r["overridden"], r["bmi"]) == (None, [], None)


def test_weight_from_the_screening_unless_given():
    assert decide(form(weight=75.0)).plan.weight_kg == 75.0
    with pytest.raises(Invalid):
        decide(c=ctx(screening=False))


def test_pounds_for_kilograms_is_refused():
    d = decide(form(weight=190.0), ctx(weight=86.0))
    assert d.refused and [r.name for r in d.unmet] == ["weight-change"]
    assert "check the units (kg)" in d.refusal(P).lines[0]


def test_ideal_body_weight_basis(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[dose]\nweight_basis = "ideal"\n')
    custom = protocol.load(f)
    d = start.decide(form(), ctx(weight=120.0, height=170.0, sex="M"), custom, tz=TZ,
                     clinician="rn.a", now=NOW)
    r = d.result(1)
    assert r["weight_basis"] == "ideal" and r["dosing_weight_kg"] == 65.9
    assert r["bmi"] == 41.5 and r["dose_mg"] == pytest.approx(0.5 * 65.937, abs=0.01)
    assert d.session().dosing_weight_kg == pytest.approx(65.937, abs=0.001)


def test_hard_limit_is_never_overridable():
    # the slip: --dose 5 --weight 176 --override ok (880 mg)
    d = decide(form(dose=5.0, weight=176.0, override="reviewed by the attending",
                    cosign="dr.b"), ctx(weight=176.0))
    assert d.refused and [r.name for r in d.unmet] == ["dose-hard-limit"]
    err = d.refusal(P)
    assert err.lines == ["dose-hard-limit: dose 5 mg/kg above the hard limit 1.5 mg/kg and "
                         "880.0 mg above the hard limit 150 mg (not overridable)"]
    assert err.hint is None


def test_every_unmet_rule_and_the_override():
    c = ctx(decision="needs-review", last=NOW - timedelta(hours=3))
    d = decide(form(bp="170/104", dose=1.2), c)
    assert d.refused
    assert [r.name for r in d.unmet] == ["needs-review", "hold-bp", "dose", "interval"]
    err = d.refusal(P)
    assert isinstance(err, Refused) and err.code == "start_refused"
    assert err.message == "cannot start the infusion: 4 unmet rules"
    assert err.lines[0].startswith("needs-review: screening needs clinician review")
    assert err.hint
    lone = decide(form(bp="170/104", dose=1.2, override="reviewed with Dr Who"), c)
    assert lone.refused and lone.verdict.needs_cosign
    o = decide(form(bp="170/104", dose=1.2, override="reviewed with Dr Who", cosign="dr.who"), c)
    assert not o.refused
    assert (o.session().override, o.session().cosign) == ("reviewed with Dr Who", "dr.who")
    assert o.session().overridden == ("needs-review", "hold-bp", "dose", "interval")


def test_ineligible_is_never_overridable():
    d = decide(form(override="really, reviewed", cosign="dr.b"), ctx(decision="ineligible"))
    assert d.refused
    assert "(not overridable)" in d.refusal(P).lines[0]
    assert d.refusal(P).hint is None


def test_drawn_below_the_dose_is_invalid():
    with pytest.raises(Invalid) as e:
        decide(form(drawn_mg=30.0))
    assert e.value.code == "drawn_below_dose"


def test_the_start_closes_the_earliest_booked_infusion():
    pending = (Pending(3, "call", "2026-11-20"), Pending(4, "infusion", "2026-12-01"),
               Pending(2, "infusion", "2026-11-29"))
    assert decide(c=ctx(pending=pending)).closes() == [2]
    assert decide().closes() == []
