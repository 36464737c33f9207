"""`patient add | list | show` through the CLI: results, refusals, errors, privacy."""

from __future__ import annotations

import pytest
from helpers import assert_no_pii, assert_one_error, counts, error_lines, query

NAME = "Zelda Quixote"  # distinctive, so a leak into stderr cannot be a coincidence


@pytest.fixture
def seeded(cli, db_path):
    """A database holding one patient (so "nothing stored" is a real comparison)."""
    r = cli("patient", "add", "SEED-1", "--name", "Seed Patient")
    assert r.exit_code == 0, r.stderr
    return counts(db_path)


# -- add / list / show ----------------------------------------------------------
def test_add_stores_the_patient_and_an_audit_row(cli, db_path):
    r = cli("patient", "add", "MRN-1", "--name", NAME, "--dob", "1980-03-02", "--sex", "f",
            "--phone", "+1 (312) 555-0100")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == f"Added patient {NAME} (MRN-1)."  # the patient named
    assert r.stderr == f"note: created a new database at {db_path}\n"

    rows = query(db_path, "SELECT mrn, name, dob, sex, phone, demo, created_at, created_by "
                          "FROM patients")
    assert rows == [("MRN-1", NAME, "1980-03-02", "F", "+1 (312) 555-0100", 0,
                     "2026-11-27T15:00:00+00:00", "nurse.test")]
    audit = query(db_path, "SELECT action, entity, entity_id, patient, clinician FROM audit "
                           "WHERE entity = 'patient'")
    assert audit == [("create", "patient", 1, "MRN-1", "nurse.test")]


def test_add_json_keys_and_defaults(cli):
    r = cli("patient", "add", "MRN-2", "--name", "  Bo Li  ", "--json")
    assert r.exit_code == 0, r.stderr
    assert set(r.json) == {"data"}
    data = r.json["data"]
    assert set(data) == {"mrn", "name", "dob", "sex", "phone", "address", "demo", "created_at"}
    assert data == {"mrn": "MRN-2", "name": "Bo Li", "dob": None, "sex": "U", "phone": None,
                    "address": None, "demo": False, "created_at": "2026-11-27T15:00:00+00:00"}


def test_list_human_and_json(cli):
    for mrn, name in (("B-2", "Bea Two"), ("A-1", "Al One")):
        assert cli("patient", "add", mrn, "--name", name, "--sex", "M").exit_code == 0

    r = cli("patient", "list")
    assert r.exit_code == 0, r.stderr
    assert "Patients (2)" in r.stdout
    assert "A-1" in r.stdout and "Al One" in r.stdout
    assert "B-2" in r.stdout and "Bea Two" in r.stdout
    assert r.stdout.index("A-1") < r.stdout.index("B-2")  # sorted by MRN

    r = cli("patient", "list", "--json")
    assert r.exit_code == 0, r.stderr
    rows = r.json["data"]
    assert [p["mrn"] for p in rows] == ["A-1", "B-2"]
    assert set(rows[0]) == {"mrn", "name", "dob", "sex", "phone", "address", "demo", "created_at",
                            "sessions", "last_session", "pending_followups"}
    assert rows[0]["sessions"] == 0
    assert rows[0]["last_session"] is None
    assert rows[0]["pending_followups"] == 0


def test_list_empty_database(cli, seeded, tmp_path):
    r = cli("--db", tmp_path / "empty.db", "db", "migrate")
    assert r.exit_code == 0, r.stderr
    r = cli("--db", tmp_path / "empty.db", "patient", "list", "--json")
    assert r.exit_code == 0
    assert r.json == {"data": []}
    r = cli("--db", tmp_path / "empty.db", "patient", "list")
    assert r.exit_code == 0
    assert "Patients (0)" in r.stdout
    assert "No patients yet" in r.stdout


