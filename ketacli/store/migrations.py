"""Numbered schema migrations. The version is PRAGMA user_version and a row in
schema_migrations; each migration runs in one transaction with its audit row.

Plain SQL rather than sqlite-utils' table builder: the schema needs STRICT
tables with CHECK constraints and triggers, which are clearest written out.
"""

from __future__ import annotations

APPEND_ONLY = (
    "screenings",
    "sessions",
    "discharges",
    "side_effects",
    "observations",
    "events",
    "assessments",
    "voids",
    "audit",
)


def _append_only(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only: corrections are new rows (void)'); END;
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only: corrections are new rows (void)'); END;
"""


_ISO = "GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]*'"
# A real calendar day: date(x) is NULL for 1980-13-01 (and a NULL CHECK passes), and
# keeps 1980-02-30 as typed; date(x, '+0 days') normalises it, and IS treats NULL as false.
_DAY = "GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'"

V1 = f"""
CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT;

CREATE TABLE patients (
    id INTEGER PRIMARY KEY,
    mrn TEXT NOT NULL UNIQUE
        CHECK (length(mrn) BETWEEN 1 AND 32 AND mrn NOT GLOB '*[^A-Za-z0-9_-]*'),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    dob TEXT CHECK (dob IS NULL OR (dob {_DAY} AND date(dob, '+0 days') IS dob)),
    sex TEXT NOT NULL DEFAULT 'U' CHECK (sex IN ('F', 'M', 'X', 'U')),
    phone TEXT CHECK (phone IS NULL OR length(phone) BETWEEN 1 AND 40),
    demo INTEGER NOT NULL DEFAULT 0 CHECK (demo IN (0, 1)),
    created_at TEXT NOT NULL CHECK (created_at {_ISO}),
    created_by TEXT NOT NULL
) STRICT;
CREATE TRIGGER patients_no_delete BEFORE DELETE ON patients
BEGIN SELECT RAISE(ABORT, 'patients are never deleted'); END;

CREATE TABLE screenings (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    at TEXT NOT NULL CHECK (at {_ISO}),
    recorded_at TEXT NOT NULL,
    clinician TEXT NOT NULL,
    weight_kg REAL NOT NULL CHECK (weight_kg BETWEEN 20 AND 350),
    height_cm REAL CHECK (height_cm IS NULL OR height_cm BETWEEN 50 AND 250),
    sbp INTEGER NOT NULL CHECK (sbp BETWEEN 50 AND 300),
    dbp INTEGER NOT NULL CHECK (dbp BETWEEN 20 AND 200 AND dbp < sbp),
    hr INTEGER NOT NULL CHECK (hr BETWEEN 20 AND 250),
    spo2 INTEGER CHECK (spo2 IS NULL OR spo2 BETWEEN 50 AND 100),
    indication TEXT CHECK (indication IS NULL OR indication IN
        ('trd', 'mdd', 'bipolar-depression', 'anxiety', 'ptsd', 'ocd', 'pain', 'other')),
    phq9_items TEXT CHECK (phq9_items IS NULL OR phq9_items GLOB '[[]*]'),
    phq9_total INTEGER CHECK (phq9_total IS NULL OR phq9_total BETWEEN 0 AND 27),
    gad7_items TEXT CHECK (gad7_items IS NULL OR gad7_items GLOB '[[]*]'),
    gad7_total INTEGER CHECK (gad7_total IS NULL OR gad7_total BETWEEN 0 AND 21),
    madrs_total INTEGER CHECK (madrs_total IS NULL OR madrs_total BETWEEN 0 AND 60),
    pcl5_total INTEGER CHECK (pcl5_total IS NULL OR pcl5_total BETWEEN 0 AND 80),
    conditions TEXT NOT NULL DEFAULT '[]' CHECK (conditions GLOB '[[]*]'),
    meds TEXT NOT NULL DEFAULT '[]' CHECK (meds GLOB '[[]*]'),
    decision TEXT NOT NULL CHECK (decision IN ('eligible', 'needs-review', 'ineligible')),
    reasons TEXT NOT NULL DEFAULT '[]' CHECK (reasons GLOB '[[]*]'),
    suicide_risk_flag INTEGER NOT NULL CHECK (suicide_risk_flag IN (0, 1)),
    valid_until TEXT NOT NULL CHECK (valid_until {_DAY}),
    note TEXT
) STRICT;
CREATE INDEX screenings_patient_at ON screenings(patient_id, at);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    screening_id INTEGER REFERENCES screenings(id),
    number_in_series INTEGER NOT NULL CHECK (number_in_series >= 1),
    started_at TEXT NOT NULL CHECK (started_at {_ISO}),
    recorded_at TEXT NOT NULL,
    clinician TEXT NOT NULL,
    weight_kg REAL NOT NULL CHECK (weight_kg BETWEEN 20 AND 350),
    dose_mg_per_kg REAL NOT NULL CHECK (dose_mg_per_kg > 0 AND dose_mg_per_kg <= 5),
    dose_mg REAL NOT NULL CHECK (dose_mg > 0),
    duration_min REAL NOT NULL CHECK (duration_min > 0 AND duration_min <= 600),
    rate_mg_per_h REAL NOT NULL CHECK (rate_mg_per_h > 0),
    concentration_mg_per_ml REAL CHECK (concentration_mg_per_ml IS NULL OR concentration_mg_per_ml > 0),
    rate_ml_per_h REAL CHECK (rate_ml_per_h IS NULL OR rate_ml_per_h > 0),
    lot TEXT CHECK (lot IS NULL OR (length(lot) BETWEEN 1 AND 40 AND lot NOT GLOB '*[^ -~]*')),
    drawn_mg REAL NOT NULL CHECK (drawn_mg > 0),
    site TEXT,
    override TEXT,
    overridden TEXT NOT NULL DEFAULT '[]' CHECK (overridden GLOB '[[]*]')
) STRICT;
CREATE INDEX sessions_patient_started ON sessions(patient_id, started_at);
CREATE INDEX sessions_started ON sessions(started_at);

