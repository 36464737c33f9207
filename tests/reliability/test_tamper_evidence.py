"""Tamper evidence: the database refuses edits itself; edits made around it are detected.

Clinical tables and the audit log are append-only (BEFORE UPDATE/DELETE triggers), so a
plain sqlite3 UPDATE or DELETE fails. Someone who goes around them (drops a trigger,
rewrites the schema, inserts or updates rows, rehashes the chain) without the clinic key
is caught: the seventeen scenarios below, each detected by `db check` and/or
`audit --verify`, and the newest rows cut off, by `audit --verify --anchor`. On PostgreSQL
the same seventeen, in its SQL (a CHECK dropped and added wider for `writable_schema`), and
the server's own ways around the guards: a trigger disabled or enabled for replicas only, a
guard function replaced, a CHECK dropped; TRUNCATE is refused like DELETE.
"""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from helpers import copy_db, copy_key, counts, key_file, ok, on_pg, query, scalar, tamper
from reliability_support import NOTE, PHQ9, assert_error_shape, assert_no_pii, open_session, real_clock

from ketacli.store.audit import row_hash


@pytest.fixture
def clinic(cli, db_path):
    """A patient with a session, vitals, an event and an assessment: a few dozen audit rows."""
    now = real_clock()
    sid = open_session(cli, "TE-1", now)
    for hr in (80, 84, 88):
        ok(cli("log-vitals", sid, "--hr", hr, "--note", NOTE))
    ok(cli("log-event", sid, "medication", "--detail", "ondansetron 4 mg IV"))
    ok(cli("followup", "record", "TE-1", "--phq9", PHQ9))
    ok(cli("void", "observation", "3", "--reason", "wrong patient"))
    ok(cli("followup", "schedule", "TE-1", "--kind", "call", "--due", "2099-01-01"))
    rows = scalar(db_path, "SELECT count(*) FROM audit")
    assert rows >= 10
    return db_path, sid


@pytest.fixture(autouse=True)
def _pg_copies():
    """The databases `_copy` made on PostgreSQL, dropped after the test."""
    yield
    while _COPIES:
        import pg_support

        pg_support.release(_COPIES.pop())


_COPIES: list = []


def _connect(db):
    """A connection that commits each statement: sqlite3, or the store's PostgreSQL one."""
    if on_pg(db):
        from ketacli.store import pg

        return pg.connect(str(db), busy_timeout_s=30)
    return sqlite3.connect(db, isolation_level=None)


def _copy(db, tmp_path, name: str):
    if on_pg(db):
        import pg_support

        target = pg_support.fresh()
        _COPIES.append(target)
        copy_db(db, target)  # the key comes too: the verifier holds it
        return target
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    target = tmp_path / f"{name}.db"
    shutil.copyfile(db, target)
    target.chmod(0o600)  # only the chain is under test, not the copy's permissions
    copy_key(db, target)  # the verifier holds the key; the attacker below never reads it
    return target


def _tamper(db, *statements: str, drop: tuple[str, ...] = ("audit_no_update", "audit_no_delete"),
            params=()) -> None:
    """What someone with the sqlite3 shell could do: drop the guards and edit."""
    tamper(db, *statements, drop=drop, params=params)


AUDIT_COLS = "id, at, clinician, os_user, action, entity, entity_id, patient, detail"


def _rehash_from(db, first: int) -> None:
    """The attacker recomputes every link from row `first` on, the way an unkeyed chain
    would be recomputed (SHA-256 of the previous hash and the row): all they can do
    without the clinic key."""
    tamper(db, drop=("audit_no_update",))
    con = _connect(db)
    try:
        prev = con.execute("SELECT hash FROM audit WHERE id < ? ORDER BY id DESC LIMIT 1",
                           (first,)).fetchone()[0]
        for row in con.execute(f"SELECT {AUDIT_COLS} FROM audit WHERE id >= ? ORDER BY id",
                               (first,)).fetchall():
            digest = row_hash(prev, list(row))
            con.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?",
                        (prev, digest, row[0]))
            prev = digest
    finally:
        con.close()


