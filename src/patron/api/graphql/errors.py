"""The one place where domain errors become the native API's payload errors."""

from __future__ import annotations

import strawberry

from patron.core.errors import DomainError, ValidationErrors


@strawberry.type
class UserError:
    field: str | None
    code: str
    message: str


def user_errors(error: DomainError) -> list[UserError]:
    parts = error.errors if isinstance(error, ValidationErrors) else [error]
    return [UserError(field=part.field, code=part.code, message=part.message) for part in parts]


def messages(error: DomainError) -> list[str]:
    return [item.message for item in user_errors(error)]
