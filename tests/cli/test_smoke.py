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