def _detected(cli, db, *, problem: str) -> None:
    for args in (("audit", "--verify"), ("audit", "--verify", "--json"), ("db", "check"),
                 ("db", "check", "--json")):
        r = cli("--db", str(db), *args)
        json_out = "--json" in args
        assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4, json_out=json_out)
        if args[0] == "audit":
            assert "audit chain broken" in r.stderr, r.stderr
            if json_out:
                assert r.json["error"]["code"] == "audit_chain_broken"
                assert any(problem in d["problem"] for d in r.json["error"]["details"]), r.stdout
        else:
            assert "audit_chain" in r.stderr, r.stderr
            if json_out:
                failed = {c["name"] for c in r.json["error"]["details"] if not c["ok"]}
                assert "audit_chain" in failed, r.stdout


def test_the_untouched_chain_verifies(cli, clinic):
    db, _ = clinic
    r = ok(cli("audit", "--verify", "--json"))
    assert r.json["data"] == {"verified": True, "rows": scalar(db, "SELECT count(*) FROM audit")}
    assert ok(cli("db", "check", "--json")).json["data"]["ok"] is True


def test_tamper_reports_name_rows_not_patients(cli, clinic, tmp_path):
    """The chain report names audit row ids; the patient's note never shows."""
    db, _ = clinic
    copy = _copy(db, tmp_path, "noted")
    _tamper(copy, "UPDATE audit SET detail = '{\"note\":\"lives at 742 Evergreen Terrace\"}' "
                  "WHERE id = 12")
    r = cli("--db", str(copy), "audit", "--verify", "--json")
    assert r.exit_code == 4
    assert_no_pii(r.stdout, r.stderr)


# -- the seventeen tampering scenarios (the attacker has the sqlite3 shell and this source
# code, the verifier has the clinic key) ------------------------------------------------------
def _last(db) -> int:
    return scalar(db, "SELECT max(id) FROM audit")


def _row(db, rid: int) -> list:
    return list(query(db, f"SELECT {AUDIT_COLS} FROM audit WHERE id = ?", (rid,))[0])


def s_audit_row_edited(db, info):
    _tamper(db, "UPDATE audit SET clinician = 'someone.else' WHERE id = 12")


def s_audit_row_edited_and_rehashed(db, info):
    values = _row(db, 12)
    values[2] = "someone.else"
    prev = scalar(db, "SELECT prev_hash FROM audit WHERE id = 12")
    _tamper(db, "UPDATE audit SET clinician = 'someone.else', hash = ? WHERE id = 12",
            params=[(row_hash(prev, values),)])


def s_whole_chain_rehashed_after_an_edit(db, info):
    _tamper(db, "UPDATE audit SET clinician = 'someone.else' WHERE id = 12")
    _rehash_from(db, 12)


def s_audit_row_deleted(db, info):
    _tamper(db, "DELETE FROM audit WHERE id = 12")
    _rehash_from(db, 13)


def s_audit_rows_reordered(db, info):
    _tamper(db, "UPDATE audit SET id = -1 WHERE id = 12", "UPDATE audit SET id = 12 WHERE id = 13",
            "UPDATE audit SET id = 13 WHERE id = -1")


def s_forged_row_with_a_wrong_link(db, info):
    _tamper(db, f"INSERT INTO audit ({AUDIT_COLS}, prev_hash, hash) VALUES (?, "
                "'2026-11-27T15:00:00+00:00', 'x', 'x', 'void', 'observation', 2, 'TE-1', NULL, ?, ?)",
            drop=(), params=[(_last(db) + 1, "0" * 64, "f" * 64)])


