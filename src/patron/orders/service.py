"""Stores, orders, earning and refunds. Every write is one transaction with its ledger entries.

An order moves credit at three moments, each exactly once, guarded by the order row:
its credit used to pay (a GLOBAL SPEND when it is first recorded), its points (a LOCAL ADD
when it becomes COMPLETED), and each refund (its share of the points taken back, its share
of the credit given back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Connection

from patron.accounts import settings as account_settings
from patron.accounts.principal import Principal
from patron.core.clock import as_utc, utcnow
from patron.core.counters import next_value
from patron.core.db import Database
from patron.core.documents import check_document
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.events import event_row, record_audit, record_event
from patron.core.ids import is_uuid, new_uuid
from patron.core.money import from_minor, normalise_currency, positive_minor, to_decimal, to_minor
from patron.core.paging import check_page
from patron.core.unit import run_command
from patron.customers.validation import text
from patron.orders import earning, repository, stores
from patron.orders.models import (
    CustomerOrderStats,
    Order,
    OrderCommand,
    OrderStatus,
    Refund,
    RefundCommand,
    RefundResult,
    Store,
)
from patron.orders.promotions import service as promotions
from patron.orders.stamps import service as stamps
from patron.wallets import service as wallets
from patron.wallets.models import Action, CreditType, Reason
from patron.wallets.postings import Posting, post, post_up_to, restore_draws

MAX_LINES = 500
MAX_LINES_CHARACTERS = 65_536
# Clocks of point-of-sale systems drift; a completion a little ahead of ours is not an error.
COMPLETED_AT_TOLERANCE = timedelta(minutes=10)


class CurrencyMismatch(InvalidInput):
    code = "CURRENCY_MISMATCH"


class OrderConflict(Conflict):
    code = "ORDER_CONFLICT"


class InvalidStatusChange(Conflict):
    code = "INVALID_STATUS_CHANGE"


class RefundConflict(Conflict):
    code = "REFUND_CONFLICT"


class RefundExceedsPaid(InvalidInput):
    code = "REFUND_EXCEEDS_PAID"


class OrderNotRefundable(Conflict):
    code = "ORDER_NOT_COMPLETED"


# The earning rule


def set_earning_rule(
    db: Database, principal: Principal, points_per_unit: object | None
) -> Decimal | None:
    """Points per currency unit for completed orders; None stops earning. Admin only."""
    principal.require("admin")
    rate = (
        earning.parse_rate(points_per_unit, field="pointsPerCurrencyUnit")
        if points_per_unit is not None
        else None
    )

    def write(connection: Connection) -> None:
        account_id = principal.account_id
        account_settings.set_earning_rule(connection, account_id, rate)
        record_audit(
            connection,
            account_id,
            action="account.earning_rule_set",
            subject_type="account",
            subject_uuid=account_id,
            actor=principal.actor,
            actor_name=principal.actor_name,
            details={"points_per_currency_unit": str(rate) if rate is not None else None},
        )

    run_command(db, write)
    return rate


def earning_rule(connection: Connection, principal: Principal) -> Decimal | None:
    return account_settings.earning_rule(account_settings.current(connection, principal.account_id))


# Orders


@dataclass(frozen=True, slots=True)
class _CleanOrder:
    external_id: str
    store_uuid: str | None
    customer_uuid: str | None
    total: int
    currency: str
    payment_type: str | None
    order_type: str | None
    status: OrderStatus
    completed_at: datetime | None
    lines: list[dict[str, Any]] | None
    credit_used: int


def _optional_text(value: str | None, field: str, max_length: int) -> str | None:
    if value is None:
        return None
    return text(value, field=field, min_length=1, max_length=max_length)


def _status(value: str) -> OrderStatus:
    try:
        return OrderStatus(value)
    except ValueError:
        raise InvalidInput(
            f"status must be one of PENDING, COMPLETED, CANCELLED, got '{value}'", field="status"
        ) from None


def _lines(value: object | None) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(line, dict) for line in value):
        raise InvalidInput("lines must be a JSON list of objects", field="lines")
    if len(value) > MAX_LINES:
        raise InvalidInput(f"lines must have at most {MAX_LINES} items", field="lines")
    checked: list[dict[str, Any]] = check_document(
        value, field="lines", max_characters=MAX_LINES_CHARACTERS
    )
    return checked


def _completed_at(status: OrderStatus, given: datetime | None, now: datetime) -> datetime | None:
    if given is None:
        return None
    if status is not OrderStatus.COMPLETED:
        raise InvalidInput("completedAt is only for COMPLETED orders", field="completedAt")
    if given.tzinfo is None:
        raise InvalidInput("completedAt must carry a time zone", field="completedAt")
    if given > now + COMPLETED_AT_TOLERANCE:
        raise InvalidInput("completedAt must not be in the future", field="completedAt")
    return as_utc(given)


def _clean_order(principal: Principal, command: OrderCommand, now: datetime) -> _CleanOrder:
    places = principal.currency_precision
    currency = normalise_currency(command.currency)
    if currency != principal.currency:
        raise CurrencyMismatch(
            f"currency must be the account's currency {principal.currency}, got {currency}",
            field="currency",
        )
    total_number = to_decimal(command.total, field="total")
    if total_number < 0:
        raise InvalidInput(f"total must be 0 or more, got {total_number}", field="total")
    total = to_minor(total_number, places, field="total")
    status = _status(command.status)
    credit_used = 0
    if command.credit_used is not None:
        credit_used = positive_minor(command.credit_used, places, field="creditUsed")
        if credit_used > total:
            raise InvalidInput(
                f"creditUsed {from_minor(credit_used, places)} is more than the total "
                f"{from_minor(total, places)}",
                field="creditUsed",
            )
        if command.customer_uuid is None:
            raise InvalidInput("creditUsed needs a contactUuid to pay from", field="creditUsed")
    return _CleanOrder(
        external_id=text(command.external_id, field="externalId", min_length=1, max_length=200),
        store_uuid=command.store_uuid,
        customer_uuid=command.customer_uuid,
        total=total,
        currency=currency,
        payment_type=_optional_text(command.payment_type, "paymentType", 30),
        order_type=_optional_text(command.order_type, "orderType", 30),
        status=status,
        completed_at=_completed_at(status, command.completed_at, now),
        lines=_lines(command.lines),
        credit_used=credit_used,
    )


def record_order(
    db: Database, principal: Principal, command: OrderCommand, *, now: datetime | None = None
) -> Order:
    """Record an order once per (store, external id).

    The same input again returns the order as it is; PENDING may then become COMPLETED or
    CANCELLED; any other difference is an ORDER_CONFLICT. Completing earns the account's
    points for it, once; ``credit_used`` is spent from the customer's GLOBAL credit, once.
    """
    principal.require("write")
    clean = _clean_order(principal, command, now or utcnow())

    def write(connection: Connection) -> Order:
        moment = now or utcnow()
        # Most orders are new: written at once, unless their external id is taken (a
        # replay or a status change) or what makes them new fails (a store or contact not
        # found, which a replay need not name any more).
        fresh = _insert_order(connection, principal, clean, moment, quiet=True)
        if fresh is not None:
            return fresh
        existing = repository.order_by_external_id(
            connection, principal.account_id, clean.store_uuid, clean.external_id, for_update=True
        )
        if existing is not None:
            return _advance(connection, principal, existing, clean, moment)
        fresh = _insert_order(connection, principal, clean, moment, quiet=False)
        if fresh is None:  # pragma: no cover - taken and gone again between two statements
            raise OrderConflict(
                f"order '{clean.external_id}' was recorded at the same time; send it again",
                field="externalId",
            )
        return fresh

    return run_command(db, write)


def _differences(order: Order, clean: _CleanOrder) -> list[str]:
    compared = {
        "contactUuid": (order.customer_uuid, clean.customer_uuid),
        "total": (order.total, clean.total),
        "paymentType": (order.payment_type, clean.payment_type),
        "orderType": (order.order_type, clean.order_type),
        "lines": (order.lines, clean.lines),
        "creditUsed": (order.credit_paid, clean.credit_used),
    }
    return [name for name, (stored, given) in compared.items() if stored != given]


def _advance(
    connection: Connection,
    principal: Principal,
    order: Order,
    clean: _CleanOrder,
    now: datetime,
) -> Order:
    """A replay, or the one status change a recorded order may make: PENDING to an end."""
    differing = _differences(order, clean)
    if differing:
        raise OrderConflict(
            f"order '{clean.external_id}' was already recorded with other {', '.join(differing)}",
            field=differing[0],
        )
    if order.status is clean.status:
        if clean.completed_at is not None and clean.completed_at != order.completed_at:
            raise OrderConflict(
                f"order '{clean.external_id}' was already completed at another time",
                field="completedAt",
            )
        return order
    if order.status is not OrderStatus.PENDING or clean.status is OrderStatus.PENDING:
        hint = " (refund it instead)" if order.status is OrderStatus.COMPLETED else ""
        raise InvalidStatusChange(
            f"order '{clean.external_id}' is {order.status.value}; it cannot become "
            f"{clean.status.value}{hint}",
            field="status",
        )
    values: dict[str, Any] = {"status": clean.status.value, "updated_at": now}
    if clean.status is OrderStatus.COMPLETED:
        values["completed_at"] = clean.completed_at or now
        wallet_uuid = _wallet_of(connection, principal, order.customer_uuid)
        store = _store_of(connection, principal, order.store_uuid)
        settings = account_settings.current(connection, principal.account_id)
        points = _points(connection, principal, order, store, now, settings) if wallet_uuid else 0
        values["points_earned"] = points
        repository.update_order(connection, principal.account_id, order.uuid, values)
        _earn(connection, principal, wallet_uuid, order.uuid, order.external_id, points, now)
        stamps.stamp_order(connection, principal, order.uuid, now, settings=settings)
    else:
        wallet_uuid = _wallet_of(connection, principal, order.customer_uuid)
        values["credit_returned"] = order.credit_paid if wallet_uuid else 0
        repository.update_order(connection, principal.account_id, order.uuid, values)
        _return_credit(connection, principal, wallet_uuid, order, order.credit_paid, now)
    return _finish(connection, principal, order.uuid, f"order.{clean.status.value.lower()}")


def _insert_order(
    connection: Connection, principal: Principal, clean: _CleanOrder, now: datetime, *, quiet: bool
) -> Order | None:
    """Record a new order, its points, its credit and its event; None when its external id
    is taken (nothing written). ``quiet``: None as well, before anything is written, where a
    new order would be refused (the caller then looks for the order it may replay)."""
    account_id = principal.account_id
    if clean.credit_used and clean.status is OrderStatus.CANCELLED:
        if quiet:
            return None
        raise InvalidInput("a new CANCELLED order uses no credit", field="creditUsed")
    # On PostgreSQL the order's insert finds the contact's wallet itself (a round trip less);
    # elsewhere it is looked up first, before the order takes its number.
    wallet_first = not repository.insert_finds_wallet(connection)
    try:
        store = _store_of(connection, principal, clean.store_uuid)
        wallet_uuid = (
            _wallet_of(connection, principal, clean.customer_uuid) if wallet_first else None
        )
    except NotFound:
        if quiet:
            return None
        raise
    completed = clean.status is OrderStatus.COMPLETED
    # The account's settings as committed now, read once for the earning rule and the stamps.
    settings = account_settings.current(connection, account_id) if completed else {}
    # (Without a contact an order earns nothing; a contact named always has a wallet, or the
    # order is refused.)
    points = _points(connection, principal, clean, store, now, settings) if completed else 0
    order_uuid = new_uuid()
    values = {
        "account_id": account_id,
        "uuid": order_uuid,
        "number": next_value(connection, account_id, "orders"),
        "store_key": clean.store_uuid or repository.NO_STORE,
        "external_id": clean.external_id,
        "customer_uuid": clean.customer_uuid,
        "total": clean.total,
        "currency": clean.currency,
        "payment_type": clean.payment_type,
        "order_type": clean.order_type,
        "status": clean.status.value,
        "completed_at": (clean.completed_at or now) if completed else None,
        "points_earned": points,
        "credit_paid": clean.credit_used,
        "lines": clean.lines,
        "created_at": now,
        "updated_at": now,
    }
    order = repository.inserted_order(values)
    # Its event goes with it: nothing after this changes the order's row.
    _, event = event_row(account_id, "order.recorded", _order_payload(principal, order))
    inserted = repository.insert_new_order(connection, values, event)
    if inserted.contact_missing:
        if quiet:
            return None
        raise _no_contact(clean.customer_uuid)
    if not inserted.written:
        return None
    wallet_uuid = wallet_uuid or inserted.wallet_uuid
    if clean.credit_used and wallet_uuid is not None:
        post(
            connection,
            principal,
            Posting(
                wallet_uuid=wallet_uuid,
                action=Action.SPEND,
                credit_type=CreditType.GLOBAL,
                amount=clean.credit_used,
                reason=Reason.ORDER,
                order_uuid=order_uuid,
                note=f"paid order {clean.external_id}",
            ),
            now,
        )
    _earn(connection, principal, wallet_uuid, order_uuid, clean.external_id, points, now)
    if completed:
        stamps.stamp_order(connection, principal, order_uuid, now, settings=settings)
    return order


def _finish(connection: Connection, principal: Principal, order_uuid: str, event: str) -> Order:
    order = repository.get_order(connection, principal.account_id, order_uuid)
    assert order is not None
    record_event(connection, principal.account_id, event, _order_payload(principal, order))
    return order


def _order_payload(principal: Principal, order: Order) -> dict[str, Any]:
    places = principal.currency_precision
    return {
        "order_uuid": order.uuid,
        "number": order.number,
        "external_id": order.external_id,
        "store_uuid": order.store_uuid,
        "contact_uuid": order.customer_uuid,
        "status": order.status.value,
        "total": str(from_minor(order.total, places)),
        "refunded": str(from_minor(order.refunded, places)),
        "points_earned": str(from_minor(order.points_earned, principal.points_precision)),
    }


def _store_of(connection: Connection, principal: Principal, store_uuid: str | None) -> Store | None:
    if store_uuid is None:
        return None
    return stores.store_or_not_found(connection, principal, store_uuid)


def _wallet_of(
    connection: Connection, principal: Principal, customer_uuid: str | None
) -> str | None:
    """The contact's wallet (a contact always has one); None for an order without a contact."""
    if customer_uuid is None:
        return None
    wallet_uuid = wallets.wallet_uuid_of_customer(connection, principal, customer_uuid)
    if wallet_uuid is None:
        raise _no_contact(customer_uuid)
    return wallet_uuid


