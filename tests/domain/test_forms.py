"""The validated forms of the recording commands (ketacli.domain.forms): each option is
checked in a fixed order, and the first mistake is the one reported."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from ketacli import protocol
from ketacli.clock import CLOCK
from ketacli.domain import forms
from ketacli.errors import Invalid

P = protocol.load()
TZ = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned():
    CLOCK.pin(NOW)
    yield
    CLOCK.pin(None)


def screen(**kw):
    args = dict(mrn="MRN-1", at=None, weight=80.0, height=None, bp="128/82", hr=72, spo2=None,
                indication=None, condition=None, med=None, phq9=None, gad7=None, madrs=None,
                pcl5=None, note=None, person=forms.Demographics(), tz=TZ,
                screening_protocol=P.screening)
    args.update(kw)
    return forms.ScreenForm.parse(**args)


def code_of(fn, **kw) -> str:
    with pytest.raises(Invalid) as e:
        fn(**kw)
    return e.value.code


class TestScreenForm:
    def test_valid_values_are_typed(self):
        f = screen(condition=[" Glaucoma ", "glaucoma"], med=["MAOI"], phq9="2,2,2,2,1,1,2,0,0")
        assert (f.sbp, f.dbp, f.weight_kg) == (128, 82, 80.0)
        assert f.conditions == ("glaucoma",)  # normalised, once
        assert f.meds == ("maoi",)
        assert f.scales.phq9 == (2, 2, 2, 2, 1, 1, 2, 0, 0)
        assert f.when == NOW

    def test_the_first_mistake_is_reported(self):
        # a bad MRN is reported before a bad BP, which comes before a bad PHQ-9
        assert code_of(screen, mrn="bad mrn", bp="400/1", phq9="9") == "invalid_mrn"
        assert code_of(screen, bp="400/80", phq9="9") == "implausible_vital"
        assert code_of(screen, phq9="1,1") == "invalid_items"

    def test_unknown_condition_is_never_echoed(self):
        with pytest.raises(Invalid) as e:
            screen(condition=["Ann Example"])
        assert "Ann" not in e.value.message and e.value.code == "invalid_choice"

    def test_with_phq9_from_the_prompt(self):
        f = screen().with_phq9([1] * 9)
        assert f.scales.phq9 == (1,) * 9
        assert screen().with_phq9(None).scales.phq9 is None


class TestSessionTarget:
    @pytest.mark.parametrize(("sid", "mrn", "want"), [(7, None, (7, None)), ("7", None, (7, None)),
                                                     (None, "mrn-1", (None, "mrn-1"))])
    def test_one_of_them(self, sid, mrn, want):
        t = forms.SessionTarget.parse(sid, mrn)
        assert (t.session_id, t.mrn) == want

    @pytest.mark.parametrize(("sid", "mrn", "code"), [
        (None, None, "missing_value"), (3, "MRN-1", "missing_value"), ("²", None, "invalid_id"),
        ("x1", None, "invalid_id"), (None, "bad mrn", "invalid_mrn")])
    def test_refused(self, sid, mrn, code):
        assert code_of(forms.SessionTarget.parse, session_id=sid, patient=mrn) == code


class TestEventForm:
    def parse(self, **kw):
        args = dict(target="4", kind="pause", patient=None, detail=None, rate=None, at=None, tz=TZ)
        args.update(kw)
        return forms.EventForm.parse(**args)

    def test_patient_form_takes_the_kind_from_the_first_argument(self):
        f = self.parse(target="Resume", kind=None, patient="MRN-1")
        assert (f.kind, f.target.mrn, f.target.session_id) == ("resume", "MRN-1", None)

    @pytest.mark.parametrize(("kw", "code"), [
        ({"kind": None}, "missing_value"),
        ({"kind": "nap"}, "invalid_choice"),
        ({"kind": "rate-change"}, "missing_value"),
        ({"kind": "rate-change", "rate": 0.0}, "out_of_range"),
        ({"kind": "pause", "rate": 5.0}, "invalid_option"),
        ({"kind": "medication"}, "missing_value"),
        ({"target": "x", "kind": "pause"}, "invalid_id"),
        ({"target": "4", "kind": "pause", "patient": "MRN-1"}, "missing_value"),
    ])
    def test_refused(self, kw, code):
        assert code_of(self.parse, **kw) == code


class TestDischargeForm:
    def parse(self, **kw):
        args = dict(aldrete=10, aldrete_items=None, bp="128/82", hr=70, spo2=None,
                    transport="escort", escort=None, side_effect=None, delivered_mg=None,
                    wasted_mg=None, waste_witness=None, override=None, note=None, at=None,
                    infusion_end=None, clinician="rn.a", tz=TZ)
        args.update(kw)
        return forms.DischargeForm.parse(**args)

    def test_items_give_the_total(self):
        f = self.parse(aldrete=None, aldrete_items="2,2,2,2,1")
        assert (f.aldrete, f.aldrete_items) == (9, (2, 2, 2, 2, 1))

    def test_side_effects_once_each_with_severity(self):
        f = self.parse(side_effect=["nausea", "Nausea", "headache:severe"])
        assert f.side_effects == (("nausea", "mild"), ("headache", "severe"))

    def test_self_drive_is_accepted_here_and_refused_by_the_criteria(self):
        assert self.parse(transport="Self-Drive").transport == "self-drive"

    @pytest.mark.parametrize(("kw", "code"), [
        ({"aldrete": None}, "missing_value"),
        ({"hr": None}, "missing_value"),
        ({"transport": None}, "missing_value"),
        ({"transport": "bike"}, "invalid_choice"),
        ({"wasted_mg": 5.0}, "missing_witness"),
        ({"wasted_mg": 5.0, "waste_witness": "RN.A"}, "invalid_witness"),
        ({"side_effect": ["itch"]}, "invalid_side_effect"),
    ])
    def test_refused(self, kw, code):
        assert code_of(self.parse, **kw) == code


class TestPeriod:
    def test_bounds_are_clinic_days(self):
        p = forms.Period.parse("2026-11-01", "2026-11-30", TZ)
        assert (p.lo, p.hi) == ("2026-11-01T05:00:00+00:00", "2026-12-01T06:00:00+00:00")
        assert p.as_dict() == {"since": "2026-11-01", "until": "2026-11-30"}
        assert p.since == date(2026, 11, 1)

    def test_one_day_names_date_when_bad(self):
        p = forms.Period.day("2026-11-01", TZ)
        # 2026-11-01 is the fall-back day in Chicago: 25 hours, CDT to CST
        assert (p.lo, p.hi) == ("2026-11-01T05:00:00+00:00", "2026-11-02T06:00:00+00:00")
        with pytest.raises(Invalid) as e:
            forms.Period.day("2026-13-01", TZ)
        assert e.value.message.startswith("--date")  # trial2: it said "--since: not a date"

    def test_until_before_since(self):
        assert code_of(forms.Period.parse, since="2026-11-02", until="2026-11-01",
                       tz=TZ) == "invalid_period"


def test_choice_wording():
    with pytest.raises(Invalid) as e:
        forms.choice("x", ("table", "csv", "json"), "--format")
    assert e.value.message == "--format must be table, csv or json"
    assert forms.choice(" CSV ", ("table", "csv", "json"), "--format") == "csv"