CREATE TABLE discharges (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL UNIQUE REFERENCES sessions(id),
    at TEXT NOT NULL CHECK (at {_ISO}),
    recorded_at TEXT NOT NULL,
    clinician TEXT NOT NULL,
    infusion_end_at TEXT NOT NULL CHECK (infusion_end_at {_ISO}),
    aldrete_total INTEGER NOT NULL CHECK (aldrete_total BETWEEN 0 AND 10),
    aldrete_items TEXT CHECK (aldrete_items IS NULL OR aldrete_items GLOB '[[]*]'),
    delivered_mg REAL NOT NULL CHECK (delivered_mg >= 0),
    wasted_mg REAL NOT NULL DEFAULT 0 CHECK (wasted_mg >= 0),
    waste_witness TEXT,
    transport TEXT NOT NULL CHECK (transport IN ('escort', 'taxi', 'rideshare', 'public', 'other')),
    escort TEXT,
    criteria TEXT NOT NULL CHECK (criteria GLOB '[[]*]'),
    override TEXT,
    note TEXT,
    CHECK (wasted_mg = 0 OR length(waste_witness) > 0)
) STRICT;
CREATE INDEX discharges_at ON discharges(at);

CREATE TABLE side_effects (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    code TEXT NOT NULL CHECK (code IN ('dizziness', 'difficulty-speaking', 'nausea', 'vomiting',
        'headache', 'blurred-vision', 'dissociation', 'hypertension', 'tachycardia', 'anxiety',
        'drowsiness', 'other')),
    severity TEXT NOT NULL DEFAULT 'mild' CHECK (severity IN ('mild', 'moderate', 'severe')),
    recorded_at TEXT NOT NULL,
    clinician TEXT NOT NULL
) STRICT;
CREATE INDEX side_effects_session ON side_effects(session_id);

