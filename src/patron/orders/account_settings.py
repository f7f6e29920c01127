"""The account settings that amounts depend on: its points precision and conversion rates.

They are changed here, above wallets, promotions and stamp cards, because the points precision
may only change while none of them keeps an amount in points: LOCAL amounts are stored as
integers of the precision's smallest unit, so 150 at precision 2 (1.50 points) would read as
150 points at precision 0. Conversion rates follow the rules a client's rate follows in
``convertCredit``. Both change in one transaction, under the account row's lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Connection

from patron.accounts import service as accounts
from patron.accounts import settings as account_settings
from patron.accounts.principal import Principal
from patron.core.db import Database
from patron.core.errors import Conflict, NotFound
from patron.core.events import record_audit
from patron.core.unit import run_command
from patron.orders.promotions import service as promotions
from patron.wallets import service as wallets
from patron.wallets.models import CreditType


class PointsPrecisionInUse(Conflict):
    code = "POINTS_PRECISION_IN_USE"


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What to change; None leaves a setting as it is. A rate of None removes that rate."""

    points_precision: int | None = None
    conversion_rates: Mapping[str, object | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AmountSettings:
    points_precision: int
    conversion_rates: dict[str, Decimal]


def _points_kept_by(connection: Connection, account_id: str) -> str | None:
    """What keeps (or may at any moment keep) an amount in points, in words; None when
    nothing does.

    Any wallet counts, not only one with LOCAL entries: a request that posts points names a
    wallet that existed when it was sent, and may have read the precision before this change;
    with no wallet in the account, no such request can be on its way. Promotions and stamp
    programs check the precision they were written with in their own transaction.
    """
    if wallets.has_wallets(connection, account_id):
        return "customers with wallets"
    if wallets.has_entries(connection, account_id, CreditType.LOCAL):
        return "LOCAL credit entries"
    if promotions.any_in_points(connection, account_id):
        return "promotions with a MIN_POINTS audience or a LOCAL reward"
    program = account_settings.stamp_program(account_settings.current(connection, account_id))
    if program is not None and program.get("reward_credit_type") == CreditType.LOCAL.value:
        return "a stamp program rewarding LOCAL points"
    return None


def _change_precision(connection: Connection, account_id: str, wanted: int) -> None:
    account_settings.lock(connection, account_id)
    row = accounts.principal_of_account(connection, account_id, scope="admin")
    if row is None:
        raise NotFound(f"no account with uuid '{account_id}'", field="account")
    if wanted == row.points_precision:
        return
    kept = _points_kept_by(connection, account_id)
    if kept is not None:
        raise PointsPrecisionInUse(
            f"the points precision can only change before the account keeps amounts in "
            f"points, and it has {kept} (points are stored in units of its precision "
            f"{row.points_precision}); it stays {row.points_precision}",
            field="pointsPrecision",
        )
    accounts.change_points_precision(connection, account_id, wanted)


def update_amount_settings(
    db: Database, principal: Principal, change: SettingsChange
) -> AmountSettings:
    """Admin only. Every value is checked before anything is written; a refusal writes nothing."""
    principal.require("admin")
    if change.points_precision is not None:
        accounts.check_points_precision(change.points_precision)
    rates = {
        account_settings.conversion_key(key): (
            account_settings.parse_conversion_rate(rate) if rate is not None else None
        )
        for key, rate in change.conversion_rates.items()
    }
    account_id = principal.account_id

    def write(connection: Connection) -> AmountSettings:
        if change.points_precision is not None:
            _change_precision(connection, account_id, change.points_precision)
        if rates:
            account_settings.set_conversion_rates(connection, account_id, rates)
        if change.points_precision is not None or rates:
            record_audit(
                connection,
                account_id,
                action="account.settings_changed",
                subject_type="account",
                subject_uuid=account_id,
                actor=principal.actor,
                actor_name=principal.actor_name,
                details={
                    "points_precision": change.points_precision,
                    "conversion_rates": {k: str(v) if v else None for k, v in rates.items()},
                },
            )
        return current_amount_settings(connection, account_id)

    return run_command(db, write)


def current_amount_settings(connection: Connection, account_id: str) -> AmountSettings:
    row = accounts.principal_of_account(connection, account_id, scope="read")
    if row is None:
        raise NotFound(f"no account with uuid '{account_id}'", field="account")
    rates = account_settings.conversion_rates(row.settings)
    return AmountSettings(
        points_precision=row.points_precision,
        conversion_rates={key: Decimal(str(value)) for key, value in sorted(rates.items())},
    )
