"""Rows are built in one place (ketacli.store.rows) and a record is stored with its seal
and its audit row by one operation (Tx.record)."""

from __future__ import annotations

import json

import pytest

from ketacli.domain import records as r
from ketacli.store import rows
from ketacli.store.db import Actor, open_store, row_digest

NOW = "2026-11-27T15:00:00+00:00"


@pytest.fixture
def store(tmp_path):
    st = open_store(tmp_path / "s.db", Actor("rn.a", "os"))
    yield st
    st.close()


def screening(pid: int) -> r.NewScreening:
    return r.NewScreening(
        patient_id=pid, at=NOW, recorded_at=NOW, clinician="rn.a", weight_kg=80.0,
        height_cm=None, sbp=128, dbp=82, hr=72, spo2=None, indication="trd",
        phq9_items=(2, 2, 2, 2, 1, 1, 2, 0, 0), gad7_items=None, madrs_total=None,
        pcl5_total=None, conditions=("glaucoma",), meds=(), decision="needs-review",
        reasons=("condition glaucoma needs clinician review",), suicide_risk_flag=False,
        valid_until="2026-12-27")


def test_the_screening_row_encodes_lists_and_computes_totals():
    row = rows.screening(screening(1))
    assert row["phq9_items"] == "[2,2,2,2,1,1,2,0,0]" and row["phq9_total"] == 12
    assert row["gad7_items"] is None and row["gad7_total"] is None
    assert row["conditions"] == '["glaucoma"]' and row["meds"] == "[]"
    assert row["suicide_risk_flag"] == 0


def test_record_inserts_seals_and_audits_in_one_step(store):
    with store.write() as tx:
        pid = tx.record(r.NewPatient("P-1", "Pat Ient", None, "U", None, NOW, "rn.a"),
                        patient="P-1")
        sid = tx.record(screening(pid), patient="P-1")
    audit = store.all("SELECT action, entity, entity_id, patient, detail FROM audit "
                      "WHERE entity IN ('patient', 'screening') ORDER BY id")
    assert [(a[0], a[1], a[2], a[3]) for a in audit] == [("create", "patient", pid, "P-1"),
                                                        ("create", "screening", sid, "P-1")]
    detail = json.loads(audit[1][4])
    assert detail["decision"] == "needs-review" and detail["at"] == NOW
    assert detail["row_sha256"] == row_digest(store.conn, "screenings", sid)


def test_every_record_type_has_a_row_builder():
    types = {c for c in vars(r).values() if isinstance(c, type) and c.__name__.startswith("New")}
    assert types - set(rows.RECORDS) == {r.NewDischarge}  # stored with its side effects
