"""``patron staff``: the people who log in to the admin console (/admin)."""

from __future__ import annotations

from typing import Annotated

import typer

from patron.cli.common import DatabaseOption, emit, fail, open_database
from patron.core.errors import DomainError
from patron.staff import service

staff_app = typer.Typer(help="Staff users of the admin console (/admin).", no_args_is_help=True)


@staff_app.command("create")
def create_staff(
    account: Annotated[str, typer.Option("--account", help="The account's uuid.")],
    email: Annotated[str, typer.Option("--email", help="What they log in with.")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="viewer (reads), agent (also changes balances, codes, profiles) or admin "
            "(also tokens, webhooks, settings, staff).",
        ),
    ] = "viewer",
    database: DatabaseOption = None,
) -> None:
    """Create a staff user; prints a one-time password (changed at first login)."""
    try:
        created = service.create_staff(
            open_database(database), account_uuid=account, email=email, role=role
        )
    except DomainError as error:
        fail(error)
    emit(
        {
            "staff_id": created.staff.staff_id,
            "account": created.staff.account_uuid,
            "email": created.staff.email,
            "role": created.staff.role.value,
            "one_time_password": created.password,
            "login": "/admin/login",
        }
    )


@staff_app.command("list")
def list_staff(
    account: Annotated[str | None, typer.Option("--account", help="Only this account's.")] = None,
    database: DatabaseOption = None,
) -> None:
    """List staff users (never their password)."""
    emit(service.list_staff(open_database(database), account_uuid=account))


@staff_app.command("disable")
def disable_staff(
    staff_id: Annotated[str, typer.Argument(help="The staff user's id (patron staff list).")],
    database: DatabaseOption = None,
) -> None:
    """Disable a staff user: they cannot log in, and their open sessions end at once."""
    try:
        emit(service.disable_staff(open_database(database), staff_id))
    except DomainError as error:
        fail(error)
