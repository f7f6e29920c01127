"""Admin pages: API tokens, webhooks and dead letters, account settings, staff users."""

from __future__ import annotations

from starlette.responses import Response

from patron.accounts import service as accounts
from patron.accounts.principal import SCOPES
from patron.api.console.web import PATH, Console, PageError, Visit
from patron.core.errors import DomainError, InvalidInput
from patron.core.ids import is_uuid
from patron.integrations.outbox import store as outbox
from patron.integrations.wiring import url_policy
from patron.orders import service as orders
from patron.orders.account_settings import (
    SettingsChange,
    current_amount_settings,
    update_amount_settings,
)
from patron.staff import service as staff_service
from patron.staff.models import ROLES, CreatedStaff
from patron.webhooks import service as webhooks
from patron.webhooks.events import WebhookEvent
from patron.webhooks.models import CreatedWebhook, NewWebhook, WebhookChanges

DEAD_LETTERS = 50
DONE = {
    "revoked": "The token was revoked; it stops working at once.",
    "retried": "The event is queued again; the worker delivers it on its next round.",
    "settings": "The settings were saved.",
    "webhook": "The webhook was changed.",
    "earning": "The earning rule was saved.",
    "disabled": "The staff user was disabled; their sessions have ended.",
}


class Operations:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.db = console.db

    def _done(self, visit: Visit) -> str | None:
        return DONE.get(visit.query("done"))

    # API tokens

    def tokens(
        self, visit: Visit, status: int = 200, issued: str | None = None, error: str | None = None
    ) -> Response:
        visit.principal.require("admin")
        listed = accounts.list_tokens(self.db, account_uuid=visit.principal.account_id)
        return self.console.render(
            visit,
            "tokens.html",
            status,
            tokens=listed,
            scopes=SCOPES,
            issued=issued,
            error=error,
            done=self._done(visit),
        )

    def create_token(self, visit: Visit) -> Response:
        visit.principal.require("admin")
        try:
            issued = accounts.create_token(
                self.db,
                account_uuid=visit.principal.account_id,
                scope=visit.field("scope"),
                name=visit.field("name")[:200] or None,
            )
        except DomainError as error:
            return self.tokens(visit, 400, error=error.message)
        # Shown in this answer only: the store keeps its hash.
        return self.tokens(visit, issued=issued.token)

    def revoke_token(self, visit: Visit) -> Response:
        visit.principal.require("admin")
        token_id = visit.request.path_params["token_id"]
        owned = {
            token.token_id
            for token in accounts.list_tokens(self.db, account_uuid=visit.principal.account_id)
        }
        if token_id not in owned:
            raise PageError(404, "There is no such token in this account.")
        accounts.revoke_token(self.db, token_id)
        return self.console.redirect(f"{PATH}/tokens?done=revoked")

    # Webhooks and dead letters

    def webhooks(
        self,
        visit: Visit,
        status: int = 200,
        created: CreatedWebhook | None = None,
        error: str | None = None,
    ) -> Response:
        principal = visit.principal
        principal.require("admin")
        with self.db.read() as connection:
            hooks = webhooks.list_webhooks(connection, principal)
        dead = outbox.list_events(
            self.db, status=outbox.DEAD, account_id=principal.account_id, limit=DEAD_LETTERS
        )
        return self.console.render(
            visit,
            "webhooks.html",
            status,
            hooks=hooks,
            dead=dead,
            events=[event.value for event in WebhookEvent],
            created=created,
            error=error,
            done=self._done(visit),
        )

    def create_webhook(self, visit: Visit) -> Response:
        chosen = [event.value for event in WebhookEvent if visit.form.get(f"event-{event.value}")]
        try:
            created = webhooks.create_webhook(
                self.db,
                visit.principal,
                NewWebhook(url=visit.field("url"), events=chosen),
                url_policy(self.console.settings),
                self.console.settings.sealing_key,
            )
        except DomainError as error:
            return self.webhooks(visit, 400, error=error.message)
        # Its signing secret is shown in this answer only.
        return self.webhooks(visit, created=created)

    def change_webhook(self, visit: Visit) -> Response:
        webhook_uuid = visit.request.path_params["webhook_uuid"]
        if not is_uuid(webhook_uuid):
            raise PageError(404, "There is no such webhook in this account.")
        wanted = visit.field("change")
        if wanted == "delete":
            webhooks.delete_webhook(self.db, visit.principal, webhook_uuid)
        elif wanted in {"pause", "resume"}:
            webhooks.update_webhook(
                self.db,
                visit.principal,
                webhook_uuid,
                WebhookChanges(active=wanted == "resume"),
                url_policy(self.console.settings),
                self.console.settings.sealing_key,
            )
        else:
            raise PageError(400, "Choose to pause, resume or delete the webhook.")
        return self.console.redirect(f"{PATH}/webhooks?done=webhook")

    def retry(self, visit: Visit) -> Response:
        principal = visit.principal
        principal.require("admin")
        event_id = visit.field("event")
        if not event_id:
            raise PageError(400, "Choose an event to retry.")
        keys = outbox.retry_dead(self.db, event_ids=[event_id], account_id=principal.account_id)
        if not keys:
            raise PageError(404, "There is no such dead event in this account.")
        webhooks.reopen_failed(self.db, keys)
        return self.console.redirect(f"{PATH}/webhooks?done=retried")

    # Account settings

    def settings(self, visit: Visit, status: int = 200, error: str | None = None) -> Response:
        principal = visit.principal
        principal.require("admin")
        with self.db.read() as connection:
            amounts = current_amount_settings(connection, principal.account_id)
            rule = orders.earning_rule(connection, principal)
        return self.console.render(
            visit,
            "settings.html",
            status,
            amounts=amounts,
            rule=rule,
            error=error,
            done=self._done(visit),
        )

    def save_settings(self, visit: Visit) -> Response:
        principal = visit.principal
        principal.require("admin")
        try:
            precision_text = visit.field("points_precision")
            if precision_text and not precision_text.isdigit():
                raise InvalidInput("points precision is a whole number, 0 to 6", field="precision")
            rates = {
                key: visit.field(key) or None for key in ("LOCAL_TO_GLOBAL", "GLOBAL_TO_LOCAL")
            }
            update_amount_settings(
                self.db,
                principal,
                SettingsChange(
                    points_precision=int(precision_text) if precision_text else None,
                    conversion_rates=rates,
                ),
            )
        except DomainError as error:
            return self.settings(visit, 400, error.message)
        return self.console.redirect(f"{PATH}/settings?done=settings")

    def save_earning_rule(self, visit: Visit) -> Response:
        try:
            orders.set_earning_rule(self.db, visit.principal, visit.field("rate") or None)
        except DomainError as error:
            return self.settings(visit, 400, error.message)
        return self.console.redirect(f"{PATH}/settings?done=earning")

    # Staff users

    def staff(
        self,
        visit: Visit,
        status: int = 200,
        created: CreatedStaff | None = None,
        error: str | None = None,
    ) -> Response:
        with self.db.read() as connection:
            listed = staff_service.staff_of_account(connection, visit.principal)
        return self.console.render(
            visit,
            "staff.html",
            status,
            members=listed,
            roles=ROLES,
            created=created,
            error=error,
            done=self._done(visit),
        )

    def add_staff(self, visit: Visit) -> Response:
        try:
            created = staff_service.add_staff(
                self.db, visit.principal, email=visit.field("email"), role=visit.field("role")
            )
        except DomainError as error:
            return self.staff(visit, 400, error=error.message)
        return self.staff(visit, created=created)

    def disable_staff(self, visit: Visit) -> Response:
        try:
            staff_service.disable_colleague(
                self.db, visit.principal, visit.request.path_params["staff_id"]
            )
        except DomainError as error:
            return self.staff(visit, 400 if error.code != "NOT_FOUND" else 404, error=error.message)
        return self.console.redirect(f"{PATH}/staff?done=disabled")
