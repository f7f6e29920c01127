"""Stamp cards, driven by orders: each qualifying order completed adds a stamp, and a full
card turns into a redemption code (source STAMPS) holding the program's reward.

The reward is added to the customer's wallet and held by the code in the same transaction
as the order, so that redeeming the code spends it like any other code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from patron.accounts import service as accounts
from patron.accounts import settings as account_settings
from patron.accounts.principal import Principal
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.core.events import record_audit, record_event
from patron.core.money import from_minor, to_decimal, to_minor
from patron.core.unit import run_command
from patron.orders import repository as order_repository
from patron.orders.models import Order, OrderStatus
from patron.orders.stamps import repository
from patron.orders.stamps.models import (
    MAX_EXPIRY_DAYS,
    MAX_STAMPS_REQUIRED,
    StampCard,
    StampProgram,
    StampProgramCommand,
)
from patron.redemptions import service as redemption_service
from patron.redemptions.models import SOURCE_STAMPS, Redemption
from patron.wallets import ledger, postings
from patron.wallets import service as wallets
from patron.wallets.models import Action, CreditType, Reason


def _whole(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{field} must be a whole number from {low} to {high}", field=field)
    return value


def clean_program(principal: Principal, command: StampProgramCommand) -> StampProgram:
    credit_type = ledger.parse_credit_type(command.reward_credit_type, field="rewardCreditType")
    minimum = 0
    if command.min_order_total is not None:
        total = to_decimal(command.min_order_total, field="minOrderTotal")
        if total < 0:
            raise InvalidInput(
                f"minOrderTotal must be 0 or more, got {total}", field="minOrderTotal"
            )
        minimum = to_minor(total, principal.currency_precision, field="minOrderTotal")
    return StampProgram(
        stamps_required=_whole(command.stamps_required, "stampsRequired", 1, MAX_STAMPS_REQUIRED),
        reward_credit_type=credit_type,
        reward_amount=ledger.amount_minor(
            principal, credit_type, command.reward_value, field="rewardValue"
        ),
        min_order_total=minimum,
        reward_expires_days=(
            _whole(command.reward_expires_days, "rewardExpiresDays", 1, MAX_EXPIRY_DAYS)
            if command.reward_expires_days is not None
            else None
        ),
    )


def program_from_settings(settings: Mapping[str, Any]) -> StampProgram | None:
    stored = account_settings.stamp_program(settings)
    if stored is None:
        return None
    return StampProgram(
        stamps_required=int(stored["stamps_required"]),
        reward_credit_type=CreditType(stored["reward_credit_type"]),
        reward_amount=int(stored["reward_amount"]),
        min_order_total=int(stored.get("min_order_total") or 0),
        reward_expires_days=stored.get("reward_expires_days"),
    )


def set_stamp_program(
    db: Database, principal: Principal, command: StampProgramCommand | None
) -> StampProgram | None:
    """Start, change (cards keep their stamps) or stop (None) the stamp program. Admin only."""
    principal.require("admin")
    program = clean_program(principal, command) if command is not None else None

    def write(connection: Connection) -> None:
        account_id = principal.account_id
        accounts.require_points_precision(connection, principal)
        account_settings.set_stamp_program(
            connection, account_id, program.stored() if program is not None else None
        )
        record_audit(
            connection,
            account_id,
            action="account.stamp_program_set",
            subject_type="account",
            subject_uuid=account_id,
            actor=principal.actor,
            actor_name=principal.actor_name,
            details=program.stored() if program is not None else {},
        )

    run_command(db, write)
    return program


def stamp_program(connection: Connection, principal: Principal) -> StampProgram | None:
    """The account's program as committed now."""
    return program_from_settings(account_settings.current(connection, principal.account_id))


def stamp_order(
    connection: Connection,
    principal: Principal,
    order_uuid: str,
    now: datetime,
    *,
    settings: Mapping[str, Any],
) -> Redemption | None:
    """Stamp a just-completed order (in its transaction), once; the reward code of a card
    this stamp fills, if it does. ``settings``: the account's, as the caller has just read
    them in this transaction (the order's earning rule comes from the same read)."""
    account_id = principal.account_id
    program = program_from_settings(settings)
    if program is None:
        return None
    order = order_repository.get_order(connection, account_id, order_uuid)
    if (
        order is None
        or order.customer_uuid is None
        or order.status is not OrderStatus.COMPLETED
        or order.total < program.min_order_total
    ):
        return None
    if repository.is_stamped(connection, account_id, order.uuid):
        return None
    customer_uuid = order.customer_uuid
    card = repository.card_for_update(connection, account_id, customer_uuid, now)
    stamps, rewards = card.stamps + 1, card.rewards
    reward = None
    if stamps >= program.stamps_required:
        stamps, rewards = stamps - program.stamps_required, rewards + 1
        reward = _issue_reward(connection, principal, program, customer_uuid, order, now)
    repository.update_card(
        connection, account_id, customer_uuid, stamps=stamps, rewards=rewards, now=now
    )
    repository.record_stamp(
        connection,
        account_id,
        order.uuid,
        customer_uuid,
        reward.uuid if reward is not None else None,
        now,
    )
    record_event(
        connection,
        account_id,
        "stamp_card.stamped",
        {
            "contact_uuid": customer_uuid,
            "order_uuid": order.uuid,
            "stamps": stamps,
            "rewards": rewards,
            "redemption_uuid": reward.uuid if reward is not None else None,
        },
    )
    return reward


def _issue_reward(
    connection: Connection,
    principal: Principal,
    program: StampProgram,
    customer_uuid: str,
    order: Order,
    now: datetime,
) -> Redemption:
    wallet_uuid = wallets.wallet_uuids_for_customers(connection, principal, [customer_uuid])[
        customer_uuid
    ]
    shown = from_minor(
        program.reward_amount, ledger.precision(principal, program.reward_credit_type)
    )
    postings.post(
        connection,
        principal,
        postings.Posting(
            wallet_uuid=wallet_uuid,
            action=Action.ADD,
            credit_type=program.reward_credit_type,
            amount=program.reward_amount,
            reason=Reason.ORDER,
            order_uuid=order.uuid,
            note=f"stamp card reward ({shown}) completed by order {order.external_id}",
        ),
        now,
    )
    expires_at = (
        now + timedelta(days=program.reward_expires_days)
        if program.reward_expires_days is not None
        else None
    )
    return redemption_service.issue_code(
        connection,
        principal,
        redemption_service.Issue(
            wallet_uuid=wallet_uuid,
            customer_uuid=customer_uuid,
            credit_type=program.reward_credit_type,
            amount=program.reward_amount,
            note=f"stamp card reward for order {order.external_id}",
            expires_at=expires_at,
            source=SOURCE_STAMPS,
        ),
        now,
    )


def cards_for(
    connection: Connection, principal: Principal, customer_uuids: Sequence[str]
) -> dict[str, StampCard]:
    """The cards of many customers in one statement; an empty card where none exists yet."""
    return repository.cards_for(connection, principal.account_id, customer_uuids)
