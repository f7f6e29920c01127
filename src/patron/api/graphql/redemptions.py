"""Redemption codes on the native API, in the seed vendor's style."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from patron.accounts.principal import Principal
from patron.api.graphql.context import Context
from patron.api.graphql.errors import UserError, domain_errors_as
from patron.api.graphql.relay import Node
from patron.api.graphql.scalars import ExactFloat
from patron.api.graphql.wallets import CreditEntry, CreditType
from patron.customers.models import Customer
from patron.redemptions import codes
from patron.redemptions import service as redemption_service
from patron.redemptions.models import DeliveryMethod as DeliveryMethodModel
from patron.redemptions.models import NewRedemption, Redemption
from patron.redemptions.models import RedemptionStatus as RedemptionStatusModel
from patron.redemptions.models import RedemptionType as RedemptionTypeModel

strawberry.enum(
    RedemptionStatusModel,
    name="RedemptionStatus",
    description="ACTIVE codes hold their amount on the wallet until used.",
)
RedemptionStatus = RedemptionStatusModel


strawberry.enum(
    DeliveryMethodModel,
    name="DeliveryMethod",
    description=(
        "How a code reaches its recipient: EMAIL, PHONE or LINK as the merchant says (Patron "
        "stores it and sends nothing); CREDIT for a code that holds wallet credit."
    ),
)
DeliveryMethod = DeliveryMethodModel

strawberry.enum(
    RedemptionTypeModel,
    name="RedemptionType",
    description=(
        "What a code gives. CREDIT_LOCAL_CURRENCY and CREDIT_GLOBAL_CURRENCY hold LOCAL or "
        "GLOBAL credit on the wallet; the others carry their value for an order or a shop to "
        "apply and hold nothing: DISCOUNT_FIXED and DISCOUNTED_SHIPPING_FIXED an amount in the "
        "account currency, DISCOUNT_PERCENTAGE and DISCOUNTED_SHIPPING_PERCENTAGE a percentage "
        "above 0 and at most 100 (two decimals), FREE_PRODUCT and FREE_SHIPPING no value (0)."
    ),
)
RedemptionType = RedemptionTypeModel


@strawberry.type(
    description=(
        "A code for a contact, redeemed once: a credit code holds its credit on the wallet "
        "until then; a discount, free-product or shipping code carries its type and value."
    )
)
class RedemptionCode(Node):
    uuid: str
    code: str = strawberry.field(description="As printed for the customer (dashes optional).")
    credit_type: CreditType = strawberry.field(
        description="The credit a credit code holds; GLOBAL (the account currency) otherwise."
    )
    reward_value: ExactFloat = strawberry.field(
        description=(
            "Credit or a fixed amount in its unit, a percentage (12.5 is 12.5 %), or 0 for "
            "FREE_PRODUCT and FREE_SHIPPING."
        )
    )
    redemption_type: RedemptionType
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
        description="As given at creation; CREDIT (the default of credit codes) holds credit.",
    )
    delivery_content: str | None = strawberry.field(
        default=None, description="Always null: Patron sends no code by email, phone or link."
    )
    given_name: strawberry.Private[str | None] = None
    given_email: strawberry.Private[str | None] = None
    given_phone: strawberry.Private[str | None] = None
    given_external_id: strawberry.Private[str | None] = None

    def _recipient(self, info: Info[Context, None]) -> Customer | None:
        return info.context.contacts_by_uuid().load(self.contact_uuid)

    @strawberry.field(description="As given at creation, else the contact's name.")
    def recipient_name(self, info: Info[Context, None]) -> str | None:
        if self.given_name is not None:
            return self.given_name
        found = self._recipient(info)
        return found.display_name if found else None

    @strawberry.field(description="As given at creation, else the contact's email.")
    def recipient_email(self, info: Info[Context, None]) -> str | None:
        if self.given_email is not None:
            return self.given_email
        found = self._recipient(info)
        return found.email if found else None

    @strawberry.field(description="As given at creation, else the contact's phone.")
    def recipient_phone(self, info: Info[Context, None]) -> str | None:
        if self.given_phone is not None:
            return self.given_phone
        found = self._recipient(info)
        return found.phone if found else None

    @strawberry.field(
        description="As given at creation, else the contact's Shopify customer GID, if any."
    )
    def recipient_external_id(self, info: Info[Context, None]) -> str | None:
        if self.given_external_id is not None:
            return self.given_external_id
        return info.context.identities_by_customer().load(self.contact_uuid).get("SHOPIFY")

    @classmethod
    def of(cls, redemption: Redemption, principal: Principal) -> RedemptionCode:
        return cls(
            uuid=redemption.uuid,
            code=codes.display(redemption.code),
            credit_type=redemption.credit_type,
            reward_value=ExactFloat(redemption_service.reward_value(principal, redemption)),
            redemption_type=redemption.redemption_type,
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
            delivery_method=redemption.delivery_method,
            given_name=redemption.recipient_name,
            given_email=redemption.recipient_email,
            given_phone=redemption.recipient_phone,
            given_external_id=redemption.recipient_external_id,
        )


def recipients_of(context: Context, rows: list[RedemptionCode]) -> list[RedemptionCode]:
    """Announce a list's recipients to the loaders, so that their fields batch."""
    uuids = list(dict.fromkeys(row.contact_uuid for row in rows))
    context.contacts_by_uuid().expect(uuids)
    context.identities_by_customer().expect(uuids)
    return rows


