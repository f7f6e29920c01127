"""A domain enum under the name a second GraphQL surface gives it.

Each enum is declared once, in its domain, and a surface exposes that class with
``strawberry.enum(Domain, name=..., description=...)``. Strawberry keeps the GraphQL definition
on the class itself, so when a second surface names or describes the same enum otherwise it
takes a copy made here from the domain's members: a member added in the domain appears in both.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar, cast

import strawberry

E = TypeVar("E", bound=Enum)


def renamed(domain: type[E], *, name: str, description: str | None = None) -> type[E]:
    """``domain``'s members as the GraphQL enum ``name`` (a class of its own)."""
    copy = Enum(name, [(member.name, member.value) for member in domain])  # type: ignore[misc]
    return cast(type[E], strawberry.enum(copy, name=name, description=description))
