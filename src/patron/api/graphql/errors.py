"""The one place where domain errors become the native API's payload errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar, cast

import strawberry

from patron.core.errors import DomainError, ValidationErrors

Params = ParamSpec("Params")
Answer = TypeVar("Answer")


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


class Payload(Protocol):
    """A mutation's answer: ``success``, human-readable ``errors`` and structured ``userErrors``."""

    def __init__(
        self, *, success: bool, errors: list[str], user_errors: list[UserError]
    ) -> None: ...


def domain_errors_as(
    payload: type[Payload],
) -> Callable[[Callable[Params, Answer]], Callable[Params, Answer]]:
    """A resolver whose domain errors are answered as a failed ``payload``, nothing else.

    The resolver keeps its name, parameters and annotations, so strawberry reads it as before.
    """

    def decorate(resolver: Callable[Params, Answer]) -> Callable[Params, Answer]:
        @functools.wraps(resolver)
        def resolve(*args: Params.args, **kwargs: Params.kwargs) -> Answer:
            try:
                return resolver(*args, **kwargs)
            except DomainError as error:
                failed = payload(
                    success=False, errors=messages(error), user_errors=user_errors(error)
                )
                return cast(Answer, failed)

        return resolve

    return decorate
