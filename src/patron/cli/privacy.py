"""``patron contact erase|export`` and ``patron audit list``: erasure, subject access and
the audit trail, for an operator of the store (acting as ``system:cli``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.audit import service as audit
from patron.audit.models import AuditQuery
from patron.cli.common import DatabaseOption, emit, fail, open_database, refuse
from patron.core.clock import as_utc
from patron.core.db import Database
from patron.core.errors import DomainError
from patron.privacy import service as privacy

contact_app = typer.Typer(help="Erase a contact, or export everything held about one.")
audit_app = typer.Typer(help="The audit trail: who did what, newest first.")

AccountOption = Annotated[
    str | None,
    typer.Option("--account", help="The account's uuid (needed when the store has several)."),
]


def _operator(db: Database, account: str | None) -> Principal:
    """The operator acting for the account given, or for the store's only account."""
    if account is None:
        known = accounts.list_accounts(db)
        if len(known) != 1:
            refuse(
                "ACCOUNT_REQUIRED",
                f"the store has {len(known)} accounts: name one with --account UUID",
            )
        return accounts.system_principal(known[0], job="cli")
    return accounts.system_principal(accounts.get_account(db, account), job="cli")


@contact_app.command("erase")
def erase(
    contact: Annotated[str, typer.Argument(help="The contact's uuid.")],
    account: AccountOption = None,
    database: DatabaseOption = None,
) -> None:
    """Erase a contact for good: personal data blanked, the books kept (see the README)."""
    db = open_database(database)
    try:
        erased = privacy.erase_contact(db, _operator(db, account), contact)
    except DomainError as error:
        fail(error)
    emit(
        {
            "erased": erased.contact_uuid,
            "wallet_uuid": erased.wallet_uuid,
            "codes_cancelled": erased.codes_cancelled,
            "contact_persons_deleted": erased.contact_persons_deleted,
        }
    )


@contact_app.command("export")
def export(
    contact: Annotated[str, typer.Argument(help="The contact's uuid.")],
    account: AccountOption = None,
    database: DatabaseOption = None,
) -> None:
    """Print everything Patron holds about one contact, as one JSON document."""
    db = open_database(database)
    try:
        emit(privacy.export_contact_data(db, _operator(db, account), contact))
    except DomainError as error:
        fail(error)


@audit_app.command("list")
def list_events(
    account: AccountOption = None,
    since: Annotated[
        datetime | None, typer.Option("--since", help="Only events at or after (ISO 8601, UTC).")
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option("--actor", help="token:<id>, consumer:<uuid>, staff:<id> or system:<job>."),
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="An action (contact.erased) or its prefix.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=audit.MAX_PAGE)] = 50,
    database: DatabaseOption = None,
) -> None:
    """The newest audit events of the account, with who did each."""
    db = open_database(database)
    try:
        principal = _operator(db, account)
        query = AuditQuery(
            first=limit,
            since=as_utc(since) if since is not None else None,
            actor=actor,
            kind=kind,
        )
        with db.read() as connection:
            page = audit.list_events(connection, principal, query)
    except DomainError as error:
        fail(error)
    emit({"events": page.events, "more": page.has_next})
