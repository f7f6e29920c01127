"""The native schema: ``Query.account`` and the mutations of seeds 000 and 001, plus extensions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import strawberry
from graphql import GraphQLError
from sqlalchemy import Connection
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from patron.accounts.principal import Principal
from patron.api.graphql import account_settings as settings_api
from patron.api.graphql import accounts as account_api
from patron.api.graphql import contacts as contact_api
from patron.api.graphql import orders as order_api
from patron.api.graphql import privacy as privacy_api
from patron.api.graphql import promotions as promotion_api
from patron.api.graphql import redemptions as redemption_api
from patron.api.graphql import wallets as wallet_api
from patron.api.graphql import webhooks as webhook_api
from patron.api.graphql.compatible import CompatibleVariables
from patron.api.graphql.context import Context
from patron.api.graphql.fastpath import FastReads
from patron.api.graphql.fastpath.fields import TYPES
from patron.api.graphql.fastpath.writes import FastWrites
from patron.api.graphql.limits import standard_extensions
from patron.api.graphql.relay import (
    Node,
    PageInfo,
    decode_cursor,
    encode_cursor,
    page_size,
    parse_global_id,
)
from patron.api.graphql.scalars import (
    BigInt,
    BigIntScalar,
    DecimalScalar,
    ExactFloat,
    FloatScalar,
    PlainJSONScalar,
)
from patron.core.errors import InvalidInput
from patron.core.ids import is_uuid
from patron.core.settings import Settings
from patron.customers import search as customer_search
from patron.customers import service as customer_service
from patron.customers.search import keyset
from patron.orders import service as order_service
from patron.orders.promotions import service as promotion_service
from patron.redemptions import service as redemption_service
from patron.wallets import service as wallet_service

MAX_NODES = 100


@strawberry.type
class ContactEdge:
    cursor: str
    node: contact_api.Contact


@strawberry.type(description="A page of contacts, newest first, with cursors to go on.")
class ContactConnection:
    edges: list[ContactEdge]
    page_info: PageInfo


def _contacts_page(
    context: Context, first: int | None, after: str | None, search: str | None
) -> ContactConnection:
    size = page_size(first)
    position = None
    if after is not None:
        created, number = decode_cursor(after, 2)
        position = keyset("created_at", created, number)
    words = customer_search.search_words(search)
    page = customer_search.search_customers(
        context.connection(),
        context.principal,
        customer_search.CustomerSearch(
            order_by="created_at", descending=True, words=words, after=position, limit=size
        ),
    )
    rows = [contact_api.Contact.of(customer) for customer in page.customers]
    contact_api.expect_rows(context, rows)
    edges = [
        ContactEdge(cursor=encode_cursor(key.value, key.number), node=row)
        for row, key in zip(rows, page.keys, strict=True)
    ]
    return ContactConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=position is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


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
        resolver=promotion_api.account_promotions,
        description="Newest first; limit 0 to 250; only active (or inactive) ones, or the one "
        "with this uuid, when given.",
    )
    promotions_count: int = strawberry.field(
        resolver=promotion_api.account_promotions_count, description="How many promotions."
    )
    auth_tokens: list[account_api.AuthToken] = strawberry.field(
        resolver=account_api.account_auth_tokens,
        description="The account's API tokens without their secrets (admin tokens only; an "
        "empty list for others); tokenType is the scope.",
    )
    connected_services: list[account_api.ConnectedService] = strawberry.field(
        resolver=account_api.account_connected_services,
        description="The services the account is connected to (Shopify, Klaviyo).",
    )
    webhook_deliveries: list[webhook_api.WebhookDelivery] = strawberry.field(
        resolver=webhook_api.account_webhook_deliveries,
        description="One webhook's delivery log, newest first: limit 1 to 250 (default 50); "
        "success true keeps delivered ones, false failed and retrying ones.",
    )
    webhook_error_rate: float = strawberry.field(
        resolver=webhook_api.account_webhook_error_rate,
        description="Failed over finished deliveries of one webhook that finished in the last "
        "windowHours (1 to 2160, default 24); 0 when none did.",
    )

    @strawberry.field(description="Always true: a token of a closed account is refused.")
    def active(self) -> bool:
        return True

    @strawberry.field(
        description="A stable integer id of the account on this install (oldest is 1); uuid "
        "is its id everywhere else."
    )
    def id(self, info: Info[Context, None]) -> int:
        return info.context.account_record().number

    @strawberry.field(description="When the account's settings last changed.")
    def updated_at(self, info: Info[Context, None]) -> datetime:
        record = info.context.account_record()
        return record.updated_at or record.created_at

    conversion_rates: list[settings_api.ConversionRate] = strawberry.field(
        resolver=settings_api.account_conversion_rates,
        description="The account's conversion rates; convertCredit refuses another one.",
    )
    earning_rule: Decimal | None = strawberry.field(
        resolver=order_api.account_earning_rule,
        description="LOCAL points per unit of the account currency; null when orders earn none.",
    )

    webhooks: list[webhook_api.Webhook] = strawberry.field(
        resolver=webhook_api.account_webhooks,
        description="Webhook subscriptions, oldest first, each with its delivery log.",
    )

    @strawberry.field(
        description="Contacts newest first, a page at a time: first 1 to 250 (default 50), "
        "after an edge's cursor; search matches words in the name, email or phone."
    )
    def contacts_connection(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> ContactConnection:
        return _contacts_page(info.context, first, after, search)

    audit_events: privacy_api.AuditEventConnection = strawberry.field(
        resolver=privacy_api.account_audit_events,
        description="The audit trail, newest first: who did what (ids only, no personal data).",
    )

    @strawberry.field(description="How many contacts the account has.")
    def contacts_count(self, info: Info[Context, None]) -> int:
        return customer_service.count_customers(info.context.connection(), info.context.principal)


def _nodes(context: Context, ids: list[strawberry.ID]) -> list[Node | None]:
    """Each id's object of the token's account, or None; one query per type asked for."""
    wanted = [parse_global_id(str(value), field="ids" if len(ids) > 1 else "id") for value in ids]
    by_type: dict[str, list[str]] = {}
    for kind, uuid in wanted:
        if is_uuid(uuid):
            by_type.setdefault(kind, []).append(uuid)
    found: dict[tuple[str, str], Node] = {}
    connection, principal = context.connection(), context.principal
    for kind, uuids in by_type.items():
        for uuid, node in _load(context, connection, principal, kind, uuids):
            found[(kind, uuid)] = node
    return [found.get(key) for key in wanted]


def _load(
    context: Context, connection: Connection, principal: Principal, kind: str, uuids: list[str]
) -> Iterable[tuple[str, Node]]:
    if kind == "Contact":
        contacts = [
            contact_api.Contact.of(customer)
            for uuid in uuids
            for customer in customer_service.find_customers(
                connection, principal, uuid=uuid, limit=1
            )
        ]
        contact_api.expect_rows(context, contacts)
        return ((contact.uuid, contact) for contact in contacts)
    if kind == "Wallet":
        wallets = wallet_service.wallets_by_uuids(connection, principal, uuids)
        context.seen_wallets.update(dict.fromkeys(wallet.uuid for wallet in wallets))
        return ((w.uuid, wallet_api.Wallet.of(w, principal)) for w in wallets)
    if kind == "CreditEntry":
        entries = wallet_service.get_entries(connection, principal, uuids)
        return ((e.uuid, wallet_api.CreditEntry.of(e, principal)) for e in entries)
    if kind == "RedemptionCode":
        codes = redemption_service.codes_by_uuids(connection, principal, uuids)
        return ((c.uuid, redemption_api.RedemptionCode.of(c, principal)) for c in codes)
    if kind == "Order":
        orders = order_service.orders_by_uuids(connection, principal, uuids)
        context.seen_orders.update(dict.fromkeys(order.uuid for order in orders))
        return ((o.uuid, order_api.Order.of(o, principal)) for o in orders)
    promotions = promotion_service.promotions_by_uuids(connection, principal, uuids)
    return ((p.uuid, promotion_api.Promotion.of(p, principal)) for p in promotions)


@strawberry.type
class Query:
    @strawberry.field(
        description="The object of the token's account with this global id (any Node's id), "
        "or null."
    )
    def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        return _nodes(info.context, [id])[0]

    @strawberry.field(description="Several objects by global id, in order; at most 100.")
    def nodes(self, info: Info[Context, None], ids: list[strawberry.ID]) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise InvalidInput(f"at most {MAX_NODES} ids at once, got {len(ids)}", field="ids")
        return _nodes(info.context, ids)

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
    upsert_contact = strawberry.mutation(
        resolver=contact_api.upsert_contact,
        description="Create or update by email or external id: idempotent, unlike "
        "createContact, which refuses a known email (EMAIL_TAKEN) or id (IDENTITY_TAKEN).",
    )
    delete_contact = strawberry.mutation(resolver=contact_api.delete_contact)
    erase_contact = strawberry.mutation(
        resolver=privacy_api.erase_contact,
        description="Erase a contact for good (admin): its personal data is blanked, its "
        "wallet, entries and orders stay for the books, anonymous; no surface shows it again.",
    )
    export_contact_data = strawberry.mutation(
        resolver=privacy_api.export_contact_data,
        description="Everything Patron holds about one contact, as JSON (admin); recorded in "
        "the audit trail.",
    )
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
    update_account_settings = strawberry.mutation(resolver=settings_api.update_account_settings)
    create_promotion = strawberry.mutation(resolver=promotion_api.create_promotion)
    update_promotion = strawberry.mutation(resolver=promotion_api.update_promotion)
    create_webhook = strawberry.mutation(resolver=webhook_api.create_webhook)
    update_webhook = strawberry.mutation(resolver=webhook_api.update_webhook)
    delete_webhook = strawberry.mutation(resolver=webhook_api.delete_webhook)
    rotate_webhook_secret = strawberry.mutation(resolver=webhook_api.rotate_webhook_secret)
    claim_promotion = strawberry.mutation(resolver=promotion_api.claim_promotion)


class PatronSchema(strawberry.Schema):
    fast_reads: FastReads | None = None
    fast_writes: FastWrites | None = None

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors are answers, not incidents; unexpected ones are logged by the executor."""


def build_schema(settings: Settings) -> PatronSchema:
    fast_reads = FastReads(TYPES) if settings.fast_reads else None
    fast_writes = FastWrites() if settings.fast_writes else None
    extensions = [CompatibleVariables, *standard_extensions(settings)]
    if fast_reads is not None:
        extensions.append(fast_reads.extension())
    if fast_writes is not None:
        extensions.append(fast_writes.extension())
    schema = PatronSchema(
        query=Query,
        mutation=Mutation,
        scalar_overrides={
            Decimal: DecimalScalar,
            ExactFloat: FloatScalar,
            float: FloatScalar,
            JSON: PlainJSONScalar,
            BigInt: BigIntScalar,
        },
        types=[wallet_api.CreditActionName],
        config=StrawberryConfig(auto_camel_case=True),
        extensions=extensions,
    )
    if fast_reads is not None:
        fast_reads.bind(schema._schema)
        schema.fast_reads = fast_reads
    if fast_writes is not None:
        fast_writes.bind(schema)
        schema.fast_writes = fast_writes
    return schema
