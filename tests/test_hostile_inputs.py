"""Hostile input into every argument of every operation of every API surface, on both stores.

The operations are walked from each GraphQL schema (every root field of Query and Mutation, and
every field with arguments reachable from a query), so a new field or argument is covered
without a new test; the commerce RPC's request fields come from its own declarations. Values
are generated per GraphQL type: text with NUL and control characters, very long text, text that
looks like a number, base64 ids of random content, integers in and out of 32 bits, decimals as
JSON numbers and strings (1e999999999, "1_0", "１"), JSON documents 300 and 1000 levels deep,
valid enum values, and, with good odds, valid values of rows that exist, so that writes get past
"not found" into the code behind it.

Every answer must be below HTTP 500, JSON, and carry no masked error; a refused write must leave
the account's data exactly as it was; after a successful write, reading everything back must
still work. Failures are collected per operation (shrunk by Hypothesis, within a time budget)
and reported together at the end of each surface's test.
"""

from __future__ import annotations

import ast
import base64
import inspect
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st

from patron.api.compat.commerce import methods as commerce_methods
from patron.api.compat.commerce import protocol as commerce_protocol
from patron.contact_persons.models import ORDER_KEYS
from patron.core.db import Database
from patron.core.settings import Settings
from tests.support import hostile
from tests.support.client import Api
from tests.support.contact_persons import make_contact_person
from tests.support.hostile import Operation, Raw, Values
from tests.support.loyaltydish import PASSWORD, public_path, sign_up
from tests.support.orders import make_promotion, make_store, record
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, fund, make_contact, new_tenant

NATIVE = "/graphql"
LIGHTFUNNELS = "/compat/lightfunnels/api/v2"
LOYALTYDISH = "/compat/loyaltydish/graphql"
COMMERCE = "/compat/commerce/api/v6/commerce.contacts."

SHRINK_SECONDS = 4.0  # per operation: shrinking stops there and reports the smallest so far


def schema_of(module: str) -> GraphQLSchema:
    """The live schema of a surface (graphql-core's, under Strawberry)."""
    import importlib

    built = importlib.import_module(module).build_schema(Settings())
    graphql_schema: GraphQLSchema = built._schema
    return graphql_schema


# --- the account every example works in ---------------------------------------------------


@dataclass
class World:
    db: Database
    api: Api
    tenant: Tenant
    read_token: str
    store_name: str
    contact_uuid: str = ""
    contact_number: int = 0
    contact_email: str = ""
    wallet_uuid: str = ""
    entry_uuids: list[str] = field(default_factory=list)
    store_uuid: str = ""
    store_number: int = 0
    order_uuid: str = ""
    order_external_id: str = ""
    promotion_uuids: list[str] = field(default_factory=list)
    code: str = ""
    webhook_uuid: str = ""
    consumer_number: int = 0
    consumer_email: str = ""
    consumer_token: str = ""
    consumer_refresh: str = ""
    person_id: int = 0

    def gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return self.api.data(query, variables, token=self.tenant.token)


def relay(kind: str, key: object) -> str:
    return base64.b64encode(f"{kind}:{key}".encode()).decode()


