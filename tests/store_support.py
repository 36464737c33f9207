"""Helpers for the store tests (tests/store/): the actor the test store writes as, the
pinned time as stored, and a patient added through the store. The `store` and
`clinical_rows` fixtures are in tests/store/conftest.py.

Not a test module and not a conftest: imported by name (pytest's `pythonpath` is tests/).
"""

from __future__ import annotations

from ketacli.domain.records import NewPatient
from ketacli.store import patients
from ketacli.store.db import Actor

ACTOR = Actor("c", "u")
NOW = "2026-11-27T15:00:00+00:00"


def add_patient(st, mrn: str = "P-1") -> int:
    with st.write() as tx:
        return patients.add(tx, NewPatient(mrn=mrn, name="Pat Ient", dob=None, sex="U",
                                           phone=None, created_at=NOW, created_by="t"))
