"""Logging in and out of the console, and changing one's own password."""

from __future__ import annotations

import hmac
import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from patron.api.console.web import LOGIN_COOKIE, PATH, Console, Visit, read_form
from patron.core.errors import DomainError
from patron.core.throttle import TooManyAttempts
from patron.staff import service as staff_service


def _next_page(wanted: str | None) -> str:
    """Only a page of the console itself (never another site) is gone to after login."""
    safe = (
        wanted is not None
        and wanted.startswith(f"{PATH}/")
        and "\\" not in wanted
        and "//" not in wanted
        and not wanted.startswith(f"{PATH}/login")
    )
    return wanted if safe and wanted is not None else PATH


class Auth:
    def __init__(self, console: Console) -> None:
        self.console = console

    def _login_page(
        self, request: Request, status: int = 200, message: str | None = None
    ) -> Response:
        # A login form's CSRF token: a random value in a cookie and in the form alike (no
        # session exists yet); a form posted from elsewhere cannot know it.
        token = secrets.token_urlsafe(24)
        response = self.console.html(
            "login.html",
            status,
            login_csrf=token,
            message=message,
            next=_next_page(request.query_params.get("next")),
        )
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            path=f"{PATH}/login",
            httponly=True,
            samesite="strict",
            secure=self.console.secure,
        )
        return response

    async def login_form(self, request: Request) -> Response:
        return self._login_page(request)

    async def login(self, request: Request) -> Response:
        form = await read_form(request)
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if (
            form is None
            or not expected
            or not hmac.compare_digest(form.get("csrf", "").encode(), expected.encode())
        ):
            return self._login_page(
                request, 403, "The login form had expired; enter your email and password again."
            )
        client = request.client.host if request.client else None
        try:
            login = await run_in_threadpool(
                staff_service.log_in,
                self.console.db,
                form.get("email", ""),
                form.get("password", ""),
                client_address=client,
                policy=self.console.policy,
            )
        except TooManyAttempts as error:
            response = self._login_page(request, 429, error.message)
            response.headers["Retry-After"] = str(error.retry_after)
            return response
        except DomainError as error:
            return self._login_page(request, 401, error.message)
        response = self.console.redirect(_next_page(form.get("next")))
        self.console.set_session_cookie(response, login.session_id)
        response.delete_cookie(LOGIN_COOKIE, path=f"{PATH}/login")
        return response

    def logout(self, visit: Visit) -> Response:
        staff_service.log_out(self.console.db, visit.session_id)
        response = self.console.redirect(f"{PATH}/login")
        self.console.clear_session_cookie(response)
        return response

    def password_form(self, visit: Visit) -> Response:
        return self.console.render(visit, "password.html")

    def change_password(self, visit: Visit) -> Response:
        new = visit.form.get("password", "")
        if new != visit.form.get("password_again", ""):
            return self.console.render(
                visit, "password.html", 400, error="The two new passwords differ."
            )
        try:
            staff_service.change_password(
                self.console.db, visit.session, visit.form.get("current_password", ""), new
            )
        except DomainError as error:
            return self.console.render(visit, "password.html", 400, error=error.message)
        return self.console.redirect(f"{PATH}?done=password")
