"""Reads without a transaction (``Database.connect_latest``) send their statements and nothing
else: no BEGIN/COMMIT pair on PostgreSQL, and on SQLite no pragma, which would expire every
statement the connection has prepared and make each request compile its SQL again."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import bindparam, event, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from patron.api.endpoint import Patron
from patron.core.db import Database, Precompiled, Rows, is_store_unavailable, run_sql
from patron.customers.tables import customers
from tests.support.client import Api
from tests.support.server import ThreadServer
from tests.support.tenants import Tenant, make_contact
from tests.test_contacts_seed000 import GET_CONTACT_BY_EMAIL


def test_a_latest_read_sends_only_its_statement(db: Database) -> None:
    seen: list[str] = []
    for _ in range(3):  # the same pooled connection, checked out and returned three times
        with db.read_latest() as connection:
            driver: Any = connection.connection.driver_connection
            if isinstance(driver, sqlite3.Connection):
                driver.set_trace_callback(seen.append)
            assert connection.exec_driver_sql("SELECT 41 + 1").scalar() == 42
            if isinstance(driver, psycopg.Connection):
                assert driver.autocommit
                status = driver.info.transaction_status
                assert status == psycopg.pq.TransactionStatus.IDLE
                seen.append("SELECT 41 + 1")
            else:
                driver.set_trace_callback(None)

    assert seen == ["SELECT 41 + 1"] * 3


def test_a_transaction_after_a_latest_read_still_begins(db: Database) -> None:
    with db.read_latest() as connection:
        connection.exec_driver_sql("SELECT 1")
    with db.read() as connection:
        driver: Any = connection.connection.driver_connection
        connection.exec_driver_sql("SELECT 1")
        if isinstance(driver, sqlite3.Connection):
            assert driver.in_transaction
        else:
            assert not driver.autocommit
            status = driver.info.transaction_status
            assert status == psycopg.pq.TransactionStatus.INTRANS


def test_known_reads_on_the_event_loop_keep_one_connection(
    database_url: str, db: Database, tenant: Tenant
) -> None:
    """The reads a worker answers on its event loop borrow one kept connection: no pool
    checkout per request. Broken (the server ended it), it is dropped: that request is still
    answered, by the full pipeline, and the next read opens another."""
    made = make_contact(db, tenant, email="kept@example.com")
    server = ThreadServer(database_url).start()
    api = Api(server.base_url)
    checkouts: list[object] = []

    def checked_out(*args: object) -> None:
        checkouts.append(args)

    try:
        patron: Patron = server.app.state.patron  # type: ignore[attr-defined]

        def read() -> None:
            data = api.data(GET_CONTACT_BY_EMAIL, {"email": "kept@example.com"}, token=tenant.token)
            assert data["account"]["contacts"][0]["uuid"] == made.customer.uuid

        read()
        read()  # known now, and the token's principal held: answered on the loop
        kept = patron.kept.connection()
        event.listen(server.db.engine, "checkout", checked_out)
        for _ in range(5):
            read()
        assert checkouts == []
        assert patron.kept.connection() is kept

        driver: Any = kept.connection.driver_connection
        if isinstance(driver, psycopg.Connection):
            with db.read() as other:
                other.execute(
                    text("SELECT pg_terminate_backend(:pid)"), {"pid": driver.info.backend_pid}
                )
        else:
            driver.close()
        read()  # the kept connection fails: the full pipeline answers
        read()
        assert patron.kept.connection() is not kept
    finally:
        if event.contains(server.db.engine, "checkout", checked_out):
            event.remove(server.db.engine, "checkout", checked_out)
        api.close()
        server.stop()
        server.db.dispose()


def test_a_merchants_known_loyaltydish_reads_are_answered_on_the_event_loop(
    database_url: str, db: Database, tenant: Tenant
) -> None:
    """LoyaltyDish's merchant endpoint answers a known read of a token looked up in the last
    second on the loop too (with its kept connection); a consumer's never is."""
    make_contact(db, tenant, email="dish@example.com")
    server = ThreadServer(database_url).start()
    try:
        patron: Patron = server.app.state.patron
        headers = {"Authorization": f"JWT {tenant.token}"}
        body = {"query": "{ consumers(first: 5) { edges { node { email } } } }"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
            answers = [client.post("/compat/loyaltydish/graphql", json=body) for _ in range(4)]
        assert [answer.status_code for answer in answers] == [200] * 4
        assert all(answer.json() == answers[0].json() for answer in answers)
        assert "dish@example.com" in answers[0].text
        assert patron.kept._connection is not None  # borrowed by a read on the loop
    finally:
        patron.kept.drop()
        server.stop()
        server.db.dispose()


# --- run_sql: SQL text on the driver's own cursor (PostgreSQL) ------------------------------


def test_run_sql_answers_what_sqlalchemy_answers(db: Database) -> None:
    query = "SELECT 6 * 7 AS answer, 'x' AS letter UNION ALL SELECT 1, 'y' ORDER BY 1"
    with db.read() as connection:
        expected = [tuple(row) for row in connection.exec_driver_sql(query).all()]
        result = run_sql(connection, query)
        rows = result.all()
        assert [tuple(row) for row in rows] == expected
        assert rows[1].answer == 42
        assert rows[1].letter == "x"
        assert run_sql(connection, query).first() == rows[0]
        assert run_sql(connection, query).scalar() == 1
        assert run_sql(connection, "SELECT 1 WHERE false").first() is None
    with db.read_latest() as connection:
        assert run_sql(connection, "SELECT 41 + 1").scalar() == 42
    with db.write() as connection:
        driver: Any = connection.connection.driver_connection
        run_sql(connection, "SELECT 1")
        if isinstance(driver, psycopg.Connection):
            assert isinstance(run_sql(connection, "SELECT 1"), Rows)  # the driver's cursor
            kept = connection.connection.info["patron_cursor"]
            run_sql(connection, "SELECT 2")
            assert connection.connection.info["patron_cursor"] is kept  # one, kept
            kept.close()
            assert run_sql(connection, "SELECT 3").scalar() == 3  # a closed one is replaced
            assert driver.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS


def test_run_sql_raises_the_errors_sqlalchemy_raises(db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant)
    duplicate = (
        "INSERT INTO customers (account_id, uuid, number, accepts_marketing, verified, archived,"
        " user_type, connected_services, created_at, updated_at) SELECT account_id, uuid, number,"
        " accepts_marketing, verified, archived, user_type, connected_services, created_at,"
        " updated_at FROM customers WHERE uuid = %(uuid)s"
    )
    if db.is_sqlite:
        duplicate = duplicate.replace("%(uuid)s", ":uuid")
    with pytest.raises(IntegrityError), db.write() as connection:
        run_sql(connection, duplicate, {"uuid": contact.customer.uuid})


def test_run_sql_on_a_broken_connection_invalidates_it(postgres_database: str) -> None:
    db = Database(postgres_database, pool_size=2)
    try:
        _ends_a_broken_connection(db)
    finally:
        db.dispose()


def _ends_a_broken_connection(db: Database) -> None:
    with db.write() as connection:
        pid = run_sql(connection, "SELECT pg_backend_pid()").scalar()
        with db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.commit()
        with pytest.raises(DBAPIError) as raised:
            run_sql(connection, "SELECT 1")
        assert raised.value.connection_invalidated
        assert is_store_unavailable(raised.value)
        connection.rollback()
    with db.read() as connection:  # the pool gives a working connection
        assert run_sql(connection, "SELECT 1").scalar() == 1


def test_run_sql_is_seen_by_statement_listeners(db: Database) -> None:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.read() as connection:
            assert run_sql(connection, "SELECT 40 + 2").scalar() == 42
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert "SELECT 40 + 2" in seen


# --- Precompiled: a Core statement run as its text, on both stores ----------------------------


def test_a_precompiled_statement_answers_typed_rows_on_every_connection(
    db: Database, tenant: Tenant
) -> None:
    contact = make_contact(db, tenant)
    statement = Precompiled(
        select(customers.c.uuid, customers.c.created_at, customers.c.verified).where(
            customers.c.account_id == bindparam("account"), customers.c.uuid == bindparam("uuid")
        )
    )
    parameters = {"account": tenant.principal.account_id, "uuid": contact.customer.uuid}
    with db.read() as connection:
        expected = connection.execute(statement.statement, parameters).one()
    assert isinstance(expected.created_at, datetime)
    for reading in (db.read, db.read_latest, db.write):
        with reading() as connection:
            result = statement.execute(connection, parameters)
            if db.is_sqlite or reading is not db.read:
                # The driver's own cursor, not SQLAlchemy's result (inside a transaction, or
                # on a connection that reads without one).
                assert isinstance(result, Rows)
            row = result.first()
            assert tuple(row) == tuple(expected)
            assert row.created_at == expected.created_at
            assert row.verified is False


def test_a_precompiled_write_stays_in_its_transaction(db: Database, tenant: Tenant) -> None:
    contact = make_contact(db, tenant)
    rename = Precompiled(
        update(customers)
        .where(
            customers.c.account_id == bindparam("account"), customers.c.uuid == bindparam("uuid")
        )
        .values(first_name=bindparam("name"))
    )
    parameters = {"account": tenant.principal.account_id, "uuid": contact.customer.uuid}

    def fails_after_the_write() -> None:
        with db.write() as connection:
            assert rename.execute(connection, {**parameters, "name": "Rolled back"}).rowcount == 1
            raise RuntimeError("the transaction fails after the write")

    with pytest.raises(RuntimeError):
        fails_after_the_write()
    with db.write() as connection:
        rename.execute(connection, {**parameters, "name": "Kept"})
    with db.read() as connection:
        names = connection.execute(
            select(customers.c.first_name).where(customers.c.uuid == contact.customer.uuid)
        ).scalar_one()
    assert names == "Kept"