CREATE TABLE observations (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    phase TEXT NOT NULL CHECK (phase IN ('pre', 'intra', 'post', 'discharge')),
    at TEXT NOT NULL CHECK (at {_ISO}),
    recorded_at TEXT NOT NULL,
    clinician TEXT NOT NULL,
    minutes_into_infusion REAL,
    sbp INTEGER CHECK (sbp IS NULL OR sbp BETWEEN 50 AND 300),
    dbp INTEGER CHECK (dbp IS NULL OR (dbp BETWEEN 20 AND 200 AND (sbp IS NULL OR dbp < sbp))),
    hr INTEGER CHECK (hr IS NULL OR hr BETWEEN 20 AND 250),
    spo2 INTEGER CHECK (spo2 IS NULL OR spo2 BETWEEN 50 AND 100),
    rr INTEGER CHECK (rr IS NULL OR rr BETWEEN 0 AND 60),
    etco2 INTEGER CHECK (etco2 IS NULL OR etco2 BETWEEN 0 AND 100),
    moaas INTEGER CHECK (moaas IS NULL OR moaas BETWEEN 0 AND 5),
    dissociation INTEGER CHECK (dissociation IS NULL OR dissociation BETWEEN 0 AND 10),
    alerts TEXT NOT NULL DEFAULT '[]' CHECK (alerts GLOB '[[]*]'),
    note TEXT,
    CHECK (coalesce(sbp, dbp, hr, spo2, rr, etco2, moaas, dissociation) IS NOT NULL)
) STRICT;
CREATE INDEX observations_session_at ON observations(session_id, at);

CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    kind TEXT NOT NULL CHECK (kind IN ('pause', 'resume', 'rate-change', 'stop', 'medication', 'adverse')),
    at TEXT NOT NULL CHECK (at {_ISO}),
    recorded_at TEXT NOT NULL,
    clinician TEXT NOT NULL,
    detail TEXT,
    rate_mg_per_h REAL CHECK (rate_mg_per_h IS NULL OR rate_mg_per_h > 0),
    CHECK (kind != 'rate-change' OR rate_mg_per_h IS NOT NULL)
) STRICT;
CREATE INDEX events_session_at ON events(session_id, at);

CREATE TABLE followups (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    session_id INTEGER REFERENCES sessions(id),
    kind TEXT NOT NULL CHECK (kind IN ('infusion', 'assessment', 'call')),
    due TEXT NOT NULL CHECK (due {_DAY} AND date(due, '+0 days') IS due),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'cancelled')),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    note TEXT,
    closed_at TEXT,
    closed_by TEXT,
    cancel_reason TEXT,
    notified_at TEXT,
    CHECK (status != 'cancelled' OR length(cancel_reason) > 0)
) STRICT;
CREATE INDEX followups_status_due ON followups(status, due);
CREATE INDEX followups_patient ON followups(patient_id, due);
CREATE TRIGGER followups_no_delete BEFORE DELETE ON followups
BEGIN SELECT RAISE(ABORT, 'follow-ups are never deleted: cancel them'); END;
CREATE TRIGGER followups_fixed
BEFORE UPDATE OF id, patient_id, session_id, kind, due, created_at, created_by ON followups
BEGIN SELECT RAISE(ABORT, 'a follow-up is fixed once scheduled: cancel it and schedule anew'); END;
CREATE TRIGGER followups_closed BEFORE UPDATE OF status ON followups
WHEN OLD.status != 'pending' AND NEW.status != OLD.status
BEGIN SELECT RAISE(ABORT, 'a closed follow-up cannot change status'); END;