def _no_contact(customer_uuid: str | None) -> NotFound:
    return NotFound(f"no contact with uuid '{customer_uuid}'", field="contactUuid")


def _points(
    connection: Connection,
    principal: Principal,
    order: _Earner,
    store: Store | None,
    now: datetime,
    settings: Mapping[str, Any],
) -> int:
    """What a completed order earns under the account's rule in ``settings`` (as committed
    now), times the store's multiplier and the best points-multiplier promotion the customer
    qualifies for."""
    rate = account_settings.earning_rule(settings)
    if rate is None or order.customer_uuid is None:
        return 0
    multiplier = store.points_multiplier if store is not None else None
    promoted = promotions.points_multiplier(
        connection, principal, order.customer_uuid, order.store_uuid, now
    )
    if promoted is not None:
        multiplier = promoted * (multiplier or 1)
    return earning.points_for(
        order.total,
        currency_precision=principal.currency_precision,
        rate=rate,
        multiplier=multiplier,
        points_precision=principal.points_precision,
    )


class _Earner(Protocol):
    @property
    def customer_uuid(self) -> str | None: ...
    @property
    def store_uuid(self) -> str | None: ...
    @property
    def total(self) -> int: ...


def _earn(
    connection: Connection,
    principal: Principal,
    wallet_uuid: str | None,
    order_uuid: str,
    external_id: str,
    points: int,
    now: datetime,
) -> None:
    """The points of an order that just became COMPLETED under the order row's lock."""
    if points <= 0 or wallet_uuid is None:
        return
    post(
        connection,
        principal,
        Posting(
            wallet_uuid=wallet_uuid,
            action=Action.ADD,
            credit_type=CreditType.LOCAL,
            amount=points,
            reason=Reason.ORDER,
            order_uuid=order_uuid,
            note=f"points for order {external_id}",
        ),
        now,
    )


