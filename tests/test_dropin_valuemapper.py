"""A client written against the seed vendor's published types (seeds 000/001) moves unchanged.

Typed variables with the vendor's type names (``Float!`` amounts, ``CreditEntryType!`` actions),
and Patron's own names (``Decimal!``, ``CreditAction!``) still accepted for the same positions.
Amounts are sent as raw JSON text so that the test sees exactly the digits a client wrote.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from patron.accounts import service as accounts
from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.models import CustomerChanges
from patron.integrations.shopify.admin import ShopifyConnection
from patron.webhooks import service as webhook_service
from patron.webhooks import signing
from patron.webhooks.models import DeliveryResult, NewWebhook
from tests.support.client import Api
from tests.support.fast_reads import statements
from tests.support.holds import make_code
from tests.support.orders import make_promotion
from tests.support.receiver import running_receiver
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, fund, make_contact
from tests.support.webhooks import LOCAL, make_webhook, tenant_dispatcher

ADD_TYPED = """
mutation AddCreditEntry($walletUuid: String!, $action: CreditEntryType!, $creditType: CreditType!,
                        $amount: Float!) {
  addCreditEntry(creditEntry: {walletUuid: $walletUuid, action: $action, creditType: $creditType,
                               amount: $amount}) {
    success
    creditEntry { uuid action creditType amount }
    errors
  }
}"""

ADD_PATRON_NAMES = """
mutation AddCreditEntry($walletUuid: String!, $action: CreditAction!, $amount: Decimal!) {
  addCreditEntry(creditEntry: {walletUuid: $walletUuid, action: $action, creditType: GLOBAL,
                               amount: $amount}) {
    success
    creditEntry { action amount }
    errors
  }
}"""

CONVERT_TYPED = """
mutation ConvertCredit($walletUuid: String!, $amount: Float!, $rate: Float) {
  convertCredit(credit: {walletUuid: $walletUuid, amount: $amount, conversionRate: $rate,
                         from: LOCAL, to: GLOBAL}) {
    success
    creditEntry { action creditType amount }
    errors
  }
}"""

BALANCES = """
query GetCreditBalances($uuid: String) {
  account {
    contacts(uuid: $uuid) {
      wallet { globalCreditBalance localCreditBalance shopifyCreditBalance }
    }
  }
}"""


def written(values: dict[str, Any], **numbers: str) -> str:
    """The variables as JSON text, each of ``numbers`` written exactly as given."""
    text = json.dumps({**values, **{name: f"@{name}@" for name in numbers}})
    for name, digits in numbers.items():
        text = text.replace(f'"@{name}@"', digits)
    return text


def raw(api: Api, tenant: Tenant, query: str, variables_json: str) -> dict[str, Any]:
    """Post a body whose variables are written as the given JSON text, digits and all."""
    body = f'{{"query": {json.dumps(query)}, "variables": {variables_json}}}'
    response = api.http.post(
        "/graphql",
        content=body.encode(),
        headers={"Authorization": f"Bearer {tenant.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    decoded: dict[str, Any] = json.loads(response.text, parse_float=Decimal)
    return decoded


def test_a_float_amount_and_a_credit_entry_type_action_validate_and_stay_exact(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant)
    entry = {"walletUuid": contact.wallet_uuid, "action": "ADD", "creditType": "GLOBAL"}
    variables = written(entry, amount="10.1")

    body = raw(api, tenant, ADD_TYPED, variables)

    assert "errors" not in body, body
    added = body["data"]["addCreditEntry"]
    assert added["success"] is True
    assert added["creditEntry"]["action"] == "ADD"
    assert added["creditEntry"]["amount"] == Decimal("10.10")
    wallet = api.data(BALANCES, {"uuid": contact.customer.uuid}, token=tenant.token)
    assert wallet["account"]["contacts"][0]["wallet"] == {
        "globalCreditBalance": Decimal("10.10"),
        "localCreditBalance": 0,
        "shopifyCreditBalance": 0,
    }


def test_amounts_are_read_from_their_digits_never_through_binary_floats(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant)
    # 0.1 + 0.2 in binary is 0.30000000000000004; three additions of these texts are exact.
    for amount in ("0.1", "0.2", "1e-2", "2.50E1", "1234567890123.45"):
        entry = {"walletUuid": contact.wallet_uuid, "action": "ADD", "creditType": "GLOBAL"}
        variables = written(entry, amount=amount)
        body = raw(api, tenant, ADD_TYPED, variables)
        assert body["data"]["addCreditEntry"]["success"] is True, body
        assert body["data"]["addCreditEntry"]["creditEntry"]["amount"] == Decimal(amount)
    wallet = api.data(BALANCES, {"uuid": contact.customer.uuid}, token=tenant.token)
    balance = wallet["account"]["contacts"][0]["wallet"]["globalCreditBalance"]
    assert balance == Decimal("1234567890148.76")


def test_more_digits_than_the_precision_are_refused_not_rounded(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant)
    entry = {"walletUuid": contact.wallet_uuid, "action": "ADD", "creditType": "GLOBAL"}
    variables = written(entry, amount="0.10000000000000000001")

    body = raw(api, tenant, ADD_TYPED, variables)

    added = body["data"]["addCreditEntry"]
    assert added["success"] is False
    assert added["creditEntry"] is None
    wallet = api.data(BALANCES, {"uuid": contact.customer.uuid}, token=tenant.token)
    assert wallet["account"]["contacts"][0]["wallet"]["globalCreditBalance"] == 0


def test_patron_names_still_validate_in_the_same_positions(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant)
    variables = written({"walletUuid": contact.wallet_uuid, "action": "ADD"}, amount="3.30")

    body = raw(api, tenant, ADD_PATRON_NAMES, variables)

    assert "errors" not in body, body
    assert body["data"]["addCreditEntry"]["creditEntry"] == {
        "action": "ADD",
        "amount": Decimal("3.30"),
    }


def test_a_float_variable_validates_in_a_position_only_patron_has(
    api: Api, db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, "5.00")
    entry = api.data(
        "query($uuid: String) { account { contacts(uuid: $uuid) { wallet { creditEntries "
        "{ uuid } } } } }",
        {"uuid": contact.customer.uuid},
        token=tenant.token,
    )["account"]["contacts"][0]["wallet"]["creditEntries"][0]["uuid"]
    reverse = """
    mutation Reverse($uuid: String!, $amount: Float) {
      reverseCreditEntry(reversal: {uuid: $uuid, amount: $amount}) {
        success creditEntry { action amount } errors
      }
    }"""

    body = raw(api, tenant, reverse, written({"uuid": entry}, amount="1.25"))

    assert "errors" not in body, body
    assert body["data"]["reverseCreditEntry"]["creditEntry"] == {
        "action": "REMOVE",
        "amount": Decimal("1.25"),
    }


def test_convert_credit_takes_float_amount_and_rate(api: Api, db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant)
    fund(db, tenant, contact.wallet_uuid, 100, "LOCAL")
    variables = written({"walletUuid": contact.wallet_uuid}, amount="100", rate="0.01")

    body = raw(api, tenant, CONVERT_TYPED, variables)

    assert "errors" not in body, body
    assert body["data"]["convertCredit"]["creditEntry"] == {
        "action": "ADD",
        "creditType": "GLOBAL",
        "amount": Decimal("1.00"),
    }


def test_other_variable_mismatches_are_still_refused(api: Api, tenant: Tenant) -> None:
    query = """
    mutation($amount: String!) {
      addCreditEntry(creditEntry: {walletUuid: "x", action: ADD, creditType: GLOBAL,
                                   amount: $amount}) { success }
    }"""
    body = api.graphql(query, {"amount": "1"}, token=tenant.token)
    assert body["errors"][0]["message"] == (
        "Variable '$amount' of type 'String!' used in position expecting type 'Float!'."
    )
    nullable = """
    mutation($amount: Decimal) {
      addCreditEntry(creditEntry: {walletUuid: "x", action: ADD, creditType: GLOBAL,
                                   amount: $amount}) { success }
    }"""
    body = api.graphql(nullable, {"amount": 1}, token=tenant.token)
    assert body["errors"][0]["message"] == (
        "Variable '$amount' of type 'Decimal' used in position expecting type 'Float!'."
    )


def test_a_float_in_an_int_position_and_json_extra_info_keep_working(
    api: Api, db: Database, tenant: Tenant
) -> None:
    make_contact(db, tenant)
    query = "query($limit: Int) { account { contacts(limit: $limit) { uuid } } }"
    body = raw(api, tenant, query, '{"limit": 1.0}')
    assert "errors" not in body, body
    assert len(body["data"]["account"]["contacts"]) == 1
    create = """
    mutation($contact: ContactInput!) {
      createContact(contact: $contact) { success contact { extraInfo } errors }
    }"""
    body = raw(
        api, tenant, create, '{"contact": {"email": "x@example.com", "extraInfo": {"score": 1.5}}}'
    )
    assert body["data"]["createContact"]["contact"]["extraInfo"] == {"score": Decimal("1.5")}


# --- the vendor's published fields ------------------------------------------------------------

PUBLISHED_FIELDS = """
query PublishedFields($webhookUuid: String!, $limit: Int, $eventType: WebhookEvent,
                      $success: Boolean, $windowHours: Int, $tokenType: AuthTokenType) {
  account {
    id
    uuid
    active
    updatedAt
    promotionsCount
    contactsCount
    redemptionCodesCount
    promotions(active: true, limit: 10, offset: 0) { uuid name }
    inactive: promotions(active: false) { uuid }
    connectedServices(serviceType: SHOPIFY, enabled: true) { serviceType enabled name }
    excluded: connectedServices(exclude: [SHOPIFY]) { serviceType }
    authTokens(tokenType: $tokenType) { uuid name tokenType prefix active createdAt lastUsedAt
                                        revokedAt }
    webhooks { uuid }
    webhookDeliveries(webhookUuid: $webhookUuid, limit: $limit, eventType: $eventType,
                      success: $success) { eventId eventType status responseStatus }
    webhookErrorRate(webhookUuid: $webhookUuid, windowHours: $windowHours)
    contacts {
      wallet {
        shopifyCreditBalance
        redemptionCodes(limit: 5, offset: 0) {
          uuid code externalId recipientName recipientEmail recipientPhone recipientExternalId
          deliveryMethod deliveryContent rewardValue allocated redeemed redeemedAt
        }
        creditEntries {
          uuid action subAction creditType amount connectedServiceType
          connectedService { serviceType } createdAt updatedAt
        }
      }
    }
  }
}"""


def _log(db: Database, tenant: Tenant, webhook_uuid: str) -> None:
    results = [
        ("evt-1", "CONTACT_CREATED", "delivered", 200),
        ("evt-2", "CONTACT_CREATED", "failed", 500),
        ("evt-3", "WALLET_CREDIT_ADDED", "delivered", 204),
        ("evt-4", "WALLET_CREDIT_ADDED", "retrying", 503),
    ]
    webhook_service.record_results(
        db,
        [
            webhook_service.Attempt(
                tenant.uuid,
                event_id,
                event_type,
                [DeliveryResult(webhook_uuid, status, code, 12, None)],
            )
            for event_id, event_type, status, code in results
        ],
    )


def test_every_published_field_answers_real_data(api: Api, db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant, email="vm@example.com", name="Val Mapper", phone="+15550199")
    customers.update_customer(
        db,
        tenant.principal,
        contact.customer.uuid,
        CustomerChanges(identities={"SHOPIFY": "8080"}),
    )
    fund(db, tenant, contact.wallet_uuid, "12.50")
    code = make_code(db, tenant, contact.wallet_uuid, "2.50")
    promotion = make_promotion(db, tenant)
    hook = make_webhook(db, tenant, "http://127.0.0.1:9/hook", ["CONTACT_CREATED"])
    _log(db, tenant, hook.webhook.uuid)
    accounts.update_account_settings(
        db,
        tenant.uuid,
        {"shopify": ShopifyConnection("vm.myshopify.com", "shpat_x", None).as_setting(None)},
    )

    variables = {"webhookUuid": hook.webhook.uuid, "windowHours": 24, "tokenType": "ADMIN"}
    account = api.data(PUBLISHED_FIELDS, variables, token=tenant.token)["account"]

    stored = accounts.get_account(db, tenant.uuid)
    assert account["id"] == stored.number
    assert stored.number >= 1
    assert stored.updated_at is not None
    assert account["updatedAt"] == stored.updated_at.isoformat()
    assert stored.updated_at > stored.created_at  # the Shopify connection changed it
    assert account["active"] is True
    assert (account["promotionsCount"], account["contactsCount"]) == (1, 1)
    assert account["redemptionCodesCount"] == 1
    assert account["promotions"] == [{"uuid": promotion.uuid, "name": "Double points"}]
    assert account["inactive"] == []
    assert account["connectedServices"] == [
        {"serviceType": "SHOPIFY", "enabled": True, "name": "vm.myshopify.com"}
    ]
    assert account["excluded"] == []
    [token] = account["authTokens"]
    assert token["tokenType"] == "ADMIN"
    assert token["active"] is True
    assert tenant.token.startswith(token["prefix"])
    assert tenant.token not in json.dumps(token)
    assert [d["eventId"] for d in account["webhookDeliveries"]] == [
        "evt-4",
        "evt-3",
        "evt-2",
        "evt-1",
    ]
    assert account["webhookErrorRate"] == Decimal("0.3333333333333333")
    [contact_row] = account["contacts"]
    wallet = contact_row["wallet"]
    assert wallet["shopifyCreditBalance"] == 0
    assert wallet["redemptionCodes"] == [
        {
            "uuid": code.uuid,
            "code": wallet["redemptionCodes"][0]["code"],
            "externalId": None,
            "recipientName": "Val Mapper",
            "recipientEmail": "vm@example.com",
            "recipientPhone": "+15550199",
            "recipientExternalId": "gid://shopify/Customer/8080",
            "deliveryMethod": "CREDIT",
            "deliveryContent": None,
            "rewardValue": Decimal("2.50"),
            "allocated": True,
            "redeemed": False,
            "redeemedAt": None,
        }
    ]
    [entry] = wallet["creditEntries"]
    assert entry["action"] == "ADD"
    assert entry["subAction"] == "MANUAL"
    assert entry["amount"] == Decimal("12.50")
    assert entry["connectedServiceType"] is None
    assert entry["connectedService"] is None
    assert entry["updatedAt"] == entry["createdAt"]


def test_webhook_deliveries_filter_by_event_type_success_and_limit(
    api: Api, db: Database, tenant: Tenant
) -> None:
    hook = make_webhook(db, tenant, "http://127.0.0.1:9/hook", ["CONTACT_CREATED"])
    _log(db, tenant, hook.webhook.uuid)
    query = """
    query($webhookUuid: String!, $limit: Int, $eventType: WebhookEvent, $success: Boolean) {
      account { webhookDeliveries(webhookUuid: $webhookUuid, limit: $limit,
                                  eventType: $eventType, success: $success) { eventId status } }
    }"""

    def ids(**given: Any) -> list[str]:
        variables = {"webhookUuid": hook.webhook.uuid, **given}
        found = api.data(query, variables, token=tenant.token)["account"]["webhookDeliveries"]
        return [delivery["eventId"] for delivery in found]

    assert ids(eventType="CONTACT_CREATED") == ["evt-2", "evt-1"]
    assert ids(success=True) == ["evt-3", "evt-1"]
    assert ids(success=False) == ["evt-4", "evt-2"]
    assert ids(limit=1) == ["evt-4"]
    assert ids(webhookUuid="00000000-0000-4000-8000-000000000000") == []
    refused = api.graphql(query, {"webhookUuid": hook.webhook.uuid, "limit": 0}, token=tenant.token)
    assert refused["errors"][0]["extensions"]["field"] == "limit"


def test_auth_tokens_are_for_admin_tokens_only_and_never_show_a_secret(
    api: Api, db: Database, tenant: Tenant
) -> None:
    reader = tenant.with_scope(db, "read")
    query = "query($t: AuthTokenType) { account { authTokens(tokenType: $t) { tokenType } } }"

    as_admin = api.data(query, token=tenant.token)["account"]["authTokens"]
    only_read = api.data(query, {"t": "READ"}, token=tenant.token)["account"]["authTokens"]
    as_reader = api.data(query, token=reader.token)["account"]["authTokens"]

    assert sorted(token["tokenType"] for token in as_admin) == ["ADMIN", "READ"]
    assert only_read == [{"tokenType": "READ"}]
    assert as_reader == []


# --- webhooks in the vendor's envelope --------------------------------------------------------

CREATE_WEBHOOK = """
mutation($webhook: WebhookInput!) {
  createWebhook(webhook: $webhook) { success secret webhook { uuid format } errors }
}"""


def test_a_webhook_in_the_vendor_format_gets_its_envelope_signed_as_before(
    api: Api, db: Database, tenant: Tenant
) -> None:
    with running_receiver() as receiver:
        # A receiver on this machine: created through the service with the local URL policy
        # (the API refuses private addresses); the API's format argument is tested below.
        created = webhook_service.create_webhook(
            db,
            tenant.principal,
            NewWebhook(url=receiver.url, events=["CONTACT_CREATED"], format="VALUEMAPPER"),
            LOCAL,
        )
        listed = api.data("{ account { webhooks { format } } }", token=tenant.token)
        contact = make_contact(db, tenant)
        with tenant_dispatcher(db, tenant) as dispatcher:
            dispatcher.drain()

    assert listed["account"]["webhooks"] == [{"format": "VALUEMAPPER"}]
    [got] = receiver.received
    body = got.json
    assert set(body) == {"id", "type", "timestamp", "account_uuid", "data"}
    assert body["type"] == "contact.created"
    assert body["id"] == "evt_" + got.headers["webhook-id"].replace("-", "")
    assert body["timestamp"].endswith("Z")
    assert datetime.fromisoformat(body["timestamp"]).utcoffset() == timedelta(0)
    assert body["account_uuid"] == tenant.uuid
    assert body["data"]["contact_uuid"] == contact.customer.uuid
    assert signing.verify(
        created.secret,
        got.headers["webhook-id"],
        int(got.headers["webhook-timestamp"]),
        got.body,
        got.headers["webhook-signature"],
    )


def test_the_format_is_patrons_by_default_and_can_be_changed(api: Api, tenant: Tenant) -> None:
    created = api.data(
        CREATE_WEBHOOK,
        {"webhook": {"url": "https://hooks.example.com/vm", "events": ["CONTACT_CREATED"]}},
        token=tenant.token,
    )["createWebhook"]
    changed = api.data(
        """mutation($uuid: String!, $webhook: UpdateWebhookInput!) {
             updateWebhook(uuid: $uuid, webhook: $webhook) { success webhook { format } } }""",
        {"uuid": created["webhook"]["uuid"], "webhook": {"format": "VALUEMAPPER"}},
        token=tenant.token,
    )["updateWebhook"]

    assert created["webhook"]["format"] == "PATRON"
    assert changed == {"success": True, "webhook": {"format": "VALUEMAPPER"}}


def test_a_deeply_nested_body_with_a_fraction_is_a_clear_400(api: Api, tenant: Tenant) -> None:
    nested = "[" * 1000 + "1.5" + "]" * 1000
    body = f'{{"query": "{{ account {{ uuid }} }}", "variables": {{"x": {nested}}}}}'

    response = api.http.post(
        "/graphql",
        content=body.encode(),
        headers={"Authorization": f"Bearer {tenant.token}", "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_a_page_of_codes_with_recipients_costs_the_same_statements_whatever_its_size(
    api: Api, db: Database, tenant: Tenant, server: ThreadServer
) -> None:
    for index in range(5):
        contact = make_contact(db, tenant, email=f"r{index}@example.com", name=f"R {index}")
        fund(db, tenant, contact.wallet_uuid, "10.00")
        make_code(db, tenant, contact.wallet_uuid, "1.00")
    query = """query($limit: Int) { account { redemptionCodes(limit: $limit) {
      code recipientName recipientEmail recipientPhone recipientExternalId } } }"""

    counts = []
    for size in (1, 5):
        with statements(server.db) as seen:
            codes = api.data(query, {"limit": size}, token=tenant.token)["account"]
        assert len(codes["redemptionCodes"]) == size
        assert codes["redemptionCodes"][0]["recipientEmail"] == "r4@example.com"
        counts.append(len(seen))

    assert counts[0] == counts[1]
