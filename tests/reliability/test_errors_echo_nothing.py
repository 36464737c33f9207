"""Errors echo nothing typed (contract: "Files, faults and hostile input"): an unknown
command or option, a bad value, a bad time zone or an unwritable path is reported without
repeating what was typed, where it could be a name."""

from __future__ import annotations

import pytest
from helpers import assert_one_error, ok

TYPED = "Zebulon Quixotic"
SCREEN = ("--weight", "70", "--bp", "120/80", "--hr", "70")


@pytest.fixture
def clinic(cli):
    ok(cli("patient", "add", "EE-1", "--name", "Ann Example"))


@pytest.mark.parametrize("args", [
    (TYPED,),
    ("patient", TYPED),
    ("screen", "EE-1", *SCREEN, f"--{TYPED.replace(' ', '-')}"),
    ("screen", "EE-1", "--weight", TYPED, "--bp", "120/80", "--hr", "70"),
    ("summary", TYPED),
    ("--tz", f"{TYPED}/Zone", "patient", "list"),
    ("export", "patients", "--format", "csv", "--output", f"/no/such/{TYPED}.csv"),
    ("db", "backup", f"/no/such/{TYPED}.db"),
    ("followup", "due", "--output", f"/no/such/{TYPED}.csv"),
], ids=lambda a: " ".join(a)[:40])
def test_nothing_typed_is_repeated(cli, clinic, args):
    r = cli(*args)
    assert r.exit_code in (2, 3, 4)
    assert_one_error(r, r.exit_code)
    for word in TYPED.split():
        assert word not in r.stderr, r.stderr


def test_unknown_commands_and_options_name_what_ketacli_knows(cli):
    r = cli("screne", "EE-1")
    assert_one_error(r, 2)
    assert r.stderr.splitlines() == ["error: no such command; see 'ketacli --help'",
                                     "hint: did you mean 'screen'?"]
    r = cli("screen", "EE-1", "--nme", "Ann Example")
    assert r.stderr.splitlines()[0] == "error: no such option; see 'ketacli screen --help'"
    assert "--nme" not in r.stderr
