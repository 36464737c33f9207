"""Discharge readiness (ketacli.domain.discharge): Aldrete, side effects, criteria, and the
follow-ups scheduled."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ketacli import protocol
from ketacli.domain import discharge
from ketacli.errors import Invalid

P = protocol.load()
DAY = date(2026, 11, 27)


# --------------------------------------------------------------------------- Aldrete


class TestAldrete:
    @pytest.mark.parametrize("total", [0, 8, 9, 10])
    def test_total(self, total):
        assert discharge.aldrete_total(total, None) == total

    @pytest.mark.parametrize(("items", "total"), [
        ([2, 2, 2, 2, 2], 10), ([2, 2, 2, 2, 1], 9), ([0, 0, 0, 0, 0], 0), ([1, 2, 1, 2, 2], 8),
    ])
    def test_items(self, items, total):
        assert discharge.aldrete_total(None, items) == total

    def test_both_refused(self):
        with pytest.raises(Invalid) as exc:
            discharge.aldrete_total(10, [2, 2, 2, 2, 2])
        assert exc.value.exit_code == 2

    def test_neither_refused(self):
        with pytest.raises(Invalid) as exc:
            discharge.aldrete_total(None, None)
        assert exc.value.exit_code == 2

    @pytest.mark.parametrize("total", [-1, 11, 20])
    def test_total_out_of_range(self, total):
        with pytest.raises(Invalid) as exc:
            discharge.aldrete_total(total, None)
        assert exc.value.exit_code == 2

    @pytest.mark.parametrize("items", [
        [2, 2, 2, 2], [2, 2, 2, 2, 2, 2], [], [3, 2, 2, 2, 1], [2, 2, -1, 2, 2],
    ])
    def test_items_out_of_range(self, items):
        with pytest.raises(Invalid) as exc:
            discharge.aldrete_total(None, items)
        assert exc.value.exit_code == 2


# --------------------------------------------------------------------------- side effects


class TestSideEffect:
    def test_default_severity_is_mild(self):
        assert discharge.side_effect("nausea") == ("nausea", "mild")

    @pytest.mark.parametrize("sev", ["mild", "moderate", "severe"])
    def test_explicit_severity(self, sev):
        assert discharge.side_effect(f"nausea:{sev}") == ("nausea", sev)

    def test_case_and_spaces(self):
        assert discharge.side_effect("  Blurred-Vision:Severe ") == ("blurred-vision", "severe")

    @pytest.mark.parametrize("code", discharge.SIDE_EFFECTS)
    def test_every_contract_code(self, code):
        assert discharge.side_effect(code) == (code, "mild")

    def test_contract_codes(self):
        assert set(discharge.SIDE_EFFECTS) == {
            "dizziness", "difficulty-speaking", "nausea", "vomiting", "headache",
            "blurred-vision", "dissociation", "hypertension", "tachycardia", "anxiety",
            "drowsiness", "other",
        }

    @pytest.mark.parametrize("value", ["hiccups", "hiccups:mild", "", ":mild"])
    def test_unknown_code(self, value):
        with pytest.raises(Invalid) as exc:
            discharge.side_effect(value)
        assert exc.value.exit_code == 2

    @pytest.mark.parametrize("value", ["nausea:extreme", "nausea:3", "nausea:mild:x"])
    def test_bad_severity(self, value):
        with pytest.raises(Invalid) as exc:
            discharge.side_effect(value)
        assert exc.value.exit_code == 2


# --------------------------------------------------------------------------- criteria


def crit(proto=None, **kw):
    args = dict(aldrete=10, minutes_since_end=45, sbp=130, dbp=80, hr=80, spo2=None,
                transport="escort", unaccounted_mg=0.0)
    args.update(kw)
    return {c.name: c for c in discharge.criteria(discharge.Readiness(**args), proto or P)}


class TestCriteria:
    def test_all_met(self):
        cs = crit()
        assert list(cs) == ["aldrete", "observation", "bp", "hr", "sbp-low", "accounted",
                            "transport"]
        assert all(c.met for c in cs.values())
        assert all(set(c.as_dict()) == {"name", "met", "detail"} for c in cs.values())

    @pytest.mark.parametrize(("score", "met"), [(10, True), (9, True), (8, False), (0, False)])
    def test_aldrete(self, score, met):
        c = crit(aldrete=score)["aldrete"]
        assert c.met is met
        assert str(score) in c.detail

    @pytest.mark.parametrize(("minutes", "met"), [(30, True), (29, False), (29.9, False),
                                                  (120, True), (0, False)])
    def test_observation(self, minutes, met):
        assert crit(minutes_since_end=minutes)["observation"].met is met

    def test_observation_detail_does_not_round_up_to_the_minimum(self):
        # 29.6 min is unmet: its detail must not read "30 min ... (need >= 30)".
        c = crit(minutes_since_end=29.6)["observation"]
        assert c.met is False
        assert c.detail.startswith("29 min")
        assert crit(minutes_since_end=30.4)["observation"].detail.startswith("30 min")

    @pytest.mark.parametrize(("sbp", "dbp", "met"), [
        (159, 99, True), (160, 90, False), (150, 100, False), (120, 70, True),
    ])
    def test_bp(self, sbp, dbp, met):
        c = crit(sbp=sbp, dbp=dbp)["bp"]
        assert c.met is met
        assert f"{sbp}/{dbp}" in c.detail

    @pytest.mark.parametrize(("hr", "met"), [(109, True), (110, False), (60, True)])
    def test_hr(self, hr, met):
        assert crit(hr=hr)["hr"].met is met

    def test_self_drive_refused_and_not_overridable(self):
        c = crit(transport="self-drive")["transport"]
        assert c.met is False
        assert c.overridable is False
        assert "no driving until the next day" in c.detail

    @pytest.mark.parametrize("transport", [
        "self", "drive", "driving", "Self-Drive", " SELF-DRIVE "])
    def test_every_spelling_of_driving_is_refused(self, transport):
        c = crit(transport=transport)["transport"]
        assert c.met is False
        assert c.overridable is False

    @pytest.mark.parametrize("transport", discharge.TRANSPORTS)
    def test_allowed_transports(self, transport):
        c = crit(transport=transport)["transport"]
        assert c.met is True

    def test_other_criteria_are_overridable(self):
        cs = crit(aldrete=7, minutes_since_end=10, sbp=170, dbp=105, hr=120)
        unmet = [c for c in cs.values() if not c.met]
        assert [c.name for c in unmet] == ["aldrete", "observation", "bp", "hr"]
        assert all(c.overridable for c in unmet)

    @pytest.mark.parametrize(("sbp", "met"), [(90, True), (89, False), (85, False)])
    def test_sbp_low_at_or_above(self, sbp, met):
        c = crit(sbp=sbp, dbp=50)["sbp-low"]
        assert c.met is met and c.overridable and str(sbp) in c.detail

    @pytest.mark.parametrize(("spo2", "met"), [(94, True), (93, False), (100, True)])
    def test_spo2_when_given(self, spo2, met):
        c = crit(spo2=spo2)["spo2"]
        assert c.met is met and f"{spo2}%" in c.detail

    def test_no_spo2_no_criterion(self):
        assert "spo2" not in crit(spo2=None)

    def test_accounted(self):
        c = crit(unaccounted_mg=5.8)["accounted"]
        assert c.met is False and c.overridable
        assert c.detail == ("5.8 mg drawn is neither given nor wasted: "
                            "add --wasted-mg 5.8 --waste-witness NAME")
        assert crit(unaccounted_mg=0.0)["accounted"].met is True

    def test_every_unmet_criterion_listed(self):
        cs = crit(aldrete=8, minutes_since_end=29, sbp=160, dbp=90, hr=110,
                  transport="self-drive")
        assert [n for n, c in cs.items() if not c.met] == [
            "aldrete", "observation", "bp", "hr", "transport"]
        cs = crit(aldrete=8, sbp=85, dbp=50, spo2=90, unaccounted_mg=2.0)
        assert [n for n, c in cs.items() if not c.met] == [
            "aldrete", "sbp-low", "spo2", "accounted"]

    def test_thresholds_follow_the_protocol(self, tmp_path):
        f = tmp_path / "p.toml"
        f.write_text("[discharge]\nmin_aldrete = 10\nmin_observation_min = 60\n"
                     "max_bp = [140, 90]\nmax_hr = 100\n")
        custom = protocol.load(f)
        cs = crit(custom, aldrete=9, minutes_since_end=45, sbp=140, dbp=80, hr=100)
        assert [n for n, c in cs.items() if not c.met] == ["aldrete", "observation", "bp", "hr"]


# --------------------------------------------------------------------------- schedule


def plan(n, sched=None):
    return [(p.kind, (p.due - DAY).days) for p in discharge.schedule(n, DAY, sched or P.schedule)]


class TestSchedule:
    @pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
    def test_induction(self, n):
        assert plan(n) == [("call", 1), ("infusion", 2)]

    def test_end_of_induction(self):
        assert plan(6) == [("call", 1), ("assessment", 7), ("infusion", 28)]

    @pytest.mark.parametrize("n", [7, 8, 20])
    def test_maintenance(self, n):
        assert plan(n) == [("call", 1), ("infusion", 28)]

    def test_dates_cross_month_end(self):
        out = discharge.schedule(6, date(2026, 12, 30), P.schedule)
        assert [p.due for p in out] == [date(2026, 12, 31), date(2027, 1, 6), date(2027, 1, 27)]

    def test_notes(self):
        out = discharge.schedule(2, DAY, P.schedule)
        assert all(p.note for p in out)
        assert "3 of 6" in out[1].note

    def test_custom_protocol(self, tmp_path):
        f = tmp_path / "p.toml"
        f.write_text("[schedule]\ninduction_sessions = 3\n")
        custom = protocol.load(f).schedule
        assert plan(1, custom) == [("call", 1), ("infusion", 2)]
        assert plan(2, custom) == [("call", 1), ("infusion", 2)]
        assert plan(3, custom) == [("call", 1), ("assessment", 7), ("infusion", 28)]
        assert plan(4, custom) == [("call", 1), ("infusion", 28)]
        assert plan(6, custom) == [("call", 1), ("infusion", 28)]

    def test_custom_intervals(self, tmp_path):
        f = tmp_path / "p.toml"
        f.write_text("[schedule]\ninduction_interval_days = 3\ncheckin_after_days = 2\n"
                     "assessment_after_days = 14\nmaintenance_interval_days = 21\n")
        custom = protocol.load(f).schedule
        assert plan(1, custom) == [("call", 2), ("infusion", 3)]
        assert plan(6, custom) == [("call", 2), ("assessment", 14), ("infusion", 21)]
        assert plan(9, custom) == [("call", 2), ("infusion", 21)]

    def test_due_dates_are_dates(self):
        assert all(type(p.due) is date for p in discharge.schedule(1, DAY, P.schedule))
        assert discharge.schedule(1, DAY, P.schedule)[0].due == DAY + timedelta(days=1)
