"""`demo`: a deterministic synthetic clinic built through the same rules and tables."""

from __future__ import annotations

import pytest
from helpers import counts, ok, query, scalar
from infusion_support import assert_error

ARGS = ("demo", "--seed", "1", "--patients", "12")


@pytest.fixture
def demo_db(cli, db_path):
    r = ok(cli(*ARGS, "--json"))
    return r.json["data"]


def test_demo_fills_a_clinic(cli, db_path, demo_db):
    assert demo_db["created_patients"] == 12
    c = counts(db_path)
    assert c["patients"] == 12
    mrns = [m for (m,) in query(db_path, "SELECT mrn FROM patients")]
    assert all(m.startswith("DEMO-") for m in mrns)
    assert scalar(db_path, "SELECT count(*) FROM patients WHERE demo = 1") == 12
    decisions = {d for (d,) in query(db_path, "SELECT decision FROM screenings")}
    assert decisions & {"needs-review", "ineligible"}
    assert "eligible" in decisions
    # someone completed the induction series of six
    assert scalar(db_path, "SELECT max(number_in_series) FROM sessions") >= 6
    assert scalar(db_path, "SELECT max(n) FROM (SELECT count(*) AS n FROM sessions "
                           "GROUP BY patient_id) AS per_patient") >= 6
    assert c["assessments"] > 0 and c["observations"] > c["sessions"] > 0
    assert c["discharges"] > 0 and c["followups"] > 0
    # alerts and side effects appear, as a new user should see them
    assert scalar(db_path, "SELECT count(*) FROM observations WHERE alerts != '[]'") > 0


def test_demo_human_output(cli, db_path):
    r = ok(cli(*ARGS))
    assert "Demo clinic" in r.stdout
    assert all(len(line) <= 80 for line in r.stdout.splitlines())


def test_demo_sessions_render(cli, demo_db):
    example = demo_db["example_session"]
    assert example is not None and example["patient"].startswith("DEMO-")
    r = ok(cli("summary", example["session_id"]))
    assert "discharged" in r.stdout
    assert "! " in r.stdout  # the example session is one with an alert
    assert all(len(line) <= 80 for line in r.stdout.splitlines())
    s = ok(cli("summary", example["session_id"], "--json")).json["data"]
    assert s["monitoring"]["bp_pre"] is not None


def test_same_seed_same_clinic(cli, db_path, other_db):
    ok(cli(*ARGS))
    other = other_db
    ok(cli("--db", other, *ARGS))
    assert counts(db_path) == counts(other)
    for sql in ("SELECT mrn, name, dob, sex FROM patients ORDER BY id",
                "SELECT decision, phq9_total FROM screenings ORDER BY id",
                "SELECT number_in_series, started_at, dose_mg FROM sessions ORDER BY id"):
        assert query(db_path, sql) == query(other, sql)


def test_a_different_seed_gives_another_clinic(cli, db_path, tmp_path):
    ok(cli(*ARGS))
    other = tmp_path / "other.db"
    ok(cli("--db", other, "demo", "--seed", "2", "--patients", "12"))
    sql = "SELECT name, dob FROM patients ORDER BY id"
    assert query(db_path, sql) != query(other, sql)


def test_demo_refuses_a_real_clinic(cli, db_path):
    ok(cli("patient", "add", "REAL-1", "--name", "Real Person"))
    before = counts(db_path)
    r = cli(*ARGS, "--json")
    assert_error(r, 3, json_out=True)
    assert r.json["error"]["code"] == "database_not_demo"
    assert "Real Person" not in r.stderr
    assert counts(db_path) == before


def test_demo_twice_adds_nothing(cli, db_path, demo_db):
    before = counts(db_path)
    r = ok(cli(*ARGS, "--json"))
    assert r.json["data"]["created_patients"] == 0
    assert r.stderr.startswith("warning:")
    assert counts(db_path) == before


def test_checks_pass_after_demo(cli, demo_db):
    r = ok(cli("db", "check", "--json"))
    assert r.json["data"]["ok"] is True
    r = ok(cli("audit", "--verify"))
    assert "intact" in r.stdout


def test_demo_patients_can_be_treated_further(cli, db_path, demo_db):
    """The demo builds the same records as the commands: the CLI carries on from them."""
    open_ = demo_db["open_sessions"]
    if not open_:
        pytest.skip("this seed leaves no patient in the chair")
    sid = open_[0]["session_id"]
    r = ok(cli("log-vitals", sid, "--bp", "142/88", "--hr", "84", "--json"))
    assert r.json["data"]["session_id"] == sid
    ok(cli("db", "check"))
