"""Hostile inputs for every API surface: operations walked from a GraphQL schema, Hypothesis
strategies per GraphQL type, a JSON writer that can send raw numbers and very deep documents,
the checks every answer must pass, and a fingerprint of what an account holds."""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)
from hypothesis import strategies as st
from sqlalchemy import MetaData, Table, select

from patron.core.db import Database

# --- JSON that Python's json module cannot write ------------------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text sent as is: numbers such as 1e999999999, documents 1000 levels deep."""

    text: str

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 80 else f"{self.text[:40]}…({len(self.text)} chars)"
        return f"Raw({shown!r})"


def dumps(value: Any) -> str:
    """JSON text of ``value``; ``Raw`` parts are written verbatim."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    return json.dumps(value)


def shown(value: Any, limit: int = 300) -> str:
    """A value for a failure report: long strings summarised, not printed whole."""
    if isinstance(value, str) and len(value) > 60:
        return f"{value[:30]!r}…({len(value)} chars, {len(set(value))} distinct)"
    if isinstance(value, dict):
        text = "{" + ", ".join(f"{k!r}: {shown(v, limit)}" for k, v in value.items()) + "}"
    elif isinstance(value, list):
        text = "[" + ", ".join(shown(v, limit) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


# --- strategies ------------------------------------------------------------------------------

NUMBER_LOOKING = [
    "1_0",
    "１",
    "１０",
    "٣",
    "۱۲",
    "𝟙",
    "1e999999999",
    "-1e999999999",
    "1e-999999999",
    "1E+400",
    "-0",
    "0",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    " 10 ",
    "10\n",
    "0x10",
    "1,5",
    "1.",
    ".5",
    "+1",
    "00010",
    "1" * 40,
    "9" * 400,
    "0." + "0" * 400 + "1",
    "1e15",
    "1e16",
    "999999999999999.99",
    "-2147483649",
    "2147483648",
    "",
    " ",
]
SPECIAL_TEXT = [
    "\x00",
    "a\x00b",
    "\x00" * 10,
    "\x01\x02\x1b[31m\x7f",
    "\r\n\t",
    "\u2028\u2029",
    "\ufeff",
    "\u202etxt.exe",
    "İ",
    "ß",
    "ǅ",
    "ﬃ",
    "💩",
    "👩‍👩‍👧‍👦",
    "'; DROP TABLE customers; --",
    "%",
    "_",
    "\\",
    '"',
    "' OR '1'='1",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "Robert'); --",
    "${jndi:ldap://x}",
    "{{7*7}}",
    "a" * 201,
    "a" * 256,
    "a@b",
    "@",
    "a@b.c\x00",
    "x@" + "a" * 250 + ".com",
    "ÄÖÜ@bücher.de",
    "null",
    "true",
    "[]",
    "{}",
]
LONG_SIZES = [10_000, 100_000]


def long_text() -> st.SearchStrategy[str]:
    return st.builds(
        lambda unit, size: (unit * size)[:size],
        st.sampled_from(["x", "é", "\x00", "1", "a\x00", "💩", " "]),
        st.sampled_from(LONG_SIZES),
    )


def base64_ids() -> st.SearchStrategy[str]:
    names = st.sampled_from(
        [
            "Contact",
            "Wallet",
            "CreditEntry",
            "Order",
            "Promotion",
            "RedemptionCode",
            "Customer",
            "IUserNode",
            "OrderNode",
            "StoreNode",
            "PromotionNode",
            "Node",
            "",
        ]
    )
    tails = st.one_of(
        st.sampled_from(["1", "0", "-1", "99999999999999999999", "1e9", "abc", "", "1:2", "１"]),
        st.uuids().map(str),
        st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
    )
    typed = st.builds(lambda n, t: f"{n}:{t}", names, tails).map(
        lambda text: base64.b64encode(text.encode()).decode()
    )
    random_bytes = st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())
    url_safe = st.binary(max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode())
    return st.one_of(typed, random_bytes, url_safe, typed.map(lambda s: s.rstrip("=")))


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
        st.text(st.characters(codec="ascii"), max_size=10),
        st.sampled_from(SPECIAL_TEXT),
        st.sampled_from(NUMBER_LOOKING),
        long_text(),
        base64_ids(),
        st.builds(lambda a, b: a + "\x00" + b, st.sampled_from(["x", "a@b.co", "1"]), st.text()),
    )


def raw_numbers() -> st.SearchStrategy[Raw]:
    return st.sampled_from(
        [
            "1e999999999",
            "-1e999999999",
            "1e-999999999",
            "1E400",
            "-0",
            "-0.0",
            "0",
            "0.0",
            "1e15",
            "1e16",
            "9" * 400,
            "-" + "9" * 40,
            "0." + "0" * 300 + "1",
            "1.5",
            "10",
            "0.01",
            "25.00",
            "100",
            "2147483648",
            "-2147483649",
            "9007199254740993",
            "1.7976931348623157e308",
            "5e-324",
        ]
    ).map(Raw)


def decimal_values() -> st.SearchStrategy[Any]:
    """Values for Decimal, BigInt, Float and other numeric scalars: JSON numbers and strings."""
    plausible = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1000), places=2)
    return st.one_of(
        plausible.map(lambda d: Raw(str(d))),
        plausible.map(str),
        st.integers(min_value=1, max_value=500),
        raw_numbers(),
        raw_numbers().map(lambda raw: raw.text),
        st.sampled_from(NUMBER_LOOKING),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
    )


def int_values() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(min_value=0, max_value=300),
        st.sampled_from([0, -1, 1, 2, 100, 250, 251, 2**31 - 1, -(2**31), 2**31, -(2**31) - 1]),
        st.integers(min_value=-(2**31), max_value=2**31 - 1),
        st.integers(min_value=-(2**70), max_value=2**70),
        raw_numbers(),
    )


def deep_json(depth: int, kind: str) -> Raw:
    if kind == "list":
        return Raw("[" * depth + "1" + "]" * depth)
    return Raw('{"a":' * depth + "1" + "}" * depth)


def json_documents() -> st.SearchStrategy[Any]:
    """JSON values: small ones, 300 and 1000 levels deep, and large ones."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        hostile_text(),
        raw_numbers(),
    )
    small = st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(hostile_text(), inner, max_size=3)
        ),
        max_leaves=8,
    )
    deep = st.builds(deep_json, st.sampled_from([300, 1000]), st.sampled_from(["list", "dict"]))
    large = st.sampled_from([50_000, 200_000]).map(
        lambda n: Raw("[" + ",".join(["1"] * (n // 2)) + "]")
    )
    wide = st.sampled_from([2_000, 20_000]).map(
        lambda n: Raw("{" + ",".join(f'"k{i}":{i}' for i in range(n)) + "}")
    )
    return st.one_of(small, deep, large, wide)


def json_text() -> st.SearchStrategy[str]:
    """For scalars that carry JSON as a string (graphene's JSONString)."""
    return st.one_of(
        json_documents().map(dumps),
        st.sampled_from(["{", "[1,", "NaN", "Infinity", '{"a": 1e999999999}', '"\\u0000"']),
        hostile_text(),
    )


def dates() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.dates().map(lambda d: d.isoformat()),
        st.sampled_from(
            ["0000-00-00", "0001-01-01", "9999-12-31", "2024-02-30", "2024-13-01", "1e9", "", "-1"]
        ),
        hostile_text(),
    )


def datetimes() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.datetimes().map(lambda d: d.isoformat() + "Z"),
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
        st.sampled_from(
            [
                "0001-01-01T00:00:00-14:00",
                "0001-01-01T00:00:00+14:00",
                "9999-12-31T23:59:59-14:00",
                "9999-12-31T23:59:59+14:00",
                "2030-01-01T00:00:00Z",
                "2000-01-01T00:00:00",
                "2024-02-30T00:00:00Z",
                "2030-01-01T00:00:00+99:00",
                "1e9",
                "",
            ]
        ),
        hostile_text(),
    )


def valid_emails() -> st.SearchStrategy[str]:
    return st.builds(lambda n: f"hostile-{n}@example.com", st.integers(0, 10**9))


# --- operations walked from a schema ------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    name: str
    type: GraphQLInputType
    path_name: str  # the argument's name, for value hints


@dataclass(frozen=True)
class Operation:
    """One field with arguments (or a root field), as a document with every argument a variable."""

    name: str  # "Mutation.createContact", "Query.account.contacts"
    kind: str  # "query" or "mutation"
    document: str
    variables: tuple[Variable, ...]
    response_path: tuple[str, ...]


def type_text(kind: Any) -> str:
    if isinstance(kind, GraphQLNonNull):
        return type_text(kind.of_type) + "!"
    if isinstance(kind, GraphQLList):
        return "[" + type_text(kind.of_type) + "]"
    return str(kind.name)


def _fillable(field_def: GraphQLField) -> bool:
    return all(_literal(arg) is not None for arg in field_def.args.values() if _required(arg))


def _required(arg: GraphQLArgument) -> bool:
    from graphql.pyutils import Undefined

    return isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined


def _literal(arg: GraphQLArgument) -> str | None:
    named = get_named_type(arg.type)
    if named.name == "String":
        return '""'
    return None


def _call(name: str, field_def: GraphQLField) -> str:
    literals = [f"{key}: {_literal(arg)}" for key, arg in field_def.args.items() if _required(arg)]
    return f"{name}({', '.join(literals)})" if literals else name


def selection(kind: Any, depth: int, width: int = 12) -> str:
    """A valid selection of ``kind``: its scalars (up to ``width``), nested objects to ``depth``."""
    named = get_named_type(kind)
    if isinstance(named, GraphQLScalarType | GraphQLEnumType):
        return ""
    if isinstance(named, GraphQLInterfaceType):
        scalars = [
            name
            for name, f in named.fields.items()
            if isinstance(get_named_type(f.type), GraphQLScalarType) and not f.args
        ]
        return "{ __typename " + " ".join(scalars[:width]) + " }"
    if isinstance(named, GraphQLUnionType):
        return "{ __typename }"
    assert isinstance(named, GraphQLObjectType)
    parts: list[str] = []
    for name, f in named.fields.items():
        inner = get_named_type(f.type)
        if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            if _fillable(f) and (len(parts) < width or name in {"success", "errors", "id"}):
                parts.append(_call(name, f))
        elif depth > 0 and _fillable(f):
            parts.append(_call(name, f) + " " + selection(f.type, depth - 1, width))
    if not parts:
        parts = ["__typename"]
    return "{ " + " ".join(parts) + " }"


def operations(schema: GraphQLSchema, *, nested_depth: int = 3) -> list[Operation]:
    """Every root field of Query and Mutation, and every field with arguments reachable from a
    Query root field through fields without required arguments (up to ``nested_depth``)."""
    found: list[Operation] = []
    roots = [("query", schema.query_type), ("mutation", schema.mutation_type)]
    for kind, root in roots:
        if root is None:
            continue
        for name, root_field in root.fields.items():
            found.append(_operation(kind, f"{root.name}.{name}", [(name, root_field)]))
            if kind == "query" and not any(_required(a) for a in root_field.args.values()):
                found.extend(_nested(kind, root.name, [(name, root_field)], nested_depth))
    return found


def _nested(
    kind: str, root: str, path: list[tuple[str, GraphQLField]], depth: int
) -> Iterator[Operation]:
    if depth <= 0:
        return
    parent = get_named_type(path[-1][1].type)
    if not isinstance(parent, GraphQLObjectType):
        return
    seen = {get_named_type(f.type).name for _, f in path}
    for name, child in parent.fields.items():
        named = get_named_type(child.type)
        step = [*path, (name, child)]
        if child.args:
            yield _operation(kind, root + "." + ".".join(n for n, _ in step), step)
        if (
            isinstance(named, GraphQLObjectType)
            and named.name not in seen
            and not any(_required(a) for a in child.args.values())
        ):
            yield from _nested(kind, root, step, depth - 1)


def _operation(kind: str, name: str, path: list[tuple[str, GraphQLField]]) -> Operation:
    variables: list[Variable] = []
    *parents, (leaf_name, leaf) = path
    arguments = []
    for arg_name, arg in leaf.args.items():
        variable = f"v_{arg_name}"
        variables.append(Variable(variable, arg.type, arg_name))
        arguments.append(f"{arg_name}: ${variable}")
    call = leaf_name + (f"({', '.join(arguments)})" if arguments else "")
    body = call + " " + selection(leaf.type, depth=2)
    for parent_name, _parent in reversed(parents):
        body = f"{parent_name} {{ {body} }}"
    declared = ", ".join(f"${v.name}: {type_text(v.type)}" for v in variables)
    header = f"{kind} Hostile" + (f"({declared})" if declared else "")
    return Operation(
        name=name,
        kind=kind,
        document=f"{header} {{ {body} }}",
        variables=tuple(variables),
        response_path=tuple(n for n, _ in path),
    )


def read_back(schema: GraphQLSchema, depth: int = 3) -> str:
    """A query of everything listable without arguments, to find what a write broke later."""
    assert schema.query_type is not None
    parts = []
    for name, f in schema.query_type.fields.items():
        if _fillable(f) and not isinstance(get_named_type(f.type), GraphQLInterfaceType):
            parts.append(_call(name, f) + " " + selection(f.type, depth, width=60))
    return "query ReadBack { " + " ".join(parts) + " }"


# --- values per GraphQL type ----------------------------------------------------------------

Hints = Callable[[str], st.SearchStrategy[Any] | None]


@dataclass
class Values:
    """Strategies per GraphQL input type; ``pool`` holds valid values of existing rows, and
    ``hints`` gives valid-looking values by argument name (an email for ``email``)."""

    pool: list[Any]
    hints: Hints = lambda name: None
    json_scalars: frozenset[str] = frozenset({"JSON", "GenericScalar", "JSONString"})
    _cache: dict[str, st.SearchStrategy[Any]] = field(default_factory=dict)

    def strings(self, name: str) -> st.SearchStrategy[Any]:
        choices: list[st.SearchStrategy[Any]] = [hostile_text(), hostile_text()]
        if self.pool:
            choices.append(st.sampled_from(self.pool))
            choices.append(st.sampled_from(self.pool))
        hinted = self.hints(name)
        if hinted is not None:
            choices += [hinted, hinted, hinted]
        return st.one_of(*choices)

    def scalar(  # noqa: PLR0911 - one branch per scalar
        self, named: GraphQLScalarType, name: str
    ) -> st.SearchStrategy[Any]:
        if named.name in {"String", "ID"}:
            return self.strings(name)
        if named.name == "Int":
            hinted = self.hints(name)
            base = int_values()
            return st.one_of(base, hinted) if hinted is not None else base
        if named.name == "Boolean":
            return st.booleans()
        if named.name == "JSONString":
            return json_text()
        if named.name in self.json_scalars:
            return json_documents()
        if named.name == "Date":
            return dates()
        if named.name == "DateTime":
            return datetimes()
        if named.name == "ExpectedErrorType":
            return json_documents()
        hinted = self.hints(name)
        numbers = decimal_values()
        return st.one_of(numbers, numbers, hinted) if hinted is not None else numbers

    def tame(self, kind: Any, name: str) -> st.SearchStrategy[Any]:  # noqa: PLR0911
        """A valid-looking value, so that the other arguments' hostile values reach the code."""
        if isinstance(kind, GraphQLNonNull):
            return self.tame(kind.of_type, name)
        if isinstance(kind, GraphQLList):
            return st.lists(self.of(kind.of_type, name), min_size=1, max_size=3)
        if isinstance(kind, GraphQLEnumType):
            return st.sampled_from(sorted(kind.values))
        if isinstance(kind, GraphQLInputObjectType):
            return self.input_object(kind)
        assert isinstance(kind, GraphQLScalarType)
        hinted = self.hints(name)
        if hinted is not None:
            return hinted
        if kind.name in {"String", "ID"}:
            return st.sampled_from([*self.pool, "Ann", "a note"])
        if kind.name == "Int":
            return st.integers(0, 100)
        if kind.name == "Boolean":
            return st.booleans()
        if kind.name == "Date":
            return st.dates().map(lambda d: d.isoformat())
        if kind.name == "DateTime":
            return st.datetimes().map(lambda d: d.isoformat() + "Z")
        if kind.name == "JSONString":
            return st.sampled_from(['{"a": 1}', "[]", "{}"])
        if kind.name in self.json_scalars:
            return st.sampled_from([{"a": 1}, [1, 2], {}])
        return st.decimals(min_value=1, max_value=100, places=2).map(lambda d: Raw(str(d)))

    def of(self, kind: Any, name: str) -> st.SearchStrategy[Any]:
        return st.one_of(*[self.tame(kind, name)] * 3, self.wild(kind, name))

    def wild(self, kind: Any, name: str) -> st.SearchStrategy[Any]:
        if isinstance(kind, GraphQLNonNull):
            inner = self.wild(kind.of_type, name)
            # now and then a null where one is required
            return st.one_of(*[inner] * 19, st.none())
        nullable: st.SearchStrategy[Any]
        if isinstance(kind, GraphQLList):
            item = self.of(kind.of_type, name)
            nullable = st.one_of(st.lists(item, max_size=3), item)
        elif isinstance(kind, GraphQLEnumType):
            nullable = st.one_of(*[st.sampled_from(sorted(kind.values))] * 4, hostile_text())
        elif isinstance(kind, GraphQLInputObjectType):
            nullable = self.input_object(kind)
        else:
            assert isinstance(kind, GraphQLScalarType)
            nullable = self.scalar(kind, name)
        return st.one_of(*[nullable] * 9, st.none())

    def input_object(self, kind: GraphQLInputObjectType) -> st.SearchStrategy[Any]:
        if kind.name in self._cache:
            return self._cache[kind.name]
        required = {
            name: self.of(f.type, name)
            for name, f in kind.fields.items()
            if isinstance(f.type, GraphQLNonNull) and f.default_value is _undefined()
        }
        optional = {
            name: self.of(f.type, name) for name, f in kind.fields.items() if name not in required
        }
        built = st.fixed_dictionaries(required, optional=optional)
        self._cache[kind.name] = built
        return built

    def variables(self, operation: Operation) -> st.SearchStrategy[dict[str, Any]]:
        # an input object argument is always an object: the hostility is in its fields
        required = {
            v.name: self.input_object(get_named_type(v.type))
            if isinstance(get_named_type(v.type), GraphQLInputObjectType)
            else self.of(v.type, v.path_name)
            for v in operation.variables
            if isinstance(v.type, GraphQLNonNull)
        }
        optional = {
            v.name: self.of(v.type, v.path_name)
            for v in operation.variables
            if not isinstance(v.type, GraphQLNonNull)
        }
        return st.fixed_dictionaries(required, optional=optional)


def _undefined() -> Any:
    from graphql.pyutils import Undefined

    return Undefined


# --- what every answer must be ----------------------------------------------------------------


def masked_errors(body: Any) -> list[Any]:
    """Errors that hide an unexpected failure of the server."""
    found = []
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        code = (error.get("extensions") or {}).get("code")
        message = str(error.get("message", ""))
        if code == "INTERNAL_SERVER_ERROR" or message.startswith("Internal server error"):
            found.append(error)
    return found


def problems_of(response: httpx.Response) -> tuple[list[str], Any]:
    """What is wrong with an answer to client input: a 5xx, a body that is not JSON, a masked
    error. Returns the problems and the decoded body (None when it is not JSON)."""
    problems = []
    if response.status_code >= 500:
        problems.append(f"HTTP {response.status_code}")
    try:
        body = json.loads(response.text, parse_float=Decimal)
    except ValueError:
        problems.append("the body is not JSON")
        return problems, None
    masked = masked_errors(body)
    if masked:
        problems.append(f"masked error: {shown(masked, 400)}")
    return problems, body


class ServerLog(logging.Handler):
    """The server's logged exceptions (it runs on a thread of this process), to report them."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def mark(self) -> int:
        return len(self.records)

    def since(self, mark: int) -> str:
        lines = []
        for record in self.records[mark:]:
            lines.append(record.getMessage())
            if record.exc_info and record.exc_info[1] is not None:
                error = record.exc_info[1]
                lines.append(
                    f"  {type(error).__module__}.{type(error).__qualname__}: {str(error)[:300]}"
                )
        return "\n".join(lines)

    def __enter__(self) -> ServerLog:
        for name in ("patron", "uvicorn.error"):
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in ("patron", "uvicorn.error"):
            logging.getLogger(name).removeHandler(self)


# --- what an account holds --------------------------------------------------------------------

# Tables and columns a refusal may change by design; each with the reason.
EXCLUDED_TABLES = {
    # failed logins are counted (and throttled) precisely when a login is refused
    "consumer_login_failures",
    # development signing keys are made on first use of a token, refused or not
    "consumer_signing_keys",
    # numbers are reserved in blocks by their own transaction: a refused create leaves a gap
    "account_counters",
}
EXCLUDED_COLUMNS = {
    # a token's use is written every PATRON_TOKEN_TOUCH_SECONDS, whatever the request does
    ("api_tokens", "last_used_at"),
    # customer numbers are reserved like account_counters (a block per process on PostgreSQL)
    ("accounts", "next_customer_number"),
    # presenting a used refresh token again is refused and revokes its login, by design
    ("consumer_refresh_tokens", "revoked_at"),
    # a successful login (not a refusal) stamps it; a refused one never should, kept out anyway
    # because obtainToken's refusal is answered after the failure counter moved, not the profile
}
# Audit events a refusal writes by design: the reuse of a refresh token (a theft signal).
EXCLUDED_AUDIT_ACTIONS = {"consumer.refresh_token_reused"}


def metadata() -> MetaData:
    """Every table, from wherever the schema module lives now."""
    for module in ("patron.tables", "patron.core.schema"):
        try:
            found: MetaData = importlib.import_module(module).metadata
        except (ImportError, AttributeError):
            continue
        return found
    from patron.core.db import metadata as fallback

    return fallback


def account_tables() -> list[Table]:
    return [
        table
        for table in metadata().sorted_tables
        if "account_id" in table.c and table.name not in EXCLUDED_TABLES
    ]


def fingerprint(db: Database, account_uuid: str) -> dict[str, str]:
    """A hash per table of every row of the account (excluded columns left out)."""
    found: dict[str, str] = {}
    with db.read() as connection:
        for table in account_tables():
            columns = [c for c in table.c if (table.name, c.name) not in EXCLUDED_COLUMNS]
            rows = connection.execute(select(*columns).where(table.c.account_id == account_uuid))
            lines = []
            for row in rows:
                values = dict(row._mapping)
                if table.name == "audit_events" and values.get("action") in EXCLUDED_AUDIT_ACTIONS:
                    continue
                lines.append(json.dumps(values, sort_keys=True, default=repr))
            lines.sort()
            found[table.name] = (
                f"{len(lines)}:" + hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
            )
    return found


def _rows(found: dict[str, str], name: str) -> str:
    return found.get(name, "-").split(":")[0]


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(
        f"{name} (rows {_rows(before, name)} -> {_rows(after, name)})"
        for name in set(before) | set(after)
        if before.get(name) != after.get(name)
    )


# --- bounded shrinking ------------------------------------------------------------------------


class Budget:
    """Keeps Hypothesis' shrinking of one operation within a time budget.

    Past the budget, inputs never seen to fail pass at once (the shrinker stops there), and
    the inputs that did fail fail again with their first answer, so that Hypothesis' final
    replay of the smallest one is not flaky."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started: float | None = None
        self.failures: dict[str, str] = {}

    def key(self, value: Any) -> str:
        return hashlib.sha256(dumps(value).encode()).hexdigest()

    def over(self) -> bool:
        return self.started is not None and time.monotonic() - self.started > self.seconds

    def failed(self, value: Any, message: str) -> None:
        if self.started is None:
            self.started = time.monotonic()
        self.failures.setdefault(self.key(value), message)

    def known(self, value: Any) -> str | None:
        return self.failures.get(self.key(value))


def compact(text: str, limit: int = 600) -> str:
    """An answer or a log on one line, cut at ``limit`` characters."""
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= limit else text[:limit] + "…"
