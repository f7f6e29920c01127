"""The GraphiQL page on ``GET /graphql``, with its scripts and styles served by Patron itself.

Nothing is loaded from a CDN: the page works on a host without internet access, and what it
runs is the version shipped (see ``static/README.md``).
"""

from __future__ import annotations

from importlib import resources
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC_PATH = "/graphql/static"
ASSETS = {
    "graphiql_css": "graphiql-3.8.3.min.css",
    "react": "react-18.2.0.production.min.js",
    "react_dom": "react-dom-18.2.0.production.min.js",
    "graphiql_js": "graphiql-3.8.3.min.js",
}


def graphiql_html() -> str:
    page = resources.files("patron.api").joinpath("graphiql.html").read_text(encoding="utf-8")
    return Template(page).substitute(ASSETS)


def graphiql_routes() -> list[BaseRoute]:
    """``GET /graphql`` (the page) and ``/graphql/static/*`` (what it loads)."""
    html = graphiql_html()
    static = str(resources.files("patron.api").joinpath("static"))

    async def page(request: Request) -> Response:
        return HTMLResponse(html)

    return [
        Route("/graphql", page, methods=["GET"]),
        Mount(STATIC_PATH, StaticFiles(directory=static), name="graphiql-static"),
    ]
