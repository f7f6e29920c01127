"""The address guard: a webhook goes to the address that was checked, whatever DNS says next."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from patron.core.db import Database
from patron.integrations.webhooks.sender import pinned
from patron.webhooks.addresses import UrlPolicy
from tests.support.receiver import running_receiver
from tests.support.tenants import Tenant, make_contact
from tests.support.webhooks import make_webhook, outbox_states, tenant_dispatcher

GUARDED = UrlPolicy(require_https=False, allow_private=False)
# Stands in for a public address: the receiver listens there. 127.0.0.2 stands for a private one.
PUBLIC = "127.0.0.1"


class RebindingResolver:
    """Answers the public address first, then a private one: a DNS rebinding attack."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [answer]


def test_a_second_dns_answer_cannot_send_a_delivery_elsewhere(db: Database, tenant: Tenant) -> None:
    with running_receiver() as receiver:
        port = urlsplit(receiver.url).port
        make_webhook(db, tenant, f"http://hooks.example.test:{port}/hooks", ["CONTACT_CREATED"])
        make_contact(db, tenant)
        resolver = RebindingResolver(PUBLIC, "127.0.0.2")

        with tenant_dispatcher(
            db, tenant, policy=GUARDED, resolver=resolver, allowed=lambda a: a == PUBLIC
        ) as dispatcher:
            dispatcher.drain()

    assert resolver.calls == [("hooks.example.test", port)]
    [got] = receiver.received
    assert got.path == "/hooks"
    assert got.headers["host"] == f"hooks.example.test:{port}"
    assert outbox_states(db, tenant) == {"contact.created": ("delivered", 1, None)}


def test_a_host_that_resolves_to_a_private_address_is_never_called(
    db: Database, tenant: Tenant
) -> None:
    with running_receiver() as receiver:
        port = urlsplit(receiver.url).port
        make_webhook(db, tenant, f"http://hooks.example.test:{port}/hooks", ["CONTACT_CREATED"])
        make_contact(db, tenant)

        with tenant_dispatcher(
            db,
            tenant,
            policy=GUARDED,
            resolver=RebindingResolver("127.0.0.2"),
            allowed=lambda a: a == PUBLIC,
        ) as dispatcher:
            dispatcher.drain()

    assert receiver.received == []
    [(state, attempts, error)] = outbox_states(db, tenant).values()
    assert (state, attempts) == ("dead", 1)
    assert error is not None
    assert "refused: hooks.example.test resolves to a private address (127.0.0.2)" in error
    assert "PATRON_WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true allows it" in error


@pytest.mark.parametrize(
    ("url", "address", "expected"),
    [
        (
            "https://hooks.example.com/in?x=1",
            "93.184.216.34",
            ("https://93.184.216.34/in?x=1", "hooks.example.com", "hooks.example.com"),
        ),
        (
            "https://hooks.example.com:8443/in",
            "2606:2800:220:1::1",
            ("https://[2606:2800:220:1::1]:8443/in", "hooks.example.com:8443", "hooks.example.com"),
        ),
        (
            "http://hooks.example.com/in",
            "93.184.216.34",
            ("http://93.184.216.34/in", "hooks.example.com", None),
        ),
        ("https://93.184.216.34/in", "93.184.216.34", ("https://93.184.216.34/in", None, None)),
    ],
)
def test_a_pinned_request_keeps_the_host_name_for_the_host_header_and_tls(
    url: str, address: str, expected: tuple[str, str | None, str | None]
) -> None:
    route = pinned(url, address)

    assert (route.url, route.host_header, route.server_hostname) == expected