def _return_credit(
    connection: Connection,
    principal: Principal,
    wallet_uuid: str | None,
    order: Order,
    amount: int,
    now: datetime,
) -> None:
    if amount <= 0 or wallet_uuid is None:
        return
    post(
        connection,
        principal,
        Posting(
            wallet_uuid=wallet_uuid,
            action=Action.ADD,
            credit_type=CreditType.GLOBAL,
            amount=amount,
            reason=Reason.ORDER_REFUND,
            order_uuid=order.uuid,
            note=f"credit back from order {order.external_id}",
        ),
        now,
    )
    # Credit that came from expiring lots goes back into them, not as lasting credit.
    left = amount
    for spend_uuid in wallets.order_credit_spends(connection, principal, order.uuid):
        left -= restore_draws(connection, principal, wallet_uuid, spend_uuid, left)


def get_order(connection: Connection, principal: Principal, order_uuid: str) -> Order:
    order = repository.get_order(connection, principal.account_id, order_uuid)
    if order is None:
        raise NotFound(f"no order with uuid '{order_uuid}'", field="orderUuid")
    return order


def orders_by_uuids(
    connection: Connection, principal: Principal, uuids: Sequence[str]
) -> list[Order]:
    wanted = [uuid for uuid in uuids if is_uuid(uuid)]
    return repository.orders_by_uuids(connection, principal.account_id, wanted) if wanted else []


