"""Promotions: creating, changing, listing, and finding the ones a customer qualifies for."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.core import idempotency
from patron.core.clock import as_utc, utcnow
from patron.core.counters import next_value
from patron.core.db import Database
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import record_event
from patron.core.ids import is_uuid
from patron.core.money import from_minor, positive_minor
from patron.core.paging import check_page
from patron.core.unit import run_command
from patron.customers.validation import text
from patron.orders import earning
from patron.orders.promotions import repository
from patron.orders.promotions.models import (
    Audience,
    Promotion,
    PromotionChanges,
    PromotionCommand,
    Reward,
    Unchanged,
)
from patron.redemptions import service as redemptions
from patron.redemptions.models import Redemption
from patron.wallets import ledger, postings
from patron.wallets import service as wallets
from patron.wallets.models import Action, CreditEntry, CreditType, Reason

MAX_DESCRIPTION = 2000
MAX_STORES = 100
MAX_ORDERS_THRESHOLD = 1_000_000


@dataclass(frozen=True, slots=True)
class _Clean:
    name: str
    description: str | None
    active: bool
    starts_at: datetime | None
    ends_at: datetime | None
    store_uuids: tuple[str, ...] | None
    audience: Audience
    audience_value: int | None
    reward: Reward
    reward_value: str
    reward_credit_type: str | None

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "active": self.active,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "all_stores": self.store_uuids is None,
            "audience": self.audience.value,
            "audience_value": self.audience_value,
            "reward": self.reward.value,
            "reward_value": self.reward_value,
            "reward_credit_type": self.reward_credit_type,
        }


def _enum(kind: type[Audience] | type[Reward], value: str, field: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(member.value for member in kind)
        raise InvalidInput(f"{field} must be one of {names}, got '{value}'", field=field) from None


def _moment(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(f"{field} must carry a time zone", field=field)
    return as_utc(value)


def _audience_value(principal: Principal, audience: Audience, value: object | None) -> int | None:
    if audience in (Audience.EVERYONE, Audience.BIRTHDAY_MONTH):
        if value is not None:
            raise InvalidInput(
                f"audienceValue is not used with audience {audience.value}", field="audienceValue"
            )
        return None
    if value is None:
        raise InvalidInput(
            f"audienceValue is required with audience {audience.value}", field="audienceValue"
        )
    if audience is Audience.MIN_POINTS:
        return positive_minor(value, principal.points_precision, field="audienceValue")
    orders = positive_minor(value, 0, field="audienceValue")
    if orders > MAX_ORDERS_THRESHOLD:
        raise InvalidInput(
            f"audienceValue must be at most {MAX_ORDERS_THRESHOLD} orders", field="audienceValue"
        )
    return orders


def _reward(
    principal: Principal, reward: Reward, value: object, credit_type: str | None
) -> tuple[str, str | None]:
    """The stored reward value (a multiplier, or minor units) and credit type."""
    if reward is Reward.POINTS_MULTIPLIER:
        if credit_type is not None:
            raise InvalidInput(
                "rewardCreditType is not used with a POINTS_MULTIPLIER reward",
                field="rewardCreditType",
            )
        return str(earning.parse_rate(value, field="rewardValue")), None
    if credit_type is None:
        raise InvalidInput(
            f"rewardCreditType is required with a {reward.value} reward", field="rewardCreditType"
        )
    parsed = ledger.parse_credit_type(credit_type, field="rewardCreditType")
    amount = ledger.amount_minor(principal, parsed, value, field="rewardValue")
    return str(amount), parsed.value


def _stores(store_uuids: Sequence[str] | None) -> tuple[str, ...] | None:
    if store_uuids is None:
        return None
    unique = tuple(dict.fromkeys(store_uuids))
    if not unique:
        raise InvalidInput(
            "storeUuids must name at least one store; leave it out for every store",
            field="storeUuids",
        )
    if len(unique) > MAX_STORES:
        raise InvalidInput(f"storeUuids must name at most {MAX_STORES} stores", field="storeUuids")
    return unique


def _clean(
    principal: Principal, command: PromotionCommand, now: datetime, *, check_end: bool
) -> _Clean:
    starts_at = _moment(command.starts_at, "startsAt")
    ends_at = _moment(command.ends_at, "endsAt")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise InvalidInput("endsAt must be after startsAt", field="endsAt")
    if check_end and ends_at is not None and ends_at <= now:
        raise InvalidInput("endsAt must be in the future", field="endsAt")
    audience: Audience = _enum(Audience, command.audience, "audience")
    reward: Reward = _enum(Reward, command.reward, "reward")
    reward_value, credit_type = _reward(
        principal, reward, command.reward_value, command.reward_credit_type
    )
    description = command.description
    return _Clean(
        name=text(command.name, field="name", min_length=1, max_length=200),
        description=(
            text(description, field="description", max_length=MAX_DESCRIPTION) or None
            if description is not None
            else None
        ),
        active=bool(command.active),
        starts_at=starts_at,
        ends_at=ends_at,
        store_uuids=_stores(command.store_uuids),
        audience=audience,
        audience_value=_audience_value(principal, audience, command.audience_value),
        reward=reward,
        reward_value=reward_value,
        reward_credit_type=credit_type,
    )


def _check_stores(connection: Connection, principal: Principal, clean: _Clean) -> None:
    if clean.store_uuids is None:
        return
    found = repository.existing_stores(connection, principal.account_id, clean.store_uuids)
    missing = [store for store in clean.store_uuids if store not in found]
    if missing:
        raise NotFound(f"no store with uuid '{missing[0]}'", field="storeUuids")


def _event(promotion: Promotion) -> dict[str, Any]:
    return {
        "promotion_uuid": promotion.uuid,
        "number": promotion.number,
        "audience": promotion.audience.value,
        "reward": promotion.reward.value,
    }


def create_promotion(db: Database, principal: Principal, command: PromotionCommand) -> Promotion:
    principal.require("write")
    now = utcnow()
    clean = _clean(principal, command, now, check_end=True)
    key = idempotency.validate_key(command.idempotency_key)
    operation = "create_promotion"
    digest = idempotency.fingerprint(
        operation, {**clean.values(), "stores": list(clean.store_uuids or ())}
    )

    def write(connection: Connection) -> Promotion:
        account_id = principal.account_id
        if key is not None:
            stored = idempotency.find_result(connection, account_id, key, operation, digest)
            if stored is not None:
                return _promotion_or_not_found(connection, principal, stored["uuid"])
        _check_stores(connection, principal, clean)
        accounts.require_points_precision(connection, principal)
        promotion_uuid = str(uuid.uuid4())
        repository.insert_promotion(
            connection,
            {
                "account_id": account_id,
                "uuid": promotion_uuid,
                "number": next_value(connection, account_id, "promotions"),
                **clean.values(),
                "created_at": now,
                "updated_at": now,
            },
        )
        repository.set_stores(connection, account_id, promotion_uuid, clean.store_uuids or ())
        promotion = _promotion_or_not_found(connection, principal, promotion_uuid)
        record_event(connection, account_id, "promotion.created", _event(promotion))
        if key is not None:
            idempotency.store_result(
                connection, account_id, key, operation, digest, {"uuid": promotion_uuid}
            )
        return promotion

    return run_command(db, write)


def _given(change: object, current: object) -> Any:
    return current if isinstance(change, Unchanged) else change


def _merged(
    principal: Principal, current: Promotion, changes: PromotionChanges
) -> PromotionCommand:
    """The promotion as it would be after ``changes``, in the shape of a new one."""
    audience = _given(changes.audience, current.audience.value)
    audience_value: object | None = None
    if not isinstance(changes.audience_value, Unchanged):
        audience_value = changes.audience_value
    elif audience == current.audience.value and current.audience_value is not None:
        places = principal.points_precision if audience == Audience.MIN_POINTS else 0
        audience_value = from_minor(current.audience_value, places)
    reward = _given(changes.reward, current.reward.value)
    reward_value: object = changes.reward_value
    if isinstance(reward_value, Unchanged):
        if reward != current.reward.value:
            raise InvalidInput(f"rewardValue is required with reward {reward}", field="rewardValue")
        reward_value = current.reward_multiplier or from_minor(
            current.reward_amount or 0,
            ledger.precision(principal, CreditType(current.reward_credit_type or "GLOBAL")),
        )
    credit_type = _given(changes.reward_credit_type, current.reward_credit_type)
    if reward == Reward.POINTS_MULTIPLIER.value and isinstance(
        changes.reward_credit_type, Unchanged
    ):
        credit_type = None
    return PromotionCommand(
        name=_given(changes.name, current.name),
        description=_given(changes.description, current.description),
        active=_given(changes.active, current.active),
        starts_at=_given(changes.starts_at, current.starts_at),
        ends_at=_given(changes.ends_at, current.ends_at),
        store_uuids=_given(
            changes.store_uuids, None if current.all_stores else list(current.store_uuids)
        ),
        audience=audience,
        audience_value=audience_value,
        reward=reward,
        reward_value=reward_value,
        reward_credit_type=credit_type,
    )


def update_promotion(
    db: Database, principal: Principal, promotion_uuid: str, changes: PromotionChanges
) -> Promotion:
    """Change the fields given; a new endsAt must be in the future."""
    principal.require("write")

    def write(connection: Connection) -> Promotion:
        account_id = principal.account_id
        current = repository.get_promotion(connection, account_id, promotion_uuid, for_update=True)
        if current is None:
            raise NotFound(f"no promotion with uuid '{promotion_uuid}'", field="uuid")
        now = utcnow()
        merged = _merged(principal, current, changes)
        clean = _clean(principal, merged, now, check_end=not isinstance(changes.ends_at, Unchanged))
        _check_stores(connection, principal, clean)
        accounts.require_points_precision(connection, principal)
        repository.update_promotion(
            connection, account_id, promotion_uuid, {**clean.values(), "updated_at": now}
        )
        if not isinstance(changes.store_uuids, Unchanged):
            repository.set_stores(connection, account_id, promotion_uuid, clean.store_uuids or ())
        promotion = _promotion_or_not_found(connection, principal, promotion_uuid)
        record_event(connection, account_id, "promotion.updated", _event(promotion))
        return promotion

    return run_command(db, write)


def _promotion_or_not_found(
    connection: Connection, principal: Principal, promotion_uuid: str
) -> Promotion:
    promotion = repository.get_promotion(connection, principal.account_id, promotion_uuid)
    if promotion is None:
        raise NotFound(f"no promotion with uuid '{promotion_uuid}'", field="uuid")
    return promotion


def get_promotion(connection: Connection, principal: Principal, promotion_uuid: str) -> Promotion:
    return _promotion_or_not_found(connection, principal, promotion_uuid)


def promotions_by_uuids(
    connection: Connection, principal: Principal, uuids: Sequence[str]
) -> list[Promotion]:
    wanted = [uuid for uuid in uuids if is_uuid(uuid)]
    if not wanted:
        return []
    return repository.promotions_by_uuids(connection, principal.account_id, wanted)


def list_promotions(
    connection: Connection,
    principal: Principal,
    *,
    limit: int | None = None,
    offset: int | None = None,
    active: bool | None = None,
    uuid: str | None = None,
) -> list[Promotion]:
    """Newest first; only those with this ``active`` flag or ``uuid`` when given."""
    size, start = check_page(limit, offset)
    if uuid is not None and not is_uuid(uuid):
        return []  # cannot name a stored promotion
    return repository.list_promotions(
        connection, principal.account_id, limit=size, offset=start, active=active, uuid=uuid
    )


def count_promotions(connection: Connection, principal: Principal) -> int:
    return repository.count_promotions(connection, principal.account_id)


def available_promotions_for_customers(
    connection: Connection,
    principal: Principal,
    customer_uuids: Sequence[str],
    *,
    store_uuid: str | None = None,
    now: datetime | None = None,
) -> dict[str, list[Promotion]]:
    """What each customer qualifies for now (at ``store_uuid`` when given), by one query.

    Unknown customers get an empty list; an unknown store is NotFound.
    """
    found, store_exists = repository.available_for_customers(
        connection,
        principal.account_id,
        customer_uuids,
        store_uuid=store_uuid,
        now=now or utcnow(),
    )
    if not store_exists:
        raise NotFound(f"no store with uuid '{store_uuid}'", field="storeUuid")
    return {customer: found.get(customer, []) for customer in customer_uuids}


def available_promotions(
    connection: Connection,
    principal: Principal,
    customer_uuid: str,
    store_uuid: str | None = None,
    now: datetime | None = None,
) -> list[Promotion]:
    """The active promotions whose window, stores and audience take in this customer now."""
    found, store_exists = repository.available_for_customers(
        connection,
        principal.account_id,
        [customer_uuid],
        store_uuid=store_uuid,
        now=now or utcnow(),
    )
    if customer_uuid not in found:
        raise NotFound(f"no contact with uuid '{customer_uuid}'", field="contactUuid")
    if not store_exists:
        raise NotFound(f"no store with uuid '{store_uuid}'", field="storeUuid")
    return found[customer_uuid]


# Rewards


class NotEligible(Conflict):
    code = "NOT_ELIGIBLE"


class AlreadyClaimed(Conflict):
    code = "ALREADY_CLAIMED"


@dataclass(frozen=True, slots=True)
class Claim:
    """What claiming a promotion gave: credit (FIXED_CREDIT) or a code (REDEMPTION_CODE)."""

    promotion: Promotion
    entry: CreditEntry | None
    redemption: Redemption | None


def points_multiplier(
    connection: Connection,
    principal: Principal,
    customer_uuid: str,
    store_uuid: str | None,
    now: datetime,
) -> Decimal | None:
    """The best POINTS_MULTIPLIER among the promotions the customer qualifies for right now."""
    if not repository.any_points_multiplier_running(connection, principal.account_id, now):
        return None
    found, _ = repository.available_for_customers(
        connection, principal.account_id, [customer_uuid], store_uuid=store_uuid, now=now
    )
    multipliers = [
        promotion.reward_multiplier
        for promotion in found.get(customer_uuid, [])
        if promotion.reward is Reward.POINTS_MULTIPLIER and promotion.reward_multiplier
    ]
    return max(multipliers) if multipliers else None


def claim_promotion(
    db: Database,
    principal: Principal,
    promotion_uuid: str,
    customer_uuid: str,
    *,
    store_uuid: str | None = None,
) -> Claim:
    """Give a customer a promotion's FIXED_CREDIT or REDEMPTION_CODE reward, once.

    The customer must qualify at this moment (window, stores, audience). Points multipliers
    are not claimed: they apply by themselves to the orders completed while they run.
    """
    principal.require("write")
    if not (is_uuid(promotion_uuid) and is_uuid(customer_uuid)):
        raise NotFound("no such promotion or contact", field="promotionUuid")
    # One claim per customer and promotion: the claim's key lives with the idempotency keys.
    key = f"promotion-claim:{promotion_uuid}:{customer_uuid}"
    operation = "claim_promotion"
    digest = idempotency.fingerprint(
        operation, {"promotion": promotion_uuid, "contact": customer_uuid}
    )

    def write(connection: Connection) -> Claim:
        now = utcnow()
        promotion = repository.get_promotion(connection, principal.account_id, promotion_uuid)
        if promotion is None:
            raise NotFound(f"no promotion with uuid '{promotion_uuid}'", field="promotionUuid")
        if promotion.reward is Reward.POINTS_MULTIPLIER:
            raise InvalidInput(
                "a POINTS_MULTIPLIER promotion is not claimed: it applies to orders by itself",
                field="promotionUuid",
            )
        if idempotency.find_result(connection, principal.account_id, key, operation, digest):
            raise AlreadyClaimed(
                f"the contact has already claimed promotion '{promotion.name}'",
                field="promotionUuid",
            )
        found, store_exists = repository.available_for_customers(
            connection, principal.account_id, [customer_uuid], store_uuid=store_uuid, now=now
        )
        if customer_uuid not in found:
            raise NotFound(f"no contact with uuid '{customer_uuid}'", field="contactUuid")
        if not store_exists:
            raise NotFound(f"no store with uuid '{store_uuid}'", field="storeUuid")
        if promotion.uuid not in {item.uuid for item in found[customer_uuid]}:
            raise NotEligible(
                f"the contact does not qualify for promotion '{promotion.name}' now",
                field="contactUuid",
            )
        wallet_uuid = wallets.wallet_uuids_for_customers(connection, principal, [customer_uuid])[
            customer_uuid
        ]
        assert promotion.reward_amount is not None
        assert promotion.reward_credit_type is not None
        credit_type = CreditType(promotion.reward_credit_type)
        entry = postings.post(
            connection,
            principal,
            postings.Posting(
                wallet_uuid=wallet_uuid,
                action=Action.ADD,
                credit_type=credit_type,
                amount=promotion.reward_amount,
                reason=Reason.MANUAL,
                note=f"promotion {promotion.name}",
            ),
            now,
        )
        redemption = None
        if promotion.reward is Reward.REDEMPTION_CODE:
            redemption = redemptions.issue_code(
                connection,
                principal,
                redemptions.Issue(
                    wallet_uuid=wallet_uuid,
                    customer_uuid=customer_uuid,
                    credit_type=credit_type,
                    amount=promotion.reward_amount,
                    note=f"promotion {promotion.name}",
                    promotion_uuid=promotion.uuid,
                ),
                now,
            )
        idempotency.store_result(
            connection,
            principal.account_id,
            key,
            operation,
            digest,
            {"entry": entry.uuid, "redemption": redemption.uuid if redemption else None},
        )
        record_event(
            connection,
            principal.account_id,
            "promotion.claimed",
            {
                "promotion_uuid": promotion.uuid,
                "contact_uuid": customer_uuid,
                "entry_uuid": entry.uuid,
                "redemption_uuid": redemption.uuid if redemption else None,
            },
        )
        return Claim(
            promotion=promotion, entry=None if redemption else entry, redemption=redemption
        )

    return run_command(db, write)


def any_in_points(connection: Connection, account_id: str) -> bool:
    """In the caller's transaction: whether a promotion keeps an amount in points."""
    return repository.any_in_points(connection, account_id)
