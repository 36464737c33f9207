"""FHIR R4 resources built from exported rows (plain dicts, streamed into a Bundle).

Codes and units per interop.md: LOINC vital signs with UCUM units (SpO2 with
both 2708-6 and 59408-5, EtCO2 19891-1), alerts as Observation.interpretation,
PHQ-9 and GAD-7 as survey Observations with their LOINC panels, items and
totals, derived from QuestionnaireResponses with LOINC answer codes (and the
C-SSRS screener, see `cssrs`), PCL-5 by LOINC, MADRS, MOAA/S and the
dissociation rating by local codes (LOINC has none), one Encounter per session
(its id as identifier) with the infusion as a Procedure, the
MedicationAdministration of ketamine by the IV route (SNOMED CT 47625008, the
lot on its Medication) and side effects as AdverseEvents. `meta.profile`
names US Core (identified exports only: a de-identified Patient has no name)
and the R4 core vital-sign profiles where the resource conforms. Ids are stable name-based UUIDs, so the
same record has the same id on every export and references resolve inside the
Bundle (fullUrl urn:uuid:...). `write_resources` assembles an export's resources,
patients first, into a sink (render.export.FhirBundle or FhirNdjson).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
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
CPT = "http://www.ama-assn.org/go/cpt"
LOCAL = "urn:ketacli:code"  # ketacli's own codes, only where LOINC has none
LOCAL_SIDE_EFFECT = "urn:ketacli:code:side-effect"
MRN_SYSTEM = "urn:ketacli:mrn"
STUDY_SYSTEM = "urn:ketacli:study-id"
STUDY_SESSION_SYSTEM = "urn:ketacli:study-session"
# Every top-level resource type an export writes (Medication is only ever contained):
# the Bulk Data files a folder can hold, so a later export there removes the ones it
# does not write again.
RESOURCE_TYPES = ("Patient", "Encounter", "Procedure", "MedicationAdministration",
                  "AdverseEvent", "Observation", "QuestionnaireResponse", "Flag")
CORE = "http://hl7.org/fhir/StructureDefinition/"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"

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


_IDS: ContextVar[uuid.UUID] = ContextVar("fhir_ids", default=NS)


def id_namespace(clinic: str | None) -> uuid.UUID:
    """The namespace of resource ids: the clinic's own in identified exports, so two
    clinics' Patient/1 (or a demo's and a real database's) never overwrite each other in
    one FHIR server; ketacli's in de-identified ones, whose keys are already the clinic's
    keyed pseudonyms and must not carry a clinic id."""
    return NS if clinic is None else uuid.uuid5(NS, f"clinic/{clinic}")


@contextmanager
def ids_of(clinic: str | None) -> Iterator[None]:
    """Resource ids (`rid`) made in `clinic`'s namespace inside the block."""
    token = _IDS.set(id_namespace(clinic))
    try:
        yield
    finally:
        _IDS.reset(token)


def rid(kind: str, key) -> str:
    """A resource's id: a name-based UUID, stable across exports of one clinic."""
    return str(uuid.uuid5(_IDS.get(), f"{kind}/{key}"))


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


def _profiles(*names: str) -> dict:
    return {"meta": {"profile": list(names)}}


def split_name(name: str) -> dict:
    """A HumanName with `family` and `given` parts: "Family, Given Names" when the name has
    a comma, else the last word is the family name (the text keeps the name as recorded)."""
    text = " ".join(name.split())
    if "," in text:
        family, _, given = (p.strip() for p in text.partition(","))
    else:
        *first, family = text.split(" ")
        given = " ".join(first)
    out: dict = {"use": "official", "text": text, "family": family or text}
    if given:
        out["given"] = given.split(" ")
    return out


def patient(row: dict, deid: bool) -> dict:
    key = row.get("study_id") if deid else row["_pid"]
    res = {"resourceType": "Patient", "id": rid("Patient", key),
           "gender": GENDER.get(row.get("sex") or "U", "unknown")}
    if deid:  # no name: not a US Core Patient, and no profile claims to be one
        res["identifier"] = [{"system": STUDY_SYSTEM, "value": row["study_id"]}]
        if row.get("birth_year") and row["birth_year"] != "90+":
            res["birthDate"] = row["birth_year"]
        return res
    res.update(_profiles(US_CORE + "us-core-patient"))
    res["identifier"] = [{"system": MRN_SYSTEM, "value": row["patient"],
                          "type": {"coding": [_coding(
                              "http://terminology.hl7.org/CodeSystem/v2-0203", "MR")]}}]
    res["name"] = [split_name(row["name"])]
    if row.get("dob"):
        res["birthDate"] = row["dob"]
    if row.get("phone"):
        res["telecom"] = [{"system": "phone", "value": row["phone"]}]
    if row.get("address"):
        res["address"] = [{"use": "home", "text": row["address"]}]
    return {k: res[k] for k in ("resourceType", "id", "meta", "identifier", "name", "telecom",
                                "gender", "birthDate", "address") if k in res}