CREATE TABLE assessments (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    followup_id INTEGER REFERENCES followups(id),
    at TEXT NOT NULL CHECK (at {_ISO}),
    recorded_at TEXT NOT NULL,
    clinician TEXT NOT NULL,
    phq9_items TEXT CHECK (phq9_items IS NULL OR phq9_items GLOB '[[]*]'),
    phq9_total INTEGER CHECK (phq9_total IS NULL OR phq9_total BETWEEN 0 AND 27),
    gad7_items TEXT CHECK (gad7_items IS NULL OR gad7_items GLOB '[[]*]'),
    gad7_total INTEGER CHECK (gad7_total IS NULL OR gad7_total BETWEEN 0 AND 21),
    madrs_total INTEGER CHECK (madrs_total IS NULL OR madrs_total BETWEEN 0 AND 60),
    pcl5_total INTEGER CHECK (pcl5_total IS NULL OR pcl5_total BETWEEN 0 AND 80),
    note TEXT,
    CHECK (coalesce(phq9_total, gad7_total, madrs_total, pcl5_total) IS NOT NULL)
) STRICT;
CREATE INDEX assessments_patient_at ON assessments(patient_id, at);
CREATE INDEX assessments_at ON assessments(at);

CREATE TABLE voids (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('observation', 'assessment', 'event', 'screening')),
    target_id INTEGER NOT NULL,
    reason TEXT NOT NULL CHECK (length(reason) > 0),
    at TEXT NOT NULL,
    clinician TEXT NOT NULL,
    UNIQUE (kind, target_id)
) STRICT;

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    clinician TEXT NOT NULL,
    os_user TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id INTEGER,
    patient TEXT,
    detail TEXT CHECK (detail IS NULL OR detail GLOB '{{*}}'),
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
) STRICT;
CREATE INDEX audit_patient ON audit(patient, id);
CREATE INDEX audit_at ON audit(at);
""" + "".join(_append_only(t) for t in APPEND_ONLY)

V2 = """
CREATE TABLE study_ids (
    patient_id INTEGER PRIMARY KEY REFERENCES patients(id),
    study_id TEXT NOT NULL UNIQUE CHECK (length(study_id) BETWEEN 6 AND 40),
    date_shift_days INTEGER NOT NULL CHECK (date_shift_days BETWEEN 0 AND 364),
    created_at TEXT NOT NULL
) STRICT;
""" + _append_only("study_ids")

V3 = """
CREATE INDEX observations_alerting ON observations(session_id) WHERE alerts != '[]';
"""

V4 = """
CREATE TABLE deid_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL CHECK (length(secret) = 64),
    created_at TEXT NOT NULL
) STRICT;
""" + _append_only("deid_keys")

V5 = """
ALTER TABLE sessions ADD COLUMN dosing_weight_kg REAL
    CHECK (dosing_weight_kg IS NULL OR dosing_weight_kg BETWEEN 20 AND 350);
ALTER TABLE sessions ADD COLUMN weight_basis TEXT
    CHECK (weight_basis IS NULL OR weight_basis IN ('actual', 'ideal', 'adjusted'));
ALTER TABLE sessions ADD COLUMN bmi REAL CHECK (bmi IS NULL OR bmi BETWEEN 10 AND 90);
ALTER TABLE sessions ADD COLUMN cosign TEXT;
ALTER TABLE discharges ADD COLUMN cosign TEXT;
ALTER TABLE discharges ADD COLUMN overridden TEXT NOT NULL DEFAULT '[]'
    CHECK (overridden GLOB '[[]*]');
"""

_RISK = "('none', 'low', 'moderate', 'high')"

# Issue 14: the C-SSRS screener on screenings and assessments; case-insensitive MRNs;
# corrected demographics kept (patient_changes); the patient's address. An assessment may
# now hold a C-SSRS alone, so the assessments table is rebuilt with a wider CHECK (its
# rows, ids and seals unchanged: the added columns are NULL, see ADDED_COLUMNS).
# MRNs that already differ only in case are kept as they are (two records, never merged
# silently): a new one is refused by the trigger, and a lookup in another case of such an
# MRN is ambiguous (exit 3) until it is typed exactly.
V6 = f"""
ALTER TABLE patients ADD COLUMN address TEXT
    CHECK (address IS NULL OR length(address) BETWEEN 1 AND 300);