def list_orders(
    connection: Connection,
    principal: Principal,
    *,
    limit: int | None = None,
    offset: int | None = None,
    store_uuid: str | None = None,
) -> list[Order]:
    """The account's orders, newest first."""
    size, start = check_page(limit, offset)
    return repository.list_orders(
        connection, principal.account_id, limit=size, offset=start, store_uuid=store_uuid
    )


def orders_for_customers(
    connection: Connection,
    principal: Principal,
    customer_uuids: Sequence[str],
    *,
    limit: int,
    offset: int,
    store_uuid: str | None = None,
    completed: tuple[datetime | None, datetime | None] = (None, None),
) -> dict[str, list[Order]]:
    """Purchase history: each customer's orders newest first, for a page of customers at once;
    ``completed``: only those completed from/to these times (inclusive), when given."""
    return repository.orders_for_customers(
        connection,
        principal.account_id,
        customer_uuids,
        limit=limit,
        offset=offset,
        store_uuid=store_uuid,
        completed=completed,
    )


def count_orders_for_customers(
    connection: Connection,
    principal: Principal,
    customer_uuids: Sequence[str],
    *,
    store_uuid: str | None = None,
    completed: tuple[datetime | None, datetime | None] = (None, None),
) -> dict[str, int]:
    """How many orders each customer has, as ``orders_for_customers`` would list them."""
    return repository.count_for_customers(
        connection,
        principal.account_id,
        customer_uuids,
        store_uuid=store_uuid,
        completed=completed,
    )