def test_show_human_and_json(cli):
    cli("patient", "add", "MRN-3", "--name", NAME, "--dob", "1975-12-31", "--phone", "312 555 0101")
    r = cli("patient", "show", "MRN-3")
    assert r.exit_code == 0, r.stderr
    for text in ("Patient MRN-3", NAME, "1975-12-31", "312 555 0101", "No screening recorded."):
        assert text in r.stdout

    r = cli("patient", "show", "MRN-3", "--json")
    assert r.exit_code == 0
    data = r.json["data"]
    assert set(data) == {"patient", "changes", "screenings", "assessments", "suicide_risk",
                         "sessions", "pending_followups"}
    assert data["changes"] == [] and data["assessments"] == [] and data["suicide_risk"] is None
    assert data["patient"]["mrn"] == "MRN-3"
    assert data["patient"]["dob"] == "1975-12-31"
    assert data["screenings"] == [] and data["sessions"] == [] and data["pending_followups"] == []


def test_show_unknown_patient_exits_3(cli, seeded):
    r = cli("patient", "show", "NOPE-1")
    assert_one_error(r, 3)
    assert "NOPE-1" in r.stderr
    r = cli("patient", "show", "NOPE-1", "--json")
    assert r.exit_code == 3
    assert r.json["error"]["code"] == "patient_not_found"


def test_mrn_boundaries_are_accepted(cli, db_path):
    for mrn in ("A", "a" * 32, "Z-9_x"):
        r = cli("patient", "add", mrn, "--name", "Edge Case")
        assert r.exit_code == 0, (mrn, r.stderr)
    assert query(db_path, "SELECT count(*) FROM patients")[0][0] == 3


def test_mrns_are_unique_without_regard_to_case(cli, db_path):
    assert cli("patient", "add", "abc", "--name", "One").exit_code == 0
    r = cli("patient", "add", "ABC", "--name", "Two")
    assert_one_error(r, 3)
    assert "already exists (as abc" in r.stderr and "Two" not in r.stderr
    assert counts(db_path)["patients"] == 1


# -- conflicts and invalid input --------------------------------------------------
def test_duplicate_mrn_exits_3_and_stores_nothing(cli, db_path, seeded):
    r = cli("patient", "add", "SEED-1", "--name", NAME)
    assert_one_error(r, 3)
    assert "SEED-1" in r.stderr and "already exists" in r.stderr
    assert counts(db_path) == seeded
    assert query(db_path, "SELECT name FROM patients") == [("Seed Patient",)]


@pytest.mark.parametrize("mrn", ["bad mrn!", "A" * 33, "", "M1\n", "Ré-1", "a/b", "a.b", " M1"])
def test_bad_mrn_exits_2_and_stores_nothing(cli, db_path, seeded, mrn):
    r = cli("patient", "add", mrn, "--name", NAME)
    assert_one_error(r, 2)
    assert "MRN" in r.stderr
    assert counts(db_path) == seeded


@pytest.mark.parametrize("mrn", ["bad mrn!", "A" * 33, "M1\n"])
def test_bad_mrn_on_show_exits_2(cli, seeded, mrn):
    assert_one_error(cli("patient", "show", mrn), 2)


@pytest.mark.parametrize("dob", ["1980-13-01", "03/02/1980", "2026-11-28", "1980-02-30",
                                 "1899-12-31", "1980-1-2", "yesterday"])
def test_bad_dob_exits_2_and_stores_nothing(cli, db_path, seeded, dob):
    r = cli("patient", "add", "MRN-1", "--name", NAME, "--dob", dob)
    assert_one_error(r, 2)
    assert "--dob" in r.stderr
    # a date of birth, even a mistyped one, is patient data: never echoed in an error
    assert dob not in r.stderr
    assert counts(db_path) == seeded


