"""SQL for redemption codes. Every statement is scoped by the account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)

from patron.core.clock import as_utc
from patron.redemptions.models import (
    CREDIT_TYPES,
    CodeFilter,
    DeliveryMethod,
    Redemption,
    RedemptionStatus,
    RedemptionType,
    credit_redemption_type,
)
from patron.redemptions.tables import redemptions
from patron.wallets.models import CreditType


def _utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def redemption_from_row(row: Any) -> Redemption:
    credit_type = CreditType(row.credit_type)
    return Redemption(
        uuid=row.uuid,
        code=row.code,
        customer_uuid=row.customer_uuid,
        wallet_uuid=row.wallet_uuid,
        credit_type=credit_type,
        amount=row.amount,
        status=RedemptionStatus(row.status),
        note=row.note,
        expires_at=_utc(row.expires_at),
        redeemed_at=_utc(row.redeemed_at),
        released_at=_utc(row.released_at),
        release_reason=row.release_reason,
        spend_entry_uuid=row.spend_entry_uuid,
        promotion_uuid=row.promotion_uuid,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        source=row.source,
        redemption_type=(
            RedemptionType(row.redemption_type)
            if row.redemption_type is not None
            else credit_redemption_type(credit_type)
        ),
        delivery_method=DeliveryMethod(row.delivery_method or DeliveryMethod.CREDIT.value),
        recipient_name=row.recipient_name,
        recipient_email=row.recipient_email,
        recipient_phone=row.recipient_phone,
        recipient_external_id=row.recipient_external_id,
    )


def _conditions(where: CodeFilter | None) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if where is None:
        return found
    if where.source is not None:
        found.append(redemptions.c.source == where.source)
    if where.not_source is not None:
        found.append(redemptions.c.source != where.not_source)
    if where.credit_type is not None:
        found.append(redemptions.c.credit_type == where.credit_type)
        found.append(
            or_(
                redemptions.c.redemption_type.is_(None),
                redemptions.c.redemption_type.in_([kind.value for kind in CREDIT_TYPES]),
            )
        )
    return found


def insert_redemption(connection: Connection, account_id: str, values: dict[str, Any]) -> None:
    connection.execute(insert(redemptions).values(account_id=account_id, **values))


def code_exists(connection: Connection, account_id: str, code: str) -> bool:
    return (
        connection.execute(
            select(redemptions.c.uuid).where(
                redemptions.c.account_id == account_id, redemptions.c.code == code
            )
        ).first()
        is not None
    )


def get_by_code(connection: Connection, account_id: str, code: str) -> Redemption | None:
    row = connection.execute(
        select(redemptions).where(
            redemptions.c.account_id == account_id, redemptions.c.code == code
        )
    ).first()
    return redemption_from_row(row) if row else None


def get_by_uuids(connection: Connection, account_id: str, uuids: Sequence[str]) -> list[Redemption]:
    rows = connection.execute(
        select(redemptions).where(
            redemptions.c.account_id == account_id, redemptions.c.uuid.in_(list(uuids))
        )
    )
    found = {row.uuid: redemption_from_row(row) for row in rows}
    return [found[uuid] for uuid in uuids if uuid in found]


@cache
@cache
def _claim_statement(status: RedemptionStatus) -> Any:
    """Built once per status (a statement built per call cost its construction and cache
    key each time)."""
    now = bindparam("p_now", type_=redemptions.c.updated_at.type)
    values: dict[str, Any] = {"status": status.value, "updated_at": now}
    if status is RedemptionStatus.REDEEMED:
        values["redeemed_at"] = now
        # The SPEND that captures a credit code's hold, named before it is written.
        values["spend_entry_uuid"] = case(
            (
                redemptions.c.redemption_type.in_(sorted(kind.value for kind in CREDIT_TYPES)),
                bindparam("p_entry", type_=redemptions.c.spend_entry_uuid.type),
            ),
            else_=redemptions.c.spend_entry_uuid,
        )
    else:
        values["released_at"] = now
        values["release_reason"] = "REDEMPTION_REFUND"
    return (
        update(redemptions)
        .where(
            redemptions.c.account_id == bindparam("p_account"),
            redemptions.c.code == bindparam("p_code"),
            redemptions.c.status == RedemptionStatus.ACTIVE.value,
            or_(redemptions.c.expires_at.is_(None), redemptions.c.expires_at > now),
        )
        .values(**values)
        .returning(*redemptions.c)
    )


def claim(
    connection: Connection,
    account_id: str,
    code: str,
    now: datetime,
    status: RedemptionStatus,
    *,
    spend_entry: str | None = None,
) -> Redemption | None:
    """Move an ACTIVE, unexpired code to ``status``; exactly one concurrent caller wins.
    Redeemed, a code that holds credit records ``spend_entry`` as the SPEND that captures
    its hold (the caller writes that entry in the same transaction)."""
    parameters = {"p_account": account_id, "p_code": code, "p_now": now}
    if status is RedemptionStatus.REDEEMED:
        parameters["p_entry"] = spend_entry
    row = connection.execute(_claim_statement(status), parameters).first()
    return redemption_from_row(row) if row else None


def expire_due(
    connection: Connection, account_id: str, now: datetime, limit: int
) -> list[Redemption]:
    """Mark up to ``limit`` ACTIVE codes past their expiry as EXPIRED; returns them."""
    due = (
        select(redemptions.c.uuid)
        .where(
            redemptions.c.account_id == account_id,
            redemptions.c.status == RedemptionStatus.ACTIVE.value,
            redemptions.c.expires_at <= now,
        )
        .limit(limit)
    )
    if connection.dialect.name != "sqlite":
        due = due.with_for_update(skip_locked=True)
    uuids = list(connection.execute(due).scalars())
    if not uuids:
        return []
    rows = connection.execute(
        update(redemptions)
        .where(
            redemptions.c.account_id == account_id,
            redemptions.c.uuid.in_(uuids),
            redemptions.c.status == RedemptionStatus.ACTIVE.value,
        )
        .values(
            status=RedemptionStatus.EXPIRED.value,
            released_at=now,
            release_reason="REDEMPTION_REFUND",
            updated_at=now,
        )
        .returning(*redemptions.c)
    )
    return [redemption_from_row(row) for row in rows]


def for_wallets(
    connection: Connection,
    account_id: str,
    wallet_uuids: Sequence[str],
    *,
    limit: int,
    offset: int,
    where: CodeFilter | None = None,
) -> dict[str, list[Redemption]]:
    """Newest-first pages of codes for many wallets in one statement."""
    found: dict[str, list[Redemption]] = {uuid: [] for uuid in wallet_uuids}
    if not wallet_uuids:
        return found
    position = (
        func.row_number()
        .over(
            partition_by=redemptions.c.wallet_uuid,
            order_by=(redemptions.c.created_at.desc(), redemptions.c.uuid),
        )
        .label("position")
    )
    ranked = (
        select(redemptions, position)
        .where(
            redemptions.c.account_id == account_id,
            redemptions.c.wallet_uuid.in_(list(wallet_uuids)),
            *_conditions(where),
        )
        .subquery()
    )
    rows = connection.execute(
        select(ranked)
        .where(ranked.c.position > offset, ranked.c.position <= offset + limit)
        .order_by(ranked.c.wallet_uuid, ranked.c.position)
    )
    for row in rows:
        found[row.wallet_uuid].append(redemption_from_row(row))
    return found


def close_for_wallet(
    connection: Connection, account_id: str, wallet_uuid: str, now: datetime
) -> list[Redemption]:
    """Cancel every ACTIVE code of the wallet, due or not, blank every code's note and
    recipient fields, and return the codes cancelled (their holds are the caller's to
    release)."""
    rows = connection.execute(
        update(redemptions)
        .where(
            redemptions.c.account_id == account_id,
            redemptions.c.wallet_uuid == wallet_uuid,
            redemptions.c.status == RedemptionStatus.ACTIVE.value,
        )
        .values(
            status=RedemptionStatus.CANCELLED.value,
            released_at=now,
            release_reason="REDEMPTION_REFUND",
            updated_at=now,
        )
        .returning(*redemptions.c)
    ).all()
    connection.execute(
        update(redemptions)
        .where(
            redemptions.c.account_id == account_id,
            redemptions.c.wallet_uuid == wallet_uuid,
        )
        .values(
            note=None,
            recipient_name=None,
            recipient_email=None,
            recipient_phone=None,
            recipient_external_id=None,
        )
    )
    return [redemption_from_row(row) for row in rows]


def all_for_wallet(connection: Connection, account_id: str, wallet_uuid: str) -> list[Redemption]:
    rows = connection.execute(
        select(redemptions)
        .where(redemptions.c.account_id == account_id, redemptions.c.wallet_uuid == wallet_uuid)
        .order_by(redemptions.c.created_at, redemptions.c.uuid)
    )
    return [redemption_from_row(row) for row in rows]


def list_redemptions(
    connection: Connection, account_id: str, *, status: str | None, limit: int, offset: int
) -> list[Redemption]:
    query = select(redemptions).where(redemptions.c.account_id == account_id)
    if status is not None:
        query = query.where(redemptions.c.status == status)
    rows = connection.execute(
        query.order_by(redemptions.c.created_at.desc(), redemptions.c.uuid)
        .limit(limit)
        .offset(offset)
    )
    return [redemption_from_row(row) for row in rows]


def count_redemptions(connection: Connection, account_id: str, status: str | None) -> int:
    query = (
        select(func.count()).select_from(redemptions).where(redemptions.c.account_id == account_id)
    )
    if status is not None:
        query = query.where(redemptions.c.status == status)
    return int(connection.execute(query).scalar_one())


def count_for_wallets(
    connection: Connection,
    account_id: str,
    wallet_uuids: Sequence[str],
    where: CodeFilter | None = None,
) -> dict[str, int]:
    """How many codes each wallet has, in one statement."""
    found = dict.fromkeys(wallet_uuids, 0)
    if not wallet_uuids:
        return found
    rows = connection.execute(
        select(redemptions.c.wallet_uuid, func.count().label("codes"))
        .where(
            redemptions.c.account_id == account_id,
            redemptions.c.wallet_uuid.in_(list(wallet_uuids)),
            *_conditions(where),
        )
        .group_by(redemptions.c.wallet_uuid)
    )
    for row in rows:
        found[row.wallet_uuid] = int(row.codes)
    return found
