"""Audit events as the core hands them out: who did what to which object, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AuditEvent:
    event_id: str
    action: str
    subject_type: str
    subject_uuid: str
    # Principal.actor when it was written ("token:<id>", "consumer:<uuid>", "staff:<id>",
    # "system:<job>"), and the token's or job's name.
    actor: str | None
    actor_name: str | None
    details: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """A page of the trail, newest first; every filter given must match."""

    first: int = 50
    # The position to go on from: the last event seen (its created_at and id).
    after: tuple[datetime, str] | None = None
    since: datetime | None = None
    actor: str | None = None
    # An action ("contact.erased") or the part before its dot ("contact").
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    events: list[AuditEvent]
    has_next: bool
