"""Pooled PostgreSQL connections the server closed are replaced at checkout, without a ping."""

from __future__ import annotations

import psycopg
import sqlalchemy as sa

from tickwork import Tickwork


def test_pooled_postgresql_sessions_the_server_ended_are_replaced(pg_app: Tickwork) -> None:
    app = pg_app

    @app.task("noop")
    def noop() -> None:
        pass

    app.enqueue("noop")
    with app.db.read() as conn:
        database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
        own = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    admin = app.db.engine.url.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin.replace("+psycopg", ""), autocommit=True) as conn:
        ended = conn.execute(
            "SELECT count(*) FROM ("
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()) AS t",
            (database,),
        ).fetchone()
    assert ended is not None
    assert ended[0] >= 1
    # Every pooled session has ended (the call waits for that); the next transactions get
    # fresh ones instead of failing.
    run = app.enqueue("noop")
    assert app.runs.get(run.id).task == "noop"
    with app.db.read() as conn:
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != own
