"""What bulk jobs (an import) write with their shortcuts is what the ordinary paths write."""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from patron.accounts import service as accounts
from patron.accounts.principal import Principal
from patron.core import idempotency
from patron.core.bulk import _wire_types, insert_tuples, statement_shape
from patron.core.db import Database
from patron.core.errors import DomainError
from patron.core.ids import is_uuid, new_uuid, time_ordered_uuids
from patron.core.money import from_minor, minor_text, plain_minor, to_decimal, to_minor
from patron.customers.tables import customers
from patron.tables import metadata
from patron.wallets.models import CreditType
from patron.wallets.openings import OpeningBalance, _apply_openings

keys = idempotency.idempotency_keys


def test_a_bulk_insert_stores_the_text_an_insert_stores(db: Database) -> None:
    account = str(uuid.uuid4())
    moments = [datetime(2026, 12, 4, 11, 0, 0, tzinfo=UTC), datetime(2026, 12, 4, 11, 0, 0, 5)]
    rows = [
        (account, f"{how}-{index}", "op", "h" * 64, {"entries": ["e"], "amount": 1}, moment)
        for how in ("one", "bulk")
        for index, moment in enumerate(moments)
    ]
    names = ("account_id", "key", "operation", "request_hash", "result", "created_at")

    with db.write() as connection:
        for row in rows[:2]:
            connection.execute(keys.insert().values(dict(zip(names, row, strict=True))))
        insert_tuples(connection, keys, names, rows[2:])
    with db.read() as connection:
        stored = connection.exec_driver_sql(
            "SELECT key, CAST(result AS TEXT), CAST(created_at AS TEXT) FROM idempotency_keys "
            f"WHERE account_id = '{account}' ORDER BY key"
        ).all()
        read = connection.execute(
            select(keys.c.key, keys.c.result, keys.c.created_at).where(keys.c.account_id == account)
        ).all()

    by_key = {key: (result, created) for key, result, created in stored}
    assert by_key["bulk-0"] == by_key["one-0"]
    assert by_key["bulk-1"] == by_key["one-1"]
    assert {row.key: row.created_at.replace(tzinfo=UTC) for row in read}["bulk-0"] == moments[0]


def test_a_json_value_every_row_shares_is_stored_as_an_insert_stores_it(db: Database) -> None:
    account = str(uuid.uuid4())
    moment = datetime(2026, 12, 4, 11, 0, 0, tzinfo=UTC)
    shared = {"entries": ["e", "f"], "amount": 2}  # one object in every bulk row
    names = ("account_id", "key", "operation", "request_hash", "result", "created_at")

    with db.write() as connection:
        one = (account, "one", "op", "h" * 64, shared, moment)
        connection.execute(keys.insert().values(dict(zip(names, one, strict=True))))
        insert_tuples(
            connection,
            keys,
            names,
            [(account, f"bulk-{index}", "op", "h" * 64, shared, moment) for index in range(3)],
        )
    with db.read() as connection:
        stored = dict(
            connection.exec_driver_sql(
                "SELECT key, CAST(result AS TEXT) FROM idempotency_keys "
                f"WHERE account_id = '{account}'"
            ).all()
        )

    assert stored == dict.fromkeys(("one", "bulk-0", "bulk-1", "bulk-2"), stored["one"])
    assert json.loads(stored["bulk-2"]) == shared


@pytest.mark.parametrize("count", [1, 497, 498, 1001])
def test_many_rows_are_each_stored_once_in_order(db: Database, count: int) -> None:
    """Enough rows for several statements of many rows each and shorter last ones (SQLite
    writes 497 of these rows a statement: two values each, and four that every row shares,
    bound once); a single row (every value shared)."""
    account = str(uuid.uuid4())
    moment = datetime(2026, 12, 6, 14, 0, 0, tzinfo=UTC)
    names = ("account_id", "key", "operation", "request_hash", "result", "created_at")
    rows = [
        (account, f"k-{index:05d}", "op", f"{index:064d}", '{"amount": 1}', moment)
        for index in range(count)
    ]

    with db.write() as connection:
        insert_tuples(connection, keys, names, rows, json_text=("result",))
    with db.read() as connection:
        stored = connection.execute(
            select(keys.c.key, keys.c.request_hash, keys.c.result)
            .where(keys.c.account_id == account)
            .order_by(keys.c.key)
        ).all()

    assert [(key, digest) for key, digest, _ in stored] == [(row[1], row[3]) for row in rows]
    assert {json.dumps(result) for _, _, result in stored} == {'{"amount": 1}'}


