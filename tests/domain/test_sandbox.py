"""The demo sandbox rule: a demo database admits demo patients only."""

from __future__ import annotations

import pytest

from ketacli.domain.records import NewPatient
from ketacli.domain.sandbox import REFUSAL, admit, is_demo_mrn
from ketacli.errors import Conflict, ExitCode


def _patient(mrn: str, demo: bool = False) -> NewPatient:
    return NewPatient(mrn=mrn, name="A Person", dob=None, sex="F", phone=None,
                      created_at="2026-11-27T15:00:00+00:00", created_by="rn", demo=demo)


def test_a_real_patient_in_a_demo_database_is_refused():
    with pytest.raises(Conflict) as e:
        admit(_patient("MRN-1"), demo_database=True)
    assert e.value.exit_code == ExitCode.CONFLICT
    assert e.value.code == "demo_database" and e.value.message == REFUSAL


@pytest.mark.parametrize("mrn", ["DEMO-00001", "demo-7"])
def test_a_demo_mrn_joins_the_demo_as_a_demo_patient(mrn):
    assert admit(_patient(mrn), demo_database=True).demo is True


def test_a_real_database_admits_anyone_unchanged():
    p = _patient("MRN-1")
    assert admit(p, demo_database=False) is p


def test_the_demo_prefix():
    assert is_demo_mrn("DEMO-1") and is_demo_mrn("demo-1")
    assert not is_demo_mrn("MRN-DEMO-1") and not is_demo_mrn("DEMO1")
