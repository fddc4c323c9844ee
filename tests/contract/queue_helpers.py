"""Helpers of the queue's contract tests: runs written and read straight through the stores."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tickwork.domain.models import Run
from tickwork.storage.database import Database
from tickwork.storage.enqueue_sql import INSERT_COLUMN_NAMES
from tickwork.storage.queue_sql import ClaimedRun
from tickwork.storage.rows import run_from_row
from tickwork.storage.run_store import RunStore
from tickwork.storage.tables import run_attempts, runs


def run_values(now: datetime, task: str = "noop", **fields: Any) -> dict[str, Any]:
    """The values of one new run, as the enqueue statements take them."""
    values: dict[str, Any] = {
        "task": task,
        "payload": {},
        "status": "queued",
        "trigger": "api",
        "tenant_id": None,
        "queue": "default",
        "priority": 0,
        "max_attempts": 1,
        "retry_backoff": 2.0,
        "retry_backoff_max": 600.0,
        "timeout": None,
        "run_at": now,
        "created_at": now,
        "created_by": "test",
        "key": None,
    }
    unknown = set(fields) - set(values)
    assert not unknown, unknown
    values.update(fields)
    assert set(values) == {*INSERT_COLUMN_NAMES, "key"}
    return values


def enqueue(db: Database, store: RunStore, now: datetime, **fields: Any) -> Run:
    """Enqueue one run (one statement on PostgreSQL) and return it."""
    with db.write_statement() as conn:
        run, created = store.enqueue_audited(
            conn, run_values(now, **fields), actor="test", source="api"
        )
    assert created
    return run


def claim(
    db: Database,
    store: RunStore,
    now: datetime,
    *,
    limit: int = 10,
    token: str = "t1",
    worker_id: str = "w1",
    queues: list[str] | None = None,
) -> list[ClaimedRun]:
    """Claim in a transaction of its own."""
    with db.write(queue=True) as conn:
        return store.claim(
            conn, worker_id=worker_id, token=token, now=now, limit=limit, queues=queues
        )


def get(db: Database, run_id: int) -> Run:
    """A run as stored."""
    with db.read() as conn:
        return run_from_row(conn.execute(sa.select(runs).where(runs.c.id == run_id)).one())


def attempts(db: Database, run_id: int) -> list[tuple[int, str]]:
    """The (attempt, status) rows of a run's earlier attempts."""
    with db.read() as conn:
        rows = conn.execute(
            sa.select(run_attempts.c.attempt, run_attempts.c.status)
            .where(run_attempts.c.run_id == run_id)
            .order_by(run_attempts.c.id)
        )
        return [(row[0], row[1]) for row in rows]


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
