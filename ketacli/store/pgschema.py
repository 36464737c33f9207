"""The schema on PostgreSQL: the same tables, columns, constraints and triggers as the
SQLite migrations 1-9 produce, written once for the server.

A clinic on PostgreSQL starts at schema version 9 (the PostgreSQL baseline): there are
no older PostgreSQL databases to upgrade. A later migration comes as a pair, one for
each engine, under the same version number (`PG_MIGRATIONS` beside `MIGRATIONS`).

Kept the same on both engines, because rows are sealed by a SHA-256 of their values as
the database returns them (and `db copy` verifies those seals on the other side): the
column names; TEXT for times, days and JSON (not timestamptz or jsonb, whose text forms
differ); integer and double precision for INTEGER and REAL. Text is compared and sorted
byte by byte (COLLATE "C"), as SQLite does: MRNs list in the same order, and ISO times
compare as the strings they are, whatever locale the server's database was created with.
Ids are assigned by the program as max(id) + 1 under the write lock (store/pg.py), as
SQLite does, so rows copied with their ids and rows added later never collide (no
sequences to reset).
"""

from __future__ import annotations

from ketacli.store.migrations import APPEND_ONLY

_ISO = "~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}'"
_DAY = "~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'"
_LIST = "LIKE '[%]'"
_OBJ = "LIKE '{%}'"


