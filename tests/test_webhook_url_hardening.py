"""Webhook URLs are judged whole at creation, and one broken webhook fails only its own
deliveries: another account's events in the same batch are delivered and logged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.integrations.outbox import store
from patron.integrations.outbox.dispatcher import Dispatcher, RetryPolicy
from patron.integrations.webhooks.sender import WebhookSender, resolve
from patron.webhooks.addresses import UrlPolicy, check_url, is_public
from patron.webhooks.tables import webhook_deliveries, webhooks
from tests.support.client import Api
from tests.support.receiver import running_receiver
from tests.support.tenants import Tenant, make_contact
from tests.support.webhooks import make_webhook, outbox_states

GUARDED = UrlPolicy(require_https=False, allow_private=False)
LONG_LABEL = "a" * 64
# Stands in for a public address: the receiver listens there.
PUBLIC = "127.0.0.1"

REFUSED = [
    # a host name that cannot be encoded (IDNA): a label over 63 characters, a name over 253
    (f"http://{LONG_LABEL}.example.com/hook", "longer than 63 characters"),
    (f"https://b{LONG_LABEL}ü.example/hook", "invalid host name"),
    ("https://" + "abcdefghij." * 25 + "example/hook", "more than 253 characters"),
    ("https://hooks..example.com/hook", "invalid host name"),
    ("https://xn--zz.example/hook", "invalid host name"),
    ("https://hooks%2eexample.com/hook", "invalid host name"),
    ("https://hooks.example.com\\.evil/hook", "invalid host name"),
    # whatever inet_aton reads as an IPv4 address, unless it is a plain dotted quad
    ("http://2130706433/hook", "ambiguous form of an IPv4 address"),
    ("http://0x7f000001/hook", "ambiguous form of an IPv4 address"),
    ("http://0X7F000001/hook", "ambiguous form of an IPv4 address"),
    ("http://0177.0.0.1/hook", "ambiguous form of an IPv4 address"),
    ("http://127.1/hook", "ambiguous form of an IPv4 address"),
    ("http://8.8.8.8./hook", "ambiguous form of an IPv4 address"),
    ("http://１２７.０.０.１/hook", "ambiguous form of an IPv4 address"),
    ("http://1.2.3.4.5/hook", "ends in a number"),
    ("http://256.1.1.1/hook", "ends in a number"),
    # this machine, however it is written
    ("http://LOCALHOST./hook", "may not point at this machine"),
    ("http://localhost../hook", "invalid host name"),
    ("http://api.localhost./hook", "may not point at this machine"),
    ("http://ｌｏｃａｌｈｏｓｔ/hook", "may not point at this machine"),
    # IPv6 that carries a private IPv4 address
    ("http://[::ffff:127.0.0.1]/hook", "private address"),
    ("http://[::7f00:1]/hook", "private address"),
    ("http://[::10.0.0.1]/hook", "private address"),
    ("http://[64:ff9b::7f00:1]/hook", "private address"),
    ("http://[64:ff9b::a9fe:a9fe]/hook", "private address"),
    ("http://[64:ff9b:1::808:808]/hook", "private address"),
    ("http://[2002:7f00:1::1]/hook", "private address"),
    ("http://[2002:c0a8:101::1]/hook", "private address"),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook", "private address"),
    ("http://[2001:0:7f00:1:8000:63bf:3fff:fdd2]/hook", "private address"),
    ("http://[::]/hook", "private address"),
    ("http://[fec0::1]/hook", "private address"),
    ("http://[ff02::1]/hook", "private address"),
    # NUL, control characters and whitespace anywhere
    ("http://hooks.example.com/ho\x00ok", "spaces or control characters"),
    ("http://hooks.exa\x00mple.com/hook", "spaces or control characters"),
    ("http://hooks.exa\tmple.com/hook", "spaces or control characters"),
    ("http://hooks.example.com/a b", "spaces or control characters"),
    ("http://hooks.example.com/\r\nx-injected: 1", "spaces or control characters"),
    ("http://hooks.exam\u200bple.com/hook", "spaces or control characters"),
    ("http://hooks.example.com:0/hook", "invalid port"),
    ("http://[::1/hook", "invalid host or port"),
]


@pytest.mark.parametrize(("url", "message"), REFUSED)
def test_check_url_refuses_every_odd_or_private_form(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        check_url(url, GUARDED)

    assert refused.value.field == "url"


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/hook",
        "https://hooks.example.com./hook",
        "https://bücher.example/hook",
        "https://xn--bcher-kva.example/hook",
        "https://my_app.example.com:8443/hook?token=x",
        "http://8.8.8.8/hook",
        "http://[2606:4700::1111]/hook",
        "http://[::ffff:8.8.8.8]/hook",
        "http://[64:ff9b::808:808]/hook",
        "http://[2002:808:808::1]/hook",
        "https://" + "a" * 63 + ".example.com/hook",
    ],
)
def test_check_url_accepts_plain_public_urls(url: str) -> None:
    assert check_url(url, GUARDED) == url


def test_allowing_private_addresses_still_refuses_malformed_hosts() -> None:
    local = UrlPolicy(require_https=False, allow_private=True)

    assert check_url("http://localhost:9000/hook", local) == "http://localhost:9000/hook"
    assert check_url("http://127.0.0.1:9000/hook", local) == "http://127.0.0.1:9000/hook"
    for url in (f"http://{LONG_LABEL}.example.com/hook", "http://127.1/hook", "http://a\x00b/"):
        with pytest.raises(InvalidInput):
            check_url(url, local)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("::ffff:7f00:1", False),
        ("::7f00:1", False),
        ("64:ff9b::a00:1", False),
        ("2002:a00:1::1", False),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo client 127.0.0.1
        ("fe80::1%2", False),
        ("2130706433", False),  # not an address as a resolver returns them
    ],
)
def test_the_delivery_time_judgement_sees_through_embedded_ipv4(address: str, public: bool) -> None:
    assert is_public(address) is public


# --- on the API ---------------------------------------------------------------------------------

CREATE = """
mutation($w: WebhookInput!) {
  createWebhook(webhook: $w) { success userErrors { field code message } webhook { uuid } }
}"""
LIST = "{ account { webhooks { uuid } } }"


def test_create_webhook_with_a_64_character_label_is_refused_and_creates_nothing(
    api: Api, tenant: Tenant
) -> None:
    hook = {"url": f"http://{LONG_LABEL}.example.com/hook", "events": ["CONTACT_CREATED"]}

    answer = api.data(CREATE, {"w": hook}, token=tenant.token)["createWebhook"]

    assert answer["success"] is False
    assert answer["webhook"] is None
    assert answer["userErrors"] == [
        {
            "field": "url",
            "code": "INVALID",
            "message": "a webhook URL's host name has a part longer than 63 characters",
        }
    ]
    assert api.data(LIST, token=tenant.token)["account"]["webhooks"] == []


# --- one broken webhook in a batch with another account's events ---------------------------------


def _set_webhook(db: Database, webhook_uuid: str, **values: Any) -> None:
    """Stored as a webhook made before today's checks would be: no validation."""
    with db.write() as connection:
        connection.execute(update(webhooks).where(webhooks.c.uuid == webhook_uuid).values(values))