def build_world(db: Database, api: Api, store_name: str) -> World:
    tenant = new_tenant(db, name="Hostile merchant")
    world = World(db, api, tenant, tenant.with_scope(db, "read").token, store_name)
    created = make_contact(db, tenant, name="Ann Lee", phone="+1234567890")
    world.contact_uuid = created.customer.uuid
    world.contact_number = created.customer.number
    world.contact_email = str(created.customer.email)
    world.wallet_uuid = created.wallet_uuid
    world.entry_uuids = [
        fund(db, tenant, created.wallet_uuid, 100).uuid,
        fund(db, tenant, created.wallet_uuid, 1000, "LOCAL").uuid,
    ]
    store = make_store(db, tenant, external_id="store-1")
    world.store_uuid, world.store_number = store.uuid, store.number
    world.order_external_id = "order-1"
    world.order_uuid = record(
        db, tenant, "50.00", customer=world.contact_uuid, store=store.uuid, external_id="order-1"
    ).uuid
    world.promotion_uuids = [
        make_promotion(db, tenant).uuid,
        make_promotion(
            db,
            tenant,
            name="Five off",
            reward="FIXED_CREDIT",
            reward_value="5",
            reward_credit_type="GLOBAL",
        ).uuid,
    ]
    world.code = world.gql(
        "mutation($r: CreateRedemptionInput!) { createRedemption(redemption: $r) "
        "{ success redemptionCodes { code } } }",
        {"r": {"creditType": "GLOBAL", "rewardValue": 5, "walletUuid": world.wallet_uuid}},
    )["createRedemption"]["redemptionCodes"][0]["code"]
    hook = world.gql(
        "mutation($w: WebhookInput!) { createWebhook(webhook: $w) { success webhook { uuid } } }",
        {"w": {"url": "https://example.com/hooks", "events": ["CONTACT_CREATED"]}},
    )["createWebhook"]["webhook"]
    world.webhook_uuid = hook["uuid"] if hook else ""
    consumer = sign_up(db, tenant)
    world.consumer_number, world.consumer_email = consumer.number, consumer.email
    world.consumer_token, world.consumer_refresh = consumer.token, consumer.refresh_token
    world.person_id = make_contact_person(db, tenant, world.contact_number).id
    return world


@pytest.fixture
def world(db: Database, api: Api, database_url: str) -> World:
    return build_world(db, api, "sqlite" if database_url.startswith("sqlite") else "postgresql")


@pytest.fixture
def server_log(server: ThreadServer) -> Iterator[hostile.ServerLog]:
    with hostile.ServerLog() as log:
        yield log


# --- valid-looking values by argument name ---------------------------------------------------


def pool_of(world: World) -> list[Any]:
    """Valid values of existing rows, for any string argument of any surface."""
    return [
        world.contact_uuid,
        world.wallet_uuid,
        *world.entry_uuids,
        world.store_uuid,
        world.order_uuid,
        *world.promotion_uuids,
        world.code,
        world.webhook_uuid,
        world.contact_email,
        world.consumer_email,
        world.order_external_id,
        "store-1",
        str(world.contact_number),
        relay("Contact", world.contact_uuid),
        relay("Wallet", world.wallet_uuid),
        relay("Order", world.order_uuid),
        relay("Customer", world.contact_number),
        relay("IUserNode", world.consumer_number),
        relay("IUserNode", world.contact_number),
        relay("StoreNode", world.store_number),
    ]


