"""Fixtures shared by the store tests: a fresh store, and one with a row in every
append-only table. Their helpers are in tests/store_support.py."""

from __future__ import annotations

import pytest
from store_support import ACTOR, NOW, add_patient

from ketacli.store.db import open_store


@pytest.fixture
def store(db_path):
    st = open_store(db_path, ACTOR)
    yield st
    st.close()


@pytest.fixture
def clinical_rows(store):
    """One row in every append-only table, inserted directly."""
    add_patient(store)
    c = store.conn
    c.execute(
        "INSERT INTO screenings (id, patient_id, at, recorded_at, clinician, weight_kg, sbp, dbp,"
        " hr, decision, suicide_risk_flag, valid_until) VALUES (1, 1, ?, ?, 'c', 70, 120, 80,"
        " 70, 'eligible', 0, '2026-12-27')", (NOW, NOW))
    c.execute(
        "INSERT INTO sessions (id, patient_id, screening_id, number_in_series, started_at,"
        " recorded_at, clinician, weight_kg, dose_mg_per_kg, dose_mg, duration_min,"
        " rate_mg_per_h, drawn_mg) VALUES (1, 1, 1, 1, ?, ?, 'c', 70, 0.5, 35, 40, 52.5, 35)",
        (NOW, NOW))
    c.execute(
        "INSERT INTO observations (id, session_id, phase, at, recorded_at, clinician, hr)"
        " VALUES (1, 1, 'intra', ?, ?, 'c', 80)", (NOW, NOW))
    c.execute(
        "INSERT INTO events (id, session_id, kind, at, recorded_at, clinician)"
        " VALUES (1, 1, 'pause', ?, ?, 'c')", (NOW, NOW))
    c.execute(
        "INSERT INTO discharges (id, session_id, at, recorded_at, clinician, infusion_end_at,"
        " aldrete_total, delivered_mg, transport, criteria)"
        " VALUES (1, 1, ?, ?, 'c', ?, 10, 35, 'escort', '[]')", (NOW, NOW, NOW))
    c.execute(
        "INSERT INTO side_effects (id, session_id, code, recorded_at, clinician)"
        " VALUES (1, 1, 'nausea', ?, 'c')", (NOW,))
    c.execute(
        "INSERT INTO assessments (id, patient_id, at, recorded_at, clinician, phq9_total)"
        " VALUES (1, 1, ?, ?, 'c', 12)", (NOW, NOW))
    c.execute(
        "INSERT INTO voids (id, kind, target_id, reason, at, clinician)"
        " VALUES (1, 'observation', 1, 'wrong patient', ?, 'c')", (NOW,))
    return store
