"""FHIR R4 resources built from exported rows (plain dicts, streamed into a Bundle).

Codes and units per interop.md: LOINC vital signs with UCUM units, PHQ-9 and
GAD-7 as survey Observations with their LOINC panels, items and totals,
MedicationAdministration of ketamine by the IV route (SNOMED CT 47625008)
linked to one Encounter per session. Ids are stable name-based UUIDs, so the
same record has the same id on every export and references resolve inside the
Bundle (fullUrl urn:uuid:...). `write_resources` assembles an export's resources,
patients first, into a sink (render.export.FhirBundle or FhirNdjson).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from ketacli.domain.vocab import FHIR_TABLES

if TYPE_CHECKING:
    from ketacli.store.export import Reader

TABLES = FHIR_TABLES  # the tables with a FHIR mapping

NS = uuid.UUID("0f9c3c1e-6f43-5a7e-9a55-6b6574616369")  # ketacli's namespace
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
LOCAL = "urn:ketacli:code"
MRN_SYSTEM = "urn:ketacli:mrn"
STUDY_SYSTEM = "urn:ketacli:study-id"

PHQ9_ITEMS = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5",
              "44253-3", "44260-8")
GAD7_ITEMS = ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")
SURVEYS = {
    "phq9": ("44249-1", "PHQ-9 quick depression assessment panel", "44261-6",
             "Patient Health Questionnaire 9 item (PHQ-9) total score", PHQ9_ITEMS),
    "gad7": ("69737-5", "Generalized anxiety disorder 7 item (GAD-7)", "70274-6",
             "Generalized anxiety disorder 7 item (GAD-7) total score", GAD7_ITEMS),
}
GENDER = {"F": "female", "M": "male", "X": "other", "U": "unknown"}


def rid(kind: str, key) -> str:
    return str(uuid.uuid5(NS, f"{kind}/{key}"))


def ref(kind: str, key) -> dict:
    return {"reference": f"urn:uuid:{rid(kind, key)}"}


def entry(resource: dict) -> dict:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def _coding(system: str, code: str, display: str | None = None) -> dict:
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return c


def _category(code: str) -> list[dict]:
    return [{"coding": [_coding(CAT, code)]}]


def _qty(value, unit: str, code: str | None = None) -> dict:
    return {"value": value, "unit": unit, "system": UCUM, "code": code or unit}


def patient(row: dict, deid: bool) -> dict:
    key = row.get("study_id") if deid else row["_pid"]
    res = {"resourceType": "Patient", "id": rid("Patient", key),
           "gender": GENDER.get(row.get("sex") or "U", "unknown")}
    if deid:
        res["identifier"] = [{"system": STUDY_SYSTEM, "value": row["study_id"]}]
        if row.get("birth_year") and row["birth_year"] != "90+":
            res["birthDate"] = row["birth_year"]
    else:
        res["identifier"] = [{"system": MRN_SYSTEM, "value": row["patient"],
                              "type": {"coding": [_coding(
                                  "http://terminology.hl7.org/CodeSystem/v2-0203", "MR")]}}]
        res["name"] = [{"text": row["name"]}]
        if row.get("dob"):
            res["birthDate"] = row["dob"]
        if row.get("phone"):
            res["telecom"] = [{"system": "phone", "value": row["phone"]}]
    return res


def _subject(row: dict, deid: bool) -> dict:
    return ref("Patient", row["study_id"] if deid else row["_pid"])


def encounter(row: dict, deid: bool) -> dict:
    period = {"start": row["started_at"]}
    if row.get("discharged_at"):
        period["end"] = row["discharged_at"]
    return {
        "resourceType": "Encounter", "id": rid("Encounter", row["session_id"]),
        "status": "finished" if row["status"] == "discharged" else "in-progress",
        "class": _coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"),
        "type": [{"text": f"IV ketamine infusion {row['number_in_series']}"}],
        "subject": _subject(row, deid), "period": period,
    }


def medication_administration(row: dict, deid: bool) -> dict:
    done = row["status"] == "discharged"
    dose = row["delivered_mg"] if done else row["dose_mg"]
    med = {"resourceType": "Medication", "id": "ketamine",
           "code": {"coding": [_coding(RXNORM, "6130", "ketamine")], "text": "ketamine"}}
    if row.get("lot"):
        med["batch"] = {"lotNumber": row["lot"]}
    period = {"start": row["started_at"]}
    if done and row.get("infusion_end_at"):
        period["end"] = row["infusion_end_at"]
    return {
        "resourceType": "MedicationAdministration", "id": rid("MedicationAdministration",
                                                             row["session_id"]),
        "contained": [med],
        "status": "completed" if done else "in-progress",
        "medicationReference": {"reference": "#ketamine"},
        "subject": _subject(row, deid),
        "context": ref("Encounter", row["session_id"]),
        "effectivePeriod": period,
        "dosage": {
            "text": f"{row['dose_mg_per_kg']:g} mg/kg IV over {row['duration_min']:g} min",
            "route": {"coding": [_coding(SNOMED, "47625008", "Intravenous route")]},
            "dose": _qty(round(dose, 3), "mg"),
            "rateQuantity": _qty(round(row["rate_mg_per_h"], 3), "mg/h"),
        },
    }


def _vital(row_id: str, suffix: str, code: str, display: str, when: str, subject: dict,
           encounter_ref: dict | None, value: dict | None = None,
           components: list | None = None, category: str = "vital-signs",
           system: str = LOINC) -> dict:
    res = {"resourceType": "Observation", "id": rid("Observation", f"{row_id}-{suffix}"),
           "status": "final", "category": _category(category),
           "code": {"coding": [_coding(system, code, display)], "text": display},
           "subject": subject, "effectiveDateTime": when}
    if encounter_ref:
        res["encounter"] = encounter_ref
    if value is not None:
        res.update(value)
    if components:
        res["component"] = components
    return res


def vitals(row: dict, deid: bool, key: str, encounter_id=None) -> list[dict]:
    """Vital-sign Observations of one observation or screening row."""
    subject = _subject(row, deid)
    enc = ref("Encounter", encounter_id) if encounter_id is not None else None
    when = row["at"]
    out = []
    if row.get("sbp") is not None and row.get("dbp") is not None:
        out.append(_vital(key, "bp", "85354-9", "Blood pressure panel", when, subject, enc,
                          components=[
                              {"code": {"coding": [_coding(LOINC, "8480-6", "Systolic blood pressure")]},
                               "valueQuantity": _qty(row["sbp"], "mm[Hg]")},
                              {"code": {"coding": [_coding(LOINC, "8462-4", "Diastolic blood pressure")]},
                               "valueQuantity": _qty(row["dbp"], "mm[Hg]")}]))
    for col, code, display, unit in (
            ("hr", "8867-4", "Heart rate", "/min"),
            ("rr", "9279-1", "Respiratory rate", "/min"),
            ("spo2", "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%"),
            ("weight_kg", "29463-7", "Body weight", "kg"),
            ("height_cm", "8302-2", "Body height", "cm")):
        if row.get(col) is not None:
            out.append(_vital(key, col, code, display, when, subject, enc,
                              value={"valueQuantity": _qty(row[col], unit)}))
    for col, code, display, unit in (
            ("etco2", "etco2", "End-tidal CO2", "mm[Hg]"),):
        if row.get(col) is not None:
            out.append(_vital(key, col, code, display, when, subject, enc, system=LOCAL,
                              value={"valueQuantity": _qty(row[col], unit)}))
    for col, display in (("moaas", "Sedation: MOAA/S (0-5)"),
                         ("dissociation", "Dissociation rating (0-10)")):
        if row.get(col) is not None:
            out.append(_vital(key, col, col, display, when, subject, enc, system=LOCAL,
                              category="exam", value={"valueInteger": int(row[col])}))
    return out


def surveys(row: dict, deid: bool, key: str) -> list[dict]:
    """PHQ-9 / GAD-7 panels with items and totals; MADRS and PCL-5 totals (local codes)."""
    subject = _subject(row, deid)
    out = []
    for scale, (panel, pdisplay, total_code, tdisplay, item_codes) in SURVEYS.items():
        total = row.get(f"{scale}_total")
        if total is None:
            continue
        comps = []
        items = json.loads(row[f"{scale}_items"]) if row.get(f"{scale}_items") else None
        if items:
            comps = [{"code": {"coding": [_coding(LOINC, c)]}, "valueInteger": v}
                     for c, v in zip(item_codes, items, strict=True)]
        comps.append({"code": {"coding": [_coding(LOINC, total_code, tdisplay)]},
                      "valueInteger": total})
        out.append(_vital(key, scale, panel, pdisplay, row["at"], subject, None,
                          category="survey", value={"valueInteger": total}, components=comps))
    for scale, display in (("madrs", "MADRS total score"), ("pcl5", "PCL-5 total score")):
        if row.get(f"{scale}_total") is not None:
            out.append(_vital(key, scale, f"{scale}-total", display, row["at"], subject, None,
                              category="survey", system=LOCAL,
                              value={"valueInteger": row[f"{scale}_total"]}))
    return out


# The C-SSRS screener (issue 14). Item codes as the HL7 US Behavioral Health Profiles IG's
# C-SSRS QuestionnaireResponse example uses them; yes/no answers from LOINC's answer list
# LL5384-4 (LA33-6 Yes, LA32-8 No); the risk as LOINC 93374-7 "Suicide risk level" with
# ketacli's triage value (a local code: LOINC's answer codes for the levels are not used).
CSSRS_ITEMS = ("93246-7", "93247-5", "93248-3", "93249-1", "93250-9", "93267-3", "93269-9")
CSSRS_RISK = ("93374-7", "Suicide risk level")
CSSRS_QUESTIONNAIRE = "urn:ketacli:questionnaire:cssrs-screener"
YES_NO = {"y": ("LA33-6", "Yes"), "n": ("LA32-8", "No")}
# The suicide-risk Flag: SNOMED CT 225444004 |At risk for suicide (finding)|.
AT_RISK_FOR_SUICIDE = ("225444004", "At risk for suicide (finding)")


def cssrs(row: dict, deid: bool, key: str) -> list[dict]:
    """A C-SSRS screener of a screening or assessment row: its QuestionnaireResponse (short
    labels only, never Columbia's item text) and its risk as an Observation derived from it."""
    if not row.get("cssrs_risk"):
        return []
    from ketacli.domain.cssrs import LABELS

    answers = row["cssrs_answers"]
    answers = json.loads(answers) if isinstance(answers, str) else answers
    subject = _subject(row, deid)
    qr = {"resourceType": "QuestionnaireResponse", "id": rid("QuestionnaireResponse",
                                                              f"{key}-cssrs"),
          "questionnaire": CSSRS_QUESTIONNAIRE, "status": "completed", "subject": subject,
          "authored": row["at"],
          "item": [{"linkId": code, "text": label,
                    "answer": [{"valueCoding": _coding(LOINC, *YES_NO[a])}]}
                   for code, label, a in zip(CSSRS_ITEMS, LABELS, answers, strict=False)
                   if a in YES_NO]}
    risk = row["cssrs_risk"]
    obs = _vital(key, "cssrs-risk", *CSSRS_RISK, row["at"], subject, None, category="survey",
                 value={"valueCodeableConcept": {
                     "coding": [_coding(f"{LOCAL}:cssrs-risk", risk, risk)],
                     "text": f"C-SSRS {risk} risk"}})
    obs["derivedFrom"] = [ref("QuestionnaireResponse", f"{key}-cssrs")]
    return [qr, obs]


def suicide_flag(row: dict, deid: bool, key: str | None = None) -> dict | None:
    if not row.get("suicide_risk_flag"):
        return None
    key = key or f"screening-{row['screening_id']}"
    risk = row.get("cssrs_risk")
    why = (f"C-SSRS {risk} risk" if risk in ("moderate", "high")
           else "PHQ-9 item 9 >= 1: suicide risk assessment required")
    return {
        "resourceType": "Flag", "id": rid("Flag", key),
        "status": "active",
        "category": [{"coding": [_coding(
            "http://terminology.hl7.org/CodeSystem/flag-category", "clinical", "Clinical")]}],
        "code": {"coding": [_coding(SNOMED, *AT_RISK_FOR_SUICIDE)], "text": why},
        "subject": _subject(row, deid), "period": {"start": row["at"]},
    }


# -- an export's resources ---------------------------------------------------------------------
class Sink(Protocol):
    n: int  # resources written so far

    def add(self, resource: dict | None) -> None: ...

    def close(self) -> int: ...


def write_resources(sink: Sink, reader: Reader, tables: list[str],
                    tick: Callable[[int], None]) -> dict[str, int]:
    """The resources of `tables` (FHIR-mapped ones) into `sink`, every referenced resource
    before the ones that point to it. Returns resources per table, then in all."""
    deid = reader.deidentified
    counts: dict[str, int] = {}
    # Patients: all of them when other records are exported (records since --since may
    # belong to earlier patients); `export patients --since` gives the new ones only.
    only_patients = tables == ["patients"]
    for row in reader.dicts("patients", since=None if only_patients else reader.EVERYTHING):
        sink.add(patient(row, deid))
    counts["patients"] = sink.n
    if "sessions" in tables or "observations" in tables:
        counts["sessions"] = _sessions(sink, reader, "sessions" in tables, deid)
        tick(sink.n)
    if "screenings" in tables:
        counts["screenings"] = _screenings(sink, reader, deid)
    if "observations" in tables:
        counts["observations"] = _observations(sink, reader, deid, tick)
    if "assessments" in tables:
        counts["assessments"] = _assessments(sink, reader, deid)
    sink.close()
    counts["resources"] = sink.n
    return counts


def _sessions(sink: Sink, reader: Reader, administrations: bool, deid: bool) -> int:
    """Encounters, also two days before --since so observations resolve; with
    `administrations`, the MedicationAdministrations of sessions since --since."""
    before, since = sink.n, reader.since
    enc_since = reader.EVERYTHING
    if since:
        enc_since = (datetime.fromisoformat(since) - timedelta(days=2)).isoformat()
    for row in reader.dicts("sessions", since=enc_since):
        sink.add(encounter(row, deid))
        if administrations and (not since or row["started_at"] >= since):
            sink.add(medication_administration(row, deid))
    return sink.n - before


def _screenings(sink: Sink, reader: Reader, deid: bool) -> int:
    before = sink.n
    for row in reader.dicts("screenings"):
        key = f"screening-{row['screening_id']}"
        for res in vitals(row, deid, key) + surveys(row, deid, key) + cssrs(row, deid, key):
            sink.add(res)
        sink.add(suicide_flag(row, deid))
    return sink.n - before


def _observations(sink: Sink, reader: Reader, deid: bool, tick: Callable[[int], None]) -> int:
    before = sink.n
    for row in reader.dicts("observations"):
        for res in vitals(row, deid, f"obs-{row['observation_id']}",
                          encounter_id=row["session_id"]):
            sink.add(res)
        if sink.n % 5000 < 8:
            tick(sink.n)
    return sink.n - before


def _assessments(sink: Sink, reader: Reader, deid: bool) -> int:
    before = sink.n
    for row in reader.dicts("assessments"):
        key = f"assessment-{row['assessment_id']}"
        for res in surveys(row, deid, key) + cssrs(row, deid, key):
            sink.add(res)
    return sink.n - before
