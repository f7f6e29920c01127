"""The loyaltydish dialect (seed 002): every operation of the seed verbatim, every field of the
Customers object backed by data, four callers on every field, relay pages, stamp cards."""

from __future__ import annotations

import base64
import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType
from sqlalchemy import event

from patron.api.compat.loyaltydish.schema import build_schema, printed_schema
from patron.core.db import Database
from patron.core.settings import Settings
from patron.customers import service as customers
from patron.customers.consumers import service as consumers
from patron.customers.consumers.models import ProfileChanges
from patron.customers.models import CustomerChanges, NewCustomer
from patron.orders import service as orders
from patron.orders.models import OrderCommand
from patron.orders.stamps import service as stamps
from patron.orders.stamps.models import StampProgramCommand
from patron.redemptions import service as redemptions
from patron.redemptions.models import NewRedemption
from tests.support.client import Api
from tests.support.loyaltydish import (
    MERCHANT_PATH,
    PASSWORD,
    Consumer,
    LoyaltyDish,
    changes_of,
    number_from,
    public_path,
    sign_up,
)
from tests.support.orders import make_promotion, make_store, record
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, fund, make_contact, new_tenant

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema" / "loyaltydish.graphql"

# The operations exactly as the seed prints them.
SIGN_UP = "mutation SignUp( $email: String! $password: String! $firstname: String! $lastname: String! $userType: String! $merchantType: String $phoneNumber: String $birthday: String $country: String $city: String $street: String $zipCode: String $gender: String ) { register( email: $email password1: $password password2: $password firstname: $firstname lastname: $lastname userType: $userType merchantType: $merchantType phoneNumber: $phoneNumber birthday: $birthday country: $country city: $city street: $street zipCode: $zipCode gender: $gender ) { success errors token refreshToken } }"  # noqa: E501
SIGN_UP_VARIABLES = {
    "email": "consumer@loyaltydish.com",
    "password": "XXXXXX",
    "firstname": "John",
    "lastname": "Doe",
    "userType": "CONSUMER",
}
LOGIN = "mutation ( $email: String! $password: String! ){ obtainToken( email: $email password: $password ) { token refreshToken success errors } }"  # noqa: E501
LOGIN_VARIABLES = {"email": "consumer@loyaltydish.com", "password": "XXXXXX"}
LIST_CUSTOMERS = """query {
consumers(loyaltyId: "", phoneNumber_Icontains: "", email_Icontains: "") {
edges {
node {
pk
id
firstname
lastname
email
pointsEarned
phoneNumber
birthday
address
lastLogin
loyaltyId
picture
city
}
}
}
}"""
GET_CUSTOMER = """query {
consumer(id: "SVVzZXJOb2RlOjE3Nw==") {
pointsEarned
redemptions {
edges {
node {
id
createdAt
}
}
}
stampsRedemptions {
edges {
node {
id
createdAt
}
}
}
pointsRedemptions {
edges {
node {
id
createdAt
}
}
}
}
}"""
AVAILABLE_PROMOTIONS = """query (
$consumerLoyaltyId: String
$consumerEmail: String
$consumerPhoneNumber: String
$storeId: ID
) {
consumerAvailablePromotions(
consumerLoyaltyId: $consumerLoyaltyId
consumerEmail: $consumerEmail
consumerPhoneNumber: $consumerPhoneNumber
storeId: $storeId
) {
count
edges {
node {
name
}
}
}
}"""
PURCHASE_HISTORY = """query (
$id: ID!
$storeId: ID
) {
purchaseHistory: orders(
consumer_Id: $id
store_Id: $storeId
) {
edges {
node {
orderId
completedAt
paymentTypeDisplay
total
orderType {
name
}
}
}
}
}"""
SIGN_IN = LOGIN.replace("obtainToken", "signIn")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def gid(number: int) -> str:
    return b64(f"IUserNode:{number}")


@pytest.fixture
def ld(api: Api) -> LoyaltyDish:
    return LoyaltyDish(api)


@dataclass(frozen=True)
class Shop:
    """A merchant whose consumer 177 has a full profile, points, codes, orders, promotions."""

    tenant: Tenant
    consumer: Consumer
    store_uuid: str
    points_code: str
    credit_code: str
    stamps_code: str


@pytest.fixture
def shop(db: Database, tenant: Tenant) -> Shop:
    number_from(db, tenant, 177)
    consumer = sign_up(
        db,
        tenant,
        email="jane@example.com",
        first_name="Jane",
        last_name="Roe",
        phone="+14155550100",
        birthday="1990-04-12",
        country="US",
        city="Springfield",
        street="742 Evergreen Terrace",
        postal_code="49007",
        gender="female",
    )
    customers.update_customer(
        db,
        tenant.principal,
        consumer.uuid,
        CustomerChanges(
            profile={
                "loyalty_id": "LD-177",
                "picture": "https://img.example.com/177.png",
                "extra_info": {"tier": "gold"},
                "secondary_email": "jane.roe@example.org",
                "source": "shopify",
                "source_id": "6523",
                "verified": True,
            }
        ),
    )
    consumers.update_profile(
        db,
        tenant.principal,
        consumer.uuid,
        ProfileChanges(values={"logo": "https://img.example.com/logo.png", "staff": True}),
    )
    wallet = _wallet(db, tenant, consumer.uuid)
    fund(db, tenant, wallet, 120, "LOCAL")
    fund(db, tenant, wallet, "10.00", "GLOBAL")
    points = redemptions.create_redemptions(
        db,
        tenant.principal,
        NewRedemption(credit_type="LOCAL", amount=Decimal(20), customer_uuid=consumer.uuid),
    )[0]
    credit = redemptions.create_redemptions(
        db,
        tenant.principal,
        NewRedemption(credit_type="GLOBAL", amount=Decimal("2.50"), customer_uuid=consumer.uuid),
    )[0]
    stamps.set_stamp_program(
        db,
        tenant.principal,
        StampProgramCommand(stamps_required=2, reward_credit_type="GLOBAL", reward_value="3"),
    )
    store = make_store(db, tenant, name="Downtown")
    record(db, tenant, "12.50", customer=consumer.uuid, external_id="POS-1")
    record(db, tenant, "7.00", customer=consumer.uuid, external_id="POS-2", store=store.uuid)
    make_promotion(db, tenant, name="Double points")
    make_promotion(db, tenant, name="Downtown treat", store_uuids=[store.uuid])
    make_promotion(db, tenant, name="Regulars", audience="MIN_ORDERS", audience_value=5)
    rewards = [
        code
        for code in _codes(db, tenant, wallet)
        if code.source == "STAMPS"  # the full card of the two orders above
    ]
    assert len(rewards) == 1
    return Shop(
        tenant=tenant,
        consumer=consumer,
        store_uuid=store.uuid,
        points_code=points.uuid,
        credit_code=credit.uuid,
        stamps_code=rewards[0].uuid,
    )


