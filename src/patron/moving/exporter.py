"""Exporting contacts, balances and ledger entries, streamed in constant memory.

Contacts come out with exactly the columns an import reads, balances as the ledger balance
(held credit included) in the account's decimals, so an export imported into an empty account
gives the same balances. Entries carry every field of the native ``CreditEntry``.
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import IO, Any

from patron.accounts.principal import Principal
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.core.money import from_minor
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


def _rows(
    db_connection: Any, principal: Principal, what: str, since: datetime | None
) -> tuple[tuple[str, ...], Iterator[dict[str, Any]]]:
    global_places, local_places = principal.currency_precision, principal.points_precision
    if what == "entries":

        def entries() -> Iterator[dict[str, Any]]:
            for entry in wallets.export_entries(db_connection, principal, since=since):
                places = global_places if entry.credit_type.value == "GLOBAL" else local_places
                yield {
                    "id": base64.b64encode(f"CreditEntry:{entry.uuid}".encode()).decode(),
                    "uuid": entry.uuid,
                    "wallet_uuid": entry.wallet_uuid,
                    "seq": entry.seq,
                    "action": entry.action.value,
                    "credit_type": entry.credit_type.value,
                    "amount": from_minor(entry.amount, places),
                    "amount_minor": entry.amount,
                    "balance_after": from_minor(entry.balance_after, places),
                    "reason": entry.reason.value,
                    "note": entry.note,
                    "idempotency_key": entry.idempotency_key,
                    "conversion_uuid": entry.conversion_uuid,
                    "redemption_uuid": entry.redemption_uuid,
                    "order_uuid": entry.order_uuid,
                    "reverses_uuid": entry.reverses_uuid,
                    "expires_at": entry.expires_at,
                    "created_at": entry.created_at,
                }

        return ENTRY_COLUMNS, entries()
    columns = BALANCE_COLUMNS if what == "balances" else COLUMNS

    def contacts() -> Iterator[dict[str, Any]]:
        for row in customers.export_customers(
            db_connection, principal, since=since, balances_only=what == "balances"
        ):
            row["global_balance"] = from_minor(row["global_balance"], global_places)
            row["local_balance"] = from_minor(row["local_balance"], local_places)
            yield row

    return columns, contacts()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json(value: Any) -> Any:
    if value is None or isinstance(value, int | bool):
        return value
    return _text(value)


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
        columns, rows = _rows(connection, principal, what, since)
        if kind == "csv":
            writer = csv.writer(out)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_text(row[name]) for name in columns])
                count += 1
        else:
            for row in rows:
                out.write(json.dumps({name: _json(row[name]) for name in columns}) + "\n")
                count += 1
    out.flush()
    return count