def s_forged_row_with_a_recomputed_link(db, info):
    last = _last(db)
    prev = scalar(db, "SELECT hash FROM audit WHERE id = ?", (last,))
    values = [last + 1, "2026-11-27T15:00:00+00:00", "x", "x", "void", "observation",
              info["critical"], "TE-1", None]
    _tamper(db, f"INSERT INTO audit ({AUDIT_COLS}, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            drop=(), params=[(*values, prev, row_hash(prev, values))])


def s_newest_rows_cut_off(db, info):
    """The last follow-up scheduled and its audit row removed: only an anchor shows it."""
    _tamper(db, "DELETE FROM followups WHERE id = (SELECT max(id) FROM followups)",
            "DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)",
            drop=("audit_no_delete", "followups_no_delete"))
    _tamper(db, *(f"CREATE TRIGGER {t}" + sql for t, sql in (PG_RESTORE if on_pg() else RESTORE)),
            drop=())


RESTORE = (
    ("audit_no_delete", " BEFORE DELETE ON audit\nBEGIN SELECT RAISE(ABORT, 'audit is "
     "append-only: corrections are new rows (void)'); END"),
    ("followups_no_delete", " BEFORE DELETE ON followups\nBEGIN SELECT RAISE(ABORT, "
     "'follow-ups are never deleted: cancel them'); END"),
)
PG_RESTORE = (
    ("audit_no_delete", " BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION ketacli_append_only()"),
    ("followups_no_delete", " BEFORE DELETE ON followups FOR EACH ROW "
     "EXECUTE FUNCTION ketacli_followups_never_deleted()"),
)


def s_critical_reading_edited(db, info):
    _tamper(db, f"UPDATE observations SET spo2 = 98 WHERE id = {info['critical']}",
            drop=("observations_no_update",))


def s_critical_reading_edited_and_resealed(db, info):
    """The observation changed, its seal in the audit row recomputed, the chain rehashed."""
    from ketacli.store.db import row_digest

    _tamper(db, f"UPDATE observations SET spo2 = 98 WHERE id = {info['critical']}",
            drop=("observations_no_update",))
    con = _connect(db)
    digest = row_digest(con, "observations", info["critical"])
    rid = con.execute("SELECT id FROM audit WHERE entity = 'observation' AND entity_id = ?",
                      (info["critical"],)).fetchone()[0]
    con.close()
    reseal = ("UPDATE audit SET detail = jsonb_set(detail::jsonb, '{row_sha256}', to_jsonb(?::text))"
              "::text WHERE id = ?" if on_pg(db) else
              "UPDATE audit SET detail = json_set(detail, '$.row_sha256', ?) WHERE id = ?")
    _tamper(db, reseal, params=[(digest, rid)])
    _rehash_from(db, rid)


def s_void_inserted_to_hide_a_critical_reading(db, info):
    _tamper(db, "INSERT INTO voids (id, kind, target_id, reason, at, clinician) VALUES "
                f"((SELECT max(id) + 1 FROM voids), 'observation', {info['critical']}, 'entered in error', "
                "'2026-11-27T15:00:00+00:00', 'nurse.test')", drop=())


def s_discharge_forged(db, info):
    _tamper(db, FORGED_DISCHARGE, drop=(), params=[(info["session"], info["session"])])


FORGED_DISCHARGE = (
    "INSERT INTO discharges (id, session_id, at, recorded_at, clinician, infusion_end_at, "
    "aldrete_total, delivered_mg, transport, criteria) SELECT "
    "(SELECT coalesce(max(id), 0) + 1 FROM discharges), ?, started_at, started_at, 'nurse.test', "
    "started_at, 10, drawn_mg, 'escort', '[]' FROM sessions WHERE id = ?")


def s_observation_inserted(db, info):
    _tamper(db, "INSERT INTO observations (id, session_id, phase, at, recorded_at, clinician, "
                f"spo2) VALUES ((SELECT max(id) + 1 FROM observations), {info['session']}, 'intra', "
                "'2026-11-27T15:00:00+00:00', '2026-11-27T15:00:00+00:00', 'nurse.test', 99)", drop=())


def s_patient_updated(db, info):
    _tamper(db, "UPDATE patients SET dob = '1990-01-01' WHERE mrn = 'TE-1'", drop=())


def s_followup_updated(db, info):
    _tamper(db, "UPDATE followups SET status = 'done', closed_at = '2026-11-27T15:00:00+00:00', "
                "closed_by = 'x' WHERE status = 'pending'", drop=())


def s_check_widened_through_writable_schema(db, info):
    """SQLite: the CREATE TABLE text rewritten; PostgreSQL: the CHECK dropped and added wider."""
    if on_pg(db):
        name = scalar(db, "SELECT conname FROM pg_constraint WHERE conrelid = 'observations'::regclass "
                          "AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%spo2 >= 50%'")
        _tamper(db, f"ALTER TABLE observations DROP CONSTRAINT {name}",
                f"ALTER TABLE observations ADD CONSTRAINT {name} "
                "CHECK (spo2 IS NULL OR spo2 BETWEEN 0 AND 1000)", drop=())
        return
    con = sqlite3.connect(db, isolation_level=None)
    try:
        con.execute("PRAGMA writable_schema = ON")
        con.execute("UPDATE sqlite_master SET sql = replace(sql, 'spo2 BETWEEN 50 AND 100', "
                    "'spo2 BETWEEN 0 AND 1000') WHERE name = 'observations'")
    finally:
        con.close()


def s_guard_trigger_dropped(db, info):
    _tamper(db, drop=("observations_no_update",))


# scenario -> (the `db check` checks that must fail, also seen by `audit --verify`?)
SCENARIOS = {
    s_audit_row_edited: ({"audit_chain"}, True),
    s_audit_row_edited_and_rehashed: ({"audit_chain"}, True),
    s_whole_chain_rehashed_after_an_edit: ({"audit_chain"}, True),
    s_audit_row_deleted: ({"audit_chain"}, True),
    s_audit_rows_reordered: ({"audit_chain"}, True),
    s_forged_row_with_a_wrong_link: ({"audit_chain"}, True),
    s_forged_row_with_a_recomputed_link: ({"audit_chain"}, True),
    s_newest_rows_cut_off: (set(), "anchor"),
    s_critical_reading_edited: ({"clinical_rows"}, False),
    s_critical_reading_edited_and_resealed: ({"audit_chain"}, True),
    s_void_inserted_to_hide_a_critical_reading: ({"unaudited_rows"}, False),
    s_discharge_forged: ({"unaudited_rows"}, False),
    s_observation_inserted: ({"unaudited_rows"}, False),
    s_patient_updated: ({"updated_rows"}, False),
    s_followup_updated: ({"updated_rows"}, False),
    s_check_widened_through_writable_schema: ({"schema"}, False),
    s_guard_trigger_dropped: ({"append_only"}, False),
}


def test_the_table_has_seventeen_scenarios():
    assert len(SCENARIOS) == 17


@pytest.fixture
def tamper_clinic(cli, clinic):
    """The clinic with a critical SpO2 reading, and an anchor taken before any tampering."""
    db, sid = clinic
    crit = ok(cli("log-vitals", sid, "--spo2", "85", "--json")).json["data"]
    assert any(a["level"] == "critical" for a in crit["alerts"]), crit
    ok(cli("followup", "schedule", "TE-1", "--kind", "infusion", "--due", "2099-02-01"))
    anchor = ok(cli("audit", "anchor", "--json")).json["data"]["anchor"]
    return db, {"session": sid, "critical": crit["observation_id"], "anchor": anchor}


@pytest.mark.parametrize("scenario", list(SCENARIOS), ids=lambda f: f.__name__[2:])
def test_each_tampering_scenario_is_detected(cli, tamper_clinic, tmp_path, scenario):
    db, info = tamper_clinic
    copy = _copy(db, tmp_path, scenario.__name__)
    scenario(copy, info)
    failing, by_chain = SCENARIOS[scenario]
    check = cli("--db", str(copy), "db", "check", "--json")
    verify = cli("--db", str(copy), "audit", "--verify", "--json")
    anchored = cli("--db", str(copy), "audit", "--verify", "--anchor", info["anchor"], "--json")
    if by_chain:  # an anchor sees every change to the chain, and its end cut off
        assert_error_shape(anchored.exit_code, anchored.stdout, anchored.stderr, expect=4,
                           json_out=True)
    if by_chain == "anchor":
        assert check.exit_code == 0 and verify.exit_code == 0  # only an anchor can tell
        assert "cut off" in anchored.json["error"]["message"]
        return
    assert_error_shape(check.exit_code, check.stdout, check.stderr, expect=4, json_out=True)
    failed = {c["name"] for c in check.json["error"]["details"] if not c["ok"]}
    assert failing <= failed, check.stdout
    assert verify.exit_code == (4 if by_chain else 0), verify.stdout
    human = cli("--db", str(copy), "db", "check")
    findings = [ln for ln in human.stderr.splitlines() if ln.startswith("  - ")]
    assert findings and all(ln.split(": ")[0][4:] in failed for ln in findings), human.stderr


def test_a_forged_discharge_is_not_ok_in_the_ledger(cli, tamper_clinic, tmp_path):
    db, info = tamper_clinic
    copy = _copy(db, tmp_path, "forged-discharge")
    s_discharge_forged(copy, info)
    r = ok(cli("--db", str(copy), "report", "controlled", "--json"))
    entry = next(e for e in r.json["data"]["sessions"] if e["session_id"] == info["session"])
    assert entry["status"] == "closed" and entry["unaccounted_mg"] == 0
    assert entry["unverified"] is True and entry["discrepancy"] is True
    human = ok(cli("--db", str(copy), "report", "controlled"))
    assert "unaudited" in human.stdout


def test_the_chain_cannot_be_rebuilt_without_the_key(cli, tamper_clinic, tmp_path):
    """With the key missing, a rehashed copy is not 'verified': it is 'not verifiable'."""
    db, info = tamper_clinic
    copy = _copy(db, tmp_path, "keyless")
    key_file(copy).unlink()
    for args in (("audit", "--verify"), ("db", "check")):
        r = cli("--db", str(copy), *args)
        assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4)
        assert "chain not verifiable: clinic key missing" in r.stderr
    r = cli("--db", str(copy), "log-vitals", str(info["session"]), "--hr", "80")
    assert_error_shape(r.exit_code, r.stdout, r.stderr, expect=4)
    assert "writes refused" in r.stderr


