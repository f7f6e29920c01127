"""The console's routes under ``/admin``, mounted by the ASGI app."""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from patron.api.console.auth import Auth
from patron.api.console.customers import Customers
from patron.api.console.operations import Operations
from patron.api.console.overview import Overview
from patron.api.console.web import PATH, Console
from patron.api.endpoint import Patron
from patron.staff.models import Role


def console_routes(patron: Patron) -> list[BaseRoute]:
    console = Console(patron)
    auth = Auth(console)
    people = Customers(console)
    admin = Operations(console)
    overview = Overview(console)
    page = console.page
    agent = Role.AGENT
    boss = Role.ADMIN
    static = str(resources.files("patron.api.console").joinpath("static"))

    async def home(_request: Request) -> Response:
        return console.redirect(f"{PATH}/")

    routes: list[BaseRoute] = [
        Route("/", page(overview.page), methods=["GET"]),
        Route("/login", auth.login_form, methods=["GET"]),
        Route("/login", auth.login, methods=["POST"]),
        Route("/logout", page(auth.logout), methods=["POST"]),
        Route("/password", page(auth.password_form), methods=["GET"]),
        Route("/password", page(auth.change_password), methods=["POST"]),
        Route("/customers", page(people.search), methods=["GET"]),
        Route("/customers/{uuid}", page(people.page), methods=["GET"]),
        Route("/customers/{uuid}/credit", page(people.adjust, role=agent), methods=["POST"]),
        Route("/customers/{uuid}/reverse", page(people.reverse, role=agent), methods=["POST"]),
        Route("/customers/{uuid}/convert", page(people.convert, role=agent), methods=["POST"]),
        Route("/customers/{uuid}/codes", page(people.issue_code, role=agent), methods=["POST"]),
        Route(
            "/customers/{uuid}/codes/cancel",
            page(people.cancel_code, role=agent),
            methods=["POST"],
        ),
        Route("/customers/{uuid}/profile", page(people.edit_profile, role=agent), methods=["POST"]),
        Route("/customers/{uuid}/erase", page(people.erase, role=boss), methods=["POST"]),
        Route("/tokens", page(admin.tokens, role=boss), methods=["GET"]),
        Route("/tokens", page(admin.create_token, role=boss), methods=["POST"]),
        Route("/tokens/{token_id}/revoke", page(admin.revoke_token, role=boss), methods=["POST"]),
        Route("/webhooks", page(admin.webhooks, role=boss), methods=["GET"]),
        Route("/webhooks", page(admin.create_webhook, role=boss), methods=["POST"]),
        Route("/webhooks/retry", page(admin.retry, role=boss), methods=["POST"]),
        Route("/webhooks/{webhook_uuid}", page(admin.change_webhook, role=boss), methods=["POST"]),
        Route("/settings", page(admin.settings, role=boss), methods=["GET"]),
        Route("/settings", page(admin.save_settings, role=boss), methods=["POST"]),
        Route("/settings/earning", page(admin.save_earning_rule, role=boss), methods=["POST"]),
        Route("/staff", page(admin.staff, role=boss), methods=["GET"]),
        Route("/staff", page(admin.add_staff, role=boss), methods=["POST"]),
        Route("/staff/{staff_id}/disable", page(admin.disable_staff, role=boss), methods=["POST"]),
        Mount("/static", StaticFiles(directory=static), name="console-static"),
    ]
    return [Route(PATH, home, methods=["GET"]), Mount(PATH, routes=routes)]
