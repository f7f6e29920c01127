"""An HTTP client for the API under test: real requests, exact decimals in the answers."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx


class Api:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)

    def close(self) -> None:
        self.http.close()

    def post(
        self,
        path: str,
        body: Any,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if token is not None:
            sent.setdefault("Authorization", f"Bearer {token}")
        return self.http.post(path, json=body, headers=sent)

    def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None,
        path: str = "/graphql",
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The decoded body of a 200 answer; numbers come back as Decimal, never float."""
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        response = self.post(path, body, token=token, headers=headers)
        assert response.status_code == 200, (response.status_code, response.text)
        decoded: dict[str, Any] = json.loads(response.text, parse_float=Decimal)
        return decoded

    def data(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str,
        path: str = "/graphql",
    ) -> dict[str, Any]:
        """The ``data`` of an answer that must have no ``errors``."""
        body = self.graphql(query, variables, token=token, path=path)
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result