CREATE INDEX patients_mrn_nocase ON patients(mrn COLLATE NOCASE);
CREATE TRIGGER patients_mrn_unique_nocase BEFORE INSERT ON patients
WHEN EXISTS (SELECT 1 FROM patients WHERE mrn = NEW.mrn COLLATE NOCASE)
BEGIN SELECT RAISE(ABORT, 'an MRN is unique without regard to case'); END;
CREATE TRIGGER patients_mrn_fixed BEFORE UPDATE OF mrn ON patients
WHEN NEW.mrn IS NOT OLD.mrn
BEGIN SELECT RAISE(ABORT, 'an MRN never changes'); END;

CREATE TABLE patient_changes (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    at TEXT NOT NULL CHECK (at {_ISO}),
    clinician TEXT NOT NULL,
    fields TEXT NOT NULL CHECK (fields GLOB '[[]*]'),
    old_values TEXT NOT NULL CHECK (old_values GLOB '{{*}}'),
    reason TEXT NOT NULL CHECK (length(reason) > 0)
) STRICT;
CREATE INDEX patient_changes_patient ON patient_changes(patient_id, id);

ALTER TABLE screenings ADD COLUMN cssrs_answers TEXT
    CHECK (cssrs_answers IS NULL OR cssrs_answers GLOB '[[]*]');
ALTER TABLE screenings ADD COLUMN cssrs_risk TEXT
    CHECK (cssrs_risk IS NULL OR cssrs_risk IN {_RISK});

CREATE TABLE assessments_v6 (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    followup_id INTEGER REFERENCES followups(id),
    at TEXT NOT NULL CHECK (at {_ISO}),
    recorded_at TEXT NOT NULL,
    clinician TEXT NOT NULL,
    phq9_items TEXT CHECK (phq9_items IS NULL OR phq9_items GLOB '[[]*]'),
    phq9_total INTEGER CHECK (phq9_total IS NULL OR phq9_total BETWEEN 0 AND 27),
    gad7_items TEXT CHECK (gad7_items IS NULL OR gad7_items GLOB '[[]*]'),
    gad7_total INTEGER CHECK (gad7_total IS NULL OR gad7_total BETWEEN 0 AND 21),
    madrs_total INTEGER CHECK (madrs_total IS NULL OR madrs_total BETWEEN 0 AND 60),
    pcl5_total INTEGER CHECK (pcl5_total IS NULL OR pcl5_total BETWEEN 0 AND 80),
    note TEXT,
    cssrs_answers TEXT CHECK (cssrs_answers IS NULL OR cssrs_answers GLOB '[[]*]'),
    cssrs_risk TEXT CHECK (cssrs_risk IS NULL OR cssrs_risk IN {_RISK}),
    CHECK (coalesce(phq9_total, gad7_total, madrs_total, pcl5_total, cssrs_risk) IS NOT NULL),
    CHECK ((cssrs_answers IS NULL) = (cssrs_risk IS NULL))
) STRICT;
INSERT INTO assessments_v6 (id, patient_id, followup_id, at, recorded_at, clinician,
    phq9_items, phq9_total, gad7_items, gad7_total, madrs_total, pcl5_total, note)
SELECT id, patient_id, followup_id, at, recorded_at, clinician, phq9_items, phq9_total,
    gad7_items, gad7_total, madrs_total, pcl5_total, note FROM assessments;
