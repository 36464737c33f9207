"""A profile-aware check of the FHIR resources ketacli exports: every `meta.profile` a
resource claims is checked against that profile's rules (cardinalities, fixed and
required codes, UCUM units, the profiles of referenced resources).

No validator that loads the published StructureDefinitions runs offline here (the HL7
validator and Firely need the IG packages from the FHIR package registry), so the rules
of each profile the export claims are written out below from the R4 specification's
vital-signs profiles (observation-vitalsigns) and US Core 6.1 (us-core-patient,
us-core-encounter, the vital-sign profiles, us-core-observation-screening-assessment).
A profile not listed here fails the check: nothing may claim what is not checked.

Not a test module: imported by name (tests/ is on sys.path).
"""

from __future__ import annotations

CORE = "http://hl7.org/fhir/StructureDefinition/"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# vital-sign profile -> (the LOINC code its code must hold, allowed UCUM units; None: BP)
VITALS = {
    "bp": ("85354-9", None), "heartrate": ("8867-4", {"/min"}), "resprate": ("9279-1", {"/min"}),
    "oxygensat": ("2708-6", {"%"}), "bodyweight": ("29463-7", {"kg", "g", "[lb_av]"}),
    "bodyheight": ("8302-2", {"cm", "[in_i]"}),
}
US_VITALS = {"us-core-blood-pressure": "bp", "us-core-heart-rate": "heartrate",
             "us-core-respiratory-rate": "resprate", "us-core-pulse-oximetry": "oxygensat",
             "us-core-body-weight": "bodyweight", "us-core-body-height": "bodyheight"}


def _codes(concept: dict) -> set[tuple[str, str]]:
    return {(c.get("system"), c.get("code")) for c in concept.get("coding", [])}


def _categories(res: dict) -> set[tuple[str, str]]:
    return set().union(*(_codes(c) for c in res.get("category", [])))


def _quantity(q: dict | None, units: set[str], where: str) -> None:
    assert q is not None, f"{where}: valueQuantity is required"
    assert isinstance(q.get("value"), int | float), f"{where}: a value"
    assert q.get("system") == UCUM and q.get("code") in units, f"{where}: UCUM {units}"


def _vital_signs(res: dict, profile: str) -> None:
    """observation-vitalsigns and its specialisations."""
    code, units = VITALS[profile]
    where = f"{profile} {res['id']}"
    assert res.get("status") in {"registered", "preliminary", "final", "amended", "corrected",
                                 "cancelled", "entered-in-error"}, f"{where}: status"
    assert (CATEGORY, "vital-signs") in _categories(res), f"{where}: category vital-signs"
    assert (LOINC, code) in _codes(res["code"]), f"{where}: code must hold LOINC {code}"
    assert "subject" in res, f"{where}: subject"
    assert "effectiveDateTime" in res or "effectivePeriod" in res, f"{where}: effective[x]"
    if units is None:
        comps = {next(iter(_codes(c["code"])))[1]: c for c in res.get("component", [])}
        for part in ("8480-6", "8462-4"):
            assert part in comps, f"{where}: component {part}"
            _quantity(comps[part].get("valueQuantity"), {"mm[Hg]"}, f"{where} {part}")
    else:
        _quantity(res.get("valueQuantity"), units, where)


def _us_core_patient(res: dict, _: dict) -> None:
    where = f"us-core-patient {res['id']}"
    ids = res.get("identifier") or []
    assert ids and all(i.get("system") and i.get("value") for i in ids), f"{where}: identifier"
    names = res.get("name") or []
    assert names and all(n.get("family") or n.get("given") for n in names), \
        f"{where}: name with family or given (us-core-6)"
    assert res.get("gender") in {"male", "female", "other", "unknown"}, f"{where}: gender"


def _us_core_encounter(res: dict, by_ref: dict) -> None:
    where = f"us-core-encounter {res['id']}"
    assert res.get("status") and res.get("class"), f"{where}: status and class"
    assert res.get("type"), f"{where}: type 1..*"
    assert all(i.get("system") and i.get("value") for i in res.get("identifier", [])), where
    _us_core_subject(res, by_ref, where)


def _us_core_subject(res: dict, by_ref: dict, where: str) -> None:
    subject = by_ref.get(res.get("subject", {}).get("reference"))
    assert subject is not None, f"{where}: subject resolves"
    assert US_CORE + "us-core-patient" in subject.get("meta", {}).get("profile", []), \
        f"{where}: subject must be a US Core Patient"


def _screening(res: dict, by_ref: dict) -> None:
    where = f"us-core-observation-screening-assessment {res['id']}"
    assert res.get("status") in {"final", "amended", "corrected", "preliminary"}, where
    assert (CATEGORY, "survey") in _categories(res), f"{where}: category survey"
    assert any(s == LOINC for s, _ in _codes(res["code"])), f"{where}: a LOINC code"
    assert "effectiveDateTime" in res or "effectivePeriod" in res, f"{where}: effective[x]"
    assert any(k.startswith("value") for k in res) or res.get("hasMember") or \
        res.get("component"), f"{where}: a value, members or components"
    _us_core_subject(res, by_ref, where)


def check_profiles(bundle: dict) -> set[str]:
    """Check every claimed profile of the bundle's resources; return the profiles claimed.
    Raises AssertionError naming the rule that fails."""
    by_ref = {e.get("fullUrl"): e["resource"] for e in bundle["entry"]}
    claimed: set[str] = set()
    for e in bundle["entry"]:
        res = e["resource"]
        for url in res.get("meta", {}).get("profile", []):
            claimed.add(url)
            name = url.rsplit("/", 1)[1]
            if url.startswith(CORE) and name in VITALS:
                _vital_signs(res, name)
            elif url == US_CORE + "us-core-patient":
                _us_core_patient(res, by_ref)
            elif url == US_CORE + "us-core-encounter":
                _us_core_encounter(res, by_ref)
            elif url.startswith(US_CORE) and name in US_VITALS:
                _vital_signs(res, US_VITALS[name])
                if name == "us-core-pulse-oximetry":
                    assert (LOINC, "59408-5") in _codes(res["code"]), f"{name}: 59408-5"
                _us_core_subject(res, by_ref, f"{name} {res['id']}")
            elif url == US_CORE + "us-core-observation-screening-assessment":
                _screening(res, by_ref)
            else:
                raise AssertionError(f"{res['resourceType']} {res['id']} claims {url}, "
                                     "which this check does not know")
    return claimed
