"""Who is asking: the account a request acts for and what it may do."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from patron.core.db import confirm_refusal
from patron.core.errors import Forbidden
from patron.core.money import currency_precision

SCOPES = ("read", "write", "admin")


class ActorKind(StrEnum):
    """Who acts; the part of ``Principal.actor`` before its colon, upper-cased."""

    TOKEN = "TOKEN"  # noqa: S105 - a kind of actor, not a secret
    CONSUMER = "CONSUMER"
    STAFF = "STAFF"
    SYSTEM = "SYSTEM"


_RANK = {scope: rank for rank, scope in enumerate(SCOPES)}


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str
    account_name: str
    currency: str
    points_precision: int
    scope: str
    token_id: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    # Set for a consumer's own token: it acts for this one customer only, and may only read.
    customer_uuid: str | None = None
    # The API token's label (``patron token create --name``), recorded beside its id.
    token_name: str | None = None
    # A staff member signed in to the console acts under this id.
    staff_id: str | None = None
    # A background job acting for the account ("expiry", "import"), when it is one.
    job: str | None = None

    @property
    def currency_precision(self) -> int:
        return currency_precision(self.currency)

    def can(self, scope: str) -> bool:
        return _RANK[self.scope] >= _RANK[scope]

    def require(self, scope: str) -> None:
        if not self.can(scope):
            # A request on a principal remembered from an earlier one confirms it first: a
            # token revoked since is answered as revoked, not as lacking the scope.
            confirm_refusal()
            raise Forbidden(
                f"this token has the '{self.scope}' scope; this operation needs '{scope}'",
                code="FORBIDDEN",
            )

    @property
    def actor(self) -> str:
        """Who acts, as every ledger entry and audit event records it: ``consumer:<uuid>``,
        ``staff:<id>``, ``token:<id>``, ``system:<job>`` or ``system``."""
        if self.customer_uuid is not None:
            return f"consumer:{self.customer_uuid}"
        if self.staff_id is not None:
            return f"staff:{self.staff_id}"
        if self.token_id:
            return f"token:{self.token_id}"
        return f"system:{self.job}" if self.job else "system"

    @property
    def actor_name(self) -> str | None:
        """The token's name, or the job's; None for a consumer or staff member (their names
        are personal data, and their ids are enough to find them)."""
        if self.customer_uuid is not None or self.staff_id is not None:
            return None
        if self.token_id:
            return self.token_name
        return self.job