def hints_for(world: World) -> hostile.Hints:
    uuids = st.sampled_from(
        [
            world.contact_uuid,
            world.wallet_uuid,
            *world.entry_uuids,
            world.store_uuid,
            world.order_uuid,
            *world.promotion_uuids,
            world.webhook_uuid,
        ]
    )
    emails = st.one_of(
        hostile.valid_emails(), st.sampled_from([world.contact_email, world.consumer_email])
    )
    amounts = st.one_of(
        st.decimals(min_value=1, max_value=200, places=2).map(lambda d: Raw(str(d))),
        st.sampled_from(["0.5", "1", "10", "25.00"]),
    )
    table: list[tuple[Callable[[str], bool], st.SearchStrategy[Any]]] = [
        (lambda n: "email" in n, emails),
        (lambda n: n == "currency", st.sampled_from(["USD", "usd", "EUR", "US", "ＵＳＤ"])),
        (
            lambda n: n == "url",
            st.sampled_from(
                [
                    "https://example.com/hook",
                    "http://127.0.0.1:1/x",
                    "https://10.0.0.1/",
                    "https://[::1]/",
                    "ftp://example.com",
                    "https://exa mple.com",
                    "https://" + "a" * 300 + ".com",
                ]
            ),
        ),
        (lambda n: "phone" in n, st.sampled_from(["+1234567890", "+44 20 7946 0958", "123"])),
        (lambda n: n == "code", st.sampled_from([world.code, world.code.lower(), world.code[:4]])),
        (lambda n: n == "shopifyid", st.sampled_from(["gid://shopify/Customer/1", "123", "-1"])),
        (lambda n: n == "externalid", st.sampled_from(["order-1", "store-1", "new-1", ""])),
        (lambda n: n.endswith("uuid") or n.endswith("uuids") or n == "uuid", uuids),
        (lambda n: n in {"limit", "offset", "first", "last"}, st.integers(0, 260)),
        (
            lambda n: n in {"amount", "total", "rewardvalue", "creditused", "conversionrate"},
            amounts,
        ),
        (lambda n: "password" in n, st.just(PASSWORD)),
        (lambda n: n == "secret", st.just("whsec_" + base64.b64encode(b"k" * 24).decode())),
        (lambda n: n == "gracehours", st.integers(-1, 200)),
        (lambda n: n in {"usertype"}, st.sampled_from(["CONSUMER", "MERCHANT", "consumer"])),
        (lambda n: n == "merchanttype", st.sampled_from(["CAFE", "BAR", "cafe"])),
        (lambda n: n == "gender", st.sampled_from(["FEMALE", "MALE", "f"])),
        (lambda n: n == "country", st.sampled_from(["US", "FR", "us", "XX"])),
        (lambda n: n == "birthday", st.sampled_from(["1990-01-31", "2000-02-29"])),
        (lambda n: n in {"refreshtoken"}, st.just(world.consumer_refresh)),
        (lambda n: n == "token", st.just(world.consumer_token)),
        (
            lambda n: n in {"id", "consumer_id", "consumerloyaltyid"},
            st.sampled_from(
                [
                    relay("IUserNode", world.consumer_number),
                    relay("Customer", world.contact_number),
                    relay("Contact", world.contact_uuid),
                    relay("Wallet", world.wallet_uuid),
                ]
            ),
        ),
        (lambda n: n in {"store_id", "storeid"}, st.just(relay("StoreNode", 1))),
        (
            lambda n: n == "query",
            st.sampled_from(
                [
                    "order_by:id order_dir:desc",
                    'full_name:"Ann Lee"',
                    "email:example.com ann",
                    "_id:1 accepts_marketing:true",
                    "order_by:nope",
                    "",
                ]
            ),
        ),
    ]

    def hint(name: str) -> st.SearchStrategy[Any] | None:
        lowered = name.lower()
        for matches, strategy in table:
            if matches(lowered):
                return strategy
        return None

    return hint


# --- running the examples ------------------------------------------------------------------


STATS: dict[str, list[str]] = {}


def outcome(response: httpx.Response, body: Any) -> str:
    """A one-word summary of an answer, for the statistics (PATRON_HOSTILE_STATS=1)."""
    if response.status_code != 200 or not isinstance(body, dict):
        return f"http{response.status_code}"
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        code = (
            (errors[0].get("extensions") or {}).get("code") if isinstance(errors[0], dict) else None
        )
        return f"error:{code}"
    if body.get("status") == "error":
        return f"error:{(body.get('error') or {}).get('type')}"
    data = body.get("data")
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, dict) and value.get("success") is False:
                return "refused"
    return "ok"


class HostileFailure(AssertionError):
    """An answer that breaks one of the rules; a subclass per kind, so that Hypothesis shrinks
    and reports each distinct kind of one operation on its own."""


_KINDS: dict[str, type[HostileFailure]] = {}


def failure(signature: str, message: str) -> HostileFailure:
    if signature not in _KINDS:
        name = "Hostile_" + "".join(c if c.isalnum() else "_" for c in signature)[:80]
        _KINDS[signature] = type(name, (HostileFailure,), {})
    return _KINDS[signature](message)


def explore(
    name: str, strategy: st.SearchStrategy[Any], check: Callable[[Any], None], examples: int
) -> list[str]:
    """Run ``check`` on ``examples`` generated values; the shrunk failures, as messages."""
    budget = hostile.Budget(SHRINK_SECONDS)
    known: dict[str, HostileFailure] = {}

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        verbosity=Verbosity.quiet,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(value: Any) -> None:
        key = budget.key(value)
        if key in known:
            raise known[key]  # the final replay of a failure: its first answer, not a new one
        if budget.over():
            return
        try:
            check(value)
        except HostileFailure as found:
            budget.failed(value, str(found))
            known[key] = found
            raise

    try:
        run()
    except HostileFailure as found:
        return [str(found)]
    except BaseExceptionGroup as group:
        return [str(e) for e in group.exceptions]
    return []


