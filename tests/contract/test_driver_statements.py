"""Driver-level statements (``fetch_all``: the enqueue's, the firing's) run on the driver's
cursor but fail as SQLAlchemy statements fail: a driver error arrives as SQLAlchemy's
exception class, and a connection lost under a statement is invalidated so the pool
replaces it."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.support.databases import fresh_pg_database
from tickwork.storage.database import Database
from tickwork.storage.driver_values import fetch_all


def _placeholder(db: Database, name: str) -> str:
    return f":{name}" if db.dialect.is_sqlite else f"%({name})s"


def test_rows_come_back_as_tuples(db: Database) -> None:
    with db.write_statement() as conn:
        rows = fetch_all(conn, f"SELECT 1, {_placeholder(db, 'x')}", {"x": "a"})
    assert [tuple(row) for row in rows] == [(1, "a")]


def test_a_statement_without_rows_returns_none_of_them(db: Database) -> None:
    with db.write() as conn:
        assert fetch_all(conn, "DELETE FROM queue_pauses", {}) == []


def test_a_driver_error_arrives_as_sqlalchemys(db: Database) -> None:
    insert = (
        "INSERT INTO queue_pauses (name, paused_at) "
        f"VALUES ({_placeholder(db, 'name')}, CURRENT_TIMESTAMP)"
    )
    with db.write() as conn:
        fetch_all(conn, insert, {"name": "q"})
    with pytest.raises(IntegrityError), db.write() as conn:
        fetch_all(conn, insert, {"name": "q"})
    # The failed transaction left the first row only, and the pool still works.
    with db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM queue_pauses")).scalar() == 1


def test_a_connection_lost_under_a_statement_is_replaced() -> None:
    url, drop = fresh_pg_database()
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            pid = fetch_all(conn, "SELECT pg_backend_pid()", {})[0][0]
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(DBAPIError) as lost:
                fetch_all(conn, "SELECT 1", {})
            assert lost.value.connection_invalidated
            assert conn.invalidated
        # What the callers see (through Database), and the pool's next connection works.
        assert isinstance(lost.value, sa.exc.OperationalError)
        with db.write_statement() as conn:
            assert fetch_all(conn, "SELECT 1", {})[0][0] == 1
    finally:
        db.dispose()
        drop()