def _wallet(db: Database, tenant: Tenant, customer_uuid: str) -> str:
    from patron.wallets import service as wallets

    with db.read() as connection:
        return wallets.wallets_for_customers(connection, tenant.principal, [customer_uuid])[
            customer_uuid
        ].uuid


def _codes(db: Database, tenant: Tenant, wallet_uuid: str) -> list[Any]:
    with db.read() as connection:
        return redemptions.codes_for_wallets(
            connection, tenant.principal, [wallet_uuid], limit=50, offset=0
        )[wallet_uuid]


def _node(kind: str, key: str) -> str:
    return b64(f"{kind}:{key}")


# The seed's operations, verbatim


def test_seed_signup_runs_verbatim_with_the_seeds_variables(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    data = ld.data(SIGN_UP, SIGN_UP_VARIABLES, path=public_path(tenant.uuid))

    register = data["register"]
    assert register["success"] is True
    assert register["errors"] is None
    assert register["token"].count(".") == 2
    assert len(register["refreshToken"]) == 40
    me = ld.data("{ me { email firstname lastname userType } }", token=register["token"])
    assert me == {
        "me": {
            "email": "consumer@loyaltydish.com",
            "firstname": "John",
            "lastname": "Doe",
            "userType": "CONSUMER",
        }
    }


def test_seed_signup_with_a_real_password_creates_and_logs_in_the_consumer(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    data = ld.data(
        SIGN_UP, {**SIGN_UP_VARIABLES, "password": PASSWORD}, path=public_path(tenant.uuid)
    )

    register = data["register"]
    assert register["success"] is True
    assert register["errors"] is None
    assert register["token"].count(".") == 2
    assert len(register["refreshToken"]) == 40
    me = ld.data("{ me { pk email firstname lastname userType active } }", token=register["token"])
    assert me == {
        "me": {
            "pk": 1,
            "email": "consumer@loyaltydish.com",
            "firstname": "John",
            "lastname": "Doe",
            "userType": "CONSUMER",
            "active": True,
        }
    }


def test_seed_signup_with_every_optional_field(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    variables = {
        **SIGN_UP_VARIABLES,
        "password": PASSWORD,
        "phoneNumber": "+4930901820",
        "birthday": "1985-02-03",
        "country": "DE",
        "city": "Berlin",
        "street": "Unter den Linden 1",
        "zipCode": "10117",
        "gender": "FEMALE",
    }

    token = ld.data(SIGN_UP, variables, path=public_path(tenant.uuid))["register"]["token"]

    me = ld.data(
        "{ me { phoneNumber birthday country city street zipCode gender address merchantType } }",
        token=token,
    )
    assert me["me"] == {
        "phoneNumber": "+4930901820",
        "birthday": "1985-02-03",
        "country": "DE",
        "city": "Berlin",
        "street": "Unter den Linden 1",
        "zipCode": "10117",
        "gender": "FEMALE",
        "address": "Unter den Linden 1, Berlin, 10117, DE",
        "merchantType": None,
    }


def test_seed_login_runs_verbatim_and_a_wrong_password_is_refused(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    ld.data(SIGN_UP, SIGN_UP_VARIABLES, path=public_path(tenant.uuid))

    accepted = ld.data(LOGIN, LOGIN_VARIABLES, path=public_path(tenant.uuid))
    refused = ld.data(
        LOGIN, {**LOGIN_VARIABLES, "password": "XXXXXY"}, path=public_path(tenant.uuid)
    )

    login = accepted["obtainToken"]
    assert login["success"] is True
    assert login["errors"] is None
    assert len(login["refreshToken"]) == 40
    assert ld.data("{ me { email } }", token=login["token"]) == {
        "me": {"email": "consumer@loyaltydish.com"}
    }
    assert refused == {
        "obtainToken": {
            "token": None,
            "refreshToken": None,
            "success": False,
            "errors": {
                "nonFieldErrors": [
                    {"message": "Please, enter valid credentials.", "code": "invalid_credentials"}
                ]
            },
        }
    }


def test_the_seeds_sign_in_answer_comes_from_sign_in_too(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    sign_up(db, tenant, email="consumer@loyaltydish.com")

    data = ld.data(
        SIGN_IN, {**LOGIN_VARIABLES, "password": PASSWORD}, path=public_path(tenant.uuid)
    )

    assert set(data["signIn"]) == {"token", "refreshToken", "success", "errors"}
    assert data["signIn"]["success"] is True


def test_seed_consumer_list_runs_verbatim(db: Database, ld: LoyaltyDish, shop: Shop) -> None:
    other = make_contact(db, shop.tenant, email="plain@example.com", first_name="Pat")

    data = ld.data(LIST_CUSTOMERS, token=shop.tenant.token)

    edges = data["consumers"]["edges"]
    assert [edge["node"]["pk"] for edge in edges] == [177, 178]
    jane = edges[0]["node"]
    last_login = jane.pop("lastLogin")
    assert last_login.startswith("20")
    assert jane == {
        "pk": 177,
        "id": "SVVzZXJOb2RlOjE3Nw==",
        "firstname": "Jane",
        "lastname": "Roe",
        "email": "jane@example.com",
        "pointsEarned": 120,  # earned; 100 are left to spend, 20 are held by a points code
        "phoneNumber": "+14155550100",
        "birthday": "1990-04-12",
        "address": "742 Evergreen Terrace, Springfield, 49007, US",
        "loyaltyId": "LD-177",
        "picture": "https://img.example.com/177.png",
        "city": "Springfield",
    }
    assert edges[1]["node"] == {
        "pk": other.customer.number,
        "id": gid(178),
        "firstname": "Pat",
        "lastname": "",
        "email": "plain@example.com",
        "pointsEarned": 0,
        "phoneNumber": None,
        "birthday": None,
        "address": None,
        "lastLogin": None,
        "loyaltyId": None,
        "picture": None,
        "city": None,
    }


def test_seed_single_consumer_runs_verbatim(db: Database, ld: LoyaltyDish, shop: Shop) -> None:
    data = ld.data(GET_CUSTOMER, token=shop.tenant.token)

    consumer = data["consumer"]
    assert consumer["pointsEarned"] == 120
    every = [edge["node"]["id"] for edge in consumer["redemptions"]["edges"]]
    assert sorted(every) == sorted(
        _node("RedemptionNode", code)
        for code in (shop.points_code, shop.credit_code, shop.stamps_code)
    )
    assert [edge["node"]["id"] for edge in consumer["stampsRedemptions"]["edges"]] == [
        _node("RedemptionNode", shop.stamps_code)
    ]
    assert [edge["node"]["id"] for edge in consumer["pointsRedemptions"]["edges"]] == [
        _node("RedemptionNode", shop.points_code)
    ]
    assert all(
        edge["node"]["createdAt"].startswith("20") for edge in consumer["redemptions"]["edges"]
    )


def test_seed_available_promotions_run_verbatim_for_the_consumer_and_the_merchant(
    db: Database, ld: LoyaltyDish, shop: Shop
) -> None:
    uptown = make_store(db, shop.tenant, name="Uptown")

    own = ld.data(AVAILABLE_PROMOTIONS, token=shop.consumer.token)
    by_email = ld.data(
        AVAILABLE_PROMOTIONS, {"consumerEmail": "JANE@example.com"}, token=shop.tenant.token
    )
    by_phone = ld.data(
        AVAILABLE_PROMOTIONS, {"consumerPhoneNumber": "+14155550100"}, token=shop.tenant.token
    )
    at_uptown = ld.data(
        AVAILABLE_PROMOTIONS,
        {"consumerLoyaltyId": "LD-177", "storeId": _node("StoreNode", uptown.uuid)},
        token=shop.tenant.token,
    )

    both = {
        "count": 2,
        "edges": [{"node": {"name": "Double points"}}, {"node": {"name": "Downtown treat"}}],
    }
    assert _sorted(own) == {"consumerAvailablePromotions": both}
    assert _sorted(by_email) == {"consumerAvailablePromotions": both}
    assert _sorted(by_phone) == {"consumerAvailablePromotions": both}
    assert at_uptown == {
        "consumerAvailablePromotions": {"count": 1, "edges": [{"node": {"name": "Double points"}}]}
    }


def _sorted(data: dict[str, Any]) -> dict[str, Any]:
    found = data["consumerAvailablePromotions"]
    edges = sorted(found["edges"], key=lambda edge: edge["node"]["name"])
    return {"consumerAvailablePromotions": {**found, "edges": edges}}


def test_seed_purchase_history_runs_verbatim(db: Database, ld: LoyaltyDish, shop: Shop) -> None:
    orders.record_order(
        db,
        shop.tenant.principal,
        OrderCommand(
            external_id="POS-3",
            total="30.00",
            currency="USD",
            customer_uuid=shop.consumer.uuid,
            payment_type="CREDIT_CARD",
            order_type="DINE_IN",
        ),
    )

    everything = ld.data(PURCHASE_HISTORY, {"id": "SVVzZXJOb2RlOjE3Nw=="}, token=shop.tenant.token)
    at_store = ld.data(
        PURCHASE_HISTORY,
        {"id": gid(177), "storeId": _node("StoreNode", shop.store_uuid)},
        token=shop.consumer.token,
    )

    nodes = [edge["node"] for edge in everything["purchaseHistory"]["edges"]]
    assert [node["orderId"] for node in nodes] == ["POS-3", "POS-2", "POS-1"]
    assert nodes[0]["total"] == "30.00"
    assert nodes[0]["paymentTypeDisplay"] == "Credit card"
    assert nodes[0]["orderType"] == {"name": "DINE_IN"}
    assert nodes[0]["completedAt"].startswith("20")
    assert nodes[1]["orderType"] is None
    assert [edge["node"]["orderId"] for edge in at_store["purchaseHistory"]["edges"]] == ["POS-2"]


# Every field of the Customers object, backed by data


def test_every_customers_object_field_reads_the_stored_value(
    db: Database, ld: LoyaltyDish, shop: Shop
) -> None:
    query = """query { consumer(id: "SVVzZXJOb2RlOjE3Nw==") {
      id pk lastLogin extraInfo deletedAt userType email firstname lastname phoneNumber
      birthday gender country city street zipCode picture merchantType creator { pk }
      logo numOfOrderDiscountsAllowed loyaltyId entitySource entitySourceId active staff
      admin createdAt updatedAt archived verified secondaryEmail address pointsEarned
      pointsBalance
      stamps stampCardsCompleted } }"""

    node = ld.data(query, token=shop.tenant.token)["consumer"]

    for moment in ("lastLogin", "createdAt", "updatedAt"):
        assert node.pop(moment).startswith("20")
    assert node == {
        "id": gid(177),
        "pk": 177,
        "extraInfo": '{"tier": "gold"}',
        "deletedAt": None,
        "userType": "CONSUMER",
        "email": "jane@example.com",
        "firstname": "Jane",
        "lastname": "Roe",
        "phoneNumber": "+14155550100",
        "birthday": "1990-04-12",
        "gender": "FEMALE",
        "country": "US",
        "city": "Springfield",
        "street": "742 Evergreen Terrace",
        "zipCode": "49007",
        "picture": "https://img.example.com/177.png",
        "merchantType": None,
        "creator": None,
        "logo": "https://img.example.com/logo.png",
        "numOfOrderDiscountsAllowed": 0,
        "loyaltyId": "LD-177",
        "entitySource": "SHOPIFY",
        "entitySourceId": "6523",
        "active": True,
        "staff": True,
        "admin": False,
        "archived": False,
        "verified": True,
        "secondaryEmail": "jane.roe@example.org",
        "address": "742 Evergreen Terrace, Springfield, 49007, US",
        "pointsEarned": 120,
        "pointsBalance": 100,
        "stamps": 0,
        "stampCardsCompleted": 1,
    }


def test_archiving_sets_deleted_at_and_active(db: Database, ld: LoyaltyDish, shop: Shop) -> None:
    changed = ld.data(
        """mutation { updateConsumer(id: "SVVzZXJOb2RlOjE3Nw==", archived: true) {
            success errors consumer { active archived deletedAt } } }""",
        token=shop.tenant.token,
    )["updateConsumer"]

    assert changed["success"] is True
    assert changed["consumer"]["active"] is False
    assert changed["consumer"]["archived"] is True
    assert changed["consumer"]["deletedAt"].startswith("20")
    # An archived consumer's token stops working.
    response = ld.post("{ me { pk } }", token=shop.consumer.token)
    assert response.status_code == 401


def test_a_merchant_user_signed_up_by_an_admin_token_has_its_merchant_fields(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    variables = {
        **SIGN_UP_VARIABLES,
        "email": "owner@diner.example",
        "password": PASSWORD,
        "userType": "MERCHANT",
        "merchantType": "restaurant",
    }
    merchant_token = ld.data(SIGN_UP, variables, token=tenant.token, scheme="Bearer")["register"][
        "token"
    ]
    invited = ld.data(
        SIGN_UP,
        {**SIGN_UP_VARIABLES, "email": "guest@example.com", "password": PASSWORD},
        token=merchant_token,
        path=public_path(tenant.uuid),
    )["register"]

    query = "{ consumers { edges { node { email userType merchantType creator { email } } } } }"
    nodes = [edge["node"] for edge in ld.data(query, token=tenant.token)["consumers"]["edges"]]
    assert invited["success"] is True
    assert nodes == [
        {
            "email": "owner@diner.example",
            "userType": "MERCHANT",
            "merchantType": "RESTAURANT",
            "creator": None,
        },
        {
            "email": "guest@example.com",
            "userType": "CONSUMER",
            "merchantType": None,
            "creator": {"email": "owner@diner.example"},
        },
    ]


# Four callers on every field


def _selection(type_: GraphQLObjectType, path: tuple[str, ...]) -> str:
    parts = []
    for name, field in type_.fields.items():
        target = field.type
        while isinstance(target, GraphQLNonNull | GraphQLList):
            target = target.of_type
        if isinstance(target, GraphQLObjectType):
            if target.name in path:
                continue
            parts.append(f"{name} {_selection(target, (*path, target.name))}")
        else:
            parts.append(name)
    return "{ " + " ".join(parts) + " }"


SCHEMA = build_schema(Settings())._schema
USER_FIELDS = _selection(SCHEMA.type_map["IUserNode"], ("IUserNode",))  # type: ignore[arg-type]
EVERY_FIELD = (
    "query Every($id: ID!, $store: ID) { "
    f"consumer(id: $id) {USER_FIELDS} "
    f"consumers {{ totalCount edges {{ cursor node {USER_FIELDS} }} }} "
    f"me {USER_FIELDS} "
    "orders(consumer_Id: $id, store_Id: $store) { totalCount edges { node "
    f"{_selection(SCHEMA.type_map['OrderNode'], ('OrderNode',))} }} }} "  # type: ignore[arg-type]
    "stampProgram { stampsRequired rewardValue } }"
)


def test_the_right_merchant_reads_every_field(db: Database, ld: LoyaltyDish, shop: Shop) -> None:
    body = ld.body(EVERY_FIELD, {"id": gid(177)}, token=shop.tenant.token)

    assert "errors" not in body, body["errors"]
    data = body["data"]
    assert data["consumer"]["email"] == "jane@example.com"
    assert data["consumers"]["totalCount"] == 1
    assert data["consumers"]["edges"][0]["node"] == data["consumer"]
    assert data["me"] is None
    assert data["orders"]["totalCount"] == 2
    assert data["stampProgram"] == {"stampsRequired": 2, "rewardValue": "3.00"}
    assert len(data["consumer"]["redemptions"]["edges"]) == 3


def test_the_consumer_reads_every_field_of_itself_only(
    db: Database, ld: LoyaltyDish, shop: Shop
) -> None:
    neighbour = make_contact(db, shop.tenant, email="neighbour@example.com")

    own = ld.body(EVERY_FIELD, {"id": gid(177)}, token=shop.consumer.token)
    other = ld.body(EVERY_FIELD, {"id": gid(neighbour.customer.number)}, token=shop.consumer.token)

    assert "errors" not in own, own["errors"]
    assert own["data"]["consumer"] == own["data"]["me"]
    assert own["data"]["consumers"]["totalCount"] == 1
    assert own["data"]["consumers"]["edges"][0]["node"]["pk"] == 177
    assert own["data"]["orders"]["totalCount"] == 2
    assert other["data"] is None
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert "neighbour@example.com" not in str(other)


def test_another_accounts_merchant_sees_nothing_of_the_account(
    db: Database, ld: LoyaltyDish, shop: Shop, other_tenant: Tenant
) -> None:
    make_contact(db, other_tenant, email="theirs@example.com")
    before = changes_of(db, shop.tenant.uuid)

    body = ld.body(EVERY_FIELD, {"id": gid(177)}, token=other_tenant.token)
    single = ld.data('{ consumer(id: "SVVzZXJOb2RlOjE3Nw==") { pk } }', token=other_tenant.token)
    listed = ld.data(
        "{ consumers { totalCount edges { node { email } } } }", token=other_tenant.token
    )
    promotions = ld.body(
        AVAILABLE_PROMOTIONS, {"consumerEmail": "jane@example.com"}, token=other_tenant.token
    )
    updated = ld.data(
        'mutation { updateConsumer(id: "SVVzZXJOb2RlOjE3Nw==", firstname: "X")'
        " { success errors } }",
        token=other_tenant.token,
    )

    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert single == {"consumer": None}
    assert listed == {
        "consumers": {"totalCount": 1, "edges": [{"node": {"email": "theirs@example.com"}}]}
    }
    assert promotions["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert updated["updateConsumer"]["success"] is False
    assert "jane" not in str(body) + str(promotions)
    assert changes_of(db, shop.tenant.uuid) == before


def test_no_token_gets_401_or_nothing_but_signup_and_login(
    db: Database, ld: LoyaltyDish, shop: Shop
) -> None:
    merchant_endpoint = ld.post(EVERY_FIELD, {"id": gid(177)})
    public = ld.body(EVERY_FIELD, {"id": gid(177)}, path=public_path(shop.tenant.uuid))
    one = ld.body(GET_CUSTOMER, path=public_path(shop.tenant.uuid))

    assert merchant_endpoint.status_code == 401
    assert merchant_endpoint.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert public["data"] is None
    assert public["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert one["data"] == {"consumer": None}
    assert one["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "jane" not in str(public) + str(one)


def test_a_consumer_update_refused_in_part_changes_nothing_at_all(
    db: Database, ld: LoyaltyDish, shop: Shop
) -> None:
    before = changes_of(db, shop.tenant.uuid)

    updated = ld.data(
        'mutation { updateConsumer(id: "SVVzZXJOb2RlOjE3Nw==",'
        ' logo: "https://img.example.com/new.png", numOfOrderDiscountsAllowed: 3,'
        ' email: "not-an-email") { success errors consumer { logo } } }',
        token=shop.tenant.token,
    )["updateConsumer"]

    assert updated["success"] is False
    assert updated["consumer"] is None
    assert "email" in updated["errors"]
    # The extras (logo, discounts) are written in the same transaction as the email: neither.
    assert changes_of(db, shop.tenant.uuid) == before


def test_a_consumer_may_not_use_merchant_operations(
    db: Database, ld: LoyaltyDish, shop: Shop
) -> None:
    before = changes_of(db, shop.tenant.uuid)

    updated = ld.data(
        'mutation { updateConsumer(id: "SVVzZXJOb2RlOjE3Nw==", staff: false, firstname: "Q")'
        " { success errors } }",
        token=shop.consumer.token,
    )
    program = ld.data("mutation { setStampProgram { success errors } }", token=shop.consumer.token)
    merchant = ld.data(
        SIGN_UP,
        {**SIGN_UP_VARIABLES, "password": PASSWORD, "userType": "MERCHANT"},
        token=shop.consumer.token,
    )

    forbidden = {
        "nonFieldErrors": [
            {"message": "only a merchant's API token can do this", "code": "forbidden"}
        ]
    }
    assert updated["updateConsumer"] == {"success": False, "errors": forbidden}
    assert program["setStampProgram"] == {"success": False, "errors": forbidden}
    assert merchant["register"]["success"] is False
    assert merchant["register"]["errors"]["userType"][0]["code"] == "forbidden"
    assert changes_of(db, shop.tenant.uuid) == before


def test_a_read_token_may_read_but_not_change(db: Database, ld: LoyaltyDish, shop: Shop) -> None:
    reader = shop.tenant.with_scope(db, "read")
    before = changes_of(db, shop.tenant.uuid)

    read = ld.data(LIST_CUSTOMERS, token=reader.token)
    changed = ld.data(
        'mutation { updateConsumer(id: "SVVzZXJOb2RlOjE3Nw==", firstname: "Q")'
        " { success errors } }",
        token=reader.token,
    )

    assert read["consumers"]["edges"][0]["node"]["pk"] == 177
    assert changed["updateConsumer"]["success"] is False
    assert changed["updateConsumer"]["errors"]["nonFieldErrors"][0]["code"] == "forbidden"
    assert changes_of(db, shop.tenant.uuid) == before


# Relay pages


@pytest.fixture
def crowd(db: Database, tenant: Tenant) -> list[int]:
    numbers = []
    for index in range(7):
        created = customers.create_customer(
            db,
            tenant.principal,
            NewCustomer(
                profile={
                    "email": f"person{index}@{'gmail.com' if index % 2 else 'example.com'}",
                    "phone": f"+1415555010{index}",
                    "loyalty_id": f"L{index}",
                }
            ),
        )
        numbers.append(created.customer.number)
    return numbers


PAGE = """query Page($first: Int, $after: String, $last: Int, $before: String,
  $email: String, $phone: String, $loyalty: String) {
  consumers(first: $first, after: $after, last: $last, before: $before,
            email_Icontains: $email, phoneNumber_Icontains: $phone, loyaltyId: $loyalty) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { pk } }
  }
}"""


def _page(ld: LoyaltyDish, tenant: Tenant, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = ld.data(PAGE, variables, token=tenant.token)["consumers"]
    return result


def test_consumers_pages_forward_and_backward(
    ld: LoyaltyDish, tenant: Tenant, crowd: list[int]
) -> None:
    first = _page(ld, tenant, first=3)
    second = _page(ld, tenant, first=3, after=first["pageInfo"]["endCursor"])
    back = _page(ld, tenant, last=2, before=second["pageInfo"]["startCursor"])
    tail = _page(ld, tenant, last=2)

    assert [edge["node"]["pk"] for edge in first["edges"]] == crowd[:3]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["totalCount"] == 7
    assert [edge["node"]["pk"] for edge in second["edges"]] == crowd[3:6]
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert [edge["node"]["pk"] for edge in back["edges"]] == crowd[1:3]
    assert back["pageInfo"]["hasPreviousPage"] is True
    assert [edge["node"]["pk"] for edge in tail["edges"]] == crowd[5:]
    assert tail["pageInfo"]["hasNextPage"] is False


def test_consumer_filters_narrow_and_empty_filters_do_not(
    ld: LoyaltyDish, tenant: Tenant, crowd: list[int]
) -> None:
    by_email = _page(ld, tenant, email="GMAIL")
    by_phone = _page(ld, tenant, phone="5550103")
    by_loyalty = _page(ld, tenant, loyalty="L4")
    empty = _page(ld, tenant, email="", phone="", loyalty="")

    assert [edge["node"]["pk"] for edge in by_email["edges"]] == [crowd[1], crowd[3], crowd[5]]
    assert by_email["totalCount"] == 3
    assert [edge["node"]["pk"] for edge in by_phone["edges"]] == [crowd[3]]
    assert [edge["node"]["pk"] for edge in by_loyalty["edges"]] == [crowd[4]]
    assert empty["totalCount"] == 7


def test_nested_redemption_lists_page_too(db: Database, ld: LoyaltyDish, shop: Shop) -> None:
    query = """query($after: String) { consumer(id: "SVVzZXJOb2RlOjE3Nw==") {
      redemptions(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor }
        edges { node { id source status creditType amount code } } } } }"""

    first = ld.data(query, token=shop.tenant.token)["consumer"]["redemptions"]
    rest = ld.data(query, {"after": first["pageInfo"]["endCursor"]}, token=shop.tenant.token)[
        "consumer"
    ]["redemptions"]

    assert first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    assert rest["pageInfo"]["hasNextPage"] is False
    nodes = [edge["node"] for edge in first["edges"] + rest["edges"]]
    assert {(node["source"], node["creditType"], node["amount"]) for node in nodes} == {
        ("STAMPS", "GLOBAL", "3.00"),
        ("MANUAL", "GLOBAL", "2.50"),
        ("MANUAL", "LOCAL", "20"),
    }
    assert all(node["status"] == "ACTIVE" for node in nodes)


# Stamp cards


def test_a_stamp_per_qualifying_order_and_a_reward_per_full_card(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    consumer = make_contact(db, tenant, email="stamps@example.com")
    ld.data(
        """mutation { setStampProgram(program: {stampsRequired: 3, rewardCreditType: LOCAL,
            rewardValue: "50", minOrderTotal: "5.00"}) { success errors
            stampProgram { stampsRequired rewardCreditType rewardValue minOrderTotal } } }""",
        token=tenant.token,
    )
    for index, total in enumerate(["6.00", "4.99", "5.00", "9.00", "5.50"]):
        record(db, tenant, total, customer=consumer.customer.uuid, external_id=f"S{index}")
    # Recording an order again does not stamp it twice.
    record(db, tenant, "9.00", customer=consumer.customer.uuid, external_id="S3")

    query = """{ consumers { edges { node { stamps stampCardsCompleted pointsEarned pointsBalance
      stampsRedemptions { totalCount edges { node { amount creditType source status } } }
      pointsRedemptions { totalCount } } } } }"""
    node = ld.data(query, token=tenant.token)["consumers"]["edges"][0]["node"]

    assert node["stamps"] == 1
    assert node["stampCardsCompleted"] == 1
    assert node["stampsRedemptions"] == {
        "totalCount": 1,
        "edges": [
            {
                "node": {
                    "amount": "50",
                    "creditType": "LOCAL",
                    "source": "STAMPS",
                    "status": "ACTIVE",
                }
            }
        ],
    }
    assert node["pointsRedemptions"] == {"totalCount": 0}
    assert node["pointsEarned"] == 50  # the full card's reward was earned...
    assert node["pointsBalance"] == 0  # ...and is held by its code until redeemed


def test_a_stamp_program_needs_an_admin_token_and_valid_values(
    db: Database, ld: LoyaltyDish, tenant: Tenant
) -> None:
    writer = tenant.with_scope(db, "write")
    mutation = """mutation($n: Int!, $value: Decimal!) { setStampProgram(program: {
        stampsRequired: $n, rewardCreditType: GLOBAL, rewardValue: $value}) { success errors } }"""

    refused = ld.data(mutation, {"n": 3, "value": "1"}, token=writer.token)
    zero = ld.data(mutation, {"n": 0, "value": "1"}, token=tenant.token)
    cents = ld.data(mutation, {"n": 3, "value": "0.001"}, token=tenant.token)
    unknown = ld.body(
        "mutation { setStampProgram(program: {stampsRequired: 1, rewardCreditType: GOLD,"
        ' rewardValue: "1"}) { success } }',
        token=tenant.token,
    )

    assert refused["setStampProgram"]["errors"]["nonFieldErrors"][0]["code"] == "forbidden"
    assert zero["setStampProgram"]["errors"] == {
        "stampsRequired": [
            {"message": "stampsRequired must be a whole number from 1 to 100", "code": "invalid"}
        ]
    }
    assert cents["setStampProgram"]["errors"]["rewardValue"][0]["code"] == "invalid"
    assert unknown["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert ld.data("{ stampProgram { stampsRequired } }", token=tenant.token) == {
        "stampProgram": None
    }


# Bad input


@pytest.mark.parametrize(
    "bad_id",
    [
        "not base64!",
        b64("IUserNode:abc"),
        b64("OrderNode:177"),
        b64("IUserNode:-1"),
        b64("IUserNode:99999999999999999999999"),
        "",
        b64("IUserNode:1\x00"),
        "\u2603",
    ],
)
def test_malformed_global_ids_are_clear_errors(
    ld: LoyaltyDish, tenant: Tenant, bad_id: str
) -> None:
    single = ld.body(
        "query($id: ID!) { consumer(id: $id) { pk } }", {"id": bad_id}, token=tenant.token
    )
    history = ld.body(PURCHASE_HISTORY, {"id": bad_id}, token=tenant.token)

    for body in (single, history):
        error = body["errors"][0]
        assert error["extensions"]["code"] == "INVALID"
        assert "is not an IUserNode id" in error["message"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"first": 101}, "first must be between 0 and 100, got 101"),
        ({"last": -1}, "last must be between 0 and 100, got -1"),
        ({"after": "garbage"}, "after 'garbage' is not a cursor of this list"),
        ({"before": b64("arrayconnection:1")}, "is not a cursor of this list"),
        ({"email": "x" * 255}, "email must be at most 254 characters"),
        ({"phone": "\x01"}, "phoneNumber must be at most 254 characters"),
    ],
)
def test_bad_page_arguments_are_clear_errors(
    ld: LoyaltyDish, tenant: Tenant, variables: dict[str, Any], message: str
) -> None:
    body = ld.body(PAGE, variables, token=tenant.token)

    assert body["data"] is None
    assert message in body["errors"][0]["message"]


def test_unknown_enum_values_and_bad_values_change_nothing(
    db: Database, ld: LoyaltyDish, shop: Shop
) -> None:
    before = changes_of(db, shop.tenant.uuid)

    unknown_gender = ld.body(
        'mutation { updateConsumer(id: "SVVzZXJOb2RlOjE3Nw==", gender: ROBOT) { success } }',
        token=shop.tenant.token,
    )
    unknown_country = ld.body(
        'mutation { updateConsumer(id: "SVVzZXJOb2RlOjE3Nw==", country: XX) { success } }',
        token=shop.tenant.token,
    )
    bad_values = ld.data(
        """mutation { updateConsumer(id: "SVVzZXJOb2RlOjE3Nw==", phoneNumber: "12",
           email: "nope", numOfOrderDiscountsAllowed: -1) { success errors } }""",
        token=shop.tenant.token,
    )

    for body in (unknown_gender, unknown_country):
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert bad_values["updateConsumer"]["success"] is False
    assert set(bad_values["updateConsumer"]["errors"]) == {"numOfOrderDiscountsAllowed"}
    assert changes_of(db, shop.tenant.uuid) == before


def test_update_consumer_changes_the_fields_given(
    db: Database, ld: LoyaltyDish, shop: Shop
) -> None:
    changed = ld.data(
        """mutation { updateConsumer(id: "SVVzZXJOb2RlOjE3Nw==", firstname: "Janet",
            country: CA, entitySource: SALESFORCE, extraInfo: "{\\"tier\\": \\"platinum\\"}",
            numOfOrderDiscountsAllowed: 3, merchantType: CAFE) {
            success errors consumer { firstname country entitySource extraInfo
            numOfOrderDiscountsAllowed merchantType } } }""",
        token=shop.tenant.token,
    )["updateConsumer"]

    assert changed == {
        "success": True,
        "errors": None,
        "consumer": {
            "firstname": "Janet",
            "country": "CA",
            "entitySource": "SALESFORCE",
            "extraInfo": '{"tier": "platinum"}',
            "numOfOrderDiscountsAllowed": 3,
            "merchantType": "CAFE",
        },
    }


def test_never_a_500_for_garbage(ld: LoyaltyDish, tenant: Tenant) -> None:
    cases = [
        ld.http.post(MERCHANT_PATH, content=b"{", headers={"Authorization": f"JWT {tenant.token}"}),
        ld.http.post(MERCHANT_PATH, json=[1], headers={"Authorization": f"JWT {tenant.token}"}),
        ld.post("query A { me { pk } } query B { me { pk } }", token=tenant.token),
        ld.post("{ me { pk } }", token="eyJhbGciOiJub25lIn0.eyJhY2MiOiJ4In0."),
        ld.post("{ me { pk } }", token=tenant.token, scheme="Token"),
        ld.post("{ me { pk } }", path="/compat/loyaltydish/not-an-account/graphql"),
        ld.post("{ me { pk } }", path=public_path("00000000-0000-4000-8000-000000000000")),
        ld.post("{ consumers { edges { node { pk } } } }" * 2, token=tenant.token),
    ]

    assert [response.status_code for response in cases] == [400, 400, 200, 401, 401, 404, 404, 200]


# No N+1


@contextmanager
def statements(server: ThreadServer) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.strip().upper() != "BEGIN":
            seen.append(statement)

    event.listen(server.db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(server.db.engine, "before_cursor_execute", count)


def test_a_page_of_consumers_costs_the_same_statements_whatever_its_size(
    db: Database, ld: LoyaltyDish, server: ThreadServer
) -> None:
    tenant = new_tenant(db, name="Crowded loyalty merchant")
    for index in range(50):
        created = make_contact(db, tenant, email=f"crowd{index}@example.com")
        fund(db, tenant, created.wallet_uuid, 5, "LOCAL")
    query = """query($first: Int) { consumers(first: $first) { edges { node {
      pk email pointsEarned lastLogin staff stamps redemptions(first: 2) { edges { node { id } } }
    } } } }"""

    counts = []
    for size in (1, 50):
        with statements(server) as seen:
            data = ld.data(query, {"first": size}, token=tenant.token)
        assert len(data["consumers"]["edges"]) == size
        assert data["consumers"]["edges"][0]["node"]["pointsEarned"] == 5
        counts.append(len(seen))

    assert counts[0] == counts[1]


# The committed SDL


def test_the_committed_sdl_is_the_schema_served() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8")

    printed = printed_schema()

    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            printed.splitlines(keepends=True),
            fromfile="schema/loyaltydish.graphql (committed)",
            tofile="printed by the code",
        )
    )
    assert printed == committed, (
        "schema/loyaltydish.graphql is out of date: regenerate it with "
        "python -c 'from patron.api.compat.loyaltydish.schema import printed_schema; "
        'print(printed_schema(), end="")\' > schema/loyaltydish.graphql\n' + diff
    )


def test_the_sdl_has_every_seed_root_field_with_the_seeds_argument_names() -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8")

    for piece in (
        "register(email: String!, password1: String!, password2: String!",
        "obtainToken(email: String!, password: String!): ObtainJSONWebToken!",
        "signIn(email: String!, password: String!): ObtainJSONWebToken!",
        "consumers(loyaltyId: String = null, phoneNumber_Icontains: String = null, "
        "email_Icontains: String = null",
        "consumer(id: ID!): IUserNode",
        "consumerAvailablePromotions(consumerLoyaltyId: String = null, consumerEmail: String = "
        "null, consumerPhoneNumber: String = null, storeId: ID = null",
        "orders(consumer_Id: ID!, store_Id: ID = null",
        "type IUserNode implements Node {",
    ):
        assert piece in committed, piece


def test_the_public_may_not_use_merchant_operations(
    db: Database, ld: LoyaltyDish, shop: Shop
) -> None:
    before = changes_of(db, shop.tenant.uuid)
    path = public_path(shop.tenant.uuid)

    updated = ld.data(
        'mutation { updateConsumer(id: "SVVzZXJOb2RlOjE3Nw==", firstname: "Q")'
        " { success errors } }",
        path=path,
    )
    program = ld.data("mutation { setStampProgram { success errors } }", path=path)

    for answer in (updated["updateConsumer"], program["setStampProgram"]):
        assert answer["success"] is False
        assert answer["errors"]["nonFieldErrors"][0]["code"] == "unauthenticated"
    assert changes_of(db, shop.tenant.uuid) == before


PROMOTION_FIELDS = _selection(SCHEMA.type_map["PromotionNode"], ("PromotionNode",))  # type: ignore[arg-type]


def test_every_promotion_field_for_the_four_callers(
    db: Database, ld: LoyaltyDish, shop: Shop, other_tenant: Tenant
) -> None:
    query = (
        "query($loyalty: String) { consumerAvailablePromotions(consumerLoyaltyId: $loyalty) "
        "{ count totalCount pageInfo { hasNextPage } edges { cursor node "
        f"{PROMOTION_FIELDS} }} }} }}"
    )
    variables = {"loyalty": "LD-177"}

    merchant = ld.data(query, variables, token=shop.tenant.token)
    consumer = ld.data(query, variables, token=shop.consumer.token)
    stranger = ld.body(query, variables, token=other_tenant.token)
    public = ld.body(query, variables, path=public_path(shop.tenant.uuid))

    assert merchant == consumer
    found = merchant["consumerAvailablePromotions"]
    assert found["count"] == found["totalCount"] == 2
    double = next(
        edge["node"] for edge in found["edges"] if edge["node"]["name"] == "Double points"
    )
    assert double["rewardType"] == "POINTS_MULTIPLIER"
    assert double["rewardValue"] == "2"
    assert double["rewardCreditType"] is None
    assert double["allStores"] is True
    assert stranger["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert public["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Double points" not in str(stranger) + str(public)


@pytest.mark.parametrize("wildcard", ["%", "_", "/", "0%1", "n_1", "//"])
def test_filter_wildcards_are_taken_literally(
    ld: LoyaltyDish, tenant: Tenant, crowd: list[int], wildcard: str
) -> None:
    by_email = _page(ld, tenant, first=10, email=wildcard)
    by_phone = _page(ld, tenant, first=10, phone=wildcard)

    # No stored e-mail or phone holds these characters: nothing matches, in the window or
    # in the count.
    assert by_email["edges"] == []
    assert by_email["totalCount"] == 0
    assert by_phone["edges"] == []
    assert by_phone["totalCount"] == 0
    assert len(_page(ld, tenant, first=10, email="on1@")["edges"]) == 1  # "person1@..."