@dataclass
class Surface:
    """What one example does: send, check the answer, compare the account on a refusal."""

    world: World
    log: hostile.ServerLog
    name: str
    read_back: Callable[[], httpx.Response] | None = None
    before: dict[str, str] | None = None

    def fingerprint(self) -> dict[str, str]:
        return hostile.fingerprint(self.world.db, self.world.tenant.uuid)

    def send(
        self,
        label: str,
        op_name: str,
        path: str,
        body: Any,
        headers: dict[str, str],
        *,
        write: bool,
        refused: Callable[[httpx.Response, Any], bool],
        shown_input: str,
    ) -> None:
        if write and self.before is None:
            self.before = self.fingerprint()
        mark = self.log.mark()
        response = self.world.api.http.post(
            path,
            content=hostile.dumps(body).encode(),
            headers={"Content-Type": "application/json", **headers},
        )
        problems, decoded = hostile.problems_of(response)
        STATS.setdefault(op_name, []).append(outcome(response, decoded))
        if os.environ.get("PATRON_HOSTILE_TRACE") == op_name:
            print(hostile.compact(response.text, 300))
        after_problems: list[str] = []
        if write:
            after = self.fingerprint()
            was_refused = problems == [] and refused(response, decoded)
            if was_refused and after != self.before:
                assert self.before is not None
                problems.append(
                    "refused but changed: " + ", ".join(hostile.changed(self.before, after))
                )
            self.before = after
            if not problems and not was_refused and self.read_back is not None:
                again = self.read_back()
                after_problems, _ = hostile.problems_of(again)
                if after_problems:
                    problems.append(
                        "reading back after it broke: "
                        + "; ".join(after_problems)
                        + f" — {hostile.compact(again.text, 300)}"
                    )
        if problems:
            logged = self.log.since(mark)
            kinds = sorted({p.split(":")[0].split(" —")[0][:40] for p in problems})
            errors = sorted(
                {
                    line.strip().split(":")[0].rsplit(".", 1)[-1]
                    for line in logged.splitlines()
                    if line.startswith("  ")
                }
            )
            raise failure(
                f"{self.name}|{op_name}|{'+'.join(kinds)}|{'+'.join(errors)}",
                f"[{self.world.store_name}] {self.name} {label}: {'; '.join(problems)}\n"
                f"    input: {shown_input}\n"
                f"    answer: HTTP {response.status_code} {hostile.compact(response.text)}\n"
                + (f"    server log: {hostile.compact(logged, 700)}\n" if logged else ""),
            )


def graphql_refused(op: Operation) -> Callable[[httpx.Response, Any], bool]:
    def refused(response: httpx.Response, body: Any) -> bool:
        if response.status_code >= 400 or not isinstance(body, dict):
            return True
        data = body.get("data")
        payload = data.get(op.response_path[0]) if isinstance(data, dict) else None
        if payload is None:
            return True
        return bool(isinstance(payload, dict) and payload.get("success") is False)

    return refused


def graphql_surface(
    world: World,
    log: hostile.ServerLog,
    *,
    surface: str,
    schema: GraphQLSchema,
    callers: list[tuple[str, str, dict[str, str]]],
    examples: dict[str, int],
    read_back: Callable[[], httpx.Response],
) -> list[str]:
    values = Values(pool=pool_of(world), hints=hints_for(world))
    ops = hostile.operations(schema)
    assert ops, "no operations found in the schema"
    found: list[str] = []
    for op in ops:
        runner = Surface(world, log, surface, read_back=read_back)
        refused = graphql_refused(op)

        def check(
            example: tuple[int, dict[str, Any]],
            op: Operation = op,
            runner: Surface = runner,
            refused: Callable[[httpx.Response, Any], bool] = refused,
        ) -> None:
            index, variables = example
            caller, path, headers = callers[index]
            runner.send(
                f"{op.name} as {caller}",
                op.name,
                path,
                {"query": op.document, "variables": variables},
                headers,
                write=op.kind == "mutation",
                refused=refused,
                shown_input=hostile.shown(variables, 900),
            )

        strategy = st.tuples(st.integers(0, len(callers) - 1), values.variables(op))
        count = examples.get(op.name, examples["*"])
        found += explore(op.name, strategy, check, max(count, len(callers)))
    return found


