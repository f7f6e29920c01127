"""Typed domain errors: a stable code, a human message, the field it concerns. No HTTP here."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused a command. Each API surface maps these onto its own shape."""

    code: str = "INVALID"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    code = "INVALID"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    code = "CONFLICT"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class ValidationErrors(DomainError):
    """Several field errors found at once; all are reported, nothing is written."""

    code = "INVALID"

    def __init__(self, errors: list[DomainError]) -> None:
        super().__init__("; ".join(error.message for error in errors), field=errors[0].field)
        self.errors = errors
