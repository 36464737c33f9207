"""The demo sandbox: a database built by `ketacli demo` holds only demo patients.

Real patients recorded among synthetic ones would be exported, reported and reminded
with them; so a demo database refuses any patient whose MRN is not a demo MRN, and a
demo MRN added there by hand is a demo patient too.
"""

from __future__ import annotations

from dataclasses import replace

from ketacli.domain.records import NewPatient
from ketacli.errors import Code, Conflict

DEMO_PREFIX = "DEMO-"
REFUSAL = ("this is the demo database: record real patients with --db FILE, or remove the "
           "demo with 'ketacli demo --remove'")


def is_demo_mrn(mrn: str) -> bool:
    return mrn.upper().startswith(DEMO_PREFIX)


def admit(patient: NewPatient, *, demo_database: bool) -> NewPatient:
    """The patient to store: refused (exit 3) in a demo database unless it is a demo
    patient, marked as one when it is."""
    if not demo_database or patient.demo:
        return patient
    if not is_demo_mrn(patient.mrn):
        raise Conflict(REFUSAL, code=Code.DEMO_DATABASE)
    return replace(patient, demo=True)