def order_stats_for_customers(
    connection: Connection, principal: Principal, customer_uuids: Sequence[str]
) -> dict[str, CustomerOrderStats]:
    return repository.stats_for_customers(connection, principal.account_id, customer_uuids)


def refunds_for_orders(
    connection: Connection, principal: Principal, order_uuids: Sequence[str]
) -> dict[str, list[Refund]]:
    return repository.refunds_for_orders(connection, principal.account_id, order_uuids)


# Refunds


def refund_order(
    db: Database, principal: Principal, command: RefundCommand, *, now: datetime | None = None
) -> RefundResult:
    """Refund part or all of a completed order, once per refund external id.

    The order's points come back in proportion (what is left of them when some are spent;
    the rest is recorded as the shortfall) and so does the credit used to pay it.
    """
    principal.require("write")
    external_id = text(command.external_id, field="externalId", min_length=1, max_length=200)
    places = principal.currency_precision
    amount = (
        positive_minor(command.amount, places, field="amount")
        if command.amount is not None
        else None
    )

    def write(connection: Connection) -> RefundResult:
        account_id = principal.account_id
        order = repository.get_order(connection, account_id, command.order_uuid, for_update=True)
        if order is None:
            raise NotFound(f"no order with uuid '{command.order_uuid}'", field="orderUuid")
        earlier = repository.refund_by_external_id(connection, account_id, order.uuid, external_id)
        if earlier is not None:
            if amount is not None and amount != earlier.amount:
                raise RefundConflict(
                    f"refund '{external_id}' was already made for "
                    f"{from_minor(earlier.amount, places)}",
                    field="amount",
                )
            return RefundResult(refund=earlier, order=order)
        if order.status is not OrderStatus.COMPLETED:
            raise OrderNotRefundable(
                f"order '{order.external_id}' is {order.status.value}; only COMPLETED orders "
                "can be refunded",
                field="orderUuid",
            )
        refunded = amount if amount is not None else order.paid_left
        if refunded <= 0 or refunded > order.paid_left:
            raise RefundExceedsPaid(
                f"the refund of {from_minor(refunded, places)} is more than what is left to "
                f"refund: {from_minor(order.paid_left, places)} (total "
                f"{from_minor(order.total, places)}, "
                f"refunded {from_minor(order.refunded, places)})",
                field="amount",
            )
        return _apply_refund(connection, principal, order, external_id, refunded, now or utcnow())

    return run_command(db, write)


