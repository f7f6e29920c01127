"""SQL for webhooks and their delivery log. Every statement is scoped by the account."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, tuple_, update

from patron.core.bulk import insert_rows, pairs_in
from patron.webhooks.tables import webhook_deliveries, webhooks


def get_webhook(connection: Connection, account_id: str, webhook_uuid: str) -> Any:
    return connection.execute(
        select(webhooks).where(webhooks.c.account_id == account_id, webhooks.c.uuid == webhook_uuid)
    ).first()


def count_webhooks(connection: Connection, account_id: str) -> int:
    return int(
        connection.execute(
            select(func.count()).select_from(webhooks).where(webhooks.c.account_id == account_id)
        ).scalar_one()
    )


def insert_webhook(connection: Connection, values: dict[str, Any]) -> None:
    connection.execute(insert(webhooks).values(**values))


def update_webhook(
    connection: Connection, account_id: str, webhook_uuid: str, values: dict[str, Any]
) -> None:
    connection.execute(
        update(webhooks)
        .where(webhooks.c.account_id == account_id, webhooks.c.uuid == webhook_uuid)
        .values(**values)
    )


def delete_webhook(connection: Connection, account_id: str, webhook_uuid: str) -> None:
    """The webhook and its delivery log."""
    connection.execute(
        delete(webhook_deliveries).where(
            webhook_deliveries.c.account_id == account_id,
            webhook_deliveries.c.webhook_uuid == webhook_uuid,
        )
    )
    connection.execute(
        delete(webhooks).where(webhooks.c.account_id == account_id, webhooks.c.uuid == webhook_uuid)
    )


def list_webhooks(connection: Connection, account_id: str) -> list[Any]:
    """Oldest first."""
    return list(
        connection.execute(
            select(webhooks)
            .where(webhooks.c.account_id == account_id)
            .order_by(webhooks.c.created_at, webhooks.c.uuid)
        ).all()
    )


def delivery_counts(connection: Connection, account_id: str) -> dict[str, dict[str, int]]:
    """Per webhook, how many log lines have each status."""
    counts: dict[str, dict[str, int]] = {}
    for webhook_uuid, status, count in connection.execute(
        select(webhook_deliveries.c.webhook_uuid, webhook_deliveries.c.status, func.count())
        .where(webhook_deliveries.c.account_id == account_id)
        .group_by(webhook_deliveries.c.webhook_uuid, webhook_deliveries.c.status)
    ):
        counts.setdefault(webhook_uuid, {})[status] = count
    return counts


def latest_deliveries(connection: Connection, account_id: str, length: int) -> list[Any]:
    """Each webhook's ``length`` latest log lines, by webhook then newest first."""
    ranked = (
        select(
            webhook_deliveries,
            func.row_number()
            .over(
                partition_by=webhook_deliveries.c.webhook_uuid,
                order_by=(
                    webhook_deliveries.c.updated_at.desc(),
                    webhook_deliveries.c.event_id.desc(),
                ),
            )
            .label("position"),
        )
        .where(webhook_deliveries.c.account_id == account_id)
        .subquery()
    )
    return list(
        connection.execute(
            select(ranked)
            .where(ranked.c.position <= length)
            .order_by(ranked.c.webhook_uuid, ranked.c.position)
        ).all()
    )


def active_webhooks(connection: Connection, account_id: str) -> list[Any]:
    """What the dispatcher needs of the account's active webhooks, secrets sealed."""
    return list(
        connection.execute(
            select(
                webhooks.c.uuid,
                webhooks.c.url,
                webhooks.c.secret,
                webhooks.c.previous_secret,
                webhooks.c.previous_secret_until,
                webhooks.c.events,
                webhooks.c.format,
            ).where(webhooks.c.account_id == account_id, webhooks.c.active.is_(True))
        ).all()
    )


def finished_deliveries(connection: Connection, keys: list[tuple[str, str]]) -> list[Any]:
    """(account_id, event_id, webhook_uuid) of the log lines delivered or given up."""
    return list(
        connection.execute(
            select(
                webhook_deliveries.c.account_id,
                webhook_deliveries.c.event_id,
                webhook_deliveries.c.webhook_uuid,
            ).where(
                pairs_in(
                    connection, webhook_deliveries.c.account_id, webhook_deliveries.c.event_id, keys
                ),
                webhook_deliveries.c.status.in_(("delivered", "failed")),
            )
        ).all()
    )


def existing_webhooks(
    connection: Connection, hooks: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of these (account_id, webhook uuid) still exist."""
    return {
        (row.account_id, row.uuid)
        for row in connection.execute(
            select(webhooks.c.account_id, webhooks.c.uuid).where(
                tuple_(webhooks.c.account_id, webhooks.c.uuid).in_(list(hooks))
            )
        )
    }


def log_deliveries(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """One log line per webhook and event; a line already there counts one more attempt and
    takes the latest result."""

    def again(proposed: Any) -> dict[str, Any]:
        changed = ("status", "response_status", "latency_ms", "last_error", "updated_at")
        return {
            "attempts": webhook_deliveries.c.attempts + 1,
            "delivered_at": proposed.delivered_at,
            **{name: proposed[name] for name in changed},
        }

    insert_rows(
        connection,
        webhook_deliveries,
        rows,
        on_conflict=(("account_id", "webhook_uuid", "event_id"), again),
    )


def reopen_failed(connection: Connection, keys: list[tuple[str, str]]) -> None:
    """Log lines of these (account_id, event_id) that gave up are retrying again."""
    connection.execute(
        update(webhook_deliveries)
        .where(
            tuple_(webhook_deliveries.c.account_id, webhook_deliveries.c.event_id).in_(keys),
            webhook_deliveries.c.status == "failed",
        )
        .values(status="retrying")
    )


def webhook_deliveries_of(
    connection: Connection,
    account_id: str,
    webhook_uuid: str,
    *,
    limit: int,
    event_type: str | None,
    statuses: Sequence[str] | None,
) -> list[Any]:
    """One webhook's log lines, newest first, of the event type and statuses when given."""
    log = webhook_deliveries.c
    query = select(webhook_deliveries).where(
        log.account_id == account_id, log.webhook_uuid == webhook_uuid
    )
    if event_type is not None:
        query = query.where(log.event_type == event_type)
    if statuses is not None:
        query = query.where(log.status.in_(list(statuses)))
    query = query.order_by(log.updated_at.desc(), log.event_id.desc()).limit(limit)
    return list(connection.execute(query).all())


def status_counts_since(
    connection: Connection, account_id: str, webhook_uuid: str, since: Any
) -> dict[str, int]:
    """How many of one webhook's log lines last changed since ``since``, per status."""
    log = webhook_deliveries.c
    rows = connection.execute(
        select(log.status, func.count())
        .where(
            log.account_id == account_id,
            log.webhook_uuid == webhook_uuid,
            log.updated_at >= since,
        )
        .group_by(log.status)
    )
    return {str(status): int(count) for status, count in rows}
