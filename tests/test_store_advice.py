"""What ``patron serve`` tells an operator about the store's own settings before it serves."""

from __future__ import annotations

from patron.core.db import Database


def test_advice_names_autovacuum_exactly_when_the_server_has_it_off(db: Database) -> None:
    advice = db.advice()
    if db.is_sqlite:
        assert advice == []
        return
    with db.engine.connect() as connection:
        autovacuum = connection.exec_driver_sql("SHOW autovacuum").scalar()
    if autovacuum == "off":
        assert len(advice) == 1
        assert "autovacuum is off" in advice[0]
        assert "ANALYZE" in advice[0]
    else:
        assert advice == []
