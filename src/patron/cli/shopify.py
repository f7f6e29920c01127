"""``patron shopify connect|disconnect``: an account's Shopify shop and Admin API token."""

from __future__ import annotations

from typing import Annotated

import typer

from patron.accounts import service as accounts
from patron.cli.common import DatabaseOption, emit, fail, open_database
from patron.core.errors import DomainError
from patron.integrations.shopify.admin import SETTINGS_KEY, ShopifyConnection, clean_shop

shopify_app = typer.Typer(help="Connect an account to its Shopify store.")

AccountOption = Annotated[str, typer.Option("--account", help="The account uuid.")]


@shopify_app.command("connect")
def connect(
    account: AccountOption,
    shop: Annotated[str, typer.Option("--shop", help="<name>.myshopify.com")],
    token: Annotated[
        str, typer.Option("--token", help="Admin API access token (never shown again).")
    ],
    api_base: Annotated[
        str | None, typer.Option("--api-base", help="Another base URL for the Admin API.")
    ] = None,
    database: DatabaseOption = None,
) -> None:
    """Store the shop and token; contacts with SHOPIFY become customers there."""
    try:
        connection = ShopifyConnection(clean_shop(shop), token.strip(), api_base)
        accounts.update_account_settings(
            open_database(database), account, {SETTINGS_KEY: connection.as_setting()}
        )
    except DomainError as error:
        fail(error)
    emit({"account": account, "shop": connection.shop, "connected": True})


@shopify_app.command("disconnect")
def disconnect(account: AccountOption, database: DatabaseOption = None) -> None:
    try:
        accounts.update_account_settings(open_database(database), account, {SETTINGS_KEY: None})
    except DomainError as error:
        fail(error)
    emit({"account": account, "connected": False})
