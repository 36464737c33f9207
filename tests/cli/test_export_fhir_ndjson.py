"""`export --format fhir-ndjson`: one valid FHIR R4 resource per line, references relative
and resolving to a resource earlier in the stream."""

from __future__ import annotations

import json

import pytest
from helpers import fhir_references

R4B = pytest.importorskip("fhir.resources.R4B")


def model(resource_type: str):
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


@pytest.mark.parametrize("extra", [(), ("--deidentify",)])
def test_every_line_is_a_valid_resource_whose_references_resolve(cli, extra):
    assert cli("demo", "--patients", "4", "--seed", "5").exit_code == 0
    r = cli("export", "all", "--format", "fhir-ndjson", *extra)
    assert r.exit_code == 0, r.stderr
    seen: set[str] = set()
    kinds: dict[str, int] = {}
    for line in r.stdout.splitlines():
        res = json.loads(line)
        model(res["resourceType"]).model_validate(res)
        kinds[res["resourceType"]] = kinds.get(res["resourceType"], 0) + 1
        for ref in fhir_references(res):
            if not ref.startswith("#"):
                assert ref in seen, ref
        seen.add(f"{res['resourceType']}/{res['id']}")
    assert kinds["Patient"] == 4
    assert {"Encounter", "Observation", "MedicationAdministration"} <= set(kinds)


def test_same_resources_as_the_bundle(cli):
    assert cli("demo", "--patients", "3", "--seed", "5").exit_code == 0
    lines = cli("export", "all", "--format", "fhir-ndjson").stdout.splitlines()
    bundle = json.loads(cli("export", "all", "--format", "fhir").stdout)
    assert [json.loads(x)["id"] for x in lines] == [e["resource"]["id"] for e in bundle["entry"]]


def test_no_mapping_tables_are_refused(cli):
    assert cli("demo", "--patients", "3", "--seed", "5").exit_code == 0
    r = cli("export", "followups", "--format", "fhir-ndjson")
    assert r.exit_code == 2 and r.stderr.startswith("error:")


def test_fhir_patients_since_gives_new_patients_only(cli):
    assert cli("patient", "add", "OLD-1", "--name", "Old One").exit_code == 0
    from datetime import UTC, datetime

    from ketacli.clock import CLOCK

    CLOCK.pin(datetime(2026, 11, 28, 15, 0, tzinfo=UTC))
    assert cli("patient", "add", "NEW-1", "--name", "New One").exit_code == 0
    r = cli("export", "patients", "--format", "fhir-ndjson", "--since", "2026-11-28")
    assert r.exit_code == 0, r.stderr
    mrns = [json.loads(x)["identifier"][0]["value"] for x in r.stdout.splitlines()]
    assert mrns == ["NEW-1"]
