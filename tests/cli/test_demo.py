"""`demo`: the synthetic clinic obeys every rule the commands enforce (checked from the
stored rows), and a demo database is a sandbox (`demo --remove`, real patients refused,
an interrupted demo completed)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

import pytest
from helpers import FIXED_NOW, counts, ok, on_pg, query, scalar
from infusion_support import assert_error

from ketacli.domain import infusion, ledger
from ketacli.domain.sandbox import REFUSAL

MEASURES = ("sbp", "dbp", "hr", "spo2", "rr", "etco2", "moaas", "dissociation")
BIG = ("demo", "--patients", "60", "--seed", "5")


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory, engine):
    """A 60-patient demo clinic (enough for pauses, rate changes and a stop), built once."""
    from helpers import CLINIC_TZ, FIXED_NOW, Run

    from ketacli.clock import CLOCK

    path = tmp_path_factory.mktemp("demo-rules") / "demo.db"
    mp = pytest.MonkeyPatch()
    mp.setenv("KETACLI_DB", str(path))
    mp.setenv("KETACLI_TZ", CLINIC_TZ)
    CLOCK.pin(FIXED_NOW)
    try:
        ok(Run()(*BIG, "--json"))
        fhir = json.loads(ok(Run()("export", "all", "--format", "fhir")).stdout)
    finally:
        CLOCK.pin(None)
        mp.undo()
    return path, fhir


def _sessions(db):
    rows = query(db, """SELECT s.id, s.started_at, s.dose_mg, s.rate_mg_per_h, s.drawn_mg,
                               d.at, d.infusion_end_at, d.delivered_mg, d.wasted_mg
                        FROM sessions s LEFT JOIN discharges d ON d.session_id = s.id""")
    return {r[0]: r[1:] for r in rows}


def _events(db) -> dict[int, list[tuple[str, str, float | None]]]:
    out: dict[int, list] = defaultdict(list)
    for sid, kind, at, rate in query(db, "SELECT session_id, kind, at, rate_mg_per_h FROM events "
                                         "ORDER BY at, id"):
        out[sid].append((kind, at, rate))
    return out


def test_the_demo_shows_the_pump_events(clinic):
    db, _ = clinic
    kinds = {k for (k,) in query(db, "SELECT DISTINCT kind FROM events")}
    assert {"pause", "resume", "rate-change", "stop"} <= kinds


def test_no_reading_after_the_discharge_and_each_inside_its_session(clinic):
    db, _ = clinic
    sessions = _sessions(db)
    for sid, phase, at in query(db, "SELECT session_id, phase, at FROM observations"):
        started, left = sessions[sid][0], sessions[sid][4]
        assert _t(at) >= _t(started), (sid, at)
        if left is not None:
            assert _t(at) <= _t(left), (sid, at)
            assert (phase == "discharge") == (at == left), (sid, phase, at)
        else:  # in the chair: the reading of this very moment is the nurse's to take
            assert _t(at) < FIXED_NOW, (sid, at)


def test_never_two_values_of_one_measure_at_one_instant(clinic):
    db, _ = clinic
    seen: dict[tuple, set] = defaultdict(set)
    cols = ", ".join(MEASURES)
    for sid, at, *values in query(db, f"SELECT session_id, at, {cols} FROM observations"):
        for measure, v in zip(MEASURES, values, strict=True):
            if v is not None:
                seen[sid, at, measure].add(v)
    assert seen and all(len(v) == 1 for v in seen.values())


def test_no_event_after_a_stop(clinic):
    db, _ = clinic
    stops = 0
    for sid, evs in _events(db).items():
        kinds = [k for k, _, _ in evs]
        if "stop" in kinds:
            stops += 1
            assert kinds[-1] == "stop" and kinds.count("stop") == 1, (sid, evs)
    assert stops


def test_the_pump_model_sets_the_end_the_phases_and_the_dose(clinic):
    """Pauses and rate changes move the end later; a reading after the real end is
    `post`; the discharge's end and delivered dose are the pump's."""
    db, _ = clinic
    events = _events(db)
    courses = {}
    for sid, (started, dose, rate, drawn, left, end_at, delivered, wasted) in _sessions(db).items():
        evs = [infusion.Event(k, _t(at), r) for k, at, r in events.get(sid, [])]
        course = infusion.course(_t(started), dose, rate, evs)
        courses[sid] = course
        if left is None:
            continue
        assert _t(end_at) == course.end_at.replace(microsecond=0), sid
        assert delivered == ledger.mg(course.delivered_mg), sid
        assert ledger.mg(delivered + wasted) <= drawn, sid
        if any(e.kind in ("pause", "rate-change") for e in evs) and not course.stopped_early:
            assert course.end_at > _t(started).replace() + _planned(dose, rate), sid
    for sid, phase, at in query(db, "SELECT session_id, phase, at FROM observations "
                                    "WHERE phase IN ('intra', 'post')"):
        assert phase == courses[sid].phase_at(_t(at), may_resume=True), (sid, phase, at)
    assert scalar(db, "SELECT count(*) FROM observations WHERE phase = 'post'") > 0


def _planned(dose, rate):
    from datetime import timedelta

    return timedelta(hours=dose / rate)


def test_every_fhir_observation_lies_within_its_encounter(clinic):
    _, bundle = clinic
    resources = [e["resource"] for e in bundle["entry"]]
    periods = {r["id"]: r["period"] for r in resources if r["resourceType"] == "Encounter"}
    checked = 0
    for r in resources:
        if r["resourceType"] != "Observation" or "encounter" not in r:
            continue
        ref = r["encounter"]["reference"]  # Encounter/ID or, in a Bundle, urn:uuid:ID
        period = periods[ref.rsplit("/", 1)[-1].removeprefix("urn:uuid:")]
        when = _t(r["effectiveDateTime"])
        assert _t(period["start"]) <= when, r["id"]
        if "end" in period:
            assert when <= _t(period["end"]), r["id"]
        checked += 1
    assert checked > 1000


def test_every_record_is_sealed_and_audited(clinic):
    db, _ = clinic
    for table, entity in (("sessions", "session"), ("observations", "observation"),
                          ("events", "event"), ("assessments", "assessment"),
                          ("screenings", "screening")):
        unaudited = scalar(db, f"""SELECT count(*) FROM {table} t WHERE NOT EXISTS (
            SELECT 1 FROM audit a WHERE a.entity = '{entity}' AND a.entity_id = t.id
            AND a.detail LIKE '%row_sha256%')""")
        assert unaudited == 0, table


# -- the sandbox -------------------------------------------------------------------------
ARGS = ("demo", "--seed", "1", "--patients", "12")


def test_a_demo_database_refuses_real_patients(cli, db_path):
    ok(cli(*ARGS))
    before = counts(db_path)
    for args in (("patient", "add", "REAL-1", "--name", "Real Person"),
                 ("screen", "REAL-2", "--name", "Real Person", "--weight", "80", "--bp",
                  "120/80", "--hr", "70")):
        for json_out in (False, True):
            r = cli(*args, *(["--json"] if json_out else []))
            assert_error(r, 3, json_out=json_out)
            if json_out:
                assert r.json["error"]["code"] == "demo_database"
                assert r.json["error"]["message"] == REFUSAL
            else:
                assert r.stderr.splitlines()[0] == f"error: {REFUSAL}"
            assert "Real Person" not in r.stderr
    assert counts(db_path) == before


def test_a_demo_patient_may_join_the_demo(cli, db_path):
    ok(cli(*ARGS))
    ok(cli("patient", "add", "DEMO-90001", "--name", "Extra Demo"))
    assert scalar(db_path, "SELECT demo FROM patients WHERE mrn = 'DEMO-90001'") == 1


def test_a_real_clinic_takes_real_patients(cli, db_path):
    ok(cli("patient", "add", "REAL-1", "--name", "Real Person"))
    ok(cli("patient", "add", "REAL-2", "--name", "Other Person"))
    assert scalar(db_path, "SELECT count(*) FROM patients WHERE demo = 0") == 2


def test_demo_remove_deletes_the_demo_database(cli, db_path):
    ok(cli(*ARGS))
    r = ok(cli("demo", "--remove", "--json"))
    assert r.json["data"]["database"] == str(db_path)
    if on_pg():  # the server's database stays, without the ketacli schema; its key goes
        assert r.json["data"]["removed"] == [str(db_path.key)]
        assert not db_path.exists() and not db_path.key.exists()
    else:
        assert str(db_path) in r.json["data"]["removed"]
        for suffix in ("", "-wal", "-shm", ".key"):  # the demo's own key too: a clinic made
            assert not db_path.with_name(db_path.name + suffix).exists()  # here gets a new one
    ok(cli("patient", "add", "REAL-1", "--name", "Real Person"))  # a fresh database


def test_demo_remove_keeps_a_key_file_kept_elsewhere(cli, db_path, tmp_path, monkeypatch):
    key = tmp_path / "secure" / "clinic.key"
    key.parent.mkdir()
    monkeypatch.setenv("KETACLI_KEY_FILE", str(key))
    ok(cli(*ARGS))
    ok(cli("demo", "--remove"))
    assert key.exists() and not db_path.exists()


def test_demo_remove_refuses_a_real_clinic(cli, db_path):
    ok(cli("patient", "add", "REAL-1", "--name", "Real Person"))
    before = counts(db_path)
    r = cli("demo", "--remove")
    assert_error(r, 3)
    assert db_path.exists() and counts(db_path) == before


def test_demo_remove_needs_a_database(cli, db_path):
    r = cli("demo", "--remove")
    assert_error(r, 4)
    assert not db_path.exists()


def test_an_interrupted_demo_is_completed_as_if_never_interrupted(cli, db_path, other_db,
                                                                   monkeypatch):
    """A demo killed after its first batch: `demo` again completes the same clinic."""
    from ketacli import demo as gen

    real = gen.patient

    def killed_at_30(c, plan, index):
        if index == 30:  # inside the second batch: it is rolled back, the first is kept
            raise KeyboardInterrupt
        real(c, plan, index)

    monkeypatch.setattr(gen, "patient", killed_at_30)
    assert cli("demo", "--patients", "40", "--seed", "3").exit_code == 130
    monkeypatch.setattr(gen, "patient", real)
    assert scalar(db_path, "SELECT count(*) FROM patients") == 25
    r = ok(cli("demo", "--json"))  # whatever is asked, the interrupted plan is completed
    assert r.stderr.startswith("warning: completing the interrupted demo clinic: 25 of 40")
    assert r.json["data"]["created_patients"] == 15
    whole = other_db
    ok(cli("--db", whole, "demo", "--patients", "40", "--seed", "3"))
    assert counts(db_path) == counts(whole)
    for sql in ("SELECT mrn, name FROM patients ORDER BY id",
                "SELECT started_at, dose_mg FROM sessions ORDER BY id",
                "SELECT session_id, at, sbp FROM observations ORDER BY id"):
        assert query(db_path, sql) == query(whole, sql)
    ok(cli("db", "check"))