DROP TABLE assessments;
ALTER TABLE assessments_v6 RENAME TO assessments;
CREATE INDEX assessments_patient_at ON assessments(patient_id, at);
CREATE INDEX assessments_at ON assessments(at);
""" + _append_only("assessments") + _append_only("patient_changes")

# Late entries, witnessed waste after the fact, voided sessions and screening follow-ups.
# A CHECK is widened by rebuilding its table (SQLite cannot alter a CHECK): the rows are
# copied aside, the table dropped (foreign keys deferred: assessments point at follow-ups)
# and created anew, the rows put back with their ids, then its indexes and triggers.
V7 = f"""
PRAGMA defer_foreign_keys = ON;
ALTER TABLE observations ADD COLUMN late_reason TEXT
    CHECK (late_reason IS NULL OR length(late_reason) > 0);
ALTER TABLE events ADD COLUMN late_reason TEXT
    CHECK (late_reason IS NULL OR length(late_reason) > 0);

CREATE TABLE wastes (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    at TEXT NOT NULL CHECK (at {_ISO}),
    recorded_at TEXT NOT NULL,
    clinician TEXT NOT NULL,
    mg REAL NOT NULL CHECK (mg > 0),
    witness TEXT NOT NULL CHECK (length(witness) > 0),
    late_reason TEXT CHECK (late_reason IS NULL OR length(late_reason) > 0)
) STRICT;
CREATE INDEX wastes_session ON wastes(session_id);

CREATE TEMP TABLE voids_v7 AS SELECT * FROM voids;
DROP TABLE voids;
CREATE TABLE voids (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('observation', 'assessment', 'event', 'screening', 'session')),
    target_id INTEGER NOT NULL,
    reason TEXT NOT NULL CHECK (length(reason) > 0),
    at TEXT NOT NULL,
    clinician TEXT NOT NULL,
    UNIQUE (kind, target_id)
) STRICT;
INSERT INTO voids (id, kind, target_id, reason, at, clinician)
    SELECT id, kind, target_id, reason, at, clinician FROM temp.voids_v7;
DROP TABLE temp.voids_v7;

CREATE TEMP TABLE followups_v7 AS SELECT * FROM followups;
DROP TABLE followups;
CREATE TABLE followups (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients(id),
    session_id INTEGER REFERENCES sessions(id),
    kind TEXT NOT NULL CHECK (kind IN ('infusion', 'assessment', 'call', 'screening')),
    due TEXT NOT NULL CHECK (due {_DAY} AND date(due, '+0 days') IS due),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'cancelled')),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    note TEXT,
    closed_at TEXT,
    closed_by TEXT,
    cancel_reason TEXT,
    notified_at TEXT,
    CHECK (status != 'cancelled' OR length(cancel_reason) > 0)
) STRICT;
INSERT INTO followups (id, patient_id, session_id, kind, due, status, created_at, created_by,
                       note, closed_at, closed_by, cancel_reason, notified_at)
    SELECT id, patient_id, session_id, kind, due, status, created_at, created_by,
           note, closed_at, closed_by, cancel_reason, notified_at FROM temp.followups_v7;
DROP TABLE temp.followups_v7;
CREATE INDEX followups_status_due ON followups(status, due);
CREATE INDEX followups_patient ON followups(patient_id, due);
CREATE TRIGGER followups_no_delete BEFORE DELETE ON followups
BEGIN SELECT RAISE(ABORT, 'follow-ups are never deleted: cancel them'); END;
CREATE TRIGGER followups_fixed
BEFORE UPDATE OF id, patient_id, session_id, kind, due, created_at, created_by ON followups
BEGIN SELECT RAISE(ABORT, 'a follow-up is fixed once scheduled: cancel it and schedule anew'); END;
CREATE TRIGGER followups_closed BEFORE UPDATE OF status ON followups
WHEN OLD.status != 'pending' AND NEW.status != OLD.status
BEGIN SELECT RAISE(ABORT, 'a closed follow-up cannot change status'); END;
""" + _append_only("wastes") + _append_only("voids")
V8 = """
CREATE TABLE clinic_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_id TEXT NOT NULL CHECK (length(key_id) = 32),
    chain_from INTEGER NOT NULL CHECK (chain_from >= 1),
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX audit_entity ON audit(entity, entity_id);
""" + _append_only("clinic_key")

# The clinic floor (issue 16): the chair of a session, the clinic settings (its zone) and the
# open sessions the board reads, kept by triggers (after V7, which rebuilt voids).
V9 = """
ALTER TABLE sessions ADD COLUMN chair TEXT
    CHECK (chair IS NULL OR length(chair) BETWEEN 1 AND 24);
