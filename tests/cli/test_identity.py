"""Patient identity through the CLI (docs/cli-contract.md "Identifiers", `patient`, `screen`):
MRNs unique without regard to case and found in any case, a known MRN screened under another
name or date of birth refused (exit 3, nothing stored, no one named), `patient edit` keeping
the earlier values with its reason, and success output naming "Ann Example (MRN-1001)"."""

from __future__ import annotations

import json

import pytest
from helpers import counts, ok, query, tamper
from infusion_support import (
    MRN,
    NAME,
    assert_error,
    at,
    discharge,
    event,
    screen,
    start,
    unchanged,
    vitals,
)

WHO = f"{NAME} ({MRN})"


def test_an_mrn_is_found_in_any_case(cli, db_path):
    ok(screen(cli, MRN))
    d = ok(screen(cli, MRN.lower(), name=None)).json["data"]
    assert d["patient"] == MRN and d["new_patient"] is False
    assert counts(db_path)["patients"] == 1
    assert query(db_path, "SELECT DISTINCT patient FROM audit WHERE patient IS NOT NULL") == [
        (MRN,)]  # audited under the stored MRN
    assert ok(start(cli, MRN.lower())).json["data"]["patient"] == MRN
    assert ok(cli("patient", "show", MRN.lower(), "--json")).json["data"]["patient"]["mrn"] == MRN


def test_patient_add_in_another_case_is_refused(cli, db_path):
    ok(screen(cli, MRN))
    before = counts(db_path)
    r = cli("patient", "add", MRN.lower(), "--name", "Someone Else")
    assert_error(r, 3)
    assert "Someone" not in r.stderr
    unchanged(db_path, before)


@pytest.mark.parametrize("other", [
    pytest.param(("--name", "Bob Other"), id="name"),
    pytest.param(("--dob", "1970-01-01"), id="dob"),
])
def test_screen_of_a_known_mrn_under_another_identity_is_refused(cli, db_path, other):
    ok(screen(cli, MRN, "--dob", "1980-03-02"))
    before = counts(db_path)
    r = screen(cli, MRN.lower(), *other, name=None, json_out=False)
    assert_error(r, 3)
    assert r.stderr.splitlines()[0] == (
        f"error: patient {MRN} exists with a different name or date of birth: check the MRN, "
        "or 'ketacli patient edit'")
    assert "Bob" not in r.stderr and "1970" not in r.stderr and "1980" not in r.stderr
    unchanged(db_path, before)
    r = screen(cli, MRN, *other, name=None)
    assert json.loads(r.stdout)["error"]["code"] == "patient_mismatch"


@pytest.mark.parametrize("same", [NAME.upper(), "  " + NAME.replace(" ", "   ") + " "])
def test_names_differing_only_in_case_or_spacing_are_the_same_patient(cli, db_path, same):
    ok(screen(cli, MRN))
    d = ok(screen(cli, MRN, name=same)).json["data"]
    assert d["new_patient"] is False
    assert query(db_path, "SELECT name FROM patients") == [(NAME,)]


def test_existing_mrns_differing_only_in_case_stay_apart(cli, db_path):
    """A database from before MRNs ignored case may hold both: each is found by its exact
    spelling, another spelling is ambiguous (exit 3), a new one is refused."""
    ok(cli("patient", "add", "dup-1", "--name", "First Person"))
    tamper(db_path, "INSERT INTO patients (id, mrn, name, created_at, created_by) "
                    "VALUES ((SELECT max(id) + 1 FROM patients), 'DUP-1', 'Second Person', "
                    "'2026-11-01T00:00:00+00:00', 'rn')",
           drop=("patients_mrn_unique_nocase",))
    assert ok(cli("patient", "show", "dup-1", "--json")).json["data"]["patient"]["name"] == \
        "First Person"
    assert ok(cli("patient", "show", "DUP-1", "--json")).json["data"]["patient"]["name"] == \
        "Second Person"
    r = cli("patient", "show", "Dup-1")
    assert_error(r, 3)
    assert "dup-1, DUP-1" in r.stderr and "Person" not in r.stderr


