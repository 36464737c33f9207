"""`protocol show` and the protocol file (--protocol, KETACLI_PROTOCOL) (ketacli.cli.protocol;
docs/cli-contract.md, "Clinic protocol" and "Global settings"): the defaults equal the
contract's, every override names its source, and a bad file exits 2 naming the key."""

from __future__ import annotations

import pytest
from helpers import CONTRACT_DEFAULTS, assert_one_error, error_lines


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
    r = cli("--protocol", proto_file("[dose]\nmax_mg_per_kg = 1\n"), "protocol", "show", "--json")
    assert r.exit_code == 0, r.stderr
    value = r.json["data"]["protocol"]["dose"]["max_mg_per_kg"]
    assert value == 1.0 and isinstance(value, float)


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


def test_protocol_show_prints_brackets_literally(cli):
    r = cli("protocol", "show")
    assert r.exit_code == 0
    assert "[warning, critical]" in r.stdout.replace("\n", " ") or "[warning," in r.stdout
