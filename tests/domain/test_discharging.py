"""The discharge decision (ketacli.domain.discharging): the infusion's end and delivered
dose, the ledger's amounts, every criterion, and what a discharge stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ketacli import protocol
from ketacli.clock import CLOCK
from ketacli.domain import discharging
from ketacli.domain.charting import SessionRef
from ketacli.domain.forms import DischargeForm
from ketacli.domain.infusion import Event
from ketacli.domain.safety import Override
from ketacli.errors import Invalid

P = protocol.load()
TZ = ZoneInfo("America/Chicago")
T0 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=3)


@pytest.fixture(autouse=True)
def pinned():
    CLOCK.pin(NOW)
    yield
    CLOCK.pin(None)


def session(n=1, drawn=50.0) -> SessionRef:
    return SessionRef(7, 1, "MRN-1", T0, 40.0, 40.0, 60.0, drawn, n)


def form(minutes=80, override=None, cosign=None, **kw) -> DischargeForm:
    args = dict(aldrete=10, aldrete_items=None, bp="128/82", hr=70, spo2=None,
                transport="escort", escort=None, side_effect=None, delivered_mg=None,
                wasted_mg=10.0, waste_witness="rn.b", note=None,
                at=(T0 + timedelta(minutes=minutes)).isoformat(), infusion_end=None,
                clinician="rn.a", tz=TZ)
    args.update(kw)
    return DischargeForm.parse(**args, override=Override.parse(
        override, cosign, clinician="rn.a", rules=P.overrides))


def decide(f=None, s=None, events=(), schedule=True):
    return discharging.decide(f or form(), s or session(), list(events), P, tz=TZ,
                              clinician="rn.a", now=NOW, schedule=schedule)


def test_a_full_infusion_discharged_after_observation():
    d = decide()
    assert not d.refused and d.unmet == []
    assert d.course.end_at == T0 + timedelta(minutes=40)
    assert d.delivered_mg == pytest.approx(40.0)
    assert d.unaccounted_mg == 0 and d.ledger_warning() is None
    rec = d.discharge()
    assert (rec.session_id, rec.aldrete_total, rec.wasted_mg, rec.override) == (7, 10, 10.0, None)
    assert d.observation().phase == "discharge"
    assert [(f.kind, f.due) for f in d.followups()] == [("call", "2026-11-28"),
                                                       ("infusion", "2026-11-29")]
    assert decide(schedule=False).followups() == []


def test_every_unmet_criterion_listed_and_self_drive_never_overridable():
    d = decide(form(minutes=50, aldrete=8, bp="170/90", hr=120, transport="self-drive",
                    override="she insists on going", cosign="dr.b"))
    assert [c.name for c in d.unmet] == ["aldrete", "observation", "bp", "hr", "transport"]
    assert d.refused  # the transport criterion cannot be overridden
    assert "transport: patient driving: no driving until the next day (not overridable)" in \
        d.refusal(P).lines


def test_an_override_is_stored_with_the_discharge():
    d = decide(form(aldrete=8, override="reviewed by Dr Who", cosign="dr.who"))
    assert not d.refused
    rec = d.discharge()
    assert (rec.override, rec.cosign, rec.overridden) == ("reviewed by Dr Who", "dr.who",
                                                          ("aldrete",))
    r = d.result([], {})
    assert (r["override"], r["cosign"], r["overridden"]) == ("reviewed by Dr Who", "dr.who",
                                                             ["aldrete"])
    assert decide(form(aldrete=8, override="reviewed by Dr Who")).refused  # no co-signer


def test_a_stop_delivers_what_ran_and_the_ledger_warns():
    d = decide(form(wasted_mg=None, waste_witness=None),
               events=[Event("stop", T0 + timedelta(minutes=20))])
    assert d.delivered_mg == pytest.approx(20.0)
    assert d.unaccounted_mg == pytest.approx(30.0)
    assert "30.0 mg drawn for session 7" in d.ledger_warning()
    # not accounted for: a criterion now, refused until wasted (or overridden)
    assert [c.name for c in d.unmet] == ["accounted"] and d.refused
    assert d.unmet[0].detail == ("30 mg drawn is neither given nor wasted: "
                                 "add --wasted-mg 30 --waste-witness NAME")


def test_a_pause_moves_the_end_and_the_observation_clock():
    paused = [Event("pause", T0 + timedelta(minutes=10)), Event("resume", T0 + timedelta(minutes=15))]
    d = decide(form(minutes=74), events=paused)
    assert d.course.end_at == T0 + timedelta(minutes=45)
    assert d.delivered_mg == 40.0 and d.course.stopped_early is False
    assert [c.name for c in d.unmet] == ["observation"]  # 29 minutes since the real end
    assert not decide(form(minutes=75), events=paused).unmet


def test_a_pump_still_running_at_the_discharge_ends_there():
    d = decide(form(minutes=30, wasted_mg=None, waste_witness=None, override="ended by hand"))
    assert d.course.end_at == T0 + timedelta(minutes=30)
    assert d.delivered_mg == pytest.approx(30.0) and d.course.ended_by == "end"


def test_an_explicit_end_ignores_later_events():
    later = [Event("rate-change", T0 + timedelta(minutes=25), 120.0)]
    d = decide(form(infusion_end=(T0 + timedelta(minutes=20)).isoformat(), wasted_mg=None,
                    waste_witness=None), events=later)
    assert d.course.end_at == T0 + timedelta(minutes=20)
    assert d.delivered_mg == pytest.approx(20.0)


def test_times_out_of_order():
    with pytest.raises(Invalid) as e:
        decide(form(infusion_end=(T0 + timedelta(minutes=90)).isoformat()))
    assert e.value.code == "time_order"


def test_given_plus_wasted_may_not_exceed_drawn():
    with pytest.raises(Invalid) as e:
        decide(form(wasted_mg=20.0))
    assert e.value.code == "amounts_exceed_drawn"
