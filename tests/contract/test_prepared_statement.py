"""PostgreSQL's single enqueue runs on libpq's prepared-statement protocol
(:mod:`tickwork.storage.pg_prepared`): prepared once per connection and again when the
server forgot it, its parameters sent as text, and its failures those of any statement (a
lost connection replaced, a missing schema named)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest
import sqlalchemy as sa

from tests.support.databases import pg_admin, pg_url
from tests.support.requirements import require
from tickwork import Tickwork
from tickwork.domain.errors import SchemaNotCurrentError
from tickwork.storage import pg_prepared
from tickwork.storage.driver_values import fetch_all
from tickwork.storage.pg_prepared import PreparedStatement, _text


def _app(url: str) -> Tickwork:
    app = Tickwork(url)

    @app.task("noop")
    def noop(ctx: object, payload: dict[str, object]) -> None:
        """Never executed here."""

    return app


def _backend_pid(app: Tickwork) -> int:
    with app.db.write_statement() as conn:
        return int(fetch_all(conn, "SELECT pg_backend_pid()", {})[0][0])


@pytest.fixture
def app(pg_database_url: str) -> Iterator[Tickwork]:
    """An app with a ``noop`` task on a fresh PostgreSQL database."""
    tickwork = _app(pg_database_url)
    yield tickwork
    tickwork.close()


def test_every_field_comes_back_as_written(app: Tickwork) -> None:
    run_at = datetime(2031, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=5)))
    run = app.enqueue(
        "noop",
        {"text": "é ✓ 'quoted' \\ back", "n": 1.5, "deep": [None, True]},
        run_at=run_at,
        key="k-1",
        queue="reports",
        priority=-7,
        max_attempts=4,
        timeout=2.25,
        tenant_id="acme",
    )
    stored = app.runs.get(run.id)
    assert (stored.payload, stored.key, stored.queue, stored.priority) == (
        {"text": "é ✓ 'quoted' \\ back", "n": 1.5, "deep": [None, True]},
        "k-1",
        "reports",
        -7,
    )
    assert (stored.max_attempts, stored.timeout, stored.tenant_id) == (4, 2.25, "acme")
    assert stored.run_at == run_at.astimezone(UTC)
    # The same key while the run is pending returns it.
    assert app.enqueue("noop", key="k-1", tenant_id="acme").id == run.id


def test_a_statement_the_server_forgot_is_prepared_again(app: Tickwork) -> None:
    first = app.enqueue("noop")
    pid = _backend_pid(app)
    with app.db.write_statement() as conn:
        fetch_all(conn, "DEALLOCATE ALL", {})
    second = app.enqueue("noop")
    # On the same connection: the statement was prepared there again.
    assert _backend_pid(app) == pid
    assert second.id == first.id + 1


def test_a_connection_lost_under_the_statement_is_replaced(
    app: Tickwork, pg_database_url: str
) -> None:
    statement = PreparedStatement("tickwork_test_one", "SELECT CAST(%(x)s AS int) + 1")
    with app.db.write_statement() as conn:
        assert statement.rows(conn, {"x": 1}) == [[b"2"]]
        pid = fetch_all(conn, "SELECT pg_backend_pid()", {})[0][0]
        with psycopg.connect(pg_database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(sa.exc.OperationalError) as lost:
            statement.rows(conn, {"x": 1})
        assert lost.value.connection_invalidated
        assert conn.invalidated
    # The pool's next connection prepares the statements again and works.
    with app.db.write_statement() as conn:
        assert statement.rows(conn, {"x": 2}) == [[b"3"]]
    assert app.enqueue("noop").id > 0
    assert _backend_pid(app) != pid


def test_a_statement_error_arrives_as_sqlalchemys(app: Tickwork) -> None:
    statement = PreparedStatement("tickwork_test_cast", "SELECT CAST(%(x)s AS int)")
    with pytest.raises(sa.exc.DataError), app.db.write_statement() as conn:
        statement.rows(conn, {"x": "not a number"})
    with app.db.write_statement() as conn:
        assert statement.rows(conn, {"x": "5"}) == [[b"5"]]


def test_an_interrupted_statement_does_not_go_back_to_the_pool(
    app: Tickwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.enqueue("noop")
    pid = _backend_pid(app)
    waits = []

    def interrupted(fd: int, event: int) -> None:
        waits.append(event)
        raise KeyboardInterrupt

    monkeypatch.setattr(pg_prepared, "_wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        app.enqueue("noop", {"slow": True})
    monkeypatch.undo()
    assert waits
    # The connection was mid-command: a fresh one serves the next enqueue.
    assert app.enqueue("noop").id > 0
    assert _backend_pid(app) != pid


def test_a_forgotten_statement_inside_a_transaction_fails_it(app: Tickwork) -> None:
    """Inside a transaction the failed call aborted it: there is nothing to retry on."""
    statement = PreparedStatement("tickwork_test_tx", "SELECT CAST(%(x)s AS int)")
    with app.db.write() as conn:
        assert statement.rows(conn, {"x": "1"}) == [[b"1"]]
        fetch_all(conn, "DEALLOCATE ALL", {})
        with pytest.raises(sa.exc.ProgrammingError, match="does not exist"):
            statement.rows(conn, {"x": "2"})
        conn.rollback()
    with app.db.write_statement() as conn:
        assert statement.rows(conn, {"x": "3"}) == [[b"3"]]


def test_a_database_without_the_schema_is_named() -> None:
    require("postgresql")
    name = f"tw_test_{uuid.uuid4().hex[:12]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    app = _app(pg_url(name))
    try:
        with pytest.raises(SchemaNotCurrentError, match="tickwork migrate"):
            app.enqueue("noop")
    finally:
        app.close()
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_parameters_travel_as_postgresqls_text() -> None:
    moment = datetime(2026, 11, 30, 12, 0, 0, 5, tzinfo=UTC)
    assert [_text(v) for v in (None, True, False, 7, -1.5, "ä", moment)] == [
        None,
        b"true",
        b"false",
        b"7",
        b"-1.5",
        "ä".encode(),
        b"2026-11-30T12:00:00.000005+00:00",
    ]
    with pytest.raises(psycopg.DataError):
        _text("a\x00b")
    with pytest.raises(TypeError):
        _text(object())


def test_placeholders_become_numbered_parameters_once_per_name() -> None:
    statement = PreparedStatement("s", "SELECT %(a)s, %(b)s, %(a)s")
    assert statement.sql == b"SELECT $1, $2, $1"
    assert statement.parameters == ["a", "b"]
