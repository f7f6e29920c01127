"""Who acted, as ledger entries and audit events record it (``Principal.actor``)."""

from __future__ import annotations

import strawberry

from patron.accounts.principal import ActorKind

strawberry.enum(
    ActorKind, description="Who acted: an API token, a consumer, a staff member or a job."
)


@strawberry.type(
    description="Who wrote a ledger entry or an audit event. `id` is the token's id, the "
    "consumer's contact uuid, the staff member's id or the job's name (expiry, import, ...); "
    "`name` the token's or job's name. `value` is the whole as stored, as the audit filters "
    "take it: `token:<id>`, `consumer:<uuid>`, `staff:<id>`, `system:<job>`."
)
class Actor:
    kind: ActorKind
    id: str | None
    name: str | None
    value: str


def actor_of(stored: str | None, name: str | None) -> Actor | None:
    """The actor as recorded; None for rows written before actors were recorded."""
    if not stored:
        return None
    kind, _, identifier = stored.partition(":")
    found = ActorKind.__members__.get(kind.upper(), ActorKind.SYSTEM)
    return Actor(kind=found, id=identifier or None, name=name, value=stored)