def test_a_wrong_key_is_named(cli, tamper_clinic, tmp_path):
    db, _ = tamper_clinic
    copy = _copy(db, tmp_path, "wrongkey")
    key_file(copy).write_text("ketacli-clinic-key v1 " + "ab" * 32 + "\n")
    r = cli("--db", str(copy), "audit", "--verify", "--json")
    assert r.exit_code == 4 and r.json["error"]["code"] == "clinic_key_wrong"
    assert "wrong clinic key" in r.stderr


APPEND_ONLY = {
    "observations": "hr = 1", "assessments": "phq9_total = 0", "events": "detail = 'x'",
    "audit": "clinician = 'x'", "screenings": "weight_kg = 20", "sessions": "dose_mg = 1",
    "voids": "reason = 'x'",
}


@pytest.mark.parametrize("table", sorted(APPEND_ONLY))
def test_update_and_delete_are_refused_by_the_database(clinic, table):
    db, _ = clinic
    before = counts(db)
    digest = scalar(db, "SELECT group_concat(hash, '') FROM audit")
    con = _connect(db)
    refused = _integrity_errors(db)
    rowid = "id" if on_pg(db) else "rowid"
    try:
        with pytest.raises(Exception, match="append-only") as update:
            con.execute(f"UPDATE {table} SET {APPEND_ONLY[table]}")
        assert isinstance(update.value, refused)
        with pytest.raises(refused, match="append-only"):
            con.execute(f"DELETE FROM {table}")
        with pytest.raises(refused, match="append-only"):
            con.execute(f"DELETE FROM {table} WHERE {rowid} = (SELECT max({rowid}) FROM {table})")
        if on_pg(db):  # a server has one more way to empty a table
            with pytest.raises(refused, match="append-only"):
                con.execute(f"TRUNCATE {table} CASCADE")
    finally:
        con.close()
    assert counts(db) == before
    assert scalar(db, "SELECT group_concat(hash, '') FROM audit") == digest