def _log(db: Database, tenant: Tenant) -> list[tuple[str, int, str | None]]:
    with db.read() as connection:
        rows = connection.execute(
            select(
                webhook_deliveries.c.status,
                webhook_deliveries.c.attempts,
                webhook_deliveries.c.last_error,
            ).where(webhook_deliveries.c.account_id == tenant.uuid)
        ).all()
    return [(row.status, row.attempts, row.last_error) for row in rows]


@contextmanager
def one_batch_of(
    monkeypatch: pytest.MonkeyPatch,
    db: Database,
    accounts: list[Tenant],
    resolver: Callable[[str, int], list[str]],
) -> Iterator[Dispatcher]:
    """A dispatcher whose claims take these accounts' events (and no other test's) together,
    in one batch, as a worker serving every account would."""
    claim = store.claim

    def claim_ours(database: Database, **options: Any) -> list[store.OutboxEvent]:
        return [
            event
            for tenant in accounts
            for event in claim(database, **{**options, "account_id": tenant.uuid})
        ]

    monkeypatch.setattr(store, "claim", claim_ours)
    with httpx.Client(timeout=2.0, follow_redirects=False) as client:
        sender = WebhookSender(
            db, client, GUARDED, resolver=resolver, allowed_address=lambda a: a == PUBLIC
        )
        dispatcher = Dispatcher(
            db, [sender], policy=RetryPolicy(max_attempts=3, base_seconds=0.0), batch_size=100
        )
        try:
            yield dispatcher
        finally:
            dispatcher.close()