def _append_only(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
    FOR EACH ROW EXECUTE FUNCTION ketacli_append_only();
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION ketacli_append_only();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION ketacli_append_only();
"""


def _refuse(name: str, message: str) -> str:
    """A trigger function that refuses the change as a constraint violation (SQLSTATE
    23000, as SQLite's RAISE(ABORT) is a constraint failure)."""
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{message}' USING ERRCODE = 'integrity_constraint_violation';
END $$;
"""


BASELINE = f"""
CREATE FUNCTION ketacli_is_day(t text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN to_char(t::date, 'YYYY-MM-DD') = t;
EXCEPTION WHEN others THEN
    RETURN false;
END $$;

CREATE FUNCTION json_extract(doc text, path text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN doc IS NULL THEN NULL
                ELSE doc::jsonb #>> string_to_array(substr(path, 3), '.') END
$$;

CREATE FUNCTION ketacli_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: corrections are new rows (void)', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
{_refuse("ketacli_patients_never_deleted", "patients are never deleted")}
{_refuse("ketacli_followups_never_deleted", "follow-ups are never deleted: cancel them")}
{_refuse("ketacli_followup_fixed",
         "a follow-up is fixed once scheduled: cancel it and schedule anew")}
{_refuse("ketacli_followup_closed", "a closed follow-up cannot change status")}

CREATE FUNCTION ketacli_mrn_unique() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM patients WHERE lower(mrn) = lower(NEW.mrn)) THEN
        RAISE EXCEPTION 'an MRN is unique without regard to case'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
{_refuse("ketacli_mrn_fixed", "an MRN never changes")}

CREATE TABLE schema_migrations (
    version integer PRIMARY KEY,
    description text COLLATE "C" NOT NULL,
    applied_at text COLLATE "C" NOT NULL
);

CREATE TABLE patients (
    id integer PRIMARY KEY,
    mrn text COLLATE "C" NOT NULL UNIQUE CHECK (length(mrn) BETWEEN 1 AND 32 AND mrn ~ '^[A-Za-z0-9_-]+$'),
    name text COLLATE "C" NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    dob text COLLATE "C" CHECK (dob IS NULL OR (dob {_DAY} AND ketacli_is_day(dob))),
    sex text COLLATE "C" NOT NULL DEFAULT 'U' CHECK (sex IN ('F', 'M', 'X', 'U')),
    phone text COLLATE "C" CHECK (phone IS NULL OR length(phone) BETWEEN 1 AND 40),
    demo integer NOT NULL DEFAULT 0 CHECK (demo IN (0, 1)),
    created_at text COLLATE "C" NOT NULL CHECK (created_at {_ISO}),
    created_by text COLLATE "C" NOT NULL,
    address text COLLATE "C" CHECK (address IS NULL OR length(address) BETWEEN 1 AND 300)
);
CREATE INDEX patients_mrn_nocase ON patients (lower(mrn));
CREATE TRIGGER patients_no_delete BEFORE DELETE ON patients
    FOR EACH ROW EXECUTE FUNCTION ketacli_patients_never_deleted();
CREATE TRIGGER patients_mrn_unique_nocase BEFORE INSERT ON patients FOR EACH ROW
    WHEN (NEW.mrn IS NOT NULL) EXECUTE FUNCTION ketacli_mrn_unique();
CREATE TRIGGER patients_mrn_fixed BEFORE UPDATE OF mrn ON patients FOR EACH ROW
    WHEN (NEW.mrn IS DISTINCT FROM OLD.mrn) EXECUTE FUNCTION ketacli_mrn_fixed();

CREATE TABLE screenings (
    id integer PRIMARY KEY,
    patient_id integer NOT NULL REFERENCES patients(id),
    at text COLLATE "C" NOT NULL CHECK (at {_ISO}),
    recorded_at text COLLATE "C" NOT NULL,
    clinician text COLLATE "C" NOT NULL,
    weight_kg double precision NOT NULL CHECK (weight_kg BETWEEN 20 AND 350),
    height_cm double precision CHECK (height_cm IS NULL OR height_cm BETWEEN 50 AND 250),
    sbp integer NOT NULL CHECK (sbp BETWEEN 50 AND 300),
    dbp integer NOT NULL CHECK (dbp BETWEEN 20 AND 200 AND dbp < sbp),
    hr integer NOT NULL CHECK (hr BETWEEN 20 AND 250),
    spo2 integer CHECK (spo2 IS NULL OR spo2 BETWEEN 50 AND 100),
    indication text COLLATE "C" CHECK (indication IS NULL OR indication IN
        ('trd', 'mdd', 'bipolar-depression', 'anxiety', 'ptsd', 'ocd', 'pain', 'other')),
    phq9_items text COLLATE "C" CHECK (phq9_items IS NULL OR phq9_items {_LIST}),
    phq9_total integer CHECK (phq9_total IS NULL OR phq9_total BETWEEN 0 AND 27),
    gad7_items text COLLATE "C" CHECK (gad7_items IS NULL OR gad7_items {_LIST}),
    gad7_total integer CHECK (gad7_total IS NULL OR gad7_total BETWEEN 0 AND 21),
    madrs_total integer CHECK (madrs_total IS NULL OR madrs_total BETWEEN 0 AND 60),
    pcl5_total integer CHECK (pcl5_total IS NULL OR pcl5_total BETWEEN 0 AND 80),
    conditions text COLLATE "C" NOT NULL DEFAULT '[]' CHECK (conditions {_LIST}),
    meds text COLLATE "C" NOT NULL DEFAULT '[]' CHECK (meds {_LIST}),
    decision text COLLATE "C" NOT NULL CHECK (decision IN ('eligible', 'needs-review', 'ineligible')),
    reasons text COLLATE "C" NOT NULL DEFAULT '[]' CHECK (reasons {_LIST}),
    suicide_risk_flag integer NOT NULL CHECK (suicide_risk_flag IN (0, 1)),
    valid_until text COLLATE "C" NOT NULL CHECK (valid_until {_DAY}),
    note text COLLATE "C",
    cssrs_answers text COLLATE "C" CHECK (cssrs_answers IS NULL OR cssrs_answers {_LIST}),
    cssrs_risk text COLLATE "C"
        CHECK (cssrs_risk IS NULL OR cssrs_risk IN ('none', 'low', 'moderate', 'high'))
);
CREATE INDEX screenings_patient_at ON screenings (patient_id, at);

CREATE TABLE sessions (
    id integer PRIMARY KEY,
    patient_id integer NOT NULL REFERENCES patients(id),
    screening_id integer REFERENCES screenings(id),
    number_in_series integer NOT NULL CHECK (number_in_series >= 1),
    started_at text COLLATE "C" NOT NULL CHECK (started_at {_ISO}),
    recorded_at text COLLATE "C" NOT NULL,
    clinician text COLLATE "C" NOT NULL,
    weight_kg double precision NOT NULL CHECK (weight_kg BETWEEN 20 AND 350),
    dose_mg_per_kg double precision NOT NULL CHECK (dose_mg_per_kg > 0 AND dose_mg_per_kg <= 5),
    dose_mg double precision NOT NULL CHECK (dose_mg > 0),
    duration_min double precision NOT NULL CHECK (duration_min > 0 AND duration_min <= 600),
    rate_mg_per_h double precision NOT NULL CHECK (rate_mg_per_h > 0),
    concentration_mg_per_ml double precision
        CHECK (concentration_mg_per_ml IS NULL OR concentration_mg_per_ml > 0),
    rate_ml_per_h double precision CHECK (rate_ml_per_h IS NULL OR rate_ml_per_h > 0),
    lot text COLLATE "C" CHECK (lot IS NULL OR (length(lot) BETWEEN 1 AND 40 AND lot ~ '^[ -~]*$')),
    drawn_mg double precision NOT NULL CHECK (drawn_mg > 0),
    site text COLLATE "C",
    override text COLLATE "C",
    overridden text COLLATE "C" NOT NULL DEFAULT '[]' CHECK (overridden {_LIST}),
    dosing_weight_kg double precision
        CHECK (dosing_weight_kg IS NULL OR dosing_weight_kg BETWEEN 20 AND 350),
    weight_basis text COLLATE "C"
        CHECK (weight_basis IS NULL OR weight_basis IN ('actual', 'ideal', 'adjusted')),
    bmi double precision CHECK (bmi IS NULL OR bmi BETWEEN 10 AND 90),
    cosign text COLLATE "C",
    chair text COLLATE "C" CHECK (chair IS NULL OR length(chair) BETWEEN 1 AND 24)
);
CREATE INDEX sessions_patient_started ON sessions (patient_id, started_at);
CREATE INDEX sessions_started ON sessions (started_at);

CREATE TABLE discharges (
    id integer PRIMARY KEY,
    session_id integer NOT NULL UNIQUE REFERENCES sessions(id),
    at text COLLATE "C" NOT NULL CHECK (at {_ISO}),
    recorded_at text COLLATE "C" NOT NULL,
    clinician text COLLATE "C" NOT NULL,
    infusion_end_at text COLLATE "C" NOT NULL CHECK (infusion_end_at {_ISO}),
    aldrete_total integer NOT NULL CHECK (aldrete_total BETWEEN 0 AND 10),
    aldrete_items text COLLATE "C" CHECK (aldrete_items IS NULL OR aldrete_items {_LIST}),
    delivered_mg double precision NOT NULL CHECK (delivered_mg >= 0),
    wasted_mg double precision NOT NULL DEFAULT 0 CHECK (wasted_mg >= 0),
    waste_witness text COLLATE "C",
    transport text COLLATE "C" NOT NULL
        CHECK (transport IN ('escort', 'taxi', 'rideshare', 'public', 'other')),
    escort text COLLATE "C",
    criteria text COLLATE "C" NOT NULL CHECK (criteria {_LIST}),
    override text COLLATE "C",
    note text COLLATE "C",
    cosign text COLLATE "C",
    overridden text COLLATE "C" NOT NULL DEFAULT '[]' CHECK (overridden {_LIST}),
    CHECK (wasted_mg = 0 OR length(waste_witness) > 0)
);
CREATE INDEX discharges_at ON discharges (at);

CREATE TABLE side_effects (
    id integer PRIMARY KEY,
    session_id integer NOT NULL REFERENCES sessions(id),
    code text COLLATE "C" NOT NULL CHECK (code IN ('dizziness', 'difficulty-speaking', 'nausea', 'vomiting',
        'headache', 'blurred-vision', 'dissociation', 'hypertension', 'tachycardia', 'anxiety',
        'drowsiness', 'other')),
    severity text COLLATE "C" NOT NULL DEFAULT 'mild' CHECK (severity IN ('mild', 'moderate', 'severe')),
    recorded_at text COLLATE "C" NOT NULL,
    clinician text COLLATE "C" NOT NULL
);
CREATE INDEX side_effects_session ON side_effects (session_id);

CREATE TABLE observations (
    id integer PRIMARY KEY,
    session_id integer NOT NULL REFERENCES sessions(id),
    phase text COLLATE "C" NOT NULL CHECK (phase IN ('pre', 'intra', 'post', 'discharge')),
    at text COLLATE "C" NOT NULL CHECK (at {_ISO}),
    recorded_at text COLLATE "C" NOT NULL,
    clinician text COLLATE "C" NOT NULL,
    minutes_into_infusion double precision,
    sbp integer CHECK (sbp IS NULL OR sbp BETWEEN 50 AND 300),
    dbp integer CHECK (dbp IS NULL OR (dbp BETWEEN 20 AND 200 AND (sbp IS NULL OR dbp < sbp))),
    hr integer CHECK (hr IS NULL OR hr BETWEEN 20 AND 250),
    spo2 integer CHECK (spo2 IS NULL OR spo2 BETWEEN 50 AND 100),
    rr integer CHECK (rr IS NULL OR rr BETWEEN 0 AND 60),
    etco2 integer CHECK (etco2 IS NULL OR etco2 BETWEEN 0 AND 100),
    moaas integer CHECK (moaas IS NULL OR moaas BETWEEN 0 AND 5),
    dissociation integer CHECK (dissociation IS NULL OR dissociation BETWEEN 0 AND 10),
    alerts text COLLATE "C" NOT NULL DEFAULT '[]' CHECK (alerts {_LIST}),
    note text COLLATE "C",
    late_reason text COLLATE "C" CHECK (late_reason IS NULL OR length(late_reason) > 0),
    CHECK (num_nonnulls(sbp, dbp, hr, spo2, rr, etco2, moaas, dissociation) > 0)
);
CREATE INDEX observations_session_at ON observations (session_id, at);
CREATE INDEX observations_alerting ON observations (session_id) WHERE alerts != '[]';

CREATE TABLE events (
    id integer PRIMARY KEY,
    session_id integer NOT NULL REFERENCES sessions(id),
    kind text COLLATE "C" NOT NULL
        CHECK (kind IN ('pause', 'resume', 'rate-change', 'stop', 'medication', 'adverse')),
    at text COLLATE "C" NOT NULL CHECK (at {_ISO}),
    recorded_at text COLLATE "C" NOT NULL,
    clinician text COLLATE "C" NOT NULL,
    detail text COLLATE "C",
    rate_mg_per_h double precision CHECK (rate_mg_per_h IS NULL OR rate_mg_per_h > 0),
    late_reason text COLLATE "C" CHECK (late_reason IS NULL OR length(late_reason) > 0),
    CHECK (kind != 'rate-change' OR rate_mg_per_h IS NOT NULL)
);
CREATE INDEX events_session_at ON events (session_id, at);

CREATE TABLE audit (
    id integer PRIMARY KEY,
    at text COLLATE "C" NOT NULL,
    clinician text COLLATE "C" NOT NULL,
    os_user text COLLATE "C" NOT NULL,
    action text COLLATE "C" NOT NULL,
    entity text COLLATE "C" NOT NULL,
    entity_id integer,
    patient text COLLATE "C",
    detail text COLLATE "C" CHECK (detail IS NULL OR detail {_OBJ}),
    prev_hash text COLLATE "C" NOT NULL,
    hash text COLLATE "C" NOT NULL UNIQUE
);
CREATE INDEX audit_patient ON audit (patient, id);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_entity ON audit (entity, entity_id);

CREATE TABLE study_ids (
    patient_id integer PRIMARY KEY REFERENCES patients(id),
    study_id text COLLATE "C" NOT NULL UNIQUE CHECK (length(study_id) BETWEEN 6 AND 40),
    date_shift_days integer NOT NULL CHECK (date_shift_days BETWEEN 0 AND 364),
    created_at text COLLATE "C" NOT NULL
);

CREATE TABLE deid_keys (
    id integer PRIMARY KEY CHECK (id = 1),
    secret text COLLATE "C" NOT NULL CHECK (length(secret) = 64),
    created_at text COLLATE "C" NOT NULL
);

CREATE TABLE patient_changes (
    id integer PRIMARY KEY,
    patient_id integer NOT NULL REFERENCES patients(id),
    at text COLLATE "C" NOT NULL CHECK (at {_ISO}),
    clinician text COLLATE "C" NOT NULL,
    fields text COLLATE "C" NOT NULL CHECK (fields {_LIST}),
    old_values text COLLATE "C" NOT NULL CHECK (old_values {_OBJ}),
    reason text COLLATE "C" NOT NULL CHECK (length(reason) > 0)
);
CREATE INDEX patient_changes_patient ON patient_changes (patient_id, id);

CREATE TABLE followups (
    id integer PRIMARY KEY,
    patient_id integer NOT NULL REFERENCES patients(id),
    session_id integer REFERENCES sessions(id),
    kind text COLLATE "C" NOT NULL CHECK (kind IN ('infusion', 'assessment', 'call', 'screening')),
    due text COLLATE "C" NOT NULL CHECK (due {_DAY} AND ketacli_is_day(due)),
    status text COLLATE "C" NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'cancelled')),
    created_at text COLLATE "C" NOT NULL,
    created_by text COLLATE "C" NOT NULL,
    note text COLLATE "C",
    closed_at text COLLATE "C",
    closed_by text COLLATE "C",
    cancel_reason text COLLATE "C",
    notified_at text COLLATE "C",
    CHECK (status != 'cancelled' OR length(cancel_reason) > 0)
);
CREATE INDEX followups_status_due ON followups (status, due);
CREATE INDEX followups_patient ON followups (patient_id, due);
CREATE TRIGGER followups_no_delete BEFORE DELETE ON followups
    FOR EACH ROW EXECUTE FUNCTION ketacli_followups_never_deleted();
CREATE TRIGGER followups_fixed
    BEFORE UPDATE OF id, patient_id, session_id, kind, due, created_at, created_by ON followups
    FOR EACH ROW EXECUTE FUNCTION ketacli_followup_fixed();
CREATE TRIGGER followups_closed BEFORE UPDATE OF status ON followups FOR EACH ROW
    WHEN (OLD.status != 'pending' AND NEW.status != OLD.status)
    EXECUTE FUNCTION ketacli_followup_closed();

CREATE TABLE assessments (
    id integer PRIMARY KEY,
    patient_id integer NOT NULL REFERENCES patients(id),
    followup_id integer REFERENCES followups(id),
    at text COLLATE "C" NOT NULL CHECK (at {_ISO}),
    recorded_at text COLLATE "C" NOT NULL,
    clinician text COLLATE "C" NOT NULL,
    phq9_items text COLLATE "C" CHECK (phq9_items IS NULL OR phq9_items {_LIST}),
    phq9_total integer CHECK (phq9_total IS NULL OR phq9_total BETWEEN 0 AND 27),
    gad7_items text COLLATE "C" CHECK (gad7_items IS NULL OR gad7_items {_LIST}),
    gad7_total integer CHECK (gad7_total IS NULL OR gad7_total BETWEEN 0 AND 21),
    madrs_total integer CHECK (madrs_total IS NULL OR madrs_total BETWEEN 0 AND 60),
    pcl5_total integer CHECK (pcl5_total IS NULL OR pcl5_total BETWEEN 0 AND 80),
    note text COLLATE "C",
    cssrs_answers text COLLATE "C" CHECK (cssrs_answers IS NULL OR cssrs_answers {_LIST}),
    cssrs_risk text COLLATE "C"
        CHECK (cssrs_risk IS NULL OR cssrs_risk IN ('none', 'low', 'moderate', 'high')),
    CHECK (num_nonnulls(phq9_total, gad7_total, madrs_total, pcl5_total, cssrs_risk) > 0),
    CHECK ((cssrs_answers IS NULL) = (cssrs_risk IS NULL))
);
CREATE INDEX assessments_patient_at ON assessments (patient_id, at);
CREATE INDEX assessments_at ON assessments (at);

CREATE TABLE wastes (
    id integer PRIMARY KEY,
    session_id integer NOT NULL REFERENCES sessions(id),
    at text COLLATE "C" NOT NULL CHECK (at {_ISO}),
    recorded_at text COLLATE "C" NOT NULL,
    clinician text COLLATE "C" NOT NULL,
    mg double precision NOT NULL CHECK (mg > 0),
    witness text COLLATE "C" NOT NULL CHECK (length(witness) > 0),
    late_reason text COLLATE "C" CHECK (late_reason IS NULL OR length(late_reason) > 0)
);
CREATE INDEX wastes_session ON wastes (session_id);

CREATE TABLE voids (
    id integer PRIMARY KEY,
    kind text COLLATE "C" NOT NULL
        CHECK (kind IN ('observation', 'assessment', 'event', 'screening', 'session')),
    target_id integer NOT NULL,
    reason text COLLATE "C" NOT NULL CHECK (length(reason) > 0),
    at text COLLATE "C" NOT NULL,
    clinician text COLLATE "C" NOT NULL,
    UNIQUE (kind, target_id)
);

CREATE TABLE clinic_key (
    id integer PRIMARY KEY CHECK (id = 1),
    key_id text COLLATE "C" NOT NULL CHECK (length(key_id) = 32),
    chain_from integer NOT NULL CHECK (chain_from >= 1),
    created_at text COLLATE "C" NOT NULL
);

CREATE TABLE clinic_settings (
    key text COLLATE "C" PRIMARY KEY CHECK (key ~ '^[a-z]' AND length(key) <= 40),
    value text COLLATE "C" NOT NULL CHECK (length(value) BETWEEN 1 AND 200),
    updated_at text COLLATE "C" NOT NULL
);

CREATE TABLE open_sessions (
    session_id integer PRIMARY KEY REFERENCES sessions(id)
);
CREATE FUNCTION ketacli_open_session() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO open_sessions (session_id) VALUES (NEW.id);
    RETURN NEW;
END $$;
CREATE FUNCTION ketacli_close_session() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_TABLE_NAME = 'discharges' THEN
        DELETE FROM open_sessions WHERE session_id = NEW.session_id;
    ELSE
        DELETE FROM open_sessions WHERE session_id = NEW.target_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER open_sessions_on_start AFTER INSERT ON sessions
    FOR EACH ROW EXECUTE FUNCTION ketacli_open_session();
CREATE TRIGGER open_sessions_on_discharge AFTER INSERT ON discharges
    FOR EACH ROW EXECUTE FUNCTION ketacli_close_session();
CREATE TRIGGER open_sessions_on_void AFTER INSERT ON voids FOR EACH ROW
    WHEN (NEW.kind = 'session') EXECUTE FUNCTION ketacli_close_session();
""" + "".join(_append_only(t) for t in (
    *APPEND_ONLY, "study_ids", "deid_keys", "patient_changes", "wastes",
    "clinic_key"))

PG_MIGRATIONS: list[tuple[int, str, str]] = [
    (9, "PostgreSQL baseline: the schema of migrations 1-9 (patients, screenings, sessions, "
        "observations, events, discharges, side effects, assessments, follow-ups, voids, "
        "wastes, patient changes, study ids, the clinic key and settings, open sessions, "
        "the audit log), append-only by triggers", BASELINE),
]


# What a workstation role needs on a clinic's database (the owner role runs `db migrate`;
# a role that owns the tables could drop their guards, so workstations use another).
# open_sessions is kept by its triggers, which run with the owner's rights (SECURITY
# DEFINER): a workstation can neither add to it nor delete from it.
GRANTS = (
    "GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}",
    "GRANT USAGE ON SCHEMA {schema} TO {role}",
    "GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {schema} TO {role}",
    "GRANT UPDATE ON patients, followups, clinic_settings TO {role}",
    "REVOKE INSERT ON schema_migrations, open_sessions FROM {role}",
)


def grants(role: str, database: str, schema: str = "public") -> list[str]:
    return [g.format(role=role, database=database, schema=schema) + ";" for g in GRANTS]
