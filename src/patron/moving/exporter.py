"""Exporting contacts, balances and ledger entries, streamed in constant memory.

Contacts come out with exactly the columns an import reads, balances as the ledger balance
(held credit included) in the account's decimals, so an export imported into an empty account
gives the same balances. Entries carry every field of the native ``CreditEntry``.
"""

from __future__ import annotations

import csv
import json
from base64 import b64encode
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from patron.accounts.principal import Principal
from patron.core.clock import as_utc
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.core.money import minor_text
from patron.customers import service as customers
from patron.moving.files import COLUMNS, FORMATS
from patron.wallets import service as wallets

BALANCE_COLUMNS = (
    "email",
    "shopify_id",
    "klaviyo_id",
    "lightspeed_id",
    "external_id",
    "global_balance",
    "local_balance",
)
ENTRY_COLUMNS = (
    "id",
    "uuid",
    "wallet_uuid",
    "seq",
    "action",
    "credit_type",
    "amount",
    "amount_minor",
    "balance_after",
    "reason",
    "note",
    "idempotency_key",
    "conversion_uuid",
    "redemption_uuid",
    "order_uuid",
    "reverses_uuid",
    "expires_at",
    "created_at",
)


def check_format(given: str) -> str:
    chosen = given.strip().lower()
    if chosen not in FORMATS:
        raise InvalidInput(f"--format must be csv or jsonl, got '{given}'", field="format")
    return chosen


def parse_since(given: str | None) -> datetime | None:
    if given is None:
        return None
    try:
        moment = datetime.fromisoformat(given.strip())
    except ValueError:
        raise InvalidInput(
            f"--since must be an ISO 8601 date or time (2026-12-01T00:00:00Z), got '{given}'",
            field="since",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _entry_rows(
    connection: Any, principal: Principal, since: datetime | None
) -> Iterator[tuple[Any, ...]]:
    """Each entry as the values of ``ENTRY_COLUMNS``: amounts in the account's decimals (as
    text), times in UTC."""
    places = {"GLOBAL": principal.currency_precision, "LOCAL": principal.points_precision}
    for (
        entry_uuid,
        wallet_uuid,
        seq,
        action,
        credit_type,
        amount,
        balance_after,
        reason,
        note,
        idempotency_key,
        conversion_uuid,
        redemption_uuid,
        order_uuid,
        reverses_uuid,
        expires_at,
        created_at,
    ) in wallets.export_entries(connection, principal, since=since):
        decimals = places[credit_type]
        yield (
            b64encode(f"CreditEntry:{entry_uuid}".encode()).decode(),
            entry_uuid,
            wallet_uuid,
            seq,
            action,
            credit_type,
            minor_text(amount, decimals),
            amount,
            minor_text(balance_after, decimals),
            reason,
            note,
            idempotency_key,
            conversion_uuid,
            redemption_uuid,
            order_uuid,
            reverses_uuid,
            as_utc(expires_at).isoformat() if expires_at is not None else None,
            as_utc(created_at).isoformat(),
        )


def _contact_rows(
    connection: Any, principal: Principal, columns: tuple[str, ...], since: datetime | None
) -> Iterator[Sequence[Any]]:
    """Each contact as the values of ``columns``: balances in the account's decimals (as
    text), the birthday as an ISO date."""
    global_at = columns.index("global_balance")
    local_at = columns.index("local_balance")
    birthday_at = columns.index("birthday") if "birthday" in columns else None
    global_places, local_places = principal.currency_precision, principal.points_precision
    for row in customers.export_customers(
        connection, principal, columns, since=since, balances_only=columns == BALANCE_COLUMNS
    ):
        values = list(row)
        values[global_at] = minor_text(values[global_at], global_places)
        values[local_at] = minor_text(values[local_at], local_places)
        if birthday_at is not None and values[birthday_at] is not None:
            values[birthday_at] = values[birthday_at].isoformat()
        yield values


def export(
    db: Database,
    principal: Principal,
    what: str,
    kind: str,
    out: IO[str],
    *,
    since: datetime | None = None,
) -> int:
    """Write ``what`` (contacts, balances, entries) to ``out``; the number of rows."""
    if what not in {"contacts", "balances", "entries"}:
        raise InvalidInput("export contacts, balances or entries", field="what")
    count = 0
    with db.read() as connection:
        columns: tuple[str, ...]
        if what == "entries":
            columns = ENTRY_COLUMNS
            rows: Iterator[Sequence[Any]] = _entry_rows(connection, principal, since)
        else:
            columns = BALANCE_COLUMNS if what == "balances" else COLUMNS
            rows = _contact_rows(connection, principal, columns, since)
        if kind == "csv":
            writer = csv.writer(out)
            writer.writerow(columns)
            for row in rows:
                writer.writerow(row)  # None is written as an empty cell
                count += 1
        else:
            encode = json.JSONEncoder().encode
            for row in rows:
                out.write(encode(dict(zip(columns, row, strict=True))))
                out.write("\n")
                count += 1
    out.flush()
    return count
