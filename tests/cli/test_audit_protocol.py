"""`audit`, `protocol show` and the global options (--db, --clinician, --tz, --protocol)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import CONTRACT_DEFAULTS, assert_one_error, error_lines, query

from ketacli import __version__
from ketacli.clock import CLOCK
from ketacli.store import migrations

# A new database starts with one 'migrate' audit row per schema migration.
M = migrations.LATEST


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- audit ------------------------------------------------------------------------------
AUDIT_KEYS = {"audit_id", "at", "clinician", "os_user", "action", "entity", "entity_id",
              "patient", "detail", "hash"}


@pytest.fixture
def history(cli, db_path):
    """Audit rows on three clinic days (America/Chicago is UTC-6 in late November).

    1..M  migrate   2026-11-20 16:00Z (M = migrations.LATEST)
    M+1   create A  2026-11-20 16:00Z
    M+2   create B  2026-11-25 05:30Z = 2026-11-24 23:30 in Chicago
    M+3   create A2 2026-11-25 06:30Z = 2026-11-25 00:30 in Chicago
    """
    for when, mrn in ((utc(2026, 11, 20, 16), "A-1"), (utc(2026, 11, 25, 5, 30), "B-1"),
                      (utc(2026, 11, 25, 6, 30), "A-2")):
        CLOCK.pin(when)
        r = cli("patient", "add", mrn, "--name", f"Person {mrn}")
        assert r.exit_code == 0, r.stderr
    CLOCK.pin(utc(2026, 11, 27, 15))
    return db_path


def test_audit_lists_every_row_in_order(cli, history):
    r = cli("audit", "--json")
    assert r.exit_code == 0, r.stderr
    rows = r.json["data"]
    assert [row["audit_id"] for row in rows] == list(range(1, M + 4))
    assert all(set(row) == AUDIT_KEYS for row in rows)
    assert [row["action"] for row in rows] == ["migrate"] * M + ["create", "create", "create"]
    assert [row["patient"] for row in rows] == [None] * M + ["A-1", "B-1", "A-2"]
    assert rows[M]["entity"] == "patient" and rows[M]["entity_id"] == 1
    assert rows[M]["clinician"] == "nurse.test"
    assert rows[M]["at"] == "2026-11-20T16:00:00+00:00"
    assert rows[0]["detail"]["description"].startswith("initial schema")
    assert all(len(row["hash"]) == 64 for row in rows)


def test_audit_patient_filter(cli, history):
    r = cli("audit", "--patient", "A-1", "--json")
    assert r.exit_code == 0, r.stderr
    assert [(row["audit_id"], row["patient"]) for row in r.json["data"]] == [(M + 1, "A-1")]
    r = cli("audit", "--patient", "NOBODY", "--json")
    assert r.exit_code == 0
    assert r.json["data"] == []


def test_audit_since_is_a_clinic_day(cli, history):
    r = cli("audit", "--since", "2026-11-25", "--json")
    assert r.exit_code == 0, r.stderr
    # 05:30Z on the 25th is still the 24th in Chicago: excluded
    assert [row["audit_id"] for row in r.json["data"]] == [M + 3]
    r = cli("audit", "--since", "2026-11-24", "--json")
    assert [row["audit_id"] for row in r.json["data"]] == [M + 2, M + 3]
    r = cli("--tz", "UTC", "audit", "--since", "2026-11-25", "--json")
    assert [row["audit_id"] for row in r.json["data"]] == [M + 2, M + 3]


def test_audit_filters_combine_and_limit_keeps_the_latest(cli, history):
    r = cli("audit", "--patient", "A-2", "--since", "2026-11-25", "--json")
    assert [row["audit_id"] for row in r.json["data"]] == [M + 3]
    r = cli("audit", "--patient", "A-1", "--since", "2026-11-25", "--json")
    assert r.json["data"] == []
    r = cli("audit", "--limit", "2", "--json")
    assert [row["audit_id"] for row in r.json["data"]] == [M + 2, M + 3]


def test_audit_human_view(cli, history):
    r = cli("audit")
    assert r.exit_code == 0, r.stderr
    assert f"Audit log ({M + 3} rows)" in r.stdout
    assert "2026-11-20 10:00" in r.stdout  # 16:00Z shown in the clinic zone
    assert "B-1" in r.stdout
    assert "Person" not in r.stdout  # the log names patients by MRN only


@pytest.mark.parametrize("args", [["--patient", "bad mrn!"], ["--since", "2026/11/01"],
                                  ["--since", "2026-02-30"], ["--limit", "0"]])
def test_audit_bad_input_exits_2(cli, history, args):
    assert_one_error(cli("audit", *args), 2)


def test_audit_verify_json(cli, history):
    r = cli("audit", "--verify", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json == {"data": {"verified": True, "rows": M + 3}}
    r = cli("audit", "--verify")
    assert r.exit_code == 0
    assert f"Audit chain intact: {M + 3} rows." in r.stdout


def test_audit_on_a_missing_database_exits_4(cli, db_path):
    assert_one_error(cli("audit"), 4)
    assert_one_error(cli("audit", "--verify"), 4)
    assert not db_path.exists()


def test_clinician_option_is_recorded(cli, db_path, monkeypatch):
    r = cli("--clinician", "dr.house", "patient", "add", "C-1", "--name", "Some One")
    assert r.exit_code == 0, r.stderr
    assert query(db_path, "SELECT created_by FROM patients") == [("dr.house",)]
    assert query(db_path, "SELECT clinician FROM audit WHERE patient = 'C-1'") == [("dr.house",)]
    monkeypatch.setenv("KETACLI_CLINICIAN", "dr.env")
    assert cli("patient", "add", "C-2", "--name", "Other One").exit_code == 0
    assert query(db_path, "SELECT clinician FROM audit WHERE patient = 'C-2'") == [("dr.env",)]


def test_bad_clinician_exits_2(cli, db_path):
    r = cli("--clinician", "x\x1b[2J", "patient", "add", "C-1", "--name", "Some One")
    assert_one_error(r, 2)
    assert not db_path.exists() or query(db_path, "SELECT count(*) FROM patients") == [(0,)]


# -- protocol show ---------------------------------------------------------------------------
# CONTRACT_DEFAULTS (helpers): the contract's defaults, transcribed from docs/cli-contract.md.
def test_protocol_defaults_equal_the_contract(cli, db_path):
    r = cli("protocol", "show", "--json")
    assert r.exit_code == 0, r.stderr
    proto = r.json["data"]["protocol"]
    assert proto["dose"]["max_mg_per_kg"] == 1.0
    assert proto["alerts"]["spo2_low"] == [94, 90]
    assert proto["discharge"]["min_aldrete"] == 9
    assert proto["schedule"]["induction_sessions"] == 6
    assert proto == CONTRACT_DEFAULTS
    sources = r.json["data"]["sources"]
    assert set(sources) == {f"{s}.{k}" for s, sec in CONTRACT_DEFAULTS.items() for k in sec}
    assert set(sources.values()) == {"built-in"}
    assert not db_path.exists()  # showing the protocol needs no database


def test_protocol_show_human(cli):
    r = cli("protocol", "show")
    assert r.exit_code == 0, r.stderr
    flat = " ".join(r.stdout.split())
    for text in ("dose.max_mg_per_kg", "alerts.spo2_low", "[94, 90]", "built-in",
                 "not medical advice", "*_low keys alert when the value is < the threshold"):
        assert text in flat, text


@pytest.fixture
def proto_file(tmp_path):
    def write(text: str, name: str = "clinic.toml"):
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def test_protocol_override_by_option(cli, proto_file):
    path = proto_file("[dose]\nmax_mg_per_kg = 1.5\n\n[alerts]\nspo2_low = [92, 88]\n"
                      "[discharge]\nmin_aldrete = 8\n")
    r = cli("--protocol", path, "protocol", "show", "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json["data"]
    assert data["protocol"]["dose"]["max_mg_per_kg"] == 1.5
    assert data["protocol"]["alerts"]["spo2_low"] == [92, 88]
    assert data["protocol"]["discharge"]["min_aldrete"] == 8
    assert data["sources"]["dose.max_mg_per_kg"] == str(path)
    assert data["sources"]["alerts.spo2_low"] == str(path)
    # untouched keys keep their built-in value and source
    assert data["protocol"]["dose"]["default_mg_per_kg"] == 0.5
    assert data["sources"]["dose.default_mg_per_kg"] == "built-in"
    assert data["protocol"]["schedule"] == CONTRACT_DEFAULTS["schedule"]


def test_protocol_override_by_environment(cli, proto_file, monkeypatch):
    path = proto_file("[schedule]\ninduction_sessions = 4\n")
    monkeypatch.setenv("KETACLI_PROTOCOL", str(path))
    r = cli("protocol", "show", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json["data"]["protocol"]["schedule"]["induction_sessions"] == 4
    assert r.json["data"]["sources"]["schedule.induction_sessions"] == str(path)
    human = cli("protocol", "show")
    row = next(line for line in human.stdout.splitlines() if "induction_sessions" in line)
    assert " 4 " in row


def test_protocol_whole_number_accepted_for_a_decimal_key(cli, proto_file):
    r = cli("--protocol", proto_file("[dose]\nmax_mg_per_kg = 2\n"), "protocol", "show", "--json")
    assert r.exit_code == 0, r.stderr
    value = r.json["data"]["protocol"]["dose"]["max_mg_per_kg"]
    assert value == 2.0 and isinstance(value, float)


@pytest.mark.parametrize(("text", "named"), [
    ("[dose]\nmax_mg_per_kgs = 1.0\n", "dose.max_mg_per_kgs"),
    ("[alerts]\nspo2 = [94, 90]\n", "alerts.spo2"),
    ("[dosing]\nmax_mg_per_kg = 1.0\n", "[dosing]"),
    ("max_mg_per_kg = 1.0\n", "max_mg_per_kg"),
])
def test_protocol_unknown_key_or_section_exits_2(cli, proto_file, text, named):
    r = cli("--protocol", proto_file(text), "protocol", "show", "--json")
    assert_one_error(r, 2)
    assert named in error_lines(r.stderr)[0]
    assert r.json["error"]["code"] == "protocol_invalid"


@pytest.mark.parametrize(("text", "named"), [
    ('[dose]\nmax_mg_per_kg = "high"\n', "dose.max_mg_per_kg"),
    ("[dose]\nmax_mg_per_kg = 0\n", "dose.max_mg_per_kg"),
    ("[dose]\nmax_mg_per_kg = true\n", "dose.max_mg_per_kg"),
    ("[alerts]\nsbp = [160, 180, 200]\n", "alerts.sbp"),
    ("[alerts]\nsbp = 160\n", "alerts.sbp"),
    ('[infusion]\nhold_bp = ["160", "100"]\n', "infusion.hold_bp"),
    ("[discharge]\nmin_aldrete = 8.5\n", "discharge.min_aldrete"),
    ("[discharge]\nmin_aldrete = -1\n", "discharge.min_aldrete"),
    ('[screening]\nreview_meds = "maoi"\n', "screening.review_meds"),
    ("[screening]\nreview_meds = [1, 2]\n", "screening.review_meds"),
    ("[alerts]\nspo2_low = [88, 92]\n", "alerts.spo2_low"),  # warning below critical
    ("[alerts]\nsbp = [180, 160]\n", "alerts.sbp"),  # warning above critical
    ("[dose]\ndefault_mg_per_kg = 1.5\n", "dose.default_mg_per_kg"),  # above the max
    ("dose = 5\n", "[dose]"),
])
def test_protocol_wrong_type_exits_2_naming_the_key(cli, proto_file, text, named):
    r = cli("--protocol", proto_file(text), "protocol", "show")
    assert_one_error(r, 2)
    assert named in error_lines(r.stderr)[0]
    assert r.stdout == ""


@pytest.mark.parametrize("text", ["[dose\nmax_mg_per_kg = 1\n", "\xff\xfe"])
def test_protocol_unreadable_file_exits_2(cli, tmp_path, text):
    path = tmp_path / "broken.toml"
    path.write_bytes(text.encode("latin-1"))
    r = cli("--protocol", path, "protocol", "show")
    assert_one_error(r, 2)
    assert "protocol file" in r.stderr


def test_protocol_missing_file_exits_2(cli, tmp_path):
    r = cli("--protocol", tmp_path / "nope.toml", "protocol", "show")
    assert_one_error(r, 2)
    assert "not found" in r.stderr


# -- global options -----------------------------------------------------------------------
def test_global_db_option_before_the_command(cli, db_path, tmp_path):
    other = tmp_path / "other.db"
    r = cli("--db", other, "patient", "add", "G-1", "--name", "Gus Global")
    assert r.exit_code == 0, r.stderr
    r = cli("--db", other, "patient", "list", "--json")
    assert r.exit_code == 0, r.stderr
    assert [p["mrn"] for p in r.json["data"]] == ["G-1"]
    assert other.exists()
    assert not db_path.exists()  # KETACLI_DB was not used
    # several global options together, in any order
    r = cli("--tz", "UTC", "--clinician", "dr.x", "--db", other, "patient", "list", "--json")
    assert r.exit_code == 0
    assert len(r.json["data"]) == 1


def test_global_option_after_the_command_is_a_usage_error(cli, tmp_path):
    r = cli("patient", "list", "--db", tmp_path / "other.db")
    assert_one_error(r, 2)
    assert not (tmp_path / "other.db").exists()


@pytest.mark.parametrize("how", ["option", "env"])
def test_bad_tz_exits_2_and_stores_nothing(cli, db_path, monkeypatch, how):
    args = ["patient", "add", "T-1", "--name", "Tina Zone"]
    if how == "option":
        args = ["--tz", "Mars/Olympus_Mons", *args]
    else:
        monkeypatch.setenv("KETACLI_TZ", "Mars/Olympus_Mons")
    r = cli(*args)
    assert_one_error(r, 2)
    assert "time zone" in r.stderr
    assert not db_path.exists()


def test_bad_tz_on_a_view_exits_2(cli):
    assert cli("patient", "add", "T-1", "--name", "Tina Zone").exit_code == 0
    assert_one_error(cli("--tz", "Not/AZone", "patient", "list"), 2)
    assert_one_error(cli("--tz", "Not/AZone", "audit", "--since", "2026-11-01"), 2)


def test_version_and_help(cli):
    r = cli("--version")
    assert r.exit_code == 0
    assert r.stdout.strip() == f"ketacli {__version__}"
    r = cli("--help")
    assert r.exit_code == 0
    for word in ("patient", "db", "audit", "protocol", "--db", "--tz"):
        assert word in r.stdout
    r = cli()
    assert r.exit_code == 0
    assert "patient" in r.stdout