def _subject(row: dict, deid: bool) -> dict:
    return ref("Patient", row["study_id"] if deid else row["_pid"])


def encounter_period(row: dict) -> dict:
    """From the first to the last instant of the session: its start or an earlier
    (pre-infusion) observation, to its discharge or a later observation."""
    first = [t for t in (row["started_at"], row.get("first_observation_at")) if t]
    period = {"start": min(first, key=_instant)}
    if row.get("discharged_at"):
        last = [t for t in (row["discharged_at"], row.get("last_observation_at")) if t]
        period["end"] = max(last, key=_instant)
    return period


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def encounter(row: dict, deid: bool, clinic: str | None = None) -> dict:
    """One Encounter per session, the session id its identifier (in the clinic's namespace;
    de-identified, the session's pseudonym in a study namespace)."""
    system = STUDY_SESSION_SYSTEM if deid or not clinic else f"urn:ketacli:clinic:{clinic}:session"
    res: dict = {"resourceType": "Encounter", "id": rid("Encounter", row["session_id"])}
    if not deid:
        res.update(_profiles(US_CORE + "us-core-encounter"))
    res.update({
        "identifier": [{"use": "official", "system": system, "value": str(row["session_id"])}],
        "status": "finished" if row["status"] == "discharged" else "in-progress",
        "class": _coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"),
        "type": [{"text": f"IV ketamine infusion {row['number_in_series']}"}],
        "subject": _subject(row, deid), "period": encounter_period(row),
    })
    return res


def procedure(row: dict, deid: bool) -> dict:
    """The infusion as a Procedure (CPT 96365, an IV infusion for therapy), in its Encounter."""
    done = row["status"] == "discharged"
    period = {"start": row["started_at"]}
    if done and row.get("infusion_end_at"):
        period["end"] = row["infusion_end_at"]
    return {
        "resourceType": "Procedure", "id": rid("Procedure", row["session_id"]),
        "status": "completed" if done else "in-progress",
        "code": {"coding": [_coding(CPT, "96365", "Intravenous infusion, for therapy, "
                                    "prophylaxis, or diagnosis; initial, up to 1 hour")],
                 "text": "IV ketamine infusion"},
        "subject": _subject(row, deid), "encounter": ref("Encounter", row["session_id"]),
        "performedPeriod": period,
    }


