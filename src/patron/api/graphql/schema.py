"""The native schema: ``Query.account`` and the mutations of seeds 000 and 001, plus extensions."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from patron.api.graphql import contacts as contact_api
from patron.api.graphql import orders as order_api
from patron.api.graphql import promotions as promotion_api
from patron.api.graphql import redemptions as redemption_api
from patron.api.graphql import wallets as wallet_api
from patron.api.graphql import webhooks as webhook_api
from patron.api.graphql.context import Context
from patron.api.graphql.limits import standard_extensions
from patron.api.graphql.scalars import BigInt, BigIntScalar, DecimalScalar
from patron.core.settings import Settings
from patron.customers import service as customer_service


@strawberry.type(description="The merchant account the token belongs to.")
class Account:
    uuid: str
    name: str
    currency: str
    points_precision: int

    @strawberry.field(
        description="Newest first. limit 0 to 250 (default 50); filters by uuid, email "
        "(case-insensitive) or Shopify id (GID or number)."
    )
    def contacts(
        self,
        info: Info[Context, None],
        limit: int | None = None,
        offset: int | None = None,
        uuid: str | None = None,
        email: str | None = None,
        shopify_id: str | None = None,
    ) -> list[contact_api.Contact]:
        context = info.context
        found = customer_service.find_customers(
            context.connection(),
            context.principal,
            limit=limit,
            offset=offset,
            uuid=uuid,
            email=email,
            shopify_id=shopify_id,
        )
        rows = [contact_api.Contact.of(customer) for customer in found]
        contact_api.expect_rows(context, rows)
        return rows

    redemption_code: redemption_api.RedemptionCode | None = strawberry.field(
        resolver=redemption_api.redemption_code,
        description="A code by its text (dashes and case do not matter).",
    )
    redemption_codes: list[redemption_api.RedemptionCode] = strawberry.field(
        resolver=redemption_api.redemption_codes, description="Newest first."
    )
    redemption_codes_count: int = strawberry.field(resolver=redemption_api.redemption_codes_count)
    stores: list[order_api.Store] = strawberry.field(
        resolver=order_api.account_stores, description="Oldest first; limit 0 to 250."
    )
    orders: list[order_api.Order] = strawberry.field(
        resolver=order_api.account_orders, description="Newest first; limit 0 to 250."
    )
    promotions: list[promotion_api.Promotion] = strawberry.field(
        resolver=promotion_api.account_promotions, description="Newest first; limit 0 to 250."
    )
    earning_rule: Decimal | None = strawberry.field(
        resolver=order_api.account_earning_rule,
        description="LOCAL points per unit of the account currency; null when orders earn none.",
    )

    webhooks: list[webhook_api.Webhook] = strawberry.field(
        resolver=webhook_api.account_webhooks,
        description="Webhook subscriptions, oldest first, each with its delivery log.",
    )

    @strawberry.field(description="How many contacts the account has.")
    def contacts_count(self, info: Info[Context, None]) -> int:
        return customer_service.count_customers(info.context.connection(), info.context.principal)


@strawberry.type
class Query:
    @strawberry.field(description="The token's account.")
    def account(self, info: Info[Context, None]) -> Account:
        principal = info.context.principal
        return Account(
            uuid=principal.account_id,
            name=principal.account_name,
            currency=principal.currency,
            points_precision=principal.points_precision,
        )


@strawberry.type
class Mutation:
    create_contact = strawberry.mutation(resolver=contact_api.create_contact)
    update_contact = strawberry.mutation(resolver=contact_api.update_contact)
    delete_contact = strawberry.mutation(resolver=contact_api.delete_contact)
    add_credit_entry = strawberry.mutation(resolver=wallet_api.add_credit_entry)
    convert_credit = strawberry.mutation(resolver=wallet_api.convert_credit)
    reverse_credit_entry = strawberry.mutation(resolver=wallet_api.reverse_credit_entry)
    refresh_shopify_credit_balance = strawberry.mutation(
        resolver=wallet_api.refresh_shopify_credit_balance
    )
    create_redemption = strawberry.mutation(resolver=redemption_api.create_redemption)
    redeem_redemption = strawberry.mutation(resolver=redemption_api.redeem_redemption)
    cancel_redemption = strawberry.mutation(resolver=redemption_api.cancel_redemption)
    create_store = strawberry.mutation(resolver=order_api.create_store)
    record_order = strawberry.mutation(resolver=order_api.record_order)
    refund_order = strawberry.mutation(resolver=order_api.refund_order)
    set_earning_rule = strawberry.mutation(resolver=order_api.set_earning_rule)
    create_promotion = strawberry.mutation(resolver=promotion_api.create_promotion)
    update_promotion = strawberry.mutation(resolver=promotion_api.update_promotion)
    create_webhook = strawberry.mutation(resolver=webhook_api.create_webhook)
    update_webhook = strawberry.mutation(resolver=webhook_api.update_webhook)
    delete_webhook = strawberry.mutation(resolver=webhook_api.delete_webhook)
    claim_promotion = strawberry.mutation(resolver=promotion_api.claim_promotion)


class PatronSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors are answers, not incidents; unexpected ones are logged by the executor."""


def build_schema(settings: Settings) -> strawberry.Schema:
    return PatronSchema(
        query=Query,
        mutation=Mutation,
        scalar_overrides={Decimal: DecimalScalar, BigInt: BigIntScalar},
        config=StrawberryConfig(auto_camel_case=True),
        extensions=standard_extensions(settings),
    )
