"""Erasure, subject access and the audit trail on the native API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from patron.api.graphql.actors import Actor, actor_of
from patron.api.graphql.context import Context
from patron.api.graphql.errors import UserError, domain_errors_as
from patron.api.graphql.relay import PageInfo, decode_cursor, encode_cursor, page_size
from patron.audit import service as audit
from patron.audit.models import AuditEvent as AuditEventModel
from patron.audit.models import AuditQuery
from patron.core.clock import as_utc
from patron.core.errors import InvalidInput
from patron.privacy import service as privacy


@strawberry.type(description="A line of the audit trail: identifiers only, no personal data.")
class AuditEvent:
    id: str = strawberry.field(description="The event's id.")
    kind: str = strawberry.field(description="What happened, e.g. contact.erased.")
    subject_type: str
    subject_uuid: str
    actor: Actor | None
    details: JSON
    created_at: datetime

    @classmethod
    def of(cls, event: AuditEventModel) -> AuditEvent:
        return cls(
            id=event.event_id,
            kind=event.action,
            subject_type=event.subject_type,
            subject_uuid=event.subject_uuid,
            actor=actor_of(event.actor, event.actor_name),
            details=event.details,  # type: ignore[arg-type]
            created_at=event.created_at,
        )


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEvent


@strawberry.type(description="A page of the audit trail, newest first, with cursors to go on.")
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo


def _position(after: str | None) -> tuple[datetime, str] | None:
    if after is None:
        return None
    created, event_id = decode_cursor(after, 2)
    try:
        moment = as_utc(datetime.fromisoformat(str(created)))
    except ValueError:
        problem = f"after '{after[:100]}' is not a cursor of this list"
        raise InvalidInput(problem, field="after") from None
    return moment, str(event_id)


def account_audit_events(
    info: Info[Context, None],
    first: int | None = None,
    after: str | None = None,
    since: datetime | None = None,
    actor: str | None = None,
    kind: str | None = None,
) -> AuditEventConnection:
    """The account's audit trail, newest first: first 1 to 250 (default 50), after an edge's
    cursor; since a moment, by one actor (`token:<id>`, ...) or of one kind (`contact.erased`,
    or `contact` for every contact.* event)."""
    context = info.context
    position = _position(after)
    query = AuditQuery(
        first=page_size(first),
        after=position,
        since=as_utc(since) if since is not None else None,
        actor=actor,
        kind=kind,
    )
    page = audit.list_events(context.connection(), context.principal, query)
    edges = [
        AuditEventEdge(
            cursor=encode_cursor(event.created_at, event.event_id), node=AuditEvent.of(event)
        )
        for event in page.events
    ]
    return AuditEventConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=position is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


@strawberry.type
class EraseContactResponse:
    success: bool
    contact_uuid: str | None = strawberry.field(default=None, description="The erased contact.")
    wallet_uuid: str | None = strawberry.field(
        default=None, description="Its wallet, kept with its entries for the books."
    )
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@domain_errors_as(EraseContactResponse)
def erase_contact(info: Info[Context, None], uuid: str) -> EraseContactResponse:
    """Erase a contact for good (admin): every personal field blanked, identities, consumer
    credentials and contact persons deleted; the wallet, entries, lots and orders kept for the
    books, anonymous. No surface reads or writes the contact again."""
    context = info.context
    erased = privacy.erase_contact(context.db, context.principal, uuid)
    return EraseContactResponse(
        success=True, contact_uuid=erased.contact_uuid, wallet_uuid=erased.wallet_uuid
    )


@strawberry.type
class ExportContactDataResponse:
    success: bool
    data: JSON | None = strawberry.field(
        default=None, description="Everything Patron holds about the contact (no secrets)."
    )
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@domain_errors_as(ExportContactDataResponse)
def export_contact_data(info: Info[Context, None], uuid: str) -> ExportContactDataResponse:
    """Everything Patron holds about one person, as one JSON document (admin); the export is
    recorded in the audit trail."""
    context = info.context
    exported: dict[str, Any] = privacy.export_contact_data(context.db, context.principal, uuid)
    return ExportContactDataResponse(success=True, data=exported)  # type: ignore[arg-type]