@strawberry.input(
    description=(
        "Give redemptionType (the seed vendor's), or creditType alone for a credit code; when "
        "both name a credit code they must agree. rewardValue is required except for "
        "FREE_PRODUCT and FREE_SHIPPING (none, or 0)."
    )
)
class CreateRedemptionInput:
    credit_type: CreditType | None = None
    reward_value: ExactFloat | None = None
    redemption_type: RedemptionType | None = None
    delivery_method: DeliveryMethod | None = strawberry.field(
        default=None,
        description="EMAIL, PHONE or LINK; left out, LINK (CREDIT for a credit code).",
    )
    recipient_name: str | None = None
    recipient_email: str | None = None
    recipient_phone: str | None = None
    recipient_external_id: str | None = None
    wallet_uuid: str | None = None
    contact_uuid: str | None = None
    quantity: int = 1
    expires_at: datetime | None = None
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.type(name="CreateRedemptionResult")  # ValueMapper's published name
class CreateRedemptionResponse:
    success: bool
    redemption_codes: list[RedemptionCode] = strawberry.field(default_factory=list)
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)
    already_linked: bool = strawberry.field(
        default=False,
        description="Always false: every code Patron makes is new and belongs to its contact.",
    )


@strawberry.type
class RedemptionCodeResponse:
    success: bool
    redemption_code: RedemptionCode | None = None
    credit_entry: CreditEntry | None = strawberry.field(
        default=None,
        description="The SPEND that captured a credit code's hold; null for the other types.",
    )
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@domain_errors_as(CreateRedemptionResponse)
def create_redemption(
    info: Info[Context, None], redemption: CreateRedemptionInput
) -> CreateRedemptionResponse:
    context = info.context
    command = NewRedemption(
        credit_type=redemption.credit_type.value if redemption.credit_type else None,
        amount=redemption.reward_value,
        wallet_uuid=redemption.wallet_uuid,
        customer_uuid=redemption.contact_uuid,
        quantity=redemption.quantity,
        expires_at=redemption.expires_at,
        note=redemption.note,
        idempotency_key=redemption.idempotency_key,
        redemption_type=redemption.redemption_type.value if redemption.redemption_type else None,
        delivery_method=redemption.delivery_method.value if redemption.delivery_method else None,
        recipient_name=redemption.recipient_name,
        recipient_email=redemption.recipient_email,
        recipient_phone=redemption.recipient_phone,
        recipient_external_id=redemption.recipient_external_id,
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
        credit_entry=(
            CreditEntry.of(redeemed.entry, context.principal) if redeemed.entry else None
        ),
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
