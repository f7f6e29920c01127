"""No secret reaches the server's log: a run of API calls, then its log scanned for each one.

The calls cover what carries secrets (an API token, a webhook's signing secret, a consumer's
password, access and refresh tokens) in success and in refusal, including statements that
fail in the store, whose parameters the engine must keep out of the log.
"""

from __future__ import annotations

import base64
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


def test_the_server_log_of_an_api_run_holds_none_of_its_secrets(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    tenant = new_tenant(db)
    log = tmp_path / "server.log"
    server = ProcessServer(database_url, workers=1, log=log).start()
    used: list[str] = [tenant.token]
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            admin = {"Authorization": f"Bearer {tenant.token}"}
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
    leaked = [value for value in used if value and value in written]
    assert leaked == [], written[-4000:]