def test_dob_today_in_the_clinic_zone_is_accepted(cli):
    # 15:00 UTC is 09:00 in Chicago: today is 2026-11-27 there
    r = cli("patient", "add", "NEWBORN", "--name", "Baby", "--dob", "2026-11-27", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json["data"]["dob"] == "2026-11-27"


def test_dob_future_is_judged_in_the_clinic_zone(cli, monkeypatch):
    # at 15:00 UTC it is already 2026-11-28 in Tokyo: a dob of that day is not in the future
    monkeypatch.setenv("KETACLI_TZ", "Asia/Tokyo")
    r = cli("patient", "add", "TOKYO-1", "--name", "Baby", "--dob", "2026-11-28")
    assert r.exit_code == 0, r.stderr


@pytest.mark.parametrize("sex", ["Q", "female", "", "FM"])
def test_bad_sex_exits_2(cli, db_path, seeded, sex):
    r = cli("patient", "add", "MRN-1", "--name", NAME, "--sex", sex)
    assert_one_error(r, 2)
    assert "--sex" in r.stderr
    assert counts(db_path) == seeded


@pytest.mark.parametrize("phone", ["call me", "12", "555-CALL-NOW", "+", "1" * 41, "555\x00123"])
def test_bad_phone_exits_2(cli, db_path, seeded, phone):
    r = cli("patient", "add", "MRN-1", "--name", NAME, "--phone", phone)
    assert_one_error(r, 2)
    assert "--phone" in r.stderr
    assert counts(db_path) == seeded


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "Ann\x1b[31m", "Ann\nSmith"])
def test_bad_name_exits_2(cli, db_path, seeded, name):
    r = cli("patient", "add", "MRN-1", "--name", name)
    assert_one_error(r, 2)
    assert "--name" in r.stderr
    assert counts(db_path) == seeded


def test_missing_name_is_a_usage_error(cli, db_path, seeded):
    r = cli("patient", "add", "MRN-1")
    assert_one_error(r, 2)
    assert "--name" in r.stderr
    assert counts(db_path) == seeded


def test_unknown_option_is_one_error_line_without_traceback(cli, db_path, seeded):
    r = cli("patient", "add", "MRN-1", "--name", NAME, "--bogus")
    assert_one_error(r, 2)
    # what was typed is never repeated (contract: "Errors echo nothing typed")
    assert r.stderr.startswith("error: no such option; see 'ketacli patient add --help'")
    assert "--bogus" not in r.stderr
    assert r.stdout == ""
    assert counts(db_path) == seeded


def test_unknown_command_is_a_usage_error(cli):
    r = cli("patient", "remove", "MRN-1")
    assert_one_error(r, 2)


# -- patient text is data, never markup --------------------------------------------
def test_rich_markup_in_a_name_prints_literally(cli):
    markup = "[bold red]x[/]"
    r = cli("patient", "add", "MRK-1", "--name", markup)
    assert r.exit_code == 0, r.stderr
    listing = cli("patient", "list")
    assert listing.exit_code == 0
    assert markup in listing.stdout
    shown = cli("patient", "show", "MRK-1")
    assert shown.exit_code == 0
    assert markup in shown.stdout
    assert cli("patient", "show", "MRK-1", "--json").json["data"]["patient"]["name"] == markup


def test_markup_lookalike_phone_and_name_with_brackets(cli):
    r = cli("patient", "add", "MRK-2", "--name", "[link=http://x]Eve[/link]")
    assert r.exit_code == 0
    assert "[link=http://x]Eve[/link]" in cli("patient", "show", "MRK-2").stdout


# -- privacy of errors and the JSON envelope ----------------------------------------
FAILING_ADDS = {
    "duplicate": (["patient", "add", "SEED-1", "--name", NAME], 3),
    "bad_mrn": (["patient", "add", "bad mrn!", "--name", NAME], 2),
    "bad_dob": (["patient", "add", "MRN-1", "--name", NAME, "--dob", "1980-13-01"], 2),
    "future_dob": (["patient", "add", "MRN-1", "--name", NAME, "--dob", "2030-01-01"], 2),
    "bad_sex": (["patient", "add", "MRN-1", "--name", NAME, "--sex", "Q"], 2),
    "bad_phone": (["patient", "add", "MRN-1", "--name", NAME, "--phone", "call me"], 2),
    "control_char": (["patient", "add", "MRN-1", "--name", NAME + "\x07"], 2),
    "unknown_option": (["patient", "add", "MRN-1", "--name", NAME, "--bogus"], 2),
    # a clinician forgetting quotes: the rest of the name must not be echoed
    "unquoted_name": (["patient", "add", "MRN-1", "--name", *NAME.split()], 2),
}


