"""Errors that carry their exit code (the contract's table), and the two vocabularies a
script relies on: the exit codes and the `code` of the JSON error envelope.

Messages name records by id or MRN only: never a patient's name, date of
birth or notes.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any


class ExitCode(IntEnum):
    """The process exit codes (docs/cli-contract.md, "Exit codes")."""

    OK = 0
    REFUSED = 1  # a clinical safety rule refused (every unmet rule listed)
    INVALID = 2  # invalid input or usage
    NOT_FOUND = 3  # not found or state conflict
    CONFLICT = 3
    STORAGE = 4  # the database cannot be used
    INTERNAL = 70  # a bug in ketacli (EX_SOFTWARE); never a clinical outcome
    INTERRUPTED = 130  # Ctrl-C / Ctrl-D at a prompt


class Code(StrEnum):
    """`error.code` of the JSON envelope: stable snake_case strings, part of the contract."""

    # generic, one per error class
    ERROR = "error"
    REFUSED = "refused"
    INVALID_INPUT = "invalid_input"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    STORAGE_ERROR = "storage_error"
    USAGE_ERROR = "usage_error"
    INTERNAL_ERROR = "internal_error"
    # invalid input (exit 2)
    MISSING_VALUE = "missing_value"
    INVALID_CHOICE = "invalid_choice"
    INVALID_OPTION = "invalid_option"
    INVALID_ID = "invalid_id"
    INVALID_MRN = "invalid_mrn"
    INVALID_TEXT = "invalid_text"
    INVALID_PHONE = "invalid_phone"
    INVALID_SEX = "invalid_sex"
    INVALID_DATE = "invalid_date"
    INVALID_PERIOD = "invalid_period"
    INVALID_BP = "invalid_bp"
    INVALID_ITEMS = "invalid_items"
    INVALID_LOT = "invalid_lot"
    CLINIC_ZONE_MISMATCH = "clinic_zone_mismatch"
    INVALID_SIDE_EFFECT = "invalid_side_effect"
    INVALID_WITNESS = "invalid_witness"
    INVALID_OVERRIDE = "invalid_override"
    INVALID_COSIGN = "invalid_cosign"
    IMPLAUSIBLE_BMI = "implausible_bmi"
    MISSING_WITNESS = "missing_witness"
    IMPLAUSIBLE_VITAL = "implausible_vital"
    OUT_OF_RANGE = "out_of_range"
    FUTURE_TIME = "future_time"
    PAST_DATE = "past_date"
    BEFORE_START = "before_start"
    TIME_ORDER = "time_order"
    DRAWN_BELOW_DOSE = "drawn_below_dose"
    AMOUNTS_EXCEED_DRAWN = "amounts_exceed_drawn"
    AFTER_DISCHARGE = "after_discharge"
    INVALID_BACKUP_PATH = "invalid_backup_path"
    OUTPUT_IS_DATABASE = "output_is_database"
    PROTOCOL_INVALID = "protocol_invalid"
    # refused (exit 1)
    START_REFUSED = "start_refused"
    DISCHARGE_REFUSED = "discharge_refused"
    # not found / conflict (exit 3)
    PATIENT_NOT_FOUND = "patient_not_found"
    SESSION_NOT_FOUND = "session_not_found"
    FOLLOWUP_NOT_FOUND = "followup_not_found"
    RECORD_NOT_FOUND = "record_not_found"
    NO_SCORES = "no_scores"
    PATIENT_EXISTS = "patient_exists"
    OPEN_SESSION_EXISTS = "open_session_exists"
    NO_OPEN_SESSION = "no_open_session"
    SESSION_CLOSED = "session_closed"
    FOLLOWUP_CLOSED = "followup_closed"
    ALREADY_VOIDED = "already_voided"
    EVENT_ORDER = "event_order"
    EVENT_STATE = "event_state"
    SESSION_VOIDED = "session_voided"
    LATE_WINDOW_CLOSED = "late_window_closed"
    LATE_EVENT_KIND = "late_event_kind"
    CONFLICTING_READING = "conflicting_reading"
    DATABASE_NOT_DEMO = "database_not_demo"
    PATIENT_MISMATCH = "patient_mismatch"
    AMBIGUOUS_MRN = "ambiguous_mrn"
    DEMO_DATABASE = "demo_database"
    # storage (exit 4)
    DATABASE_MISSING = "database_missing"
    DATABASE_LOCKED = "database_locked"
    DATABASE_CORRUPT = "database_corrupt"
    DATABASE_READONLY = "database_readonly"
    DATABASE_UNOPENABLE = "database_unopenable"
    SCHEMA_TOO_NEW = "schema_too_new"
    DISK_FULL = "disk_full"
    CONSTRAINT_FAILED = "constraint_failed"
    OS_ERROR = "os_error"
    OUTPUT_UNWRITABLE = "output_unwritable"
    DESTINATION_EXISTS = "destination_exists"
    BACKUP_UNWRITABLE = "backup_unwritable"
    BACKUP_UNVERIFIED = "backup_unverified"
    CHECK_FAILED = "check_failed"
    AUDIT_CHAIN_BROKEN = "audit_chain_broken"
    CLINIC_KEY_MISSING = "clinic_key_missing"
    CLINIC_KEY_WRONG = "clinic_key_wrong"
    INVALID_ANCHOR = "invalid_anchor"
    # files, faults and hostile input (issue 15)
    NOT_A_DATABASE = "not_a_database"
    FOREIGN_WAL = "foreign_wal"
    DATABASE_IN_USE = "database_in_use"
    INVALID_DATABASE_PATH = "invalid_database_path"
    INVALID_SETTING = "invalid_setting"
    READER_CLOSED = "reader_closed"
    BATCH_NOT_FOUND = "batch_not_found"
    # PostgreSQL (issue 18)
    SERVER_UNREACHABLE = "server_unreachable"
    AUTHENTICATION_FAILED = "authentication_failed"
    WRITE_CONFLICT = "write_conflict"
    COMMIT_UNKNOWN = "commit_unknown"


class KetaError(Exception):
    """Base of every error the CLI turns into an `error:` line and an exit code."""

    exit_code: ExitCode = ExitCode.REFUSED
    code: str = Code.ERROR

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[Any] | None = None,
        hint: str | None = None,
        lines: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # one line each on stderr after the `error:` line (a refusal's unmet rules)
        self.lines = lines or []
        if code:
            self.code = code
        self.details = details or []
        self.hint = hint


class Refused(KetaError):
    """A clinical safety rule refused the action (exit 1)."""

    exit_code = ExitCode.REFUSED
    code = Code.REFUSED


class Invalid(KetaError):
    """Invalid input or usage (exit 2)."""

    exit_code = ExitCode.INVALID
    code = Code.INVALID_INPUT


class NotFound(KetaError):
    """No such patient, session or record (exit 3)."""

    exit_code = ExitCode.NOT_FOUND
    code = Code.NOT_FOUND


class Conflict(KetaError):
    """A state conflict: patient exists, session closed, open session exists (exit 3)."""

    exit_code = ExitCode.CONFLICT
    code = Code.CONFLICT


class StorageError(KetaError):
    """The database cannot be used: locked, corrupt, too new, unwritable (exit 4)."""

    exit_code = ExitCode.STORAGE
    code = Code.STORAGE_ERROR


class InternalError(KetaError):
    """A bug in ketacli (exit 70), never mistaken for a clinical refusal or a storage fault."""

    exit_code = ExitCode.INTERNAL
    code = Code.INTERNAL_ERROR
