"""Finding 14: ids are never handed out twice, on SQLite (AUTOINCREMENT) as on PostgreSQL
(sequences), and migration 0005 fixes SQLite files made before it without losing a row,
an index or a unique constraint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.accounts import ADMIN_ACTOR
from tests.support.databases import empty_pg_database
from tests.support.web import Api
from tickwork.storage import migrate
from tickwork.storage.database import Database

ID_TABLES = ("schedules", "runs", "run_attempts", "audit_log", "users", "api_tokens", "flags")
AT = datetime(2029, 6, 1, 12, 0, tzinfo=UTC)


def _max_id(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT max(id) FROM {table}").scalar_one())


def _delete(db: Database, table: str, row_id: int) -> None:
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM {table} WHERE id = {int(row_id)}")


def test_a_deleted_rows_id_is_never_handed_out_again(api: Api) -> None:
    app, db = api.app, api.app.db
    makers = {
        "schedules": lambda n: (
            app.schedules.create(name=f"s{n}", task="greet", interval=60, actor=ADMIN_ACTOR).id
        ),
        "runs": lambda n: app.enqueue("greet", actor=ADMIN_ACTOR).id,
        "users": lambda n: (
            app.users.create_user(ADMIN_ACTOR, f"u{n}", password="long enough pw")[0].id
        ),
        "api_tokens": lambda n: app.tokens.create_token(ADMIN_ACTOR, f"t{n}")[0].id,
        "flags": lambda n: (
            app.flags.set(ADMIN_ACTOR, f"f{n}", True),
            _max_id(db, "flags"),
        )[1],
    }
    for table, make in makers.items():
        first = make(1)
        _delete(db, table, first)
        second = make(2)
        assert second > first, (table, first, second)
    # Through the service too: a new schedule never inherits a deleted one's history.
    old = app.schedules.create(name="old", task="greet", interval=60, actor=ADMIN_ACTOR)
    run = app.schedules.run_now(old.id, actor=ADMIN_ACTOR)
    app.schedules.delete(old.id, actor=ADMIN_ACTOR)
    new = app.schedules.create(name="new", task="greet", interval=60, actor=ADMIN_ACTOR)
    assert new.id > old.id
    assert app.runs.list(schedule_id=new.id) == []
    assert app.runs.get(run.id).schedule_id == old.id
    for table in ("audit_log", "run_attempts"):
        with db.engine.connect() as conn:
            ddl = _table_sql(conn, db, table)
        if db.dialect.is_sqlite:
            assert "AUTOINCREMENT" in ddl, table


def _table_sql(conn: sa.Connection, db: Database, table: str) -> str:
    if db.dialect.is_sqlite:
        return str(
            conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).scalar_one()
        )
    return str(
        conn.exec_driver_sql(
            "SELECT column_default FROM information_schema.columns "
            f"WHERE table_name = '{table}' AND column_name = 'id'"
        ).scalar_one()
    )


# -- the migration, from a database made at 0004 with rows in it -----------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0004(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database migrated to 0004 (the head before 0005) by the 0004 migrations."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'old.db'}")
        migrate.upgrade(db, "0004")
        yield db
        db.dispose()
        return
    url, drop = empty_pg_database()
    db = Database(url)
    try:
        migrate.upgrade(db, "0004")
        yield db
    finally:
        db.dispose()
        drop()


def _seed_0004(db: Database) -> None:
    """Rows as 0004 knew them; schedule 3 was deleted but runs and audit entries name it."""
    with db.engine.begin() as conn:
        meta = sa.MetaData()
        table = {
            name: sa.Table(name, meta, autoload_with=conn)
            for name in (*ID_TABLES, "nodes", "secrets")
        }
        schedule = {
            "task": "greet",
            "payload": {"name": "x"},
            "trigger": "interval",
            "interval": 60.0,
            "timezone": "UTC",
            "misfire_policy": "skip",
            "misfire_grace": 60.0,
            "misfire_cap": 10,
            "overlap_policy": "allow",
            "status": "active",
            "source": "api",
            "created_at": AT,
            "updated_at": AT,
        }
        conn.execute(
            table["schedules"].insert(),
            [
                {**schedule, "id": 1, "name": "alpha", "tenant_id": "acme"},
                {**schedule, "id": 2, "name": "beta", "tenant_id": None},
                {**schedule, "id": 3, "name": "gamma", "tenant_id": "globex"},
            ],
        )
        run = {
            "task": "greet",
            "payload": {},
            "status": "succeeded",
            "trigger": "manual",
            "run_at": AT,
            "created_at": AT,
        }
        conn.execute(
            table["runs"].insert(),
            [
                {**run, "id": 1, "schedule_id": 1, "key": None, "tenant_id": "acme"},
                {**run, "id": 2, "schedule_id": 3, "key": None, "tenant_id": "globex"},
                {**run, "id": 3, "schedule_id": None, "key": "k1", "tenant_id": "acme"},
            ],
        )
        conn.execute(
            table["run_attempts"].insert(),
            [{"id": 1, "run_id": 2, "attempt": 1, "status": "failed"}],
        )
        conn.execute(
            table["users"].insert(),
            [
                {
                    "id": 1,
                    "username": "root",
                    "password_hash": "x",
                    "role": "admin",
                    "created_at": AT,
                },
                {
                    "id": 2,
                    "username": "gone",
                    "password_hash": "x",
                    "role": "viewer",
                    "created_at": AT,
                },
            ],
        )
        conn.execute(
            table["api_tokens"].insert(),
            [
                {
                    "id": 1,
                    "name": "ci",
                    "user_id": 2,
                    "token_hash": "h1",
                    "prefix": "tw_x",
                    "role": "viewer",
                    "created_at": AT,
                }
            ],
        )
        conn.execute(
            table["audit_log"].insert(),
            [
                {
                    "id": 1,
                    "at": AT,
                    "actor": "a",
                    "source": "api",
                    "action": "schedule.delete",
                    "target_type": "schedule",
                    "target_id": "4",
                },
                {
                    "id": 2,
                    "at": AT,
                    "actor": "a",
                    "source": "api",
                    "action": "token.revoke",
                    "target_type": "token",
                    "target_id": "7",
                },
            ],
        )
        conn.execute(
            table["flags"].insert(),
            [{"name": "reports", "enabled": True, "description": "d", "updated_at": AT}],
        )
        conn.execute(table["users"].delete().where(table["users"].c.id == 2))


def _dump(db: Database) -> dict[str, list[dict[str, Any]]]:
    with db.engine.connect() as conn:
        meta = sa.MetaData()
        found = {}
        for name in (*ID_TABLES, "nodes", "secrets"):
            table = sa.Table(name, meta, autoload_with=conn)
            order = table.c.id if "id" in table.c else table.c.name
            rows = [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(order))]
            if name == "flags":
                rows = [{k: v for k, v in r.items() if k not in ("id", "tenant_id")} for r in rows]
            found[name] = rows
        return found


def _indexes(db: Database) -> dict[str, str]:
    with db.engine.connect() as conn:
        if db.dialect.is_sqlite:
            rows = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            ).all()
        else:
            rows = conn.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
            ).all()
        return {str(r[0]): str(r[1]) for r in rows}


def test_migration_0005_keeps_every_row_and_index_and_retires_old_ids(
    database_at_0004: Database,
) -> None:
    db = database_at_0004
    _seed_0004(db)
    before, indexes_before = _dump(db), _indexes(db)
    # Up to 0005 only: later revisions add columns of their own to these tables.
    migrate.upgrade(db, "0005")
    assert _dump(db) == before
    indexes_after = _indexes(db)
    changed = {"ux_runs_key", "uq_schedules_name", "pk_flags"}
    kept = {n: sql for n, sql in indexes_before.items() if n not in changed}
    assert {n: indexes_after.get(n) for n in kept} == kept
    assert {"ux_runs_key", "ux_schedules_tenant_name", "ux_flags_tenant_name"} <= set(indexes_after)
    with db.engine.connect() as conn:
        if db.dialect.is_sqlite:
            for table in ID_TABLES:
                assert "AUTOINCREMENT" in _table_sql(conn, db, table), table
            uniques = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                "AND name LIKE 'sqlite_autoindex_%'"
            ).scalar_one()
            assert uniques >= 3  # users.username, api_tokens.token_hash, login_throttle.key
    # New rows get ids above every id a row still refers to.
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO schedules (name, task, payload, trigger, timezone, misfire_policy, "
            "misfire_grace, misfire_cap, overlap_policy, status, source, created_at, "
            "updated_at) VALUES ('new', 'greet', '{}', 'manual', 'UTC', 'skip', 60, 10, "
            "'allow', 'active', 'api', '2029-06-02 00:00:00', '2029-06-02 00:00:00')"
        )
        new_schedule = conn.exec_driver_sql("SELECT max(id) FROM schedules").scalar_one()
        conn.exec_driver_sql(
            "INSERT INTO users (username, password_hash, role, created_at) "
            "VALUES ('newbie', 'x', 'viewer', '2029-06-02 00:00:00')"
        )
        new_user = conn.exec_driver_sql("SELECT max(id) FROM users").scalar_one()
    assert new_schedule > 4  # 3 was deleted, 4 is named by the audit log
    assert new_user > 2  # 2 was deleted, a token still points at it
    # What 0005 allows: the same name and key in another tenant.
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO flags (name, tenant_id, enabled, updated_at) "
            "VALUES ('reports', 'acme', false, '2029-06-02 00:00:00')"
        )
    with pytest.raises(RuntimeError, match="several tenants"):
        migrate.downgrade(db, "0004")


def test_migration_0005_goes_back_when_no_names_are_shared(database_at_0004: Database) -> None:
    db = database_at_0004
    _seed_0004(db)
    before = _dump(db)
    migrate.upgrade(db, "0005")
    migrate.downgrade(db, "0004")
    assert _dump(db) == before
    migrate.upgrade(db, "0005")
    assert _dump(db) == before
