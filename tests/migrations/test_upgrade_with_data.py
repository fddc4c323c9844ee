"""Upgrading a database that holds data, from every earlier revision to the newest, on SQLite
and PostgreSQL: every row of every table survives with its values, ids are not reused, the
schema ends as declared, and the app works on the result.

The revisions come from Alembic's script folder, so a new migration is covered as soon as it
exists; a revision that adds a table fails here until :data:`ROWS` holds rows for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from tests.migrations.test_migrations import differences
from tests.support.accounts import FAST_PASSWORDS, PASSWORD
from tests.support.databases import empty_pg_database
from tickwork import Context, FakeClock, Tickwork
from tickwork.auth.tokens import shown_prefix, token_hash
from tickwork.domain.errors import TickworkError
from tickwork.storage import migrate
from tickwork.storage.database import Database
from tickwork.storage.tables import metadata

T0 = datetime(2030, 1, 1, tzinfo=UTC)
TOKEN = "tw_upgrade-test-token-secret-0123456789"


def _at(hour: int, minute: int = 0) -> datetime:
    return T0.replace(hour=hour, minute=minute)


# Rows for every table, as an installation of any earlier version would have them: ids
# given, so they can be checked after the upgrade. Columns a table does not have yet at an
# earlier revision are left out when inserting there.
# fmt: off
ROWS: dict[str, list[dict[str, Any]]] = {
    "schedules": [
        {
            "id": 101,
            "name": "nightly",
            "tenant_id": "acme",
            "task": "noop",
            "payload": {"report": "daily"},
            "trigger": "cron",
            "cron": "0 2 * * *",
            "timezone": "Europe/London",
            "jitter": 0,
            "misfire_policy": "run_once",
            "misfire_grace": 60,
            "misfire_cap": 100,
            "overlap_policy": "allow",
            "run_count": 3,
            "status": "active",
            "next_run_at": _at(2),
            "last_run_at": _at(1),
            "last_status": "succeeded",
            "source": "api",
            "orphaned": False,
            "created_by": "ada",
            "created_at": T0,
            "updated_at": T0,
            "version": 4,
            "alert_after": 3,
            "auto_pause_after": 10,
            "alert_channels": ["ops"],
            "consecutive_failures": 2,
            "metadata": {"team": "payments", "ticket": 42},
            # As 0007 computes it from the runs (for upgrades from a revision that has it).
            "last_success_at": _at(1, 1),
        },
        {
            "id": 102,
            "name": "paused-interval",
            "tenant_id": None,
            "task": "noop",
            "payload": {},
            "trigger": "interval",
            "interval": 300.0,
            "timezone": "UTC",
            "anchor_at": T0,
            "jitter": 5,
            "misfire_policy": "skip",
            "misfire_grace": 30,
            "misfire_cap": 10,
            "overlap_policy": "skip",
            "run_count": 0,
            "status": "paused",
            "pause_note": "vendor maintenance",
            "paused_by": "ada",
            "paused_at": _at(1),
            "windows": [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
            "blackout_dates": ["2030-12-25"],
            "source": "code",
            "orphaned": False,
            "code_hash": "abc123",
            "created_at": T0,
            "updated_at": T0,
            "version": 1,
        },
    ],
    "runs": [
        {
            "id": 201,
            "schedule_id": 101,
            "task": "noop",
            "payload": {"report": "daily"},
            "status": "succeeded",
            "trigger": "cron",
            "tenant_id": "acme",
            "queue": "default",
            "priority": 0,
            "attempt": 1,
            "max_attempts": 3,
            "retry_backoff": 2,
            "retry_backoff_max": 600,
            "run_at": _at(1),
            "scheduled_for": _at(1),
            "created_at": _at(1),
            "started_at": _at(1),
            "finished_at": _at(1, 1),
            "worker_id": "worker-1",
            "result": {"rows": 12},
            "logs": [{"level": "info", "message": "done"}],
            "cancel_requested": False,
        },
        {
            "id": 202,
            "schedule_id": None,
            "task": "noop",
            "payload": {},
            "status": "failed",
            "trigger": "api",
            "queue": "reports",
            "priority": 5,
            "attempt": 2,
            "max_attempts": 2,
            "retry_backoff": 2,
            "retry_backoff_max": 600,
            "run_at": _at(1),
            "created_at": _at(1),
            "finished_at": _at(1, 5),
            "error": "RuntimeError: boom",
            "traceback": "Traceback ...",
            "cancel_requested": False,
            "created_by": "ada",
        },
        {
            "id": 203,
            "schedule_id": None,
            "task": "noop",
            "payload": {"n": 1},
            "status": "queued",
            "trigger": "api",
            "queue": "default",
            "priority": 0,
            "attempt": 1,
            "max_attempts": 1,
            "retry_backoff": 2,
            "retry_backoff_max": 600,
            "run_at": _at(3),
            "created_at": _at(1),
            "key": "only-one",
            "cancel_requested": False,
        },
        {
            "id": 204,
            "schedule_id": 102,
            "task": "noop",
            "payload": {},
            "status": "skipped",
            "trigger": "interval",
            "queue": "default",
            "priority": 0,
            "attempt": 1,
            "max_attempts": 1,
            "retry_backoff": 2,
            "retry_backoff_max": 600,
            "run_at": _at(1),
            "scheduled_for": _at(1),
            "created_at": _at(1),
            "finished_at": _at(1),
            "skip_reason": "missed",
            "details": {"count": 3, "first": "2030-01-01T00:00:00+00:00"},
            "cancel_requested": False,
        },
    ],
    "run_attempts": [
        {
            "id": 301,
            "run_id": 202,
            "attempt": 1,
            "status": "failed",
            "worker_id": "w",
            "started_at": _at(1),
            "finished_at": _at(1, 2),
            "error": "RuntimeError: boom",
            "logs": [{"level": "error", "message": "first try"}],
        },
    ],
    "nodes": [
        {
            "id": "worker:host:1",
            "kind": "worker",
            "hostname": "host",
            "pid": 1,
            "started_at": T0,
            "heartbeat_at": _at(1),
            "info": {"concurrency": 4},
        },
    ],
    "audit_log": [
        {
            "id": 401,
            "at": T0,
            "actor": "ada",
            "source": "api",
            "action": "schedule.update",
            "target_type": "schedule",
            "target_id": "101",
            "tenant_id": "acme",
            "before": {"cron": "0 1 * * *"},
            "after": {"cron": "0 2 * * *"},
        },
    ],
    "users": [
        {
            "id": 501,
            "username": "ada",
            "password_hash": FAST_PASSWORDS.hash(PASSWORD),
            "role": "admin",
            "disabled": False,
            "created_at": T0,
        },
    ],
    "api_tokens": [
        {
            "id": 601,
            "name": "ci",
            "user_id": 501,
            "token_hash": token_hash(TOKEN),
            "prefix": shown_prefix(TOKEN),
            "role": "operator",
            "created_at": T0,
        },
    ],
    "secrets": [{"name": "session_key", "value": "k" * 64, "created_at": T0}],
    "flags": [{"name": "reports", "enabled": False, "updated_at": T0, "updated_by": "ada"}],
    "flows": [
        {
            "id": 701,
            "group": "nightly-etl",
            "schedule_id": 101,
            "scheduled_for": _at(1),
            "tenant_id": "acme",
            "status": "succeeded",
            "trigger": "cron",
            "tasks": None,
            "max_parallel": 4,
            "stagger": 0.5,
            "created_at": _at(1),
            "finished_at": _at(1, 2),
            "created_by": "scheduler",
        },
        {
            "id": 702,
            "status": "skipped",
            "trigger": "api",
            "key": "flow-key",
            "tasks": ["etl.load"],
            "stagger": 0,
            "skip_reason": "overlap",
            "details": {"policy": "skip"},
            "created_at": _at(1),
        },
    ],
    "login_throttle": [
        {
            "key": "user:ada|127.0.0.1",
            "failures": 2,
            "blocked_until": _at(1, 1),
            "last_attempt_at": _at(1),
        },
    ],
    # Issue 11 (revision 0006): for the upgrades from it once a later revision exists.
    "channels": [
        {
            "id": 701,
            "name": "ops",
            "kind": "webhook",
            "url": "https://hooks.example/ops",
            "secret": "s3",
            "created_at": T0,
            "updated_at": T0,
        },
    ],
    "alerts": [
        {
            "id": 801,
            "event": "schedule.failing",
            "subject": "schedule:101",
            "schedule_id": 101,
            "tenant_id": "acme",
            "text": "failing",
            "opened_at": _at(1),
        },
    ],
    "notifications": [
        {
            "id": 901,
            "event_id": "e" * 32,
            "event": "schedule.failing",
            "alert_id": 801,
            "channel_id": 701,
            "channel_name": "ops",
            "body": {"id": "e" * 32, "event": "schedule.failing", "text": "failing"},
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": _at(1),
            "created_at": _at(1),
        },
    ],
    "run_dependencies": [{"run_id": 203, "depends_on": 201, "flow_id": 701}],
    "flow_gate": [{"name": "release", "next_at": _at(1)}],
    "queue_pauses": [
        {"name": "slow", "paused_at": T0, "paused_by": "ada", "note": "upstream down"},
    ],
}
# fmt: on


def earlier_revisions() -> list[str]:
    """Every revision before the newest, oldest first."""
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    head = scripts.get_current_head()
    return [r.revision for r in reversed(list(scripts.walk_revisions())) if r.revision != head]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database without any schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    url, drop = empty_pg_database()
    try:
        yield url
    finally:
        drop()


def _tables(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}


def _fill(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Insert :data:`ROWS` into the tables the database has; return what was inserted."""
    present = _tables(db)
    missing = present - set(ROWS)
    assert not missing, f"add rows for the new tables {sorted(missing)} to ROWS"
    inserted: dict[str, list[dict[str, Any]]] = {}
    with db.engine.begin() as conn:
        inspector = sa.inspect(conn)
        for name in sorted(present):
            columns = {c["name"] for c in inspector.get_columns(name)}
            rows = [{k: v for k, v in row.items() if k in columns} for row in ROWS[name]]
            # The table as this revision has it (a later one may add columns, or an id).
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            for row in rows:
                conn.execute(table.insert(), row)
            inserted[name] = rows
            if db.dialect.is_postgresql and name != "nodes" and "id" in columns:
                # The ids came from the sequence in the installation this stands for.
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT max(id) FROM {name}))"
                    )
                )
    return inserted


