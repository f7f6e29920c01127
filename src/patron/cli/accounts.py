"""``patron account`` and ``patron token``."""

from __future__ import annotations

from typing import Annotated

import typer

from patron.accounts import service
from patron.cli.common import DatabaseOption, emit, fail, open_database
from patron.core.errors import DomainError, InvalidInput

account_app = typer.Typer(help="Merchant accounts (tenants).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens of an account.", no_args_is_help=True)


@account_app.command("create")
def create_account(
    name: Annotated[str, typer.Option("--name", help="The merchant's name.")],
    currency: Annotated[str, typer.Option("--currency", help="ISO 4217 code.")] = "USD",
    points_precision: Annotated[
        int, typer.Option("--points-precision", help="Decimal places of LOCAL points (0-6).")
    ] = 0,
    database: DatabaseOption = None,
) -> None:
    """Create an account; prints its uuid and a new admin token (shown only once)."""
    db = open_database(database)
    try:
        account, issued = service.create_account(
            db, name=name, currency=currency, points_precision=points_precision
        )
    except DomainError as error:
        fail(error)
        return
    emit(
        {
            "uuid": account.uuid,
            "name": account.name,
            "currency": account.currency,
            "points_precision": account.points_precision,
            "token": issued.token,
            "token_id": issued.info.token_id,
            "scope": issued.info.scope,
        }
    )


@account_app.command("list")
def list_accounts(database: DatabaseOption = None) -> None:
    """List every account."""
    emit(service.list_accounts(open_database(database)))


def _rates(given: list[str]) -> dict[str, object | None]:
    """``LOCAL_TO_GLOBAL=0.01`` sets a rate, ``LOCAL_TO_GLOBAL=`` removes it."""
    rates: dict[str, object | None] = {}
    for item in given:
        key, equals, rate = item.partition("=")
        if not equals:
            raise InvalidInput(
                f"--conversion-rate takes FROM_TO_TO=RATE (LOCAL_TO_GLOBAL=0.01), got '{item}'",
                field="conversion_rate",
            )
        rates[key.strip().upper()] = rate.strip() or None
    return rates


@account_app.command("settings")
def account_settings(
    account: Annotated[str, typer.Argument(help="The account's uuid.")],
    conversion_rate: Annotated[
        list[str] | None,
        typer.Option(
            "--conversion-rate",
            help="LOCAL_TO_GLOBAL=0.01 (or GLOBAL_TO_LOCAL=...); an empty rate removes it. "
            "Repeatable.",
        ),
    ] = None,
    points_precision: Annotated[
        int | None,
        typer.Option(
            "--points-precision",
            help="Decimal places of LOCAL points (0-6); only while no amount is kept in points.",
        ),
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Show or change the settings amounts depend on; prints them as they are afterwards."""
    from patron.orders.account_settings import SettingsChange, update_amount_settings

    db = open_database(database)
    try:
        principal = service.system_principal(service.get_account(db, account), job="cli")
        change = SettingsChange(
            points_precision=points_precision, conversion_rates=_rates(conversion_rate or [])
        )
        settings = update_amount_settings(db, principal, change)
    except DomainError as error:
        fail(error)
    emit(
        {
            "uuid": account,
            "points_precision": settings.points_precision,
            "conversion_rates": settings.conversion_rates,
        }
    )


@token_app.command("create")
def create_token(
    account: Annotated[str, typer.Option("--account", help="The account's uuid.")],
    scope: Annotated[str, typer.Option("--scope", help="read, write or admin.")] = "write",
    name: Annotated[str | None, typer.Option("--name", help="A label for the token.")] = None,
    database: DatabaseOption = None,
) -> None:
    """Create a token; prints it once. Only its SHA-256 is stored."""
    try:
        issued = service.create_token(
            open_database(database), account_uuid=account, scope=scope, name=name
        )
    except DomainError as error:
        fail(error)
        return
    emit(
        {
            "token": issued.token,
            "token_id": issued.info.token_id,
            "account": issued.info.account_uuid,
            "scope": issued.info.scope,
        }
    )


@token_app.command("list")
def list_tokens(
    account: Annotated[str | None, typer.Option("--account", help="Only this account's.")] = None,
    database: DatabaseOption = None,
) -> None:
    """List tokens (never their secret)."""
    emit(service.list_tokens(open_database(database), account_uuid=account))


@token_app.command("revoke")
def revoke_token(token_id: str, database: DatabaseOption = None) -> None:
    """Revoke a token by its id; it stops working at once."""
    try:
        emit(service.revoke_token(open_database(database), token_id))
    except DomainError as error:
        fail(error)
