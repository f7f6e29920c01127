"""The outbox dispatcher delivering webhooks to a real HTTP receiver on a loopback port."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from patron.core.db import Database
from patron.integrations.outbox import store
from patron.integrations.outbox.dispatcher import Outcome, Retry
from patron.integrations.outbox.store import OutboxEvent
from patron.webhooks import service as webhooks
from patron.webhooks import signing
from patron.webhooks.addresses import UrlPolicy
from tests.support.receiver import running_receiver
from tests.support.tenants import Tenant, fund, make_contact
from tests.support.webhooks import make_webhook, outbox_states, tenant_dispatcher

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def test_an_event_arrives_signed_in_its_envelope_and_is_marked_delivered(
    db: Database, tenant: Tenant
) -> None:
    with running_receiver() as receiver:
        make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"], secret=SECRET)
        created = make_contact(db, tenant, email="hook@example.com")

        with tenant_dispatcher(db, tenant) as dispatcher:
            handled = dispatcher.drain()

    assert handled == 1
    [got] = receiver.received
    envelope = got.json
    assert envelope["type"] == "CONTACT_CREATED"
    assert envelope["account_uuid"] == tenant.uuid
    assert envelope["id"] == got.headers["webhook-id"]
    assert envelope["data"]["contact_uuid"] == created.customer.uuid
    assert set(envelope) == {"id", "type", "timestamp", "account_uuid", "data"}
    signed = f"{got.headers['webhook-id']}.{got.headers['webhook-timestamp']}.".encode() + got.body
    expected = base64.b64encode(hmac.new(b"k" * 32, signed, hashlib.sha256).digest()).decode()
    assert got.headers["webhook-signature"] == f"v1,{expected}"
    assert signing.verify(
        SECRET,
        got.headers["webhook-id"],
        int(got.headers["webhook-timestamp"]),
        got.body,
        got.headers["webhook-signature"],
    )
    assert outbox_states(db, tenant) == {"contact.created": ("delivered", 1, None)}


def test_events_nobody_subscribed_to_are_settled_without_a_request(
    db: Database, tenant: Tenant
) -> None:
    with running_receiver() as receiver:
        make_webhook(db, tenant, receiver.url, ["WALLET_CREDIT_SPENT"])
        created = make_contact(db, tenant)
        fund(db, tenant, created.wallet_uuid, "5.00")

        with tenant_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()

    assert receiver.received == []
    assert outbox_states(db, tenant) == {
        "contact.created": ("delivered", 1, None),
        "wallet.credit_added": ("delivered", 1, None),
    }


def test_a_5xx_is_retried_until_the_receiver_takes_it(db: Database, tenant: Tenant) -> None:
    with running_receiver(statuses=(500, 503, 200)) as receiver:
        hook = make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"])
        make_contact(db, tenant)

        with tenant_dispatcher(db, tenant, max_attempts=5) as dispatcher:
            dispatcher.drain()

    assert len(set(receiver.event_ids())) == 1
    assert len(receiver.received) == 3
    assert outbox_states(db, tenant) == {"contact.created": ("delivered", 3, None)}
    with db.read() as connection:
        [logged] = webhooks.list_webhooks(connection, tenant.principal)
    assert logged.webhook.uuid == hook.webhook.uuid
    [delivery] = logged.deliveries
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 3, 200)
    assert delivery.latency_ms is not None
    assert (logged.stats.delivered, logged.stats.failed, logged.stats.error_rate) == (1, 0, 0.0)


@pytest.mark.parametrize("status", [500, 429])
def test_a_receiver_that_keeps_failing_parks_the_event_as_dead_with_the_error(
    db: Database, tenant: Tenant, status: int
) -> None:
    with running_receiver(statuses=(status,)) as receiver:
        make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"])
        make_contact(db, tenant)

        with tenant_dispatcher(db, tenant, max_attempts=3) as dispatcher:
            dispatcher.drain()

    assert len(receiver.received) == 3
    [(state, attempts, error)] = outbox_states(db, tenant).values()
    assert (state, attempts) == ("dead", 3)
    assert error is not None
    assert f"HTTP {status}" in error
    with db.read() as connection:
        [logged] = webhooks.list_webhooks(connection, tenant.principal)
    assert (logged.deliveries[0].status, logged.deliveries[0].attempts) == ("failed", 3)
    assert logged.stats.error_rate == 1.0


def test_a_4xx_is_not_retried(db: Database, tenant: Tenant) -> None:
    with running_receiver(statuses=(410,)) as receiver:
        make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"])
        make_contact(db, tenant)

        with tenant_dispatcher(db, tenant, max_attempts=5) as dispatcher:
            dispatcher.drain()

    assert len(receiver.received) == 1
    [(state, attempts, error)] = outbox_states(db, tenant).values()
    assert (state, attempts) == ("dead", 1)
    assert error is not None
    assert "HTTP 410" in error


def test_a_slow_receiver_times_out_and_is_retried_then_dead(db: Database, tenant: Tenant) -> None:
    with running_receiver(delay=1.0) as receiver:
        make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"])
        make_contact(db, tenant)

        with tenant_dispatcher(db, tenant, max_attempts=2, timeout=0.2) as dispatcher:
            dispatcher.drain()

    assert len(receiver.received) == 2
    [(state, attempts, error)] = outbox_states(db, tenant).values()
    assert (state, attempts) == ("dead", 2)
    assert error is not None
    assert "timed out" in error


def test_an_unreachable_receiver_is_retried_then_dead(db: Database, tenant: Tenant) -> None:
    with running_receiver() as receiver:
        closed_url = receiver.url
    make_webhook(db, tenant, closed_url, ["CONTACT_CREATED"])
    make_contact(db, tenant)

    with tenant_dispatcher(db, tenant, max_attempts=2) as dispatcher:
        dispatcher.drain()

    [(state, attempts, error)] = outbox_states(db, tenant).values()
    assert (state, attempts) == ("dead", 2)
    assert error is not None
    assert "ConnectError" in error


def test_a_retry_resends_only_to_the_webhook_that_failed(db: Database, tenant: Tenant) -> None:
    with running_receiver() as healthy, running_receiver(statuses=(500, 200)) as flaky:
        make_webhook(db, tenant, healthy.url, ["CONTACT_CREATED"])
        make_webhook(db, tenant, flaky.url, ["CONTACT_CREATED"])
        make_contact(db, tenant)

        with tenant_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()

    assert len(healthy.received) == 1
    assert len(flaky.received) == 2
    assert healthy.event_ids() == flaky.event_ids()[:1] == flaky.event_ids()[1:]
    assert outbox_states(db, tenant) == {"contact.created": ("delivered", 2, None)}


def test_a_private_address_is_refused_at_delivery_without_a_request(
    db: Database, tenant: Tenant
) -> None:
    with running_receiver() as receiver:
        make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"])
        make_contact(db, tenant)
        guarded = UrlPolicy(require_https=False, allow_private=False)

        with tenant_dispatcher(db, tenant, policy=guarded) as dispatcher:
            dispatcher.drain()

    assert receiver.received == []
    [(state, attempts, error)] = outbox_states(db, tenant).values()
    assert (state, attempts) == ("dead", 1)
    assert error is not None
    assert "refused: a webhook URL may not point at a private address" in error


def test_a_lease_that_ran_out_is_claimed_again_and_counts_as_an_attempt(
    db: Database, tenant: Tenant
) -> None:
    make_contact(db, tenant)

    first = store.claim(db, limit=10, lease_seconds=0, max_attempts=3, account_id=tenant.uuid)
    again = store.claim(db, limit=10, lease_seconds=60, max_attempts=3, account_id=tenant.uuid)
    held = store.claim(db, limit=10, lease_seconds=60, max_attempts=3, account_id=tenant.uuid)

    assert [event.attempts for event in first] == [1]
    assert [event.event_id for event in again] == [first[0].event_id]
    assert [event.attempts for event in again] == [2]
    assert held == []


def test_an_event_whose_attempts_all_died_mid_delivery_is_parked(
    db: Database, tenant: Tenant
) -> None:
    make_contact(db, tenant)

    for _ in range(2):
        store.claim(db, limit=10, lease_seconds=0, max_attempts=2, account_id=tenant.uuid)
    last = store.claim(db, limit=10, lease_seconds=0, max_attempts=2, account_id=tenant.uuid)

    assert last == []
    assert outbox_states(db, tenant) == {
        "contact.created": ("dead", 2, "gave up after 2 attempts (the last did not finish)")
    }


def test_concurrent_claims_never_hand_out_the_same_event(db: Database, tenant: Tenant) -> None:
    for _ in range(12):
        make_contact(db, tenant)
    claimed: list[list[str]] = []
    start = threading.Barrier(4)

    def claim() -> None:
        start.wait()
        events = store.claim(db, limit=5, lease_seconds=60, max_attempts=3, account_id=tenant.uuid)
        claimed.append([event.event_id for event in events])

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [event_id for batch in claimed for event_id in batch]
    assert len(everything) == len(set(everything)) == 12


def test_the_readme_verification_example_accepts_a_signature_and_refuses_a_forgery() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Webhooks and the worker", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    body = b'{"id":"msg_1"}'
    headers = signing.headers(SECRET, "msg_1", int(time.time()), body)

    assert namespace["verify"](SECRET, headers, body) is True
    assert namespace["verify"](SECRET, headers, body + b" ") is False


def test_one_run_delivers_what_was_due_a_batch_at_a_time_and_leaves_retries_for_later(
    db: Database, tenant: Tenant
) -> None:
    with running_receiver(statuses=(200, 200, 200, 200, 500, 200)) as receiver:
        make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"])
        for _ in range(5):
            make_contact(db, tenant)

        with tenant_dispatcher(db, tenant, max_attempts=3) as dispatcher:
            dispatcher.batch_size = 2
            handled = dispatcher.run_once()
            states = [row.status for row in store.list_events(db, account_id=tenant.uuid)]
            again = dispatcher.run_once()

    assert handled == 5
    assert sorted(states) == ["delivered"] * 4 + ["pending"]
    assert again == 1
    assert len(receiver.received) == 6
    assert {row.status for row in store.list_events(db, account_id=tenant.uuid)} == {"delivered"}


def test_a_thread_handler_runs_beside_the_webhooks_and_its_retry_wins(
    db: Database, tenant: Tenant
) -> None:
    seen: list[tuple[str, bool]] = []

    def throttled(event: OutboxEvent, last_attempt: bool) -> Outcome:
        seen.append((event.event_id, last_attempt))
        return Retry("throttled", after=60)

    with running_receiver() as receiver:
        make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"])
        make_contact(db, tenant)

        with tenant_dispatcher(db, tenant) as dispatcher:
            dispatcher.handlers = [*dispatcher.handlers, throttled]
            handled = dispatcher.run_once()
            again = dispatcher.run_once()

    assert (handled, again) == (1, 0)
    assert seen == [(receiver.event_ids()[0], False)]
    assert outbox_states(db, tenant) == {"contact.created": ("pending", 1, "throttled")}
    with db.read() as connection:
        [logged] = webhooks.list_webhooks(connection, tenant.principal)
    assert [(d.status, d.attempts) for d in logged.deliveries] == [("delivered", 1)]


def _store_error() -> Exception:
    from sqlalchemy.exc import OperationalError

    return OperationalError("UPDATE outbox_events", {}, Exception("server closed the connection"))


def test_a_settlement_the_store_refuses_once_is_tried_again_and_nothing_is_sent_twice(
    db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_settle = store.settle
    failures = [_store_error()]

    def flaky_settle(*args: Any, **kwargs: Any) -> None:
        if failures:
            raise failures.pop()
        real_settle(*args, **kwargs)

    monkeypatch.setattr(store, "settle", flaky_settle)
    with running_receiver() as receiver:
        make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"])
        make_contact(db, tenant)
        with tenant_dispatcher(db, tenant) as dispatcher:
            handled = dispatcher.run_once()
            again = dispatcher.run_once()

    assert (handled, again) == (1, 0)
    assert failures == []
    assert len(receiver.received) == 1
    assert outbox_states(db, tenant) == {"contact.created": ("delivered", 1, None)}


def test_events_claimed_when_the_store_fails_go_back_at_once_without_an_attempt_spent(
    db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from patron.integrations.outbox import dispatcher as dispatching

    def broken_settle(*args: Any, **kwargs: Any) -> None:
        raise _store_error()

    monkeypatch.setattr(dispatching, "SETTLE_WAITS", (0.01,))
    with running_receiver() as receiver:
        make_webhook(db, tenant, receiver.url, ["CONTACT_CREATED"])
        for _ in range(3):
            make_contact(db, tenant)
        with tenant_dispatcher(db, tenant) as dispatcher:
            dispatcher.batch_size = 1
            monkeypatch.setattr(store, "settle", broken_settle)
            with pytest.raises(OperationalError):
                dispatcher.run_once()
            sent = [got.headers["webhook-id"] for got in receiver.received]
            rows = {row.event_id: row for row in store.list_events(db, account_id=tenant.uuid)}
            monkeypatch.undo()
            later = dispatcher.run_once()

    # Two batches were sent before the first settlement gave up: they keep their lease (sent
    # again once it runs out: at least once). The third was claimed while the second was sent
    # and never sent: it is due again at once, its attempt not counted.
    assert len(sent) == 2
    assert {rows[event_id].status for event_id in sent} == {"delivering"}
    [unsent] = [row for event_id, row in rows.items() if event_id not in sent]
    assert (unsent.status, unsent.attempts) == ("pending", 0)
    assert later == 1
    assert receiver.received[-1].headers["webhook-id"] == unsent.event_id
