"""SQL for the audit trail. Every statement is scoped by the account."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from patron.audit.models import AuditEvent, AuditPage, AuditQuery
from patron.core.clock import as_utc
from patron.core.events import audit_events

_a = audit_events.c


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        event_id=row.event_id,
        action=row.action,
        subject_type=row.subject_type,
        subject_uuid=row.subject_uuid,
        actor=row.actor,
        actor_name=row.actor_name,
        details=dict(row.details or {}),
        created_at=as_utc(row.created_at),
    )


def page(connection: Connection, account_id: str, query: AuditQuery) -> AuditPage:
    conditions: list[Any] = [_a.account_id == account_id]
    if query.since is not None:
        conditions.append(_a.created_at >= query.since)
    if query.actor is not None:
        conditions.append(_a.actor == query.actor)
    if query.kind is not None:
        conditions.append(or_(_a.action == query.kind, _a.action.startswith(f"{query.kind}.")))
    if query.after is not None:
        created, event_id = query.after
        conditions.append(
            or_(_a.created_at < created, and_(_a.created_at == created, _a.event_id < event_id))
        )
    rows = connection.execute(
        select(audit_events)
        .where(*conditions)
        .order_by(_a.created_at.desc(), _a.event_id.desc())
        .limit(query.first + 1)
    ).all()
    return AuditPage([_event(row) for row in rows[: query.first]], len(rows) > query.first)


def about(
    connection: Connection, account_id: str, subject_uuids: Sequence[str]
) -> list[AuditEvent]:
    """Every event about these subjects, oldest first."""
    rows = connection.execute(
        select(audit_events)
        .where(_a.account_id == account_id, _a.subject_uuid.in_(list(subject_uuids)))
        .order_by(_a.created_at, _a.event_id)
    ).all()
    return [_event(row) for row in rows]