CREATE TABLE clinic_settings (
    key TEXT PRIMARY KEY CHECK (key GLOB '[a-z]*' AND length(key) <= 40),
    value TEXT NOT NULL CHECK (length(value) BETWEEN 1 AND 200),
    updated_at TEXT NOT NULL
) STRICT;
CREATE TABLE open_sessions (
    session_id INTEGER PRIMARY KEY REFERENCES sessions(id)
) STRICT;
INSERT INTO open_sessions (session_id)
    SELECT s.id FROM sessions s
    WHERE NOT EXISTS (SELECT 1 FROM discharges d WHERE d.session_id = s.id)
      AND NOT EXISTS (SELECT 1 FROM voids v WHERE v.kind = 'session' AND v.target_id = s.id);
CREATE TRIGGER open_sessions_on_start AFTER INSERT ON sessions
BEGIN INSERT INTO open_sessions (session_id) VALUES (NEW.id); END;
CREATE TRIGGER open_sessions_on_discharge AFTER INSERT ON discharges
BEGIN DELETE FROM open_sessions WHERE session_id = NEW.session_id; END;
CREATE TRIGGER open_sessions_on_void AFTER INSERT ON voids WHEN NEW.kind = 'session'
BEGIN DELETE FROM open_sessions WHERE session_id = NEW.target_id; END;
"""

# Columns added to sealed tables after rows were sealed: (table, column) -> the value an
# older row reads back. A row's seal leaves out an added column holding that value, so
# the seals of rows written before the migration still verify.
ADDED_COLUMNS: dict[tuple[str, str], object] = {
    ("sessions", "dosing_weight_kg"): None,
    ("sessions", "weight_basis"): None,
    ("sessions", "bmi"): None,
    ("sessions", "cosign"): None,
    ("discharges", "cosign"): None,
    ("discharges", "overridden"): "[]",
    ("screenings", "cssrs_answers"): None,
    ("screenings", "cssrs_risk"): None,
    ("assessments", "cssrs_answers"): None,
    ("assessments", "cssrs_risk"): None,
    ("patients", "address"): None,
    ("observations", "late_reason"): None,
    ("events", "late_reason"): None,
    ("sessions", "chair"): None,
}

# (version, description, SQL). Append new migrations; never edit a released one.
MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "initial schema: patients, screenings, sessions, observations, events, "
        "discharges, side effects, assessments, follow-ups, voids, audit", V1),
    (2, "study_ids: the local link table of de-identified exports (random study ids and "
        "per-patient date shifts)", V2),
    (3, "observations_alerting: a partial index of observations with alerts (clinic reports)",
     V3),
    (4, "deid_keys: the local secret that turns record ids into pseudonyms in de-identified "
        "exports", V4),
    (5, "dosing safety: the dosing weight, its basis and BMI of a session; the co-signer "
        "of an override (sessions, discharges) and the rules a discharge override lifted", V5),
    (6, "suicide risk and identity: the C-SSRS screener on screenings and assessments, MRNs "
        "unique without regard to case, patient_changes (corrected demographics kept), "
        "the patient's address", V6),
    (7, "corrections: late entries (observations, events), witnessed waste of a session "
        "(wastes), voided sessions, screening follow-ups", V7),
    (8, "clinic_key: the fingerprint of the clinic key kept outside the database and the "
        "first audit row of the keyed (HMAC) chain", V8),
    (9, "the clinic floor: the chair of a session, clinic settings (the clinic zone) and "
        "open_sessions, kept by triggers, that the board reads", V9),
]

LATEST = MIGRATIONS[-1][0]
