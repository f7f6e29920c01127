"""Reads without a transaction (``Database.connect_latest``) send their statements and nothing
else: no BEGIN/COMMIT pair on PostgreSQL, and on SQLite no pragma, which would expire every
statement the connection has prepared and make each request compile its SQL again."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from patron.core.db import Database


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