def read_back_of(world: World, schema: GraphQLSchema, path: str, token: str) -> Callable[[], Any]:
    document = hostile.read_back(schema)

    def read() -> httpx.Response:
        return world.api.http.post(
            path, json={"query": document}, headers={"Authorization": f"Bearer {token}"}
        )

    return read


def report(found: list[str]) -> None:
    if os.environ.get("PATRON_HOSTILE_STATS"):
        for name, outcomes in sorted(STATS.items()):
            counted = {o: outcomes.count(o) for o in sorted(set(outcomes))}
            print(f"{name}: {counted}")
        STATS.clear()
    if found:
        unique = list(dict.fromkeys(found))
        pytest.fail(f"{len(unique)} hostile-input failures:\n" + "\n".join(unique), pytrace=False)


# --- the surfaces ---------------------------------------------------------------------------

NATIVE_SCHEMA = "patron.api.graphql.schema"
LIGHTFUNNELS_SCHEMA = "patron.api.compat.lightfunnels.schema"
LOYALTYDISH_SCHEMA = "patron.api.compat.loyaltydish.schema"


def native_read_back(world: World) -> Callable[[], httpx.Response]:
    return read_back_of(world, schema_of(NATIVE_SCHEMA), NATIVE, world.tenant.token)


def test_native_graphql(world: World, server_log: hostile.ServerLog) -> None:
    token = world.tenant.token
    found = graphql_surface(
        world,
        server_log,
        surface="native",
        schema=schema_of(NATIVE_SCHEMA),
        callers=[
            ("admin", NATIVE, {"Authorization": f"Bearer {token}"}),
            ("admin", NATIVE, {"X-API-Token": token}),
            ("read token", NATIVE, {"Authorization": f"Bearer {world.read_token}"}),
        ],
        examples={"*": 30},  # each for three callers
        read_back=native_read_back(world),
    )
    report(found)


def test_lightfunnels(world: World, server_log: hostile.ServerLog) -> None:
    schema = schema_of(LIGHTFUNNELS_SCHEMA)
    token = world.tenant.token
    lf_read = read_back_of(world, schema, LIGHTFUNNELS, token)
    native = native_read_back(world)

    def read_back() -> httpx.Response:
        first = lf_read()
        return first if hostile.problems_of(first)[0] else native()

    found = graphql_surface(
        world,
        server_log,
        surface="lightfunnels",
        schema=schema,
        callers=[("admin", LIGHTFUNNELS, {"Authorization": f"Bearer {token}"})],
        examples={"*": 60},
        read_back=read_back,
    )
    report(found)


def test_loyaltydish(world: World, server_log: hostile.ServerLog) -> None:
    schema = schema_of(LOYALTYDISH_SCHEMA)
    token = world.tenant.token
    ld_read = read_back_of(world, schema, LOYALTYDISH, token)
    native = native_read_back(world)

    def read_back() -> httpx.Response:
        first = ld_read()
        return first if hostile.problems_of(first)[0] else native()

    found = graphql_surface(
        world,
        server_log,
        surface="loyaltydish",
        schema=schema,
        callers=[
            ("merchant admin", LOYALTYDISH, {"Authorization": f"JWT {token}"}),
            ("consumer", LOYALTYDISH, {"Authorization": f"JWT {world.consumer_token}"}),
            ("the public", public_path(world.tenant.uuid), {}),
        ],
        examples={"*": 15, "Mutation.register": 25, "Mutation.updateConsumer": 30},
        read_back=read_back,
    )
    report(found)


# --- the commerce RPC -----------------------------------------------------------------------


def commerce_fields() -> dict[str, tuple[str, ...]]:
    """Each method's request fields, read from its own ``obj(body, "request", allowed=...)``."""
    found: dict[str, tuple[str, ...]] = {}
    for name, (method, _scope) in commerce_methods.METHODS.items():
        tree = ast.parse(inspect.getsource(method))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "obj"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value == "request"
            ):
                for keyword in node.keywords:
                    if keyword.arg == "allowed":
                        found[name] = tuple(ast.literal_eval(keyword.value))
        assert name in found, f"no request fields found for commerce.contacts.{name}"
    return found


