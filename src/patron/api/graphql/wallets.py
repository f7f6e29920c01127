"""Wallets and credit entries on the native API (seed 001)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Annotated

import httpx
import strawberry
from strawberry.types import Info

from patron.accounts.principal import Principal
from patron.api.graphql.actors import Actor, actor_of
from patron.api.graphql.context import Context
from patron.api.graphql.errors import UserError, domain_errors_as
from patron.api.graphql.relay import Node, PageInfo, decode_cursor, encode_cursor, page_size
from patron.api.graphql.scalars import BigInt, ExactFloat
from patron.core.errors import InvalidInput
from patron.core.money import from_minor
from patron.core.paging import check_page
from patron.integrations.shopify import credit as shopify_credit
from patron.wallets import ledger
from patron.wallets import service as wallet_service
from patron.wallets.models import Action, ConversionCommand, EntryCommand, Reason
from patron.wallets.models import CreditEntry as CreditEntryModel
from patron.wallets.models import CreditType as CreditTypeModel
from patron.wallets.models import Wallet as WalletModel

if TYPE_CHECKING:
    from patron.api.graphql.accounts import ConnectedService
    from patron.api.graphql.contacts import ConnectedServiceType
    from patron.api.graphql.redemptions import RedemptionCode

SHOPIFY_TIMEOUT_SECONDS = 10.0


# The ledger's enums, declared once in wallets.models, under the names this API gives them:
# an entry's action under the seed vendor's published name, CreditEntryType.
strawberry.enum(Action, name="CreditEntryType", description="What an entry did to its balance.")
CreditAction = Action


@strawberry.enum(
    name="CreditAction",
    description="Patron's first name for CreditEntryType, kept for clients that declare it: "
    "a variable of either type is accepted wherever the other one is expected.",
)
class CreditActionName(StrEnum):
    ADD = "ADD"
    SPEND = "SPEND"
    REMOVE = "REMOVE"


strawberry.enum(
    CreditTypeModel,
    name="CreditType",
    description="GLOBAL is money (store credit); LOCAL is loyalty points.",
)
CreditType = CreditTypeModel
strawberry.enum(Reason, name="CreditReason", description="Why an entry was written.")
CreditReason = Reason


@strawberry.enum(description="Why an entry was written: Patron's reasons, as CreditReason.")
class CreditEntrySubAction(StrEnum):
    MANUAL = "MANUAL"
    CONVERSION = "CONVERSION"
    REDEMPTION = "REDEMPTION"
    REDEMPTION_REFUND = "REDEMPTION_REFUND"
    ORDER = "ORDER"
    ORDER_REFUND = "ORDER_REFUND"
    EXPIRY = "EXPIRY"
    IMPORT = "IMPORT"


@strawberry.type(description="An immutable ledger line.")
class CreditEntry(Node):
    uuid: str
    action: CreditAction
    credit_type: CreditType
    amount: ExactFloat
    amount_minor: BigInt = strawberry.field(description="The amount in the smallest unit.")
    balance_after: Decimal = strawberry.field(
        description="The type's ledger balance after this entry: every ADD less every SPEND and "
        "REMOVE so far. It includes credit held by open redemption codes (and credit past its "
        "expiry not yet swept), so it can be more than the wallet's available balance."
    )
    reason: CreditReason
    note: str | None
    idempotency_key: str | None
    conversion_uuid: str | None
    created_at: datetime
    actor: Actor | None = strawberry.field(
        description="Who wrote it: an API token, a consumer, a staff member or a system job; "
        "null for entries written before Patron recorded it."
    )
    sub_action: CreditEntrySubAction = strawberry.field(
        description="Why the entry was written (the same as reason)."
    )
    updated_at: datetime = strawberry.field(
        description="Entries are never changed: always createdAt."
    )
    connected_service_type: (
        Annotated[ConnectedServiceType, strawberry.lazy("patron.api.graphql.contacts")] | None
    ) = strawberry.field(
        default=None, description="Always null: entries are written by Patron itself."
    )
    connected_service: (
        Annotated[ConnectedService, strawberry.lazy("patron.api.graphql.accounts")] | None
    ) = strawberry.field(
        default=None, description="Always null: entries are written by Patron itself."
    )

    @classmethod
    def of(cls, entry: CreditEntryModel, principal: Principal) -> CreditEntry:
        places = ledger.precision(principal, entry.credit_type)
        return cls(
            uuid=entry.uuid,
            action=entry.action,
            credit_type=entry.credit_type,
            amount=ExactFloat(from_minor(entry.amount, places)),
            amount_minor=BigInt(entry.amount),
            balance_after=from_minor(entry.balance_after, places),
            reason=entry.reason,
            note=entry.note,
            idempotency_key=entry.idempotency_key,
            conversion_uuid=entry.conversion_uuid,
            created_at=entry.created_at,
            actor=actor_of(entry.actor, entry.actor_name),
            sub_action=CreditEntrySubAction(entry.reason.value),
            updated_at=entry.created_at,
        )


@strawberry.type
class CreditEntryEdge:
    cursor: str
    node: CreditEntry


@strawberry.type(description="A page of a wallet's entries, newest first, with cursors.")
class CreditEntryConnection:
    edges: list[CreditEntryEdge]
    page_info: PageInfo


@strawberry.type(description="Credit of one lot that expires at a given time.")
class ExpiringCredit:
    credit_type: CreditType
    amount: Decimal
    expires_at: datetime
    entry_uuid: str = strawberry.field(description="The ADD that brought this credit.")


_AVAILABLE = (
    "{kind} available to spend now: the ledger balance (the last {type} entry's balanceAfter) "
    "less {held} and less credit past its expiry that the sweep has not removed yet."
)
_HELD = (
    "{kind} reserved by open redemption codes: still in the ledger balance and in balanceAfter, "
    "but not available until the code is cancelled or expires; redeeming it writes the SPEND."
)


@strawberry.type(
    description="A contact's wallet. Per credit type, the ledger balance (the last entry's "
    "balanceAfter) = available (…CreditBalance) + held (…CreditHeld) + expired credit the sweep "
    "has not removed yet."
)
class Wallet(Node):
    uuid: str
    global_credit_balance: ExactFloat = strawberry.field(
        description=_AVAILABLE.format(
            kind="GLOBAL credit (money)", type="GLOBAL", held="globalCreditHeld"
        )
    )
    local_credit_balance: ExactFloat = strawberry.field(
        description=_AVAILABLE.format(kind="LOCAL points", type="LOCAL", held="localCreditHeld")
    )
    global_credit_held: Decimal = strawberry.field(description=_HELD.format(kind="GLOBAL credit"))
    local_credit_held: Decimal = strawberry.field(description=_HELD.format(kind="LOCAL points"))
    shopify_credit_balance: ExactFloat = strawberry.field(
        description="Shopify's store-credit balance as last synced; 0 before any sync "
        "(shopifyCreditSyncedAt is null until then)."
    )
    shopify_credit_synced_at: datetime | None = strawberry.field(
        description="When shopifyCreditBalance was read from Shopify."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, wallet: WalletModel, principal: Principal) -> Wallet:
        money = principal.currency_precision
        points = principal.points_precision
        return cls(
            uuid=wallet.uuid,
            global_credit_balance=ExactFloat(
                from_minor(wallet.available(CreditTypeModel.GLOBAL), money)
            ),
            local_credit_balance=ExactFloat(
                from_minor(wallet.available(CreditTypeModel.LOCAL), points)
            ),
            global_credit_held=from_minor(wallet.global_held, money),
            local_credit_held=from_minor(wallet.local_held, points),
            shopify_credit_balance=ExactFloat(from_minor(wallet.shopify_balance or 0, money)),
            shopify_credit_synced_at=wallet.shopify_synced_at,
            created_at=wallet.created_at,
            updated_at=wallet.updated_at,
        )

    @strawberry.field(description="Redemption codes of this wallet, newest first.")
    def redemption_codes(
        self, info: Info[Context, None], limit: int | None = None, offset: int | None = None
    ) -> list[Annotated[RedemptionCode, strawberry.lazy("patron.api.graphql.redemptions")]]:
        from patron.api.graphql.redemptions import RedemptionCode, recipients_of

        context = info.context
        size, start = check_page(limit, offset)
        found = context.codes_by_wallet(size, start).load(self.uuid)
        return recipients_of(
            context, [RedemptionCode.of(item, context.principal) for item in found]
        )

    @strawberry.field(
        description="Credit that will expire, per lot, soonest first (already-expired credit "
        "is never counted in the balances)."
    )
    def expiring_credit(self, info: Info[Context, None]) -> list[ExpiringCredit]:
        context = info.context
        return [
            ExpiringCredit(
                credit_type=lot.credit_type,
                amount=from_minor(
                    lot.remaining, ledger.precision(context.principal, lot.credit_type)
                ),
                expires_at=lot.expires_at,
                entry_uuid=lot.entry_uuid,
            )
            for lot in context.lots_by_wallet().load(self.uuid)
        ]

    @strawberry.field(
        description="Entries newest first, a page at a time: first 1 to 250 (default 50), "
        "after an edge's cursor."
    )
    def credit_entries_connection(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> CreditEntryConnection:
        size = page_size(first)
        context = info.context
        before = None
        if after is not None:
            [seq] = decode_cursor(after, 1)
            if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
                raise InvalidInput(
                    f"after '{after[:100]}' is not a cursor of this list", field="after"
                )
            before = seq
        if before is None:  # the first page of many wallets is one query (the batch loader)
            found = context.entries_by_wallet(size + 1, 0).load(self.uuid)
        else:
            found = wallet_service.entries_before(
                context.connection(),
                context.principal,
                self.uuid,
                before_seq=before,
                limit=size + 1,
            )
        edges = [
            CreditEntryEdge(
                cursor=encode_cursor(entry.seq), node=CreditEntry.of(entry, context.principal)
            )
            for entry in found[:size]
        ]
        return CreditEntryConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(found) > size,
                has_previous_page=before is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(description="Newest first; limit 0 to 250 (default 50), offset 0 or more.")
    def credit_entries(
        self, info: Info[Context, None], limit: int | None = None, offset: int | None = None
    ) -> list[CreditEntry]:
        size, start = check_page(limit, offset)
        context = info.context
        entries = context.entries_by_wallet(size, start).load(self.uuid)
        return [CreditEntry.of(entry, context.principal) for entry in entries]


@strawberry.input
class AddCreditEntryInput:
    wallet_uuid: str
    action: CreditAction
    credit_type: CreditType
    amount: ExactFloat
    note: str | None = None
    idempotency_key: str | None = None
    expires_at: datetime | None = strawberry.field(
        default=None, description="ADD only: the credit expires at this time (a lot)."
    )


@strawberry.input
class ConvertCreditInput:
    wallet_uuid: str
    amount: ExactFloat
    from_: CreditType = strawberry.field(name="from")
    to: CreditType
    conversion_rate: ExactFloat | None = strawberry.field(
        default=None,
        description="Target units per source unit; may be left out when the account sets a rate.",
    )
    note: str | None = None
    idempotency_key: str | None = None


@strawberry.type
class AddCreditEntryResponse:
    success: bool
    credit_entry: CreditEntry | None = None
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ConvertCreditResponse:
    success: bool
    credit_entry: CreditEntry | None = strawberry.field(
        default=None, description="The entry that added the converted credit."
    )
    removed_entry: CreditEntry | None = strawberry.field(
        default=None, description="The entry that removed the source credit."
    )
    conversion_uuid: str | None = None
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@domain_errors_as(AddCreditEntryResponse)
def add_credit_entry(
    info: Info[Context, None], credit_entry: AddCreditEntryInput
) -> AddCreditEntryResponse:
    context = info.context
    command = EntryCommand(
        wallet_uuid=credit_entry.wallet_uuid,
        action=credit_entry.action.value,
        credit_type=credit_entry.credit_type.value,
        amount=credit_entry.amount,
        note=credit_entry.note,
        idempotency_key=credit_entry.idempotency_key,
        expires_at=credit_entry.expires_at,
    )
    entry = wallet_service.post_entry(context.db, context.principal, command)
    return AddCreditEntryResponse(
        success=True, credit_entry=CreditEntry.of(entry, context.principal)
    )


@domain_errors_as(ConvertCreditResponse)
def convert_credit(info: Info[Context, None], credit: ConvertCreditInput) -> ConvertCreditResponse:
    context = info.context
    command = ConversionCommand(
        wallet_uuid=credit.wallet_uuid,
        amount=credit.amount,
        from_type=credit.from_.value,
        to_type=credit.to.value,
        conversion_rate=credit.conversion_rate,
        note=credit.note,
        idempotency_key=credit.idempotency_key,
    )
    conversion = wallet_service.convert_credit(context.db, context.principal, command)
    return ConvertCreditResponse(
        success=True,
        credit_entry=CreditEntry.of(conversion.added, context.principal),
        removed_entry=CreditEntry.of(conversion.removed, context.principal),
        conversion_uuid=conversion.conversion_uuid,
    )


@strawberry.input
class ReverseCreditEntryInput:
    uuid: str = strawberry.field(description="The entry to give back or take back.")
    amount: Decimal | None = strawberry.field(
        default=None, description="Part of it; default: all that is not reversed yet."
    )
    note: str | None = None
    idempotency_key: str | None = None


@domain_errors_as(AddCreditEntryResponse)
def reverse_credit_entry(
    info: Info[Context, None], reversal: ReverseCreditEntryInput
) -> AddCreditEntryResponse:
    context = info.context
    entry = wallet_service.reverse_entry(
        context.db,
        context.principal,
        reversal.uuid,
        amount=reversal.amount,
        note=reversal.note,
        idempotency_key=reversal.idempotency_key,
    )
    return AddCreditEntryResponse(
        success=True, credit_entry=CreditEntry.of(entry, context.principal)
    )


@strawberry.type
class RefreshShopifyCreditResponse:
    success: bool
    wallet: Wallet | None = None
    errors: list[str] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@cache
def _shopify_http() -> httpx.Client:
    """One client per process for on-demand reads (connections are reused, thread-safe)."""
    return shopify_credit.shopify_client(SHOPIFY_TIMEOUT_SECONDS)


@domain_errors_as(RefreshShopifyCreditResponse)
def refresh_shopify_credit_balance(
    info: Info[Context, None], wallet_uuid: str
) -> RefreshShopifyCreditResponse:
    """Read the wallet's store credit from Shopify now (write scope)."""
    context = info.context
    wallet = shopify_credit.refresh_balance(
        context.db, _shopify_http(), context.principal, wallet_uuid, context.secret_key
    )
    return RefreshShopifyCreditResponse(success=True, wallet=Wallet.of(wallet, context.principal))
