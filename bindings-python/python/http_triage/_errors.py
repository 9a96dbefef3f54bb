"""The exceptions http-triage raises. Each has a stable ``code`` to branch on.

Messages never quote a caller's string values (header values, bodies, keys): they may be secrets.
"""

from __future__ import annotations

__all__ = [
    "HttpTriageError",
    "InternalError",
    "InvalidInputError",
    "InvalidOptionError",
    "InvalidSnapshotError",
    "LedgerError",
    "UnknownNameError",
]


class HttpTriageError(Exception):
    """Base class of every http-triage error."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, option: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.option = option


class InvalidOptionError(HttpTriageError, ValueError):
    """An option or argument is out of range or unknown; ``option`` names it."""

    code = "invalid_option"


class InvalidSnapshotError(HttpTriageError, ValueError):
    """A snapshot cannot be restored (another version, or inconsistent fields)."""

    code = "invalid_snapshot"


class UnknownNameError(HttpTriageError, ValueError):
    """A name that is not one of the known ones (a category, a transport error kind...)."""

    code = "unknown_name"


class InvalidInputError(HttpTriageError, TypeError):
    """An argument of the wrong type or shape (headers, body, ...)."""

    code = "invalid_input"


class LedgerError(HttpTriageError, ValueError):
    """A ledger line cannot be read; ``code`` is the core's (``json``, ``empty_line``...)."""

    code = "ledger"


class InternalError(HttpTriageError, RuntimeError):
    """A bug in http-triage (a caught panic). Please report it."""

    code = "internal"