def test_time_ordered_uuids_are_version_7_ascending_and_distinct() -> None:
    first = time_ordered_uuids(500)
    later = time_ordered_uuids(3)

    assert first == sorted(first)
    assert len(set(first)) == 500
    assert all(is_uuid(value) for value in first)
    assert {uuid.UUID(value).version for value in first + later} == {7}
    assert {uuid.UUID(value).variant for value in first} == {uuid.RFC_4122}
    assert later[0][:13] >= first[-1][:13]  # the milliseconds come first
    assert time_ordered_uuids(0) == []


def test_a_new_uuid_is_version_7_with_its_time_first() -> None:
    before = time.time_ns() // 1_000_000
    made = [new_uuid() for _ in range(2000)]
    after = time.time_ns() // 1_000_000

    assert len(set(made)) == 2000
    assert all(is_uuid(value) for value in made)
    assert {uuid.UUID(value).version for value in made} == {7}
    assert {uuid.UUID(value).variant for value in made} == {uuid.RFC_4122}
    millis = [uuid.UUID(value).int >> 80 for value in made]
    assert all(before <= moment <= after for moment in millis)
    assert millis == sorted(millis)  # one after another, never back in time
    # The same millisecond digits as a bulk job's uuids: both sort by their time.
    assert time_ordered_uuids(1)[0][:13] >= made[-1][:13]


def _full_rules(value: str, precision: int) -> int | None:
    try:
        return to_minor(to_decimal(value), precision)
    except DomainError:
        return None


def test_the_plain_amount_shortcut_answers_as_the_amount_rules() -> None:
    chance = random.Random(1205)
    written = ["0", "0.00", "10.50", "1.500", "007", "1.", ".5", "1e3", "-1", "+1", " 1", "٣"]
    written += ["1000000000000000", "1000000000000001", "10000000000000.00", "1.1234567"]
    for _ in range(3000):
        whole = str(chance.randint(0, 10 ** chance.randint(0, 17)))
        part = "".join(chance.choice("0123456789") for _ in range(chance.randint(0, 7)))
        written.append(f"{whole}.{part}" if part or chance.random() < 0.3 else whole)

    for precision in range(5):
        for value in written:
            shortcut = plain_minor(value, precision)
            if shortcut is not None:
                assert shortcut == _full_rules(value, precision), (value, precision)
    assert plain_minor("10.50", 2) == 1050
    assert plain_minor("10.50", 1) is None  # the full rules answer it (105)


def test_minor_text_is_the_text_of_the_decimal() -> None:
    chance = random.Random(4)
    minors = [0, 1, 9, 10, 99, 100, 1050, -1, -1050, 10**15]
    minors += [chance.randint(0, 10**16) for _ in range(2000)]
    for precision in range(9):
        for minor in minors:
            assert minor_text(minor, precision) == str(from_minor(minor, precision))
    assert minor_text(1050, 2) == "10.50"
    assert Decimal(minor_text(5, 8)) == Decimal("0.00000005")