# Values of the fields that hold structure; every other field takes any JSON value.
CONTACT_FIELDS: tuple[str, ...] = tuple(
    f for f in commerce_protocol.FIELDS if f != "id"
)  # customer, name, phone, email, note


def commerce_values(world: World) -> dict[str, st.SearchStrategy[Any]]:
    numbers = st.one_of(
        st.sampled_from([world.contact_number, world.person_id, 0, -1, 1]),
        hostile.int_values(),
        hostile.decimal_values(),
    )
    text = st.one_of(
        hostile.hostile_text(),
        st.sampled_from(["John Smith", "", "+1234567890", world.contact_email, "a" * 50]),
    )
    anything = st.one_of(numbers, text, hostile.json_documents(), st.none(), st.booleans())
    names = st.lists(st.sampled_from([*commerce_protocol.FIELDS, "-name", "x"]), max_size=4)
    contact = st.fixed_dictionaries(
        {},
        optional={
            "customer": st.one_of(numbers, numbers, anything),
            "name": st.one_of(text, text, anything),
            "phone": st.one_of(text, text, anything),
            "email": st.one_of(text, hostile.valid_emails(), anything),
            "note": st.one_of(text, text, anything),
        },
    )
    conditions = st.fixed_dictionaries(
        {}, optional={"customer": numbers, "after": numbers, "other": anything}
    )
    return {
        "conditions": st.one_of(conditions, conditions, anything),
        "fields": st.one_of(names, names, anything),
        "order": st.one_of(
            st.lists(st.sampled_from([*ORDER_KEYS, *(f"-{k}" for k in ORDER_KEYS)]), max_size=3),
            names,
            anything,
        ),
        "limit": st.one_of(numbers, st.integers(0, 300)),
        "first": numbers,
        "id": st.one_of(st.just(world.person_id), numbers, numbers, anything),
        "ids": st.one_of(
            st.lists(numbers, max_size=4), st.lists(st.just(world.person_id)), anything
        ),
        "contact": st.one_of(contact, contact, contact, anything),
    }


def test_commerce_rpc(world: World, server_log: hostile.ServerLog) -> None:
    fields = commerce_fields()
    values = commerce_values(world)
    anything = st.one_of(hostile.json_documents(), hostile.hostile_text(), st.none())
    token = world.tenant.token
    found: list[str] = []
    for method, allowed in fields.items():
        unknown = [f for f in allowed if f not in values]
        assert not unknown, f"commerce.contacts.{method}: no values for {unknown}; add them"
        _, scope = commerce_methods.METHODS[method]
        runner = Surface(world, server_log, "commerce", read_back=native_read_back(world))

        def refused(response: httpx.Response, body: Any) -> bool:
            return response.status_code >= 400 or (
                isinstance(body, dict) and body.get("status") != "ok"
            )

        body = st.one_of(
            *[st.fixed_dictionaries({}, optional={name: values[name] for name in allowed})] * 6,
            st.fixed_dictionaries(
                {}, optional={**{name: values[name] for name in allowed}, "extra": anything}
            ),
            anything,
        )

        def check(
            example: tuple[bool, Any],
            method: str = method,
            scope: str = scope,
            runner: Surface = runner,
        ) -> None:
            x_key, sent = example
            headers = {"X-Key": token} if x_key else {"Authorization": f"Bearer {token}"}
            runner.send(
                f"commerce.contacts.{method}",
                method,
                COMMERCE + method,
                sent,
                headers,
                write=scope != "read",
                refused=refused,
                shown_input=hostile.shown(sent, 900),
            )

        found += explore(method, st.tuples(st.booleans(), body), check, 30)
    report(found)


def test_every_surface_has_operations() -> None:
    """The walk finds every root field, so a new one is fuzzed without a new test."""
    for module in (NATIVE_SCHEMA, LIGHTFUNNELS_SCHEMA, LOYALTYDISH_SCHEMA):
        schema = schema_of(module)
        names = {op.name for op in hostile.operations(schema)}
        for root in (schema.query_type, schema.mutation_type):
            assert root is not None
            for name in root.fields:
                assert f"{root.name}.{name}" in names
    assert set(commerce_fields()) == set(commerce_methods.METHODS)
