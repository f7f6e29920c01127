"""Who is asking: the account a request acts for and what it may do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from patron.core.errors import Forbidden
from patron.core.money import currency_precision

SCOPES = ("read", "write", "admin")
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
    # Set for a background job acting for the account (``import``): its actor is ``system:<job>``.
    job: str | None = None

    @property
    def currency_precision(self) -> int:
        return currency_precision(self.currency)

    def can(self, scope: str) -> bool:
        return _RANK[self.scope] >= _RANK[scope]

    def require(self, scope: str) -> None:
        if not self.can(scope):
            raise Forbidden(
                f"this token has the '{self.scope}' scope; this operation needs '{scope}'",
                code="FORBIDDEN",
            )

    @property
    def actor(self) -> str:
        if self.customer_uuid is not None:
            return f"consumer:{self.customer_uuid}"
        if self.token_id:
            return f"token:{self.token_id}"
        return f"system:{self.job}" if self.job else "system"