def _claw_back(
    connection: Connection,
    principal: Principal,
    wallet_uuid: str | None,
    order: Order,
    external_id: str,
    points: int,
    now: datetime,
) -> int:
    """Take back up to ``points`` of the order's points: what is left of them, never more."""
    if points <= 0 or wallet_uuid is None:
        return 0
    entry = post_up_to(
        connection,
        principal,
        Posting(
            wallet_uuid=wallet_uuid,
            action=Action.REMOVE,
            credit_type=CreditType.LOCAL,
            amount=points,
            reason=Reason.ORDER_REFUND,
            order_uuid=order.uuid,
            note=f"points back from refund {external_id} of order {order.external_id}",
        ),
        now,
    )
    return entry.amount if entry is not None else 0


def _apply_refund(
    connection: Connection,
    principal: Principal,
    order: Order,
    external_id: str,
    amount: int,
    now: datetime,
) -> RefundResult:
    account_id = principal.account_id
    refunded = order.refunded + amount
    points_due = earning.share(order.points_earned, refunded, order.total) - (
        order.points_clawed_back + order.clawback_shortfall
    )
    credit_due = earning.share(order.credit_paid, refunded, order.total) - order.credit_returned
    wallet_uuid = _wallet_of(connection, principal, order.customer_uuid)
    taken = _claw_back(connection, principal, wallet_uuid, order, external_id, points_due, now)
    shortfall = max(points_due, 0) - taken
    returned = credit_due if credit_due > 0 and wallet_uuid is not None else 0
    _return_credit(connection, principal, wallet_uuid, order, returned, now)
    refund_uuid = new_uuid()
    repository.insert_refund(
        connection,
        {
            "account_id": account_id,
            "uuid": refund_uuid,
            "order_uuid": order.uuid,
            "external_id": external_id,
            "amount": amount,
            "points_clawed_back": taken,
            "clawback_shortfall": shortfall,
            "credit_returned": returned,
            "created_at": now,
        },
    )
    repository.update_order(
        connection,
        account_id,
        order.uuid,
        {
            "refunded": refunded,
            "points_clawed_back": order.points_clawed_back + taken,
            "clawback_shortfall": order.clawback_shortfall + shortfall,
            "credit_returned": order.credit_returned + returned,
            "updated_at": now,
        },
    )
    updated = _finish(connection, principal, order.uuid, "order.refunded")
    refund = repository.refund_by_external_id(connection, account_id, order.uuid, external_id)
    assert refund is not None
    return RefundResult(refund=refund, order=updated)
