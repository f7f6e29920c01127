"""``patron shopify|klaviyo connect|disconnect``: an account's connections to other systems.

Their credentials are sealed with ``PATRON_SECRET_KEY`` when it is set (``token_sealed`` /
``key_sealed`` in the output say whether they were)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

import typer

from patron.accounts import service as accounts
from patron.cli.common import DatabaseOption, emit, fail, open_database
from patron.core.errors import DomainError
from patron.core.settings import load_settings
from patron.integrations.klaviyo import profiles as klaviyo
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
    mirror_store_credit: Annotated[
        bool,
        typer.Option(
            "--mirror-store-credit/--no-mirror-store-credit",
            help="Mirror GLOBAL credit entries to the customers' Shopify store credit.",
        ),
    ] = False,
    database: DatabaseOption = None,
) -> None:
    """Store the shop and token; contacts with SHOPIFY become customers there."""
    key = load_settings(database_url=database).sealing_key
    try:
        connection = ShopifyConnection(
            clean_shop(shop), token.strip(), api_base, mirror_store_credit
        )
        accounts.update_account_settings(
            open_database(database), account, {SETTINGS_KEY: connection.as_setting(key)}
        )
    except DomainError as error:
        fail(error)
    emit(
        {
            "account": account,
            "shop": connection.shop,
            "connected": True,
            "mirror_store_credit": connection.mirror_store_credit,
            "token_sealed": key is not None,
        }
    )


@shopify_app.command("disconnect")
def disconnect(account: AccountOption, database: DatabaseOption = None) -> None:
    try:
        accounts.update_account_settings(open_database(database), account, {SETTINGS_KEY: None})
    except DomainError as error:
        fail(error)
    emit({"account": account, "connected": False})


@shopify_app.command("refresh")
def refresh(
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account (default: all).")
    ] = None,
    older_than: Annotated[
        float,
        typer.Option("--older-than", help="Seconds since the last read (0: every wallet)."),
    ] = 0.0,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 1000,
    database: DatabaseOption = None,
) -> None:
    """Read Shopify store credit now for wallets of Shopify customers."""
    from patron.integrations.shopify.credit import refresh_stale, shopify_client

    settings = load_settings(database_url=database)
    with shopify_client(settings.webhook_timeout_seconds) as client:
        report = refresh_stale(
            open_database(database),
            client,
            older_than=timedelta(seconds=older_than),
            limit=limit,
            account_id=account,
            secret_key=settings.sealing_key,
        )
    emit(asdict(report))


klaviyo_app = typer.Typer(help="Connect an account to Klaviyo.")


@klaviyo_app.command("connect")
def connect_klaviyo(
    account: AccountOption,
    api_key: Annotated[
        str, typer.Option("--api-key", help="A private API key (never shown again).")
    ],
    api_base: Annotated[
        str | None, typer.Option("--api-base", help="Another base URL for the API.")
    ] = None,
    send_balances: Annotated[
        bool,
        typer.Option(
            "--send-balances/--no-send-balances",
            help="Send wallet balances as profile properties after every credit entry.",
        ),
    ] = False,
    database: DatabaseOption = None,
) -> None:
    """Store the key; contacts with KLAVIYO are upserted as profiles."""
    key = load_settings(database_url=database).sealing_key
    connection = klaviyo.KlaviyoConnection(api_key.strip(), api_base, send_balances)
    try:
        accounts.update_account_settings(
            open_database(database),
            account,
            {klaviyo.SETTINGS_KEY: connection.as_setting(key)},
        )
    except DomainError as error:
        fail(error)
    emit(
        {
            "account": account,
            "connected": True,
            "send_balances": send_balances,
            "key_sealed": key is not None,
        }
    )


@klaviyo_app.command("disconnect")
def disconnect_klaviyo(account: AccountOption, database: DatabaseOption = None) -> None:
    try:
        accounts.update_account_settings(
            open_database(database), account, {klaviyo.SETTINGS_KEY: None}
        )
    except DomainError as error:
        fail(error)
    emit({"account": account, "connected": False})
