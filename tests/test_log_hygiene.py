"""No secret reaches the server's log: a run of API calls, then its log scanned for each one.

The calls cover what carries secrets (an API token, a webhook's signing secret, a consumer's
password, access and refresh tokens) in success and in refusal, including statements that
fail in the store, whose parameters the engine must keep out of the log.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from patron.core.db import Database
from tests.support.server import ProcessServer
from tests.support.tenants import new_tenant

pytestmark = pytest.mark.slow

CREATE_WEBHOOK = """mutation Hook($w: WebhookInput!) {
  createWebhook(webhook: $w) { success errors secret webhook { uuid } }
}"""
REGISTER = """mutation Register($email: String!, $password1: String!, $password2: String!,
  $firstname: String!, $lastname: String!, $userType: String!) {
  register(email: $email, password1: $password1, password2: $password2, firstname: $firstname,
    lastname: $lastname, userType: $userType) { success errors token refreshToken } }"""
LOGIN = """mutation($email: String!, $password: String!) {
  obtainToken(email: $email, password: $password) { token refreshToken success errors } }"""
REFRESH = """mutation($token: String!) {
  refreshToken(refreshToken: $token) { token refreshToken success errors } }"""


def _post(
    client: httpx.Client, path: str, query: str, variables: dict[str, Any], **headers: str
) -> Any:
    response = client.post(path, json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code < 500, response.text
    return response.json()


CREATE_CONTACT = """mutation CreateContact($contact: ContactInput!) {
  createContact(contact: $contact) { success errors contact { uuid wallet { uuid } } } }"""
UPDATE_CONTACT = """mutation($uuid: String!, $contact: UpdateContactInput!) {
  updateContact(uuid: $uuid, contact: $contact) { success errors } }"""
ADD = """mutation AddCreditEntry($entry: AddCreditEntryInput!) {
  addCreditEntry(creditEntry: $entry) { success errors } }"""
FIND = """query GetContactByEmail($email: String) {
  account { contacts(email: $email) { uuid name email phone } } }"""


def _personal_data_run(client: httpx.Client, admin: dict[str, str], used: list[str]) -> None:
    """Contacts with names, e-mails, phones and notes; refused ones that echo them back to
    the client; lookups by e-mail; a ledger entry whose note is personal; the commerce RPC."""
    marker = secrets.token_hex(5)
    email = f"private.{marker}@example.com"
    name = f"Priya Private{marker}"
    phone = "+1415555" + str(secrets.randbelow(10**4)).zfill(4)
    used += [email, name, phone, marker]
    contact = {"email": email, "name": name, "phone": phone, "notes": f"lives at {marker} Road"}
    made = _post(client, "/graphql", CREATE_CONTACT, {"contact": contact}, **admin)
    created = made["data"]["createContact"]
    assert created["success"] is True, made
    # The same e-mail again (a conflict in the store) and values that are refused.
    _post(client, "/graphql", CREATE_CONTACT, {"contact": contact}, **admin)
    for wrong in ({"email": f"not-an-email-{marker}"}, {"phone": f"phone-{marker}"}):
        _post(client, "/graphql", CREATE_CONTACT, {"contact": wrong}, **admin)
    _post(
        client,
        "/graphql",
        UPDATE_CONTACT,
        {"uuid": created["contact"]["uuid"], "contact": {"name": f"Renamed {marker}"}},
        **admin,
    )
    _post(client, "/graphql", FIND, {"email": email}, **admin)
    entry = {
        "walletUuid": created["contact"]["wallet"]["uuid"],
        "action": "ADD",
        "creditType": "GLOBAL",
        "amount": "5.00",
        "note": f"refund for {name}",
    }
    _post(client, "/graphql", ADD, {"entry": entry}, **admin)
    _post(
        client, "/graphql", ADD, {"entry": {**entry, "action": "REMOVE", "amount": "99"}}, **admin
    )
    response = client.post(
        "/compat/commerce/api/v6/commerce.contacts.find",
        json={"search": {"email": email}},
        headers={"X-Key": admin["Authorization"].removeprefix("Bearer ")},
    )
    assert response.status_code < 500, response.text


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_server_log_of_an_api_run_holds_none_of_its_secrets(
    database_url: str, db: Database, tmp_path: Path, log_format: str
) -> None:
    tenant = new_tenant(db)
    log = tmp_path / "server.log"
    env = {"PATRON_LOG_FORMAT": log_format, "PATRON_ACCESS_LOG": "true"}
    server = ProcessServer(database_url, workers=1, log=log, env=env).start()
    used: list[str] = [tenant.token]
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            admin = {"Authorization": f"Bearer {tenant.token}"}
            _personal_data_run(client, admin, used)
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
            used.append(secret)
            hook = {
                "url": "https://example.com/hook",
                "events": ["CONTACT_CREATED"],
                "secret": secret,
            }
            made = _post(client, "/graphql", CREATE_WEBHOOK, {"w": hook}, **admin)
            assert made["data"]["createWebhook"]["success"] is True
            # Refused ones: a bad URL, a NUL, a secret too short to sign with.
            for wrong in (
                {**hook, "url": "http://" + "a" * 64 + ".example.com/hook"},
                {**hook, "url": "https://example.com/\x00"},
                {**hook, "secret": "whsec_" + base64.b64encode(secrets.token_bytes(8)).decode()},
            ):
                used.append(wrong["secret"])
                _post(client, "/graphql", CREATE_WEBHOOK, {"w": wrong}, **admin)

            path = f"/compat/loyaltydish/{tenant.uuid}/graphql"
            password = "Pw-" + secrets.token_urlsafe(12)
            used.append(password)
            person = {
                "email": "log@example.com",
                "password1": password,
                "password2": password,
                "firstname": "Lo",
                "lastname": "Gan",
                "userType": "CONSUMER",
            }
            registered = _post(client, path, REGISTER, person)["data"]["register"]
            assert registered["success"] is True, registered
            used += [registered["token"], registered["refreshToken"]]
            wrong_password = "Wrong-" + secrets.token_urlsafe(12)
            used.append(wrong_password)
            _post(client, path, LOGIN, {"email": "log@example.com", "password": wrong_password})
            login = _post(client, path, LOGIN, {"email": "log@example.com", "password": password})
            tokens = login["data"]["obtainToken"]
            used += [tokens["token"], tokens["refreshToken"]]
            refreshed = _post(client, path, REFRESH, {"token": tokens["refreshToken"]})
            used += [refreshed["data"]["refreshToken"]["token"]]
            used += [refreshed["data"]["refreshToken"]["refreshToken"]]
            # The used-up refresh token again: a reuse, which revokes the whole login.
            _post(client, path, REFRESH, {"token": tokens["refreshToken"]})
            # A token that is not one, and a JWT that was tampered with.
            for presented in ("patron_" + secrets.token_hex(20), tokens["token"][:-4] + "AAAA"):
                used.append(presented)
                client.post(
                    "/graphql",
                    json={"query": "{ account { uuid } }"},
                    headers={"Authorization": f"Bearer {presented}"},
                )
    finally:
        server.stop()

    written = log.read_text(errors="replace")
    logging.getLogger(__name__).info("server log: %d characters", len(written))
    leaked = [value for value in used if value and value.lower() in written.lower()]
    assert leaked == [], written[-4000:]
    access = [line for line in written.splitlines() if "patron.access" in line]
    assert len(access) >= 20, written[-4000:]
    if log_format == "json":
        # Every line a log shipper reads is one JSON object; each request's has its fields.
        lines = [json.loads(line) for line in written.splitlines() if line.startswith("{")]
        requests = [line for line in lines if line["logger"] == "patron.access"]
        assert len(requests) == len(access)
        assert {"request_id", "account_id", "surface", "operation", "status", "duration_ms"} <= (
            set(requests[0])
        )
        assert tenant.uuid in {line["account_id"] for line in requests}
        assert {line["surface"] for line in requests} >= {"native", "loyaltydish", "commerce"}
        assert "CreateContact" in {line["operation"] for line in requests}