@pytest.mark.parametrize("case", sorted(FAILING_ADDS))
def test_patient_name_never_in_error_output(cli, db_path, seeded, case):
    args, code = FAILING_ADDS[case]
    for extra in ([], ["--json"]):
        r = cli(*args, *extra)
        assert r.exit_code == code, (case, extra, r.stderr)
        assert_no_pii(r.stderr, r.stdout, pii=tuple(NAME.split()))
    assert counts(db_path) == seeded


@pytest.mark.parametrize("case", sorted(FAILING_ADDS))
def test_json_error_envelope_has_the_same_exit_code(cli, seeded, case):
    args, code = FAILING_ADDS[case]
    plain = cli(*args)
    r = cli(*args, "--json")
    assert plain.exit_code == r.exit_code == code
    assert set(r.json) == {"error"}, r.stdout
    err = r.json["error"]
    assert {"code", "message"} <= set(err) <= {"code", "message", "details"}
    assert err["code"] and err["code"].replace("_", "").isalpha() and err["code"].islower()
    # the message is the stderr error line
    assert f"error: {err['message']}" == error_lines(r.stderr)[0]


def test_json_error_codes(cli, seeded):
    assert cli("patient", "add", "SEED-1", "--name", "x", "--json").json["error"]["code"] == (
        "patient_exists"
    )
    assert cli("patient", "add", "a b", "--name", "x", "--json").json["error"]["code"] == (
        "invalid_mrn"
    )
    assert cli("patient", "add", "A", "--name", "x", "--bogus", "--json").json["error"][
        "code"] == "usage_error"


# -- reading commands never create a database ------------------------------------------
@pytest.mark.parametrize("args", [["patient", "list"], ["patient", "list", "--json"],
                                  ["patient", "show", "MRN-1"]])
def test_reading_a_missing_database_exits_4_and_creates_nothing(cli, tmp_path, monkeypatch, args):
    missing = tmp_path / "nowhere" / "clinic.db"
    monkeypatch.setenv("KETACLI_DB", str(missing))
    r = cli(*args)
    assert_one_error(r, 4)
    assert "no database" in r.stderr
    assert not missing.exists()
    assert not missing.parent.exists()
    if "--json" in args:
        assert r.json["error"]["code"] == "database_missing"


def test_reading_the_default_missing_file_exits_4(cli, db_path):
    assert not db_path.exists()
    assert_one_error(cli("patient", "list"), 4)
    assert not db_path.exists()


# -- add and a duplicate, and an unknown option, in one line each ----------------------
def test_patient_add_and_duplicate(cli, db_path):
    r = cli("patient", "add", "MRN-1", "--name", "Ann Smith", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json["data"]["mrn"] == "MRN-1"
    r = cli("patient", "add", "MRN-1", "--name", "Ann Smith")
    assert r.exit_code == 3
    assert r.stderr.startswith("error: patient MRN-1 already exists")
    assert "Ann" not in r.stderr


def test_unknown_option_is_one_line(cli):
    r = cli("patient", "add", "MRN-1", "--name", "x", "--bogus")
    assert r.exit_code == 2
    assert r.stderr.splitlines()[0].startswith("error: ")
    assert "Traceback" not in r.output


def test_list_keeps_a_two_word_name_on_one_line_at_80_columns(cli):
    """trial2: "Ann Example" broke over two lines in `patient list` at 80 columns."""
    assert cli("patient", "add", "MRN-1001", "--name", "Ann Example", "--dob", "1980-02-03",
               "--sex", "F").exit_code == 0
    r = cli("patient", "list")
    assert r.exit_code == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if "MRN-1001" in line)
    assert "Ann Example" in row and "1980-02-03" in row


def test_list_keeps_a_longer_name_on_one_line_at_80_columns(cli):
    """review: 'Riley Fischer' and 'Quinn Underwood' wrapped in the boxed table."""
    assert cli("patient", "add", "MRN-1002", "--name", "Quinn Underwood-Albright").exit_code == 0
    r = cli("patient", "list")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    row = next(line for line in lines if "MRN-1002" in line)
    assert "Quinn Underwood-Albright" in row and "Pending" in r.stdout
