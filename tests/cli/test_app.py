"""The root app (ketacli.cli.app): the visible list of commands, start-up discipline
(`ketacli --help` and the command modules import no database, store or table code), and the
global options before the command (--db, --clinician, --tz, --version, --help;
docs/cli-contract.md, "Global settings"). --protocol is in test_protocol.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import assert_one_error, query

from ketacli import __version__
from ketacli.cli.app import app

PROBE = """
import json, sys
from ketacli.cli.app import app
try:
    app(["--help"], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_by_help() -> set[str]:
    p = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    return set(json.loads(p.stderr.strip().splitlines()[-1]))


def test_help_loads_no_database_store_or_tables():
    mods = loaded_by_help()
    assert "sqlite3" not in mods
    assert not {m for m in mods if m.startswith("ketacli.store")}
    assert "rich.table" not in mods
    assert "pendulum" not in mods
    assert "sqlite_utils" not in mods


def test_every_command_is_listed_once_in_app():
    names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    assert len(names) == len(set(names))
    assert set(names) >= {"screen", "start-session", "log-vitals", "log-event", "discharge",
                          "summary", "void", "followup", "trend", "report", "export", "audit",
                          "db", "protocol", "demo", "patient"}


# -- global options --------------------------------------------------------------------
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
    r = cli("--tz", "America/Chicago", "--clinician", "dr.x", "--db", other, "patient", "list",
            "--json")
    assert r.exit_code == 0
    assert len(r.json["data"]) == 1


def test_global_option_after_the_command_is_a_usage_error(cli, tmp_path):
    r = cli("patient", "list", "--db", tmp_path / "other.db")
    assert_one_error(r, 2)
    assert not (tmp_path / "other.db").exists()


@pytest.mark.parametrize(("args", "hint"), [
    (["summary", "MRN-1001"], "hint: for a patient's session: 'ketacli summary --patient MRN'"),
    (["log-vitals", "Ann Example", "--hr", "70"], "'ketacli log-vitals --patient MRN'"),
    (["waste", "MRN-1001", "--mg", "1", "--witness", "rn.b"], "'ketacli sessions --patient MRN'"),
])
def test_a_session_id_that_is_not_a_number_points_to_patient(cli, db_path, args, hint):
    """trial2 (issue 16: '`summary MRN` fails'): not a parser's 'valid integer' message
    but what SESSION_ID is and how to name a patient instead; nothing typed is echoed."""
    r = cli(*args)
    assert_one_error(r, 2)
    assert r.stderr.startswith("error: SESSION_ID must be a session number")
    assert hint in r.stderr
    assert "Ann" not in r.stderr and "MRN-1001" not in r.stderr
    assert not db_path.exists()
    r = cli(*args, "--json")
    assert r.exit_code == 2 and r.json["error"]["code"] == "usage_error"


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


@pytest.mark.parametrize(("argv", "name"), [
    (["log-vitals", "3", "--bp", "1/2"], "log-vitals"),
    (["--db", "x.db", "--clinician", "rn", "--tz", "UTC", "--protocol", "p.toml", "screen"],
     "screen"),
    (["--db=x.db", "followup", "due"], "followup"),
    (["--clinician", "screen", "trend", "M-1"], "trend"),  # a value is not the command
    (["--help"], None), (["--version"], None), ([], None), (["--db", "x.db"], None),
    (["--json", "screen"], None),
])
def test_the_command_of_a_command_line(argv, name):
    from ketacli.cli.app import command_named

    assert command_named(argv) == name


def test_a_command_run_alone_behaves_as_in_the_whole_app():
    """The console script builds only the command it runs: the same help, the same
    usage errors, for every command and group; the whole app for anything else."""
    from typer.testing import CliRunner

    from ketacli.cli.app import app_for

    names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    assert len(names) > 15 and app_for("no-such-command") is app and app_for(None) is app
    runner = CliRunner()
    for name in names:
        for args in ([name, "--help"], [name, "--no-such-option"]):
            whole, alone = runner.invoke(app, args), runner.invoke(app_for(name), args)
            assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output), args


def test_json_before_the_command_says_where_it_goes(cli):
    r = cli("--json", "db", "check")
    assert r.exit_code == 2
    assert r.stderr.splitlines() == [
        "error: no such option; see 'ketacli --help'",
        "hint: --json goes after the command name: 'ketacli COMMAND ... --json'"]
    r = cli("db", "check", "--jsonn")  # a subcommand's own suggestion stays
    assert "hint: did you mean --json?" in r.stderr


@pytest.mark.parametrize(("args", "line"), [
    (["followup", "ack", "nope"], "error: BATCH must be a whole number"),
    (["log-vitals", "1", "--hr", "abc"], "error: --hr must be a whole number"),
])
def test_a_word_where_a_number_belongs_is_one_plain_line(cli, args, line):
    """Not the parser's "Input should be a valid integer, unable to parse string as an
    integer", and never the word typed."""
    r = cli(*args)
    assert r.exit_code == 2
    assert r.stderr.splitlines()[0] == line
    assert "abc" not in r.stderr and "nope" not in r.stderr
