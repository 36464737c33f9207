"""Errors that carry their exit code (the contract's table).

Messages name records by id or MRN only: never a patient's name, date of
birth or notes.
"""

from __future__ import annotations


class KetaError(Exception):
    """Base of every error the CLI turns into an `error:` line and an exit code."""

    exit_code = 1
    code = "error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or []
        self.hint = hint


class Refused(KetaError):
    """A clinical safety rule refused the action (exit 1)."""

    exit_code = 1
    code = "refused"


class Invalid(KetaError):
    """Invalid input or usage (exit 2)."""

    exit_code = 2
    code = "invalid_input"


class NotFound(KetaError):
    """No such patient, session or record (exit 3)."""

    exit_code = 3
    code = "not_found"


class Conflict(KetaError):
    """A state conflict: patient exists, session closed, open session exists (exit 3)."""

    exit_code = 3
    code = "conflict"


class StorageError(KetaError):
    """The database cannot be used: locked, corrupt, too new, unwritable (exit 4)."""

    exit_code = 4
    code = "storage_error"
