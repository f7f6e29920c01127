"""The audit trail: reading who did what. Events are written by each command, in its own
transaction, through ``patron.core.events.record_audit``."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from patron.accounts.principal import Principal
from patron.audit import repository
from patron.audit.models import AuditEvent, AuditPage, AuditQuery
from patron.core.errors import InvalidInput

MAX_PAGE = 250
_MAX_FILTER = 200


def _filter(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    if not value or len(value) > _MAX_FILTER or any(ord(c) < 32 for c in value):
        raise InvalidInput(f"{field} must be 1 to {_MAX_FILTER} printable characters", field=field)
    return value


def list_events(connection: Connection, principal: Principal, query: AuditQuery) -> AuditPage:
    """A page of the account's audit trail, newest first. A consumer sees none of it."""
    if not 1 <= query.first <= MAX_PAGE:
        raise InvalidInput(f"first must be 1 to {MAX_PAGE}, got {query.first}", field="first")
    _filter(query.actor, "actor")
    _filter(query.kind, "kind")
    if principal.customer_uuid is not None:
        return AuditPage([], False)
    return repository.page(connection, principal.account_id, query)


def events_about(
    connection: Connection, principal: Principal, subject_uuids: Sequence[str]
) -> list[AuditEvent]:
    """Every event about these objects (a contact, its wallet, ...), oldest first."""
    if principal.customer_uuid is not None or not subject_uuids:
        return []
    return repository.about(connection, principal.account_id, subject_uuids)