@pytest.mark.filterwarnings("ignore:autogenerate skipping")
@pytest.mark.parametrize("revision", earlier_revisions())
def test_upgrade_from_an_earlier_revision_keeps_every_row_and_works(
    empty_database_url: str, revision: str
) -> None:
    db = Database(empty_database_url)
    try:
        migrate.upgrade(db, revision)
        assert migrate.current_revision(db) == revision
        inserted = _fill(db)
        migrate.upgrade(db)
        assert migrate.is_current(db)
        assert differences(db) == []
        with db.engine.connect() as conn:
            for name, rows in inserted.items():
                # Matched on every inserted column, so a row a revision gave a new key
                # (flags gained an id in 0005) is still found.
                found = list(conn.execute(sa.select(metadata.tables[name])).mappings())
                assert len(found) == len(rows), name
                for row in rows:
                    assert any({k: kept[k] for k in row} == row for kept in found), (name, row)
    finally:
        db.dispose()
    _the_app_works_on(empty_database_url, revision)


def _the_app_works_on(url: str, revision: str) -> None:
    clock = FakeClock(_at(2, 30))
    app = Tickwork(url, clock=clock)

    @app.task("noop", group="g")
    def noop(ctx: Context) -> None:
        return None

    try:
        nightly = app.schedules.get(101)
        assert nightly.name == "nightly"
        if revision < "0007":
            # 0007 found the latest success among the schedule's runs (rows inserted at
            # 0007 or later have none to find).
            assert nightly.last_success_at == _at(1, 1)
        assert app.runs.get(202).error == "RuntimeError: boom"
        assert [a.attempt for a in app.runs.attempts(202)] == [1]
        # A key still held by a pending run keeps it.
        assert app.enqueue("noop", key="only-one").id == 203
        # The due fire time of the active schedule fires once; new ids follow the old ones.
        report = app.scheduler().tick()
        assert report.runs == 1
        (fired,) = [r for r in app.runs.list(schedule_id=101) if r.scheduled_for == _at(2)]
        assert fired.id > 204
        assert app.enqueue("noop").id > fired.id
        # One run per fire time, still: a second run for 01:00 is refused.
        with pytest.raises((sa.exc.IntegrityError, TickworkError)), app.db.write() as conn:
            conn.execute(
                metadata.tables["runs"].insert(),
                {**ROWS["runs"][0], "id": 999, "status": "queued"},
            )
        flow = app.flows.start(group="g")
        app.worker().run_until_idle(30)
        assert app.runs.get(fired.id).status.value == "succeeded"
        assert app.flows.get(flow.id).status.value == "succeeded"
    finally:
        app.close()
