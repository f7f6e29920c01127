"""Alembic environment: Patron's metadata, on SQLite (batch mode) or PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from patron.core.db import normalise_url, postgresql_connect_args
from patron.core.migrate import size_new_sqlite_pages
from patron.tables import metadata

config = context.config


def run_migrations() -> None:
    url = normalise_url(config.get_main_option("sqlalchemy.url") or "")
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connect_args = (
        postgresql_connect_args(
            url, prepared_statements=config.attributes.get("prepared_statements", True)
        )
        if url.startswith("postgresql")
        else {}
    )
    engine = create_engine(url, poolclass=pool.NullPool, connect_args=connect_args)
    if engine.dialect.name == "sqlite":
        size_new_sqlite_pages(engine)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
