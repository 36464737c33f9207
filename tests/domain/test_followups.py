"""Which follow-ups a record closes, and the follow-up forms (ketacli.domain.followups)."""

from __future__ import annotations

from datetime import date

import pytest

from ketacli.domain import followups
from ketacli.domain.followups import Pending
from ketacli.errors import Invalid

PENDING = [Pending(1, "call", "2026-11-28"), Pending(5, "infusion", "2026-12-01"),
           Pending(4, "infusion", "2026-12-01"), Pending(7, "assessment", "2026-12-05"),
           Pending(6, "assessment", "2026-11-30")]
TODAY = date(2026, 11, 27)


def test_a_start_closes_the_earliest_infusion_whenever_due():
    assert followups.closed_by_start(PENDING) == [4]  # same day: the lower id
    assert followups.closed_by_start([Pending(1, "call", "2026-11-28")]) == []


@pytest.mark.parametrize(("day", "want"), [("2026-11-29", None), ("2026-11-30", 6),
                                           ("2026-12-31", 6)])
def test_an_assessment_closes_the_earliest_due_by_its_day(day, want):
    assert followups.closed_by_assessment(PENDING, day) == want


def test_schedule_form():
    f = followups.ScheduleForm.parse(mrn="MRN-1", kind=" Call ", due="2026-11-27", note=None,
                                     today=TODAY)
    assert (f.kind, f.due) == ("call", TODAY)
    rec = f.record(3, clinician="rn.a", at="2026-11-27T15:00:00+00:00")
    assert (rec.patient_id, rec.kind, rec.due, rec.session_id) == (3, "call", "2026-11-27", None)


@pytest.mark.parametrize(("kind", "due", "code"), [("visit", "2026-11-28", "invalid_choice"),
                                                   ("call", "2026-11-26", "past_date"),
                                                   ("call", "28/11/2026", "invalid_input")])
def test_schedule_form_refused(kind, due, code):
    with pytest.raises(Invalid) as e:
        followups.ScheduleForm.parse(mrn="MRN-1", kind=kind, due=due, note=None, today=TODAY)
    assert e.value.code == code


def test_due_query_window():
    q = followups.DueQuery.parse(day=None, within=3, fmt="CSV", today=TODAY)
    assert (q.target, q.upto, q.fmt) == (TODAY, date(2026, 11, 30), "csv")
    q = followups.DueQuery.parse(day="2026-12-01", within=None, fmt="json", today=TODAY)
    assert (q.target, q.upto) == (date(2026, 12, 1), date(2026, 12, 1))
    with pytest.raises(Invalid):
        followups.DueQuery.parse(day=None, within=None, fmt="xml", today=TODAY)
