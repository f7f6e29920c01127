"""The console's plumbing: sessions from a cookie, CSRF tokens, roles, pages and errors.

Every page goes through ``Console.page``: the session cookie is resumed (or the visitor is
sent to the login page), a POST must carry the session's CSRF token, the staff user's role
must reach the page's, and the handler runs on a worker thread with the staff user's
principal. Domain errors become a page that says what was wrong, never a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from patron.accounts.principal import Principal
from patron.api.endpoint import Patron
from patron.core.clock import as_utc
from patron.core.errors import Conflict, DomainError, Forbidden, NotFound
from patron.core.money import from_minor
from patron.staff import service as staff_service
from patron.staff.models import Role, SessionPolicy, StaffSession
from patron.wallets.models import CreditType

log = logging.getLogger("patron.console")

COOKIE = "patron_console"
LOGIN_COOKIE = "patron_console_login"
PATH = "/admin"
_MAX_FIELDS = 60
_MAX_FORM_BYTES = 64_000

# Pages carry no inline script or style; nothing is loaded from anywhere but Patron itself.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

Handler = Callable[["Visit"], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


def csrf_token(session_id: str) -> str:
    """A form's CSRF token: derived from the session id, which only the cookie holds, so it
    needs no storage and cannot be made without the cookie."""
    return hmac.new(session_id.encode(), b"patron-console-csrf", hashlib.sha256).hexdigest()


def form_key() -> str:
    """An idempotency key for one rendered form: submitting it twice makes one change."""
    return f"console-{uuid.uuid4()}"


class PageError(Exception):
    """A refusal the console answers with its own status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Visit:
    """One request of a logged-in staff user."""

    request: Request
    session: StaffSession
    session_id: str
    form: dict[str, str] = field(default_factory=dict)

    @property
    def principal(self) -> Principal:
        return self.session.principal

    @property
    def role(self) -> Role:
        return self.session.staff.role

    @property
    def csrf(self) -> str:
        return csrf_token(self.session_id)

    def field(self, name: str, default: str = "") -> str:
        return self.form.get(name, default).strip()

    def query(self, name: str, default: str = "") -> str:
        value = self.request.query_params.get(name, default).strip()
        if "\x00" in value:  # no store keeps one, and PostgreSQL refuses it in a statement
            raise PageError(400, f"The address's {name} holds a character that is not allowed.")
        return value


def error_message(error: DomainError) -> str:
    return error.message


def error_status(error: DomainError) -> int:
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, NotFound):
        return 404
    return 409 if isinstance(error, Conflict) else 400


class Console:
    def __init__(self, patron: Patron) -> None:
        self.patron = patron
        self.db = patron.db
        self.settings = patron.settings
        self.policy = SessionPolicy()
        self.secure = patron.settings.is_production
        self.env = Environment(
            loader=PackageLoader("patron.api.console", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(form_key=form_key, GLOBAL=CreditType.GLOBAL, LOCAL=CreditType.LOCAL)

    # Rendering

    def html(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        body = self.env.get_template(template).render(**values)
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    def render(self, visit: Visit, template: str, status: int = 200, **values: Any) -> Response:
        principal = visit.principal
        return self.html(
            template,
            status,
            staff=visit.session.staff,
            role=visit.role,
            csrf=visit.csrf,
            account_name=principal.account_name,
            account_currency=principal.currency,
            money=lambda minor, kind="GLOBAL": amount_text(principal, minor, str(kind)),
            when=when_text,
            path=visit.request.url.path,
            **values,
        )

    def redirect(self, url: str) -> Response:
        return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)

    # Cookies

    def set_session_cookie(self, response: Response, session_id: str) -> None:
        response.set_cookie(
            COOKIE,
            session_id,
            path=PATH,
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )

    def clear_session_cookie(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="lax", secure=self.secure)

    # Pages

    def page(self, handler: Handler, *, role: Role = Role.VIEWER) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            form = await read_form(request) if request.method == "POST" else {}
            if form is None:
                return self.html("error.html", 400, message="The form could not be read.")
            return await run_in_threadpool(self._dispatch, request, form, handler, role)

        return endpoint

    def _dispatch(
        self, request: Request, form: dict[str, str], handler: Handler, role: Role
    ) -> Response:
        gate = self._gate(request, form, role)
        if isinstance(gate, Response):
            return gate
        visit = gate
        try:
            return handler(visit)
        except PageError as error:
            return self.render(visit, "error.html", error.status, message=error.message)
        except DomainError as error:
            return self.render(
                visit, "error.html", error_status(error), message=error_message(error)
            )
        except Exception:
            request_id = secrets.token_hex(8)
            log.exception("console page failed (request %s)", request_id)
            return self.render(
                visit,
                "error.html",
                500,
                message=f"Something went wrong; nothing was shown. Request id {request_id}.",
            )

    def _gate(self, request: Request, form: dict[str, str], role: Role) -> Visit | Response:
        """The visit of an open session with a valid form token and the role the page needs,
        or the answer that refuses it: to the login page, 403."""
        session_id = request.cookies.get(COOKIE, "")
        session = staff_service.resume(self.db, session_id, self.policy)
        if session is None:
            wanted = request.url.path if request.method == "GET" else PATH
            response = self.redirect(f"{PATH}/login?next={quote(wanted)}")
            if session_id:
                self.clear_session_cookie(response)
            return response
        visit = Visit(request=request, session=session, session_id=session_id, form=form)
        if request.method == "POST" and not hmac.compare_digest(
            form.get("csrf", "").encode(), visit.csrf.encode()
        ):
            message = (
                "The form was missing its security token (it may be from an old page). "
                "Go back, reload the page and send it again."
            )
            return self.render(visit, "error.html", 403, message=message)
        if session.staff.password_temporary and request.url.path not in {
            f"{PATH}/password",
            f"{PATH}/logout",
        }:
            return self.redirect(f"{PATH}/password")
        if not visit.role.at_least(role):
            message = f"This needs the {role.value} role; you are {visit.role.value}."
            return self.render(visit, "error.html", 403, message=message)
        return visit


async def read_form(request: Request) -> dict[str, str] | None:
    """A urlencoded form's fields (the last value of each), or None when it cannot be read."""
    if int(request.headers.get("content-length") or 0) > _MAX_FORM_BYTES:
        return None
    try:
        raw = await request.form(max_files=0, max_fields=_MAX_FIELDS)
    except Exception:
        return None
    values = {key: value for key, value in raw.items() if isinstance(value, str)}
    if any("\x00" in value for value in values.values()):
        return None
    return values


def amount_text(principal: Principal, minor: int, kind: str) -> str:
    precision = principal.currency_precision if kind == "GLOBAL" else principal.points_precision
    value: Decimal = from_minor(minor, precision)
    return f"{value:,}"


def when_text(moment: Any) -> str:
    if moment is None:
        return ""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")
