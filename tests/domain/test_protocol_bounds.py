"""Hostile protocol values (contract: "Files, faults and hostile input", Protocol values):
NaN, infinities, negative or absurd thresholds and nesting deeper than the defaults are
exit 2 naming the key; a TOML nested 100,000 deep is exit 2, never a recursion error."""

from __future__ import annotations

import pytest

from ketacli import protocol
from ketacli.errors import Invalid
from ketacli.protocol import KEYS, limits

NUMERIC = [k for k, s in KEYS.items() if s.kind in ("int", "number", "pair")]


def refused(tmp_path, text: str) -> Invalid:
    path = tmp_path / "clinic.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(Invalid) as exc:
        protocol.load(path)
    assert exc.value.exit_code == 2 and exc.value.code == "protocol_invalid"
    return exc.value


def _toml(dotted: str, value: str) -> str:
    section, name = dotted.split(".")
    if KEYS[dotted].kind == "pair":
        value = f"[{value}, {value}]"
    return f"[{section}]\n{name} = {value}\n"


def test_every_numeric_key_has_a_physical_range():
    assert all(limits(KEYS[k]) for k in NUMERIC)


@pytest.mark.parametrize("dotted", NUMERIC)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e9"])
def test_nan_inf_negative_and_absurd_are_refused_naming_the_key(tmp_path, dotted, value):
    assert dotted in refused(tmp_path, _toml(dotted, value)).message


@pytest.mark.parametrize("text", [
    "[alerts]\nspo2_low = [nan, 90]\n",
    "[alerts]\nsbp = [160, inf]\n",
    "[infusion]\nhold_bp = [-160, 100]\n",
    "[discharge]\nmax_bp = [160, 1000]\n",
    "[dose]\nhard_max_mg = inf\n",
    "[dose]\ndefault_duration_min = 0\n",
])
def test_the_silently_disabling_values_of_the_attack(tmp_path, text):
    key = text.split("]")[0][1:] + "." + text.split("\n")[1].split(" =")[0]
    assert key in refused(tmp_path, text).message


@pytest.mark.parametrize("text", [
    "[alerts]\nsbp = " + "[" * 100_000 + "]" * 100_000 + "\n",
    "[alerts]\nsbp = [[160, 1], 180]\n",
    "[alerts]\nsbp = { warning = { at = 160 } }\n",
    "[alerts]\nsbp = [\n  [160,\n  180]]\n",
])
def test_nesting_deeper_than_the_defaults(tmp_path, text):
    assert "alerts.sbp" in refused(tmp_path, text).message


def test_brackets_in_strings_and_comments_are_not_nesting(tmp_path):
    path = tmp_path / "clinic.toml"
    path.write_text("# [[x]]\n[alerts]\nsbp = [\n  150, # warn [[\n  170,\n]\n"
                    "[screening]\nreview_meds = [\"a[[b\", 'c]]', \"d\\\"[[e\"]\n")
    p = protocol.load(path)
    assert p.alerts.sbp == (150, 170)
    assert p.screening.review_meds == ("a[[b", "c]]", 'd"[[e')
