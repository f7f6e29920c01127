"""The GraphiQL page loads everything it needs from Patron itself, never from a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import ThreadServer

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


@pytest.fixture(scope="module")
def graphiql_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    url = f"sqlite:///{tmp_path_factory.mktemp('graphiql') / 'patron.db'}"
    from patron.core import migrate

    migrate.upgrade(url)
    server = ThreadServer(url).start()
    yield server
    server.stop()


def test_the_page_references_only_assets_served_by_patron(graphiql_server: ThreadServer) -> None:
    page = httpx.get(f"{graphiql_server.base_url}/graphql")
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert sorted(references) == [
        "/graphql/static/graphiql-3.8.3.min.css",
        "/graphql/static/graphiql-3.8.3.min.js",
        "/graphql/static/react-18.2.0.production.min.js",
        "/graphql/static/react-dom-18.2.0.production.min.js",
    ]
    assert "http://" not in page.text
    assert "https://" not in page.text
    for reference in references:
        asset = httpx.get(f"{graphiql_server.base_url}{reference}")
        suffix = reference[reference.rindex(".") :]
        assert asset.status_code == 200, reference
        assert asset.headers["content-type"].split(";")[0] == CONTENT_TYPES[suffix], reference
        assert len(asset.content) > 10_000, reference
        assert b"sourceMappingURL" not in asset.content, reference


def test_the_vendored_assets_carry_their_licenses(graphiql_server: ThreadServer) -> None:
    for name in ("graphiql", "react", "react-dom"):
        license_text = httpx.get(f"{graphiql_server.base_url}/graphql/static/{name}.LICENSE")

        assert license_text.status_code == 200
        assert license_text.text.startswith("MIT License")


def test_the_graphql_endpoint_still_answers_posts(graphiql_server: ThreadServer) -> None:
    response = httpx.post(f"{graphiql_server.base_url}/graphql", json={"query": "{ __typename }"})

    assert response.status_code == 401