def _resolver(failing: Exception | None = None) -> Callable[[str, int], list[str]]:
    """The two accounts' hosts at the stand-in public address (account A's raising ``failing``
    instead, when given); other names as the system resolves them."""

    def answer(host: str, port: int) -> list[str]:
        if host == "hooks.a.test" and failing is not None:
            raise failing
        if host in ("hooks.a.test", "hooks.b.test"):
            return [PUBLIC]
        return resolve(host, port)

    return answer


BAD_URL = f"http://{LONG_LABEL}.example.com/hook"


@pytest.mark.parametrize(
    ("breakage", "failing", "a_state", "a_log", "a_error"),
    [
        # stored before the check: refused at delivery, a dead letter at once
        (
            {"url": BAD_URL},
            None,
            "dead",
            "failed",
            "refused: a webhook URL's host name has a part longer than 63 characters",
        ),
        (
            {"url": "http://2130706433/hook"},
            None,
            "dead",
            "failed",
            "refused: a webhook URL's host is an ambiguous form of an IPv4 address",
        ),
        # an error nobody foresaw, while resolving or while signing: retried like a network one
        ({}, ValueError("boom"), "pending", "retrying", "ValueError: boom"),
        ({}, UnicodeError("label"), "pending", "retrying", "UnicodeError: label"),
        (
            {"secret": "whsec_not base64"},
            None,
            "pending",
            "retrying",
            "InvalidInput: a webhook secret",
        ),
    ],
    ids=["idna-url", "numeric-host", "resolver-value-error", "resolver-unicode-error", "secret"],
)
def test_one_broken_webhook_fails_alone_and_another_accounts_event_is_delivered(
    monkeypatch: pytest.MonkeyPatch,
    db: Database,
    tenant: Tenant,
    other_tenant: Tenant,
    breakage: dict[str, str],
    failing: Exception | None,
    a_state: str,
    a_log: str,
    a_error: str,
) -> None:
    with running_receiver() as receiver:
        port = urlsplit(receiver.url).port
        broken = make_webhook(db, tenant, f"http://hooks.a.test:{port}/hooks", ["CONTACT_CREATED"])
        if breakage:
            _set_webhook(db, broken.webhook.uuid, **breakage)
        make_webhook(db, other_tenant, f"http://hooks.b.test:{port}/hooks", ["CONTACT_CREATED"])
        make_contact(db, tenant)
        make_contact(db, other_tenant)

        resolver = _resolver(failing)
        with one_batch_of(monkeypatch, db, [tenant, other_tenant], resolver) as dispatcher:
            handled = dispatcher.run_once()

    assert handled == 2
    [got] = receiver.received
    assert got.headers["host"] == f"hooks.b.test:{port}"
    assert outbox_states(db, other_tenant) == {"contact.created": ("delivered", 1, None)}
    assert _log(db, other_tenant) == [("delivered", 1, None)]
    [(state, attempts, error)] = outbox_states(db, tenant).values()
    assert (state, attempts) == (a_state, 1)
    assert error is not None
    assert a_error in error
    [(status, logged_attempts, logged_error)] = _log(db, tenant)
    assert (status, logged_attempts) == (a_log, 1)
    assert logged_error is not None
    assert a_error in logged_error


def test_an_account_whose_webhooks_cannot_be_read_holds_back_no_one_else(
    monkeypatch: pytest.MonkeyPatch, db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    with running_receiver() as receiver:
        port = urlsplit(receiver.url).port
        sealed = make_webhook(db, tenant, f"http://hooks.a.test:{port}/hooks", ["CONTACT_CREATED"])
        # Sealed with a key this worker does not have.
        _set_webhook(db, sealed.webhook.uuid, secret="sealed:v1:gAAAAA-not-for-this-key")
        make_webhook(db, other_tenant, f"http://hooks.b.test:{port}/hooks", ["CONTACT_CREATED"])
        make_contact(db, tenant)
        make_contact(db, other_tenant)

        resolver = _resolver()
        with one_batch_of(monkeypatch, db, [tenant, other_tenant], resolver) as dispatcher:
            dispatcher.run_once()

    assert len(receiver.received) == 1
    assert outbox_states(db, other_tenant) == {"contact.created": ("delivered", 1, None)}
    [(state, attempts, error)] = outbox_states(db, tenant).values()
    assert (state, attempts) == ("pending", 1)
    assert error is not None
    assert "webhooks not readable: CannotUnseal" in error