def medication_administration(row: dict, deid: bool) -> dict:
    done = row["status"] == "discharged"
    dose = row["delivered_mg"] if done else row["dose_mg"]
    med = {"resourceType": "Medication", "id": "ketamine",
           "code": {"coding": [_coding(RXNORM, "6130", "ketamine")], "text": "ketamine"}}
    if row.get("lot"):  # the lot of the vial given (R4 keeps it on the Medication)
        med["batch"] = {"lotNumber": row["lot"]}
    period = {"start": row["started_at"]}
    if done and row.get("infusion_end_at"):
        period["end"] = row["infusion_end_at"]
    return {
        "resourceType": "MedicationAdministration", "id": rid("MedicationAdministration",
                                                             row["session_id"]),
        "contained": [med],
        "partOf": [ref("Procedure", row["session_id"])],
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


# side-effect codes (vocabulary of the side_effects table) -> their display
SIDE_EFFECTS = {"dizziness": "Dizziness", "difficulty-speaking": "Difficulty speaking",
                "nausea": "Nausea", "vomiting": "Vomiting", "headache": "Headache",
                "blurred-vision": "Blurred vision", "dissociation": "Dissociation",
                "hypertension": "Hypertension", "tachycardia": "Tachycardia",
                "anxiety": "Anxiety", "drowsiness": "Drowsiness", "other": "Other"}
SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"


def adverse_events(row: dict, deid: bool) -> list[dict]:
    """The session's side effects ("code:severity;..."), each an AdverseEvent of its
    Encounter suspected of the ketamine administered. ketacli records side effects at
    discharge, not serious ones (those are stops and events): seriousness non-serious."""
    out = []
    for i, item in enumerate(filter(None, (row.get("side_effects") or "").split(";"))):
        code, _, severity = item.partition(":")
        out.append({
            "resourceType": "AdverseEvent",
            "id": rid("AdverseEvent", f"{row['session_id']}-{i}-{code}"),
            "actuality": "actual",
            "event": {"coding": [_coding(LOCAL_SIDE_EFFECT, code, SIDE_EFFECTS.get(code))],
                      "text": SIDE_EFFECTS.get(code, code)},
            "subject": _subject(row, deid),
            "encounter": ref("Encounter", row["session_id"]),
            "date": row.get("discharged_at") or row["started_at"],
            "seriousness": {"coding": [_coding(SERIOUSNESS, "non-serious", "Non-serious")]},
            "severity": {"coding": [_coding(SEVERITY, severity or "mild",
                                            (severity or "mild").capitalize())]},
            "suspectEntity": [{"instance": ref("MedicationAdministration",
                                               row["session_id"])}],
        })
    return out


def _vital(row_id: str, suffix: str, code: str | list, display: str, when: str,
           subject: dict, encounter_ref: dict | None, value: dict | None = None,
           components: list | None = None, category: str = "vital-signs",
           system: str = LOINC, profiles: tuple[str, ...] = ()) -> dict:
    codings = ([_coding(system, code, display)] if isinstance(code, str)
               else [_coding(system, c, d) for c, d in code])
    res: dict = {"resourceType": "Observation", "id": rid("Observation", f"{row_id}-{suffix}")}
    if profiles:
        res.update(_profiles(*profiles))
    res.update({"status": "final", "category": _category(category),
                "code": {"coding": codings, "text": display},
                "subject": subject, "effectiveDateTime": when})
    if encounter_ref:
        res["encounter"] = encounter_ref
    if value is not None:
        res.update(value)
    if components:
        res["component"] = components
    return res


# column -> (LOINC codes with displays, text, UCUM unit, R4 core profile, US Core profile)
VITALS = (
    ("hr", (("8867-4", "Heart rate"),), "Heart rate", "/min", "heartrate",
     "us-core-heart-rate"),
    ("rr", (("9279-1", "Respiratory rate"),), "Respiratory rate", "/min", "resprate",
     "us-core-respiratory-rate"),
    ("spo2", (("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
              ("2708-6", "Oxygen saturation in Arterial blood")),
     "Oxygen saturation by pulse oximetry", "%", "oxygensat", "us-core-pulse-oximetry"),
    ("weight_kg", (("29463-7", "Body weight"),), "Body weight", "kg", "bodyweight",
     "us-core-body-weight"),
    ("height_cm", (("8302-2", "Body height"),), "Body height", "cm", "bodyheight",
     "us-core-body-height"),
    ("etco2", (("19891-1", "Carbon dioxide [Partial pressure] in Exhaled gas --at end "
                           "expiration"),), "End-tidal CO2", "mm[Hg]", None, None),
)
# ratings with no LOINC code: the local code system (README "Interoperability")
RATINGS = (("moaas", "Sedation: MOAA/S (0-5)"), ("dissociation", "Dissociation rating (0-10)"))
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
INTERPRETATIONS = {("warning", True): ("H", "High"), ("critical", True): ("HH", "Critical high"),
                   ("warning", False): ("L", "Low"), ("critical", False): ("LL", "Critical low")}
# an alert's parameter -> the column of the Observation it interprets
ALERT_COLUMN = {"sbp": "bp", "dbp": "bp", "sbp_rise": "bp", "dbp_rise": "bp"}


def interpretations(row: dict) -> dict[str, list[dict]]:
    """The row's stored alerts as Observation.interpretation, by the column they concern:
    a warning is H or L, a critical alert HH or LL (the most severe one per column)."""
    alerts = row.get("alerts") or []
    if isinstance(alerts, str):
        alerts = json.loads(alerts) if alerts[:1] == "[" else []
    out: dict[str, list[dict]] = {}
    for a in sorted(alerts, key=lambda a: a.get("level") != "critical"):
        col = ALERT_COLUMN.get(a.get("parameter"), a.get("parameter"))
        high = a.get("value") is not None and a["value"] >= a.get("threshold", 0)
        code, display = INTERPRETATIONS[(a.get("level"), high)]
        if col not in out:
            out[col] = [{"coding": [_coding(INTERPRETATION, code, display)]}]
    return out


def vitals(row: dict, deid: bool, key: str, encounter_id=None) -> list[dict]:
    """Vital-sign Observations of one observation or screening row, with the row's alerts
    as their interpretation."""
    subject = _subject(row, deid)
    enc = ref("Encounter", encounter_id) if encounter_id is not None else None
    when = row["at"]
    interp = interpretations(row)
    out = []

    def claim(core: str | None, us: str | None) -> tuple[str, ...]:
        return tuple(p for p in (core and CORE + core, us and not deid and US_CORE + us) if p)

    if row.get("sbp") is not None and row.get("dbp") is not None:
        out.append(_vital(key, "bp", "85354-9", "Blood pressure panel", when, subject, enc,
                          profiles=claim("bp", "us-core-blood-pressure"),
                          value={"interpretation": interp["bp"]} if "bp" in interp else None,
                          components=[
                              {"code": {"coding": [_coding(LOINC, "8480-6", "Systolic blood pressure")]},
                               "valueQuantity": _qty(row["sbp"], "mm[Hg]")},
                              {"code": {"coding": [_coding(LOINC, "8462-4", "Diastolic blood pressure")]},
                               "valueQuantity": _qty(row["dbp"], "mm[Hg]")}]))
    def valued(col: str, value: dict) -> dict:
        return {**value, "interpretation": interp[col]} if col in interp else value

    for col, codes, display, unit, core, us in VITALS:
        if row.get(col) is not None:
            out.append(_vital(key, col, list(codes), display, when, subject, enc,
                              value=valued(col, {"valueQuantity": _qty(row[col], unit)}),
                              profiles=claim(core, us)))
    for col, display in RATINGS:
        if row.get(col) is not None:
            out.append(_vital(key, col, col, display, when, subject, enc, system=LOCAL,
                              category="exam",
                              value=valued(col, {"valueInteger": int(row[col])})))
    return out


# -- questionnaires ----------------------------------------------------------------------------
# PHQ-9 and GAD-7 share LOINC answer list LL358-3: 0-3 -> these answers
FREQUENCY = (("LA6568-5", "Not at all"), ("LA6569-3", "Several days"),
             ("LA6570-1", "More than half the days"), ("LA6571-9", "Nearly every day"))


@dataclass(frozen=True)
class Questionnaire:
    """A scored instrument exported as a QuestionnaireResponse: `answers(row)` gives its
    stored item answers (None: not in this row), `answer` turns one into a QR answer. A
    new instrument whose items the store keeps is one more entry of QUESTIONNAIRES (the
    C-SSRS screener, answered yes/no with short labels, has its own `cssrs`)."""

    scale: str
    url: str                                   # the Questionnaire's canonical
    title: str
    linkids: tuple[str, ...]                   # item linkIds (LOINC item codes where LOINC has them)
    answers: Callable[[dict], list | None]
    answer: Callable[[object], dict]           # one stored answer -> a QR answer


def _json_list(value) -> list | None:
    if value is None:
        return None
    return json.loads(value) if isinstance(value, str) else list(value)


def _frequency(v) -> dict:
    code, display = FREQUENCY[int(v)]
    return {"valueCoding": _coding(LOINC, code, display)}


QUESTIONNAIRES = (
    Questionnaire("phq9", "http://loinc.org/q/44249-1", "PHQ-9 quick depression assessment panel",
                  PHQ9_ITEMS, lambda r: _json_list(r.get("phq9_items")), _frequency),
    Questionnaire("gad7", "http://loinc.org/q/69737-5",
                  "Generalized anxiety disorder 7 item (GAD-7)", GAD7_ITEMS,
                  lambda r: _json_list(r.get("gad7_items")), _frequency),
)


def questionnaire_response(q: Questionnaire, row: dict, deid: bool, key: str) -> dict | None:
    answers = q.answers(row)
    if not answers:
        return None
    items = [{"linkId": link, "answer": [q.answer(v)]}
             for link, v in zip(q.linkids, answers, strict=False) if v is not None]
    return {
        "resourceType": "QuestionnaireResponse",
        "id": rid("QuestionnaireResponse", f"{key}-{q.scale}"),
        "questionnaire": q.url, "status": "completed",
        "subject": _subject(row, deid), "authored": row["at"],
        "item": items,
    }


def questionnaire_responses(row: dict, deid: bool, key: str) -> list[dict]:
    return [qr for q in QUESTIONNAIRES if (qr := questionnaire_response(q, row, deid, key))]


def _derived(key: str, scale: str, answers: list | None) -> dict:
    """`derivedFrom` the row's QuestionnaireResponse of `scale`, when it has one."""
    if not answers:
        return {}
    return {"derivedFrom": [ref("QuestionnaireResponse", f"{key}-{scale}")]}


def surveys(row: dict, deid: bool, key: str) -> list[dict]:
    """PHQ-9 / GAD-7 panels with items and totals (derived from their
    QuestionnaireResponse when the items are stored); PCL-5 (LOINC), MADRS (local) totals."""
    subject = _subject(row, deid)
    screening = () if deid else (US_CORE + "us-core-observation-screening-assessment",)
    out = []
    for scale, (panel, pdisplay, total_code, tdisplay, item_codes) in SURVEYS.items():
        total = row.get(f"{scale}_total")
        if total is None:
            continue
        comps = []
        items = _json_list(row.get(f"{scale}_items"))
        if items:
            comps = [{"code": {"coding": [_coding(LOINC, c)]}, "valueInteger": v}
                     for c, v in zip(item_codes, items, strict=True)]
        comps.append({"code": {"coding": [_coding(LOINC, total_code, tdisplay)]},
                      "valueInteger": total})
        value = {"valueInteger": total, **_derived(key, scale, items)}
        out.append(_vital(key, scale, panel, pdisplay, row["at"], subject, None,
                          category="survey", value=value, components=comps,
                          profiles=screening))
    if row.get("pcl5_total") is not None:
        out.append(_vital(key, "pcl5", "101698-9", "PTSD PCL-5 score", row["at"], subject,
                          None, category="survey", profiles=screening,
                          value={"valueInteger": row["pcl5_total"]}))
    if row.get("madrs_total") is not None:
        out.append(_vital(key, "madrs", "madrs-total", "MADRS total score", row["at"], subject,
                          None, category="survey", system=LOCAL,
                          value={"valueInteger": row["madrs_total"]}))
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
    clinic = None if reader.deidentified else reader.clinic()  # ids and Encounter identifiers
    with ids_of(clinic):
        return _write_resources(sink, reader, tables, tick, clinic)


def _write_resources(sink: Sink, reader: Reader, tables: list[str],
                     tick: Callable[[int], None], clinic: str | None) -> dict[str, int]:
    deid = reader.deidentified
    counts: dict[str, int] = {}
    # Patients: all of them when other records are exported (records since --since may
    # belong to earlier patients); `export patients --since` gives the new ones only.
    only_patients = tables == ["patients"]
    for row in reader.dicts("patients", since=None if only_patients else reader.EVERYTHING):
        sink.add(patient(row, deid))
    counts["patients"] = sink.n
    if "sessions" in tables or "observations" in tables:
        counts["sessions"] = _sessions(sink, reader, "sessions" in tables, deid, clinic)
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


def _sessions(sink: Sink, reader: Reader, administrations: bool, deid: bool,
              clinic: str | None) -> int:
    """Encounters, also two days before --since so observations resolve; with
    `administrations`, the Procedure, MedicationAdministration and AdverseEvents of
    sessions since --since."""
    before, since = sink.n, reader.since
    enc_since = reader.EVERYTHING
    if since:
        enc_since = (datetime.fromisoformat(since) - timedelta(days=2)).isoformat()
    for row in reader.dicts("encounters", since=enc_since):
        sink.add(encounter(row, deid, clinic))
        if administrations and (not since or row["started_at"] >= since):
            sink.add(procedure(row, deid))
            sink.add(medication_administration(row, deid))
            for res in adverse_events(row, deid):
                sink.add(res)
    return sink.n - before


def _with_questionnaires(sink: Sink, row: dict, deid: bool, key: str) -> None:
    """The row's QuestionnaireResponses, then the Observations derived from them (the
    C-SSRS: its response, then its risk)."""
    for res in questionnaire_responses(row, deid, key) + surveys(row, deid, key) + cssrs(
            row, deid, key):
        sink.add(res)


def _screenings(sink: Sink, reader: Reader, deid: bool) -> int:
    before = sink.n
    for row in reader.dicts("screenings"):
        key = f"screening-{row['screening_id']}"
        for res in vitals(row, deid, key):
            sink.add(res)
        _with_questionnaires(sink, row, deid, key)
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
        _with_questionnaires(sink, row, deid, f"assessment-{row['assessment_id']}")
    return sink.n - before