def test_patients_and_followups_are_never_deleted(clinic):
    db, _ = clinic
    con = _connect(db)
    refused = _integrity_errors(db)
    try:
        with pytest.raises(refused, match="never deleted"):
            con.execute("DELETE FROM patients")
        with pytest.raises(refused, match="never deleted"):
            con.execute("DELETE FROM followups")
        if on_pg(db):
            for table in ("patients", "followups"):
                with pytest.raises(refused, match=r"append-only|never deleted"):
                    con.execute(f"TRUNCATE {table} CASCADE")
    finally:
        con.close()
    assert counts(db)["patients"] == 1


def _integrity_errors(db) -> tuple[type[BaseException], ...]:
    """What a refused change raises: a constraint failure on either engine."""
    if on_pg(db):
        from ketacli.store import pg

        return pg.integrity_errors()
    return (sqlite3.IntegrityError,)


# -- PostgreSQL's own ways around the guards (the attacker owns the tables) ------------------
PG_SCENARIOS = {
    "guard_trigger_disabled": (("ALTER TABLE observations DISABLE TRIGGER observations_no_update",),
                               "append_only"),
    # fires only in a session that says it is a replica: off for everyone else
    "guard_trigger_for_replicas_only": (
        ("ALTER TABLE audit ENABLE REPLICA TRIGGER audit_no_update",), "append_only"),
    "all_triggers_disabled": (("ALTER TABLE audit DISABLE TRIGGER USER",), "append_only"),
    "guard_function_replaced": (
        ("CREATE OR REPLACE FUNCTION ketacli_append_only() RETURNS trigger LANGUAGE plpgsql "
         "AS $$ BEGIN RETURN OLD; END $$",), "integrity"),
    "check_dropped": (("ALTER TABLE observations DROP CONSTRAINT IF EXISTS observations_spo2_check",),
                      "schema"),
    # a guard of the same name that never fires, or that calls a function doing nothing
    "guard_recreated_never_firing": (
        ("DROP TRIGGER sessions_no_update ON sessions",
         "CREATE TRIGGER sessions_no_update BEFORE UPDATE ON sessions FOR EACH ROW "
         "WHEN (false) EXECUTE FUNCTION ketacli_append_only()"), "append_only"),
    "guard_pointed_at_a_no_op": (
        ("CREATE FUNCTION ketacli_noop() RETURNS trigger LANGUAGE plpgsql "
         "AS $$ BEGIN RETURN NEW; END $$",
         "DROP TRIGGER audit_no_update ON audit",
         "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW "
         "EXECUTE FUNCTION ketacli_noop()"), "append_only"),
}


@pytest.mark.parametrize("name", sorted(PG_SCENARIOS))
def test_postgresql_guards_turned_off_are_detected(cli, tamper_clinic, tmp_path, name):
    if not on_pg():
        pytest.skip("PostgreSQL's ALTER TABLE / CREATE FUNCTION")
    db, _ = tamper_clinic
    copy = _copy(db, tmp_path, name)
    statements, failing = PG_SCENARIOS[name]
    _tamper(copy, *statements, drop=())
    check = cli("--db", str(copy), "db", "check", "--json")
    assert_error_shape(check.exit_code, check.stdout, check.stderr, expect=4, json_out=True)
    failed = {c["name"] for c in check.json["error"]["details"] if not c["ok"]}
    assert failing in failed, check.stdout
    human = cli("--db", str(copy), "db", "check")
    assert human.exit_code == 4 and f"{failing}: " in human.stderr, human.stderr