def test_an_imports_json_text_is_what_the_encoder_writes() -> None:
    """The payloads a bulk job writes from templates: the text ``json.dumps`` writes of the
    same values (an odd wallet uuid included, which is escaped)."""
    principal = Principal(
        account_id=str(uuid.uuid4()),
        account_name="Bulk",
        currency="USD",
        points_precision=0,
        scope="admin",
        job="import",
    )
    openings = [
        OpeningBalance(str(uuid.uuid4()), CreditType.GLOBAL, 12345, "k1", "note"),
        OpeningBalance('odd "wallet"\\é', CreditType.LOCAL, 7, "k2"),
    ]
    figures = {
        opening.wallet_uuid: {
            "uuid": opening.wallet_uuid,
            "global_balance": 5,
            "local_balance": 0,
            "entry_count": 1,
        }
        for opening in openings
    }
    results: list[Any] = [None, None]
    written = _apply_openings(
        principal, openings, [0, 1], figures, results, datetime(2026, 12, 4, tzinfo=UTC)
    )
    for _, text in written.events:
        assert json.dumps(json.loads(text)) == text
    assert json.loads(written.events[0][1])["balance_after"] == "123.50"


def test_a_bulk_insert_of_every_column_type_reads_back_as_an_insert(db: Database) -> None:
    """On PostgreSQL the rows go by binary COPY (each value in its type's own form): a
    contact's row, with text, numbers of three sizes, flags, a date, times and JSON, reads
    back as the same row written by an INSERT; on SQLite, by the statements' own path."""
    account = accounts.create_account(db, name="Wire")[0].uuid
    moment = datetime(2026, 12, 4, 11, 0, 0, 123456, tzinfo=UTC)
    names = (
        "account_id", "uuid", "number", "name", "email", "birthday", "birthday_month",
        "extra_info", "accepts_marketing", "verified", "connected_services", "created_at",
        "updated_at",
    )  # fmt: skip

    def row(index: int) -> tuple[Any, ...]:
        return (
            account, new_uuid(), 10 + index, f"Ann \t\\ {index} ü", None,
            date(1985, 1 + index, 2), 1 + index, {"tier": index, "tags": ["a"]},
            bool(index), True, ["SHOPIFY"], moment, moment,
        )  # fmt: skip

    one, bulk = row(0), row(1)
    with db.write() as connection:
        connection.execute(customers.insert().values(dict(zip(names, one, strict=True))))
        insert_tuples(connection, customers, names, [bulk])
    with db.read() as connection:
        read = {
            found.uuid: found
            for found in connection.execute(
                select(*(customers.c[name] for name in names)).where(
                    customers.c.account_id == account
                )
            )
        }
    for written in (one, bulk):
        stored = tuple(read[written[1]])
        assert stored[:11] == written[:11]
        assert [moment_.replace(tzinfo=UTC) for moment_ in stored[11:]] == [moment, moment]


def test_the_tables_an_import_fills_go_by_binary_copy() -> None:
    """Every column of the tables an import writes has a binary COPY type: a new column of
    another type would send the whole table back to text, more work for PostgreSQL."""
    for name in (
        "customers", "identities", "wallets", "credit_entries", "outbox_events",
        "idempotency_keys",
    ):  # fmt: skip
        table = metadata.tables[name]
        assert _wire_types(table, tuple(table.c.keys())) is not None, name


def test_a_statements_shape_binds_what_every_row_shares_once() -> None:
    """Per column: a value every row holds is bound once (a text by its value, anything else
    by identity, unless told how to compare), a NULL every row has is written as NULL, the
    rest vary by row."""
    stamp, flag = datetime(2026, 12, 7, tzinfo=UTC), "ADD"
    cells = [("a", "a"), (stamp, stamp), (None, None), (1, 2), (flag, flag)]

    shape, shared, varying = statement_shape(cells)
    built = "".join(["ab", "c"])  # equal to "abc", another object
    same_text, _, _ = statement_shape([("abc", built), ("x", "y")])
    # Equal, not the same: a time in another zone is written as other text.
    elsewhere = datetime(2026, 12, 7, 1, tzinfo=timezone(timedelta(hours=1)))
    same_time, _, _ = statement_shape([(stamp, elsewhere), (stamp, stamp)])
    equal_shape, _, _ = statement_shape(
        [(stamp, elsewhere), ("x", "y")], lambda column, first: all(v == first for v in column)
    )

    assert shape == (1, 2, None, 0, 3)
    assert shared == ["a", stamp, flag]
    assert varying == [(1, 2)]
    assert same_text == (1, 0)
    assert same_time == (0, 1)
    assert equal_shape == (1, 0)
