"""The fixed vocabularies of the record, defined once: what kinds of events, follow-ups,
voids, side effects, transports and phases exist. Commands validate against these,
renderers label them, and tests check that the schema's CHECK constraints list the same
values (the released migrations themselves are never edited).

Rating scales (names, labels, bands) live in `ketacli.domain.scales`; vital-sign names
and labels in `ketacli.domain.vitals`.
"""

from __future__ import annotations

# Infusion events (log-event KIND). Flow events change the pump's state.
EVENT_KINDS = ("pause", "resume", "rate-change", "stop", "medication", "adverse")
FLOW_EVENTS = ("pause", "resume", "stop")
# Events a discharged session still takes as late entries (its pump's course is closed)
LATE_EVENTS = ("medication", "adverse")

# Follow-ups
FOLLOWUP_KINDS = ("infusion", "assessment", "call", "screening")
FOLLOWUP_STATUSES = ("pending", "done", "cancelled")

# Records that `void` can mark entered-in-error
VOID_KINDS = ("observation", "assessment", "event", "screening", "session")

# Observation phases, in the order of a session
PHASES = ("pre", "intra", "post", "discharge")

# Screening decisions
DECISIONS = ("eligible", "needs-review", "ineligible")

# Discharge
TRANSPORTS = ("escort", "taxi", "rideshare", "public", "other")
SELF_DRIVE = ("self-drive", "self", "drive", "driving")  # refused: no driving until the next day
SIDE_EFFECTS = ("dizziness", "difficulty-speaking", "nausea", "vomiting", "headache",
                "blurred-vision", "dissociation", "hypertension", "tachycardia", "anxiety",
                "drowsiness", "other")
SEVERITIES = ("mild", "moderate", "severe")

# Patients
SEXES = ("F", "M", "X", "U")

# Exportable tables, in export order, and the formats
EXPORT_TABLES = ("patients", "screenings", "sessions", "observations", "events", "assessments",
                 "followups", "audit")
EXPORT_FORMATS = ("csv", "json", "ndjson", "fhir", "fhir-ndjson")
FHIR_TABLES = ("patients", "screenings", "sessions", "observations", "assessments")  # mapped

# The floor: a session's status (`sessions`), an open session's phase and its 40-minute BP
# (`board`)
SESSION_STATUSES = ("open", "discharged", "voided")
BOARD_PHASES = ("infusing", "paused", "observing")
BP_40MIN_STATES = ("due", "done", "missed")
