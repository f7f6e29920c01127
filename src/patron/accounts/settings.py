"""An account's settings inside the caller's transaction: typed accessors, one locked update.

The settings are one JSON object on the account row. Each key is named here, with the domain
that uses it, and is read through an accessor below and written only through ``change``: one
read-modify-write under the row's lock, so that two domains changing their own keys at once
never undo each other's change.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from patron.accounts import repository
from patron.core.db import transaction_memo
from patron.core.errors import InvalidInput, NotFound
from patron.core.money import to_decimal

CONVERSION_RATES = "conversion_rates"  # wallets: {"LOCAL_TO_GLOBAL": "0.01"}
EARNING_RULE = "earning_rule"  # orders: points per currency unit, an exact decimal string
STAMP_PROGRAM = "stamp_program"  # orders' stamp cards: patron.orders.stamps.models.StampProgram
SHOPIFY = "shopify"  # integrations: the shop, its sealed token, mirroring
KLAVIYO = "klaviyo"  # integrations: the sealed API key, balances or not

CREDIT_TYPES = ("GLOBAL", "LOCAL")
CONVERSIONS = ("LOCAL_TO_GLOBAL", "GLOBAL_TO_LOCAL")
MAX_RATE_DECIMALS = 12


def conversion_rates(settings: Mapping[str, Any]) -> Mapping[str, Any]:
    """Configured conversion rates by ``<FROM>_TO_<TO>`` key; empty when none are."""
    return settings.get(CONVERSION_RATES) or {}


def parse_conversion_rate(value: object, *, field: str = "conversionRate") -> Decimal:
    """A conversion rate as the ledger accepts one: a number above 0, at most 12 decimals."""
    rate = to_decimal(value, field=field)
    if rate <= 0:
        raise InvalidInput(f"{field} must be greater than 0, got {rate}", field=field)
    if rate.as_tuple().exponent < -MAX_RATE_DECIMALS:  # type: ignore[operator]
        raise InvalidInput(f"{field} has more than {MAX_RATE_DECIMALS} decimal places", field=field)
    return rate


def conversion_key(key: str, *, field: str = "conversionRates") -> str:
    """``LOCAL_TO_GLOBAL`` or ``GLOBAL_TO_LOCAL``."""
    if key not in CONVERSIONS:
        raise InvalidInput(
            f"a conversion is one of {', '.join(CONVERSIONS)}, got '{key}'", field=field
        )
    return key


def set_conversion_rates(
    connection: Connection, account_id: str, rates: Mapping[str, Decimal | None]
) -> dict[str, str]:
    """Set (or, with None, remove) the rates given, keep the others; under the row's lock."""
    merged = {
        key: str(value) for key, value in conversion_rates(lock(connection, account_id)).items()
    }
    for key, rate in rates.items():
        if rate is None:
            merged.pop(key, None)
        else:
            merged[key] = str(rate)
    change(connection, account_id, {CONVERSION_RATES: merged or None})
    return merged


def earning_rule(settings: Mapping[str, Any]) -> Decimal | None:
    """The account's points per currency unit, or None when it earns nothing."""
    stored = settings.get(EARNING_RULE)
    return Decimal(str(stored)) if stored is not None else None


def stamp_program(settings: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The stored stamp program, or None when the account runs none."""
    stored = settings.get(STAMP_PROGRAM)
    return stored if isinstance(stored, dict) else None


def current(connection: Connection, account_id: str) -> dict[str, Any]:
    """The settings as committed now (not as the request's token saw them): read once per
    transaction (``transaction_memo``; a batch's orders share the read), a copy each call."""
    memo = transaction_memo(connection)
    key = f"{_MEMO_KEY}:{account_id}"
    stored = memo.get(key)
    if stored is None:
        row = repository.settings(connection, account_id)
        stored = memo[key] = (row.settings or {}) if row is not None else {}
    return dict(stored)


# The key under which ``current`` shares an account's settings within a transaction.
_MEMO_KEY = "account_settings"


def lock(connection: Connection, account_id: str) -> dict[str, Any]:
    """Take the account row's lock for the rest of the transaction; its settings as they are."""
    row = repository.settings(connection, account_id, for_update=True)
    if row is None:
        raise NotFound(f"no account with uuid '{account_id}'", field="account")
    return dict(row.settings or {})


def change(
    connection: Connection, account_id: str, changes: Mapping[str, object | None]
) -> dict[str, Any]:
    """Merge ``changes`` into the settings under the row's lock; a None value removes a key."""
    row = repository.settings(connection, account_id, for_update=True)
    if row is None:
        raise NotFound(f"no account with uuid '{account_id}'", field="account")
    settings = dict(row.settings or {})
    for key, value in changes.items():
        if value is None:
            settings.pop(key, None)
        else:
            settings[key] = value
    repository.write_settings(connection, account_id, settings)
    return settings


def set_earning_rule(connection: Connection, account_id: str, rate: Decimal | None) -> None:
    change(connection, account_id, {EARNING_RULE: str(rate) if rate is not None else None})


def set_stamp_program(
    connection: Connection, account_id: str, program: Mapping[str, object] | None
) -> None:
    change(connection, account_id, {STAMP_PROGRAM: dict(program) if program is not None else None})
