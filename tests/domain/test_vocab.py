"""The vocabularies (ketacli.domain.vocab, ketacli.errors) are defined once: the schema's
CHECK constraints list the same values, and no command spells an error code itself."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

from ketacli import errors
from ketacli.domain import vocab
from ketacli.store import migrations

SCHEMA = "".join(sql for _, _, sql in migrations.MIGRATIONS)
PACKAGE = pathlib.Path(errors.__file__).parent
MOVING: set[str] = set()


def check_list(table: str, column: str) -> tuple[str, ...]:
    # the latest definition: a later migration may rebuild a table to widen a CHECK
    body = re.findall(rf"CREATE TABLE {table} \((.*?)\) STRICT;", SCHEMA, re.S)[-1]
    found = re.search(rf"\b{column} IN\s*\(([^)]*)\)", body)[1]
    return tuple(re.findall(r"'([^']*)'", found))


@pytest.mark.parametrize(("table", "column", "values"), [
    ("events", "kind", vocab.EVENT_KINDS),
    ("followups", "kind", vocab.FOLLOWUP_KINDS),
    ("followups", "status", vocab.FOLLOWUP_STATUSES),
    ("voids", "kind", vocab.VOID_KINDS),
    ("observations", "phase", vocab.PHASES),
    ("screenings", "decision", vocab.DECISIONS),
    ("discharges", "transport", vocab.TRANSPORTS),
    ("side_effects", "code", vocab.SIDE_EFFECTS),
    ("side_effects", "severity", vocab.SEVERITIES),
    ("patients", "sex", vocab.SEXES),
])
def test_schema_checks_match_the_vocabulary(table, column, values):
    assert check_list(table, column) == values


def test_exit_codes_are_the_contract_table():
    assert [int(c) for c in (errors.ExitCode.OK, errors.ExitCode.REFUSED, errors.ExitCode.INVALID,
                             errors.ExitCode.NOT_FOUND, errors.ExitCode.STORAGE,
                             errors.ExitCode.INTERNAL, errors.ExitCode.INTERRUPTED)] == [
        0, 1, 2, 3, 4, 70, 130]


def test_error_codes_are_snake_case_and_unique():
    values = [c.value for c in errors.Code]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", v) for v in values)


def test_no_error_code_is_spelled_as_a_string_literal():
    """Every `code=` passed to an error is a member of errors.Code (defined once)."""
    literal = []
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).as_posix() in MOVING:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "code" and isinstance(
                    node.value, ast.Constant) and isinstance(node.value.value, str):
                literal.append(f"{path.relative_to(PACKAGE)}:{node.value.lineno}")
    assert literal == []
