"""Redemption codes on the native API, in the seed vendor's style."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import strawberry
from strawberry.types import Info

from patron.accounts.principal import Principal
from patron.api.graphql.context import Context
from patron.api.graphql.errors import UserError, domain_errors_as
from patron.api.graphql.relay import Node
from patron.api.graphql.scalars import ExactFloat
from patron.api.graphql.wallets import CreditEntry, CreditType
from patron.core.money import from_minor
from patron.customers.models import Customer
from patron.redemptions import codes
from patron.redemptions import service as redemption_service
from patron.redemptions.models import NewRedemption, Redemption
from patron.redemptions.models import RedemptionStatus as RedemptionStatusModel
from patron.wallets import ledger

strawberry.enum(
    RedemptionStatusModel,
    name="RedemptionStatus",
    description="ACTIVE codes hold their amount on the wallet until used.",
)
RedemptionStatus = RedemptionStatusModel


@strawberry.enum(description="How a code reaches its recipient.")
class DeliveryMethod(StrEnum):
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    LINK = "LINK"
    CREDIT = "CREDIT"


@strawberry.type(description="A code that holds credit for a contact until it is redeemed.")
class RedemptionCode(Node):
    uuid: str
    code: str = strawberry.field(description="As printed for the customer (dashes optional).")
    credit_type: CreditType
    reward_value: ExactFloat
    allocated: bool = strawberry.field(description="Whether the code belongs to a contact.")
    redeemed: bool
    redeemed_at: datetime | None
    status: RedemptionStatus
    expires_at: datetime | None
    released_at: datetime | None = strawberry.field(
        description="When a cancelled or expired code gave its hold back (REDEMPTION_REFUND)."
    )
    contact_uuid: str
    wallet_uuid: str
    note: str | None
    created_at: datetime
    external_id: str | None = strawberry.field(
        default=None, description="Always null: Patron makes its codes itself."
    )
    delivery_method: DeliveryMethod = strawberry.field(
        default=DeliveryMethod.CREDIT,
        description="CREDIT: the code holds wallet credit for its contact.",
    )
    delivery_content: str | None = strawberry.field(
        default=None, description="Always null: Patron sends no code by email, phone or link."
    )

    def _recipient(self, info: Info[Context, None]) -> Customer | None:
        return info.context.contacts_by_uuid().load(self.contact_uuid)

    @strawberry.field(description="The contact the code belongs to: its name.")
    def recipient_name(self, info: Info[Context, None]) -> str | None:
        found = self._recipient(info)
        return found.display_name if found else None

    @strawberry.field(description="The contact's email.")
    def recipient_email(self, info: Info[Context, None]) -> str | None:
        found = self._recipient(info)
        return found.email if found else None

    @strawberry.field(description="The contact's phone.")
    def recipient_phone(self, info: Info[Context, None]) -> str | None:
        found = self._recipient(info)
        return found.phone if found else None

    @strawberry.field(description="The contact's Shopify customer GID, when it has one.")
    def recipient_external_id(self, info: Info[Context, None]) -> str | None:
        return info.context.identities_by_customer().load(self.contact_uuid).get("SHOPIFY")

    @classmethod
    def of(cls, redemption: Redemption, principal: Principal) -> RedemptionCode:
        return cls(
            uuid=redemption.uuid,
            code=codes.display(redemption.code),
            credit_type=redemption.credit_type,
            reward_value=ExactFloat(
                from_minor(redemption.amount, ledger.precision(principal, redemption.credit_type))
            ),
            allocated=True,
            redeemed=redemption.redeemed_at is not None,
            redeemed_at=redemption.redeemed_at,
            status=redemption.status,
            expires_at=redemption.expires_at,
            released_at=redemption.released_at,
            contact_uuid=redemption.customer_uuid,
            wallet_uuid=redemption.wallet_uuid,
            note=redemption.note,
            created_at=redemption.created_at,
        )


def recipients_of(context: Context, rows: list[RedemptionCode]) -> list[RedemptionCode]:
    """Announce a list's recipients to the loaders, so that their fields batch."""
    uuids = list(dict.fromkeys(row.contact_uuid for row in rows))
    context.contacts_by_uuid().expect(uuids)
    context.identities_by_customer().expect(uuids)
    return rows


@strawberry.input
class CreateRedemptionInput:
    credit_type: CreditType
    reward_value: ExactFloat
    wallet_uuid: str | None = None
    contact_uuid: str | None = None
    quantity: int = 1
    expires_at: datetime | None = None
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.type
class CreateRedemptionResponse:
    success: bool
    redemption_codes: list[RedemptionCode] = strawberry.field(default_factory=list)
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RedemptionCodeResponse:
    success: bool
    redemption_code: RedemptionCode | None = None
    credit_entry: CreditEntry | None = strawberry.field(
        default=None, description="The SPEND that captured the code's hold."
    )
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@domain_errors_as(CreateRedemptionResponse)
def create_redemption(
    info: Info[Context, None], redemption: CreateRedemptionInput
) -> CreateRedemptionResponse:
    context = info.context
    command = NewRedemption(
        credit_type=redemption.credit_type.value,
        amount=redemption.reward_value,
        wallet_uuid=redemption.wallet_uuid,
        customer_uuid=redemption.contact_uuid,
        quantity=redemption.quantity,
        expires_at=redemption.expires_at,
        note=redemption.note,
        idempotency_key=redemption.idempotency_key,
    )
    made = redemption_service.create_redemptions(context.db, context.principal, command)
    return CreateRedemptionResponse(
        success=True,
        redemption_codes=[RedemptionCode.of(item, context.principal) for item in made],
    )


@domain_errors_as(RedemptionCodeResponse)
def redeem_redemption(info: Info[Context, None], code: str) -> RedemptionCodeResponse:
    context = info.context
    redeemed = redemption_service.redeem_code(context.db, context.principal, code)
    return RedemptionCodeResponse(
        success=True,
        redemption_code=RedemptionCode.of(redeemed.redemption, context.principal),
        credit_entry=CreditEntry.of(redeemed.entry, context.principal),
    )


@domain_errors_as(RedemptionCodeResponse)
def cancel_redemption(info: Info[Context, None], code: str) -> RedemptionCodeResponse:
    context = info.context
    cancelled = redemption_service.cancel_code(context.db, context.principal, code)
    return RedemptionCodeResponse(
        success=True, redemption_code=RedemptionCode.of(cancelled, context.principal)
    )


def redemption_code(info: Info[Context, None], code: str) -> RedemptionCode | None:
    context = info.context
    found = redemption_service.find_code(context.connection(), context.principal, code)
    return RedemptionCode.of(found, context.principal) if found else None


def redemption_codes(
    info: Info[Context, None],
    status: RedemptionStatus | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> list[RedemptionCode]:
    context = info.context
    found = redemption_service.list_codes(
        context.connection(),
        context.principal,
        status=status.value if status else None,
        limit=limit,
        offset=offset,
    )
    return recipients_of(context, [RedemptionCode.of(item, context.principal) for item in found])


def redemption_codes_count(
    info: Info[Context, None], status: RedemptionStatus | None = None
) -> int:
    context = info.context
    return redemption_service.count_codes(
        context.connection(), context.principal, status.value if status else None
    )