# -- patient edit -------------------------------------------------------------------------
def test_edit_keeps_the_earlier_values_and_lists_the_change(cli, db_path):
    ok(cli("patient", "add", MRN, "--name", NAME))
    r = ok(cli("patient", "edit", MRN.lower(), "--phone", "312 555 0101", "--address",
               "1 Main St, Springfield, IL 62701", "--reason", "given at check-in", "--json"))
    d = r.json["data"]
    assert (d["mrn"], d["phone"], d["changed"]) == (MRN, "312 555 0101", ["phone", "address"])
    assert query(db_path, "SELECT phone, address FROM patients") == [
        ("312 555 0101", "1 Main St, Springfield, IL 62701")]
    assert query(db_path, "SELECT fields, old_values, reason FROM patient_changes") == [
        ('["phone","address"]', '{"address":null,"phone":null}', "given at check-in")]
    action, detail = query(db_path, "SELECT action, detail FROM audit ORDER BY id DESC LIMIT 1")[0]
    assert action == "edit"
    detail = json.loads(detail)
    assert detail["fields"] == ["phone", "address"] and detail["reason"] == "given at check-in"
    assert "312" not in json.dumps(detail)  # values are not in the audit detail
    show = ok(cli("patient", "show", MRN, "--json")).json["data"]
    assert show["changes"] == [{"at": "2026-11-27T15:00:00+00:00", "by": show["changes"][0]["by"],
                                "fields": ["phone", "address"], "reason": "given at check-in"}]
    text = ok(cli("patient", "show", MRN)).stdout
    assert "Changes" in text and "given at check-in" in text and "1 Main St" in text
    human = ok(cli("patient", "edit", MRN, "--name", "Ann Quill", "--reason", "name corrected"))
    assert human.stdout.strip() == f"Updated patient Ann Quill ({MRN}): name (earlier values kept)."
    assert query(db_path, "SELECT old_values FROM patient_changes ORDER BY id DESC LIMIT 1") == [
        (json.dumps({"name": NAME}, separators=(",", ":")),)]


def test_edit_unknown_mrn_exits_3(cli, db_path):
    ok(cli("patient", "add", MRN, "--name", NAME))
    assert_error(cli("patient", "edit", "NOPE-1", "--phone", "555 0101", "--reason",
                     "a good reason"), 3)


@pytest.mark.parametrize("args", [
    pytest.param(("--reason", "nothing given"), id="no-field"),
    pytest.param(("--phone", "555 0101"), id="no-reason"),
    pytest.param(("--phone", "abc", "--reason", "bad phone"), id="bad-phone"),
])
def test_edit_bad_input_exits_2_and_stores_nothing(cli, db_path, args):
    ok(cli("patient", "add", MRN, "--name", NAME))
    before = counts(db_path)
    assert_error(cli("patient", "edit", MRN, *args), 2)
    unchanged(db_path, before)
    assert query(db_path, "SELECT count(*) FROM patient_changes") == [(0,)]


def test_exports_use_the_current_values(cli):
    ok(cli("patient", "add", MRN, "--name", NAME))
    ok(cli("patient", "edit", MRN, "--phone", "312 555 0101", "--reason", "given at check-in"))
    r = ok(cli("export", "patients", "--format", "json"))
    assert "312 555 0101" in r.stdout


# -- success output names the patient ------------------------------------------------------
def test_success_output_for_people_names_the_patient(cli):
    first = ok(screen(cli, MRN, json_out=False)).stdout.splitlines()[0]
    assert WHO in first
    r = ok(start(cli, json_out=False))
    assert WHO in r.stdout.splitlines()[0]
    assert WHO in ok(vitals(cli, 1, "--bp", "128/80", "--hr", "72", when=at("07:50"),
                            json_out=False)).stdout
    assert WHO in ok(event(cli, 1, "medication", "--detail", "ondansetron 4 mg",
                           when=at("07:55"), json_out=False)).stdout
    assert WHO in ok(discharge(cli, 1, json_out=False)).stdout.splitlines()[0]
    assert WHO in ok(cli("summary", "1")).stdout.splitlines()[0]


def test_audit_of_a_patient_in_any_case(cli):
    ok(screen(cli, MRN))
    rows = ok(cli("audit", "--patient", MRN.lower(), "--json")).json["data"]
    assert rows and {r["patient"] for r in rows} == {MRN}
