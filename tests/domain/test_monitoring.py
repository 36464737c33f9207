"""The per-administration monitoring record (ketacli.domain.monitoring.record)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ketacli.domain import monitoring

T0 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def obs(phase, minutes, sbp=None, dbp=None, *, moaas=None, dissociation=None, alerts=()):
    return {
        "phase": phase,
        "minutes_into_infusion": minutes,
        "sbp": sbp,
        "dbp": dbp,
        "moaas": moaas,
        "dissociation": dissociation,
        "alerts": list(alerts),
    }


def alert(level, parameter):
    return {"level": level, "parameter": parameter, "value": 0, "threshold": 0, "message": ""}


def rec(observations, *, discharged_after=90, side_effects=(), lot="L-1", meds=()):
    return monitoring.record(
        observations=observations,
        started_at=T0,
        discharged_at=T0 + timedelta(minutes=discharged_after) if discharged_after else None,
        side_effect_codes=list(side_effects),
        lot=lot,
        screening_meds=list(meds),
    )


SESSION = [
    obs("pre", -5, 128, 82),
    obs("intra", 10, 132, 84),
    obs("intra", 20, 140, 88),
    obs("intra", 38, 146, 92),
    obs("post", 50, 138, 86),
    obs("discharge", 85, 126, 80),
]


class TestBloodPressure:
    def test_pre_40min_discharge(self):
        r = rec(SESSION)
        assert r["bp_pre"] == "128/82"
        assert r["bp_40min"] == "146/92"
        assert r["bp_40min_minutes"] == 38
        assert r["bp_discharge"] == "126/80"

    def test_nearest_to_40_can_be_after(self):
        r = rec([obs("pre", 0, 120, 80), obs("intra", 30, 130, 85), obs("intra", 42, 150, 95)])
        assert r["bp_40min"] == "150/95"
        assert r["bp_40min_minutes"] == 42

    def test_readings_without_bp_are_skipped(self):
        r = rec([obs("pre", 0, 120, 80), obs("intra", 40, moaas=4), obs("intra", 30, 131, 81)])
        assert r["bp_40min"] == "131/81"

    def test_pre_reading_never_counts_for_40min(self):
        r = rec([obs("pre", 0, 120, 80)], discharged_after=None)
        assert r["bp_pre"] == "120/80"
        assert r["bp_40min"] is None
        assert r["bp_40min_minutes"] is None

    def test_no_discharge_reading(self):
        r = rec(SESSION[:-1], discharged_after=None)
        assert r["bp_discharge"] is None
        assert r["monitoring_minutes"] is None

    def test_last_discharge_reading_wins(self):
        r = rec([*SESSION, obs("discharge", 95, 122, 78)])
        assert r["bp_discharge"] == "122/78"

    def test_empty(self):
        r = rec([], discharged_after=None, lot=None)
        assert r["bp_pre"] is None and r["bp_40min"] is None and r["bp_discharge"] is None
        assert r["sedation"] is False
        assert r["dissociation"] is False
        assert r["respiratory_depression"] is False
        assert r["concomitant_meds"] == []
        assert r["lot"] is None


class TestFlags:
    def test_monitoring_minutes_start_to_discharge(self):
        assert rec(SESSION, discharged_after=95)["monitoring_minutes"] == 95

    @pytest.mark.parametrize(("scores", "sedated"), [
        ([5, 4], False), ([5, 3], True), ([2], True), ([0], True), ([None], False),
    ])
    def test_sedation_is_any_moaas_at_most_3(self, scores, sedated):
        observations = [obs("intra", 10 * i, moaas=s) for i, s in enumerate(scores)]
        assert rec(observations)["sedation"] is sedated

    @pytest.mark.parametrize(("ratings", "effects", "dissociated"), [
        ([0, 0], (), False),
        ([0, 1], (), True),
        ([7], (), True),
        ([None], ("dissociation",), True),
        ([0], ("nausea", "dizziness"), False),
    ])
    def test_dissociation(self, ratings, effects, dissociated):
        observations = [obs("intra", 10 * i, dissociation=d) for i, d in enumerate(ratings)]
        assert rec(observations, side_effects=effects)["dissociation"] is dissociated

    @pytest.mark.parametrize(("alerts", "depressed"), [
        ([alert("critical", "spo2")], True),
        ([alert("critical", "rr")], True),
        ([alert("warning", "spo2"), alert("warning", "rr")], False),
        ([alert("critical", "sbp"), alert("critical", "moaas"), alert("critical", "etco2")],
         False),
        ([], False),
    ])
    def test_respiratory_depression(self, alerts, depressed):
        observations = [obs("intra", 20, 130, 80, alerts=alerts)]
        assert rec(observations)["respiratory_depression"] is depressed

    def test_respiratory_depression_on_any_observation(self):
        observations = [obs("intra", 10, 130, 80),
                        obs("post", 60, alerts=[alert("critical", "rr")])]
        assert rec(observations)["respiratory_depression"] is True

    def test_lot(self):
        assert rec(SESSION, lot="KX-42")["lot"] == "KX-42"

    def test_concomitant_meds(self):
        meds = ["benzodiazepine", "lamotrigine", "stimulant", "maoi", "opioid",
                "sedative-hypnotic", "other"]
        assert rec(SESSION, meds=meds)["concomitant_meds"] == [
            "benzodiazepine", "stimulant", "maoi", "sedative-hypnotic"]

    def test_keys(self):
        assert set(rec(SESSION)) >= {
            "bp_pre", "bp_40min", "bp_discharge", "monitoring_minutes", "sedation",
            "dissociation", "respiratory_depression", "lot", "concomitant_meds",
        }


# -- gaps in monitoring (the board's overdue rule, looked back on) -------------------------
def at(minutes):
    return T0 + timedelta(minutes=minutes)


def gaps(*minutes, end=40):
    return [(round((g["from"] - T0).total_seconds() / 60), round((g["to"] - T0).total_seconds()
             / 60), g["due_every_min"]) for g in monitoring.gaps([at(x) for x in minutes],
                                                                 at(end), 10, 15)]


def test_readings_on_time_leave_no_gap():
    assert gaps(0, 10, 20, 30, 40, 55, 70) == []


def test_a_reading_late_while_infusing_is_a_gap_of_the_intra_interval():
    assert gaps(0, 10, 35) == [(10, 35, 10)]


def test_after_the_end_the_post_interval_applies():
    assert gaps(0, 10, 20, 30, 45) == []  # due 40 (still infusing: 30 + 10 = 40, not before)
    assert gaps(0, 10, 20, 30, 40, 56) == [(40, 56, 15)]


def test_a_reading_due_just_after_the_end_takes_the_post_interval():
    assert gaps(0, 10, 20, 30, 38, 52) == []  # 38 + 10 = 48 is after the end: due 53


def test_gaps_sort_their_readings():
    assert gaps(35, 0, 10) == [(10, 35, 10)]
