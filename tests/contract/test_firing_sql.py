"""The scheduler's statements, straight through the stores: a fire time gets one run ever
(the unique ``(schedule_id, scheduled_for)`` key makes a second insert a no-op, even from a
scheduler that bypassed the locks), and a schedule advances in the transaction of its
fire."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tickwork import FakeClock
from tickwork.storage import firing_sql
from tickwork.storage.database import Database
from tickwork.storage.run_store import RunStore
from tickwork.storage.schedule_store import FireUpdate, ScheduleStore
from tickwork.storage.tables import runs, schedules

from .queue_helpers import seconds


def add_schedule(db: Database, name: str, now: datetime, next_run_at: datetime) -> int:
    values = {
        "name": name,
        "task": "noop",
        "payload": {},
        "trigger": "interval",
        "interval": 10.0,
        "misfire_policy": "run_once",
        "misfire_grace": 60.0,
        "misfire_cap": 10,
        "overlap_policy": "allow",
        "status": "active",
        "source": "api",
        "next_run_at": next_run_at,
        "created_at": now,
        "updated_at": now,
    }
    with db.write() as conn:
        return ScheduleStore(db.dialect).insert(conn, values).id


def fired(schedule_id: int, fire_time: datetime, now: datetime, **fields: Any) -> dict[str, Any]:
    """A fired run's row, as the scheduler writes it (missing columns are NULL)."""
    return {
        "schedule_id": schedule_id,
        "task": "noop",
        "payload": {},
        "status": "queued",
        "trigger": "interval",
        "queue": "default",
        "priority": 0,
        "max_attempts": 1,
        "retry_backoff": 2.0,
        "retry_backoff_max": 600.0,
        "run_at": fire_time,
        "scheduled_for": fire_time,
        "created_at": now,
        **fields,
    }


def runs_of(db: Database, schedule_id: int) -> list[tuple[datetime, str]]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(runs.c.scheduled_for, runs.c.status)
            .where(runs.c.schedule_id == schedule_id)
            .order_by(runs.c.scheduled_for)
        )
        return [(row[0], row[1]) for row in rows]


def schedule_state(db: Database, schedule_id: int) -> tuple[Any, ...]:
    with db.read() as conn:
        return tuple(
            conn.execute(
                sa.select(
                    schedules.c.next_run_at,
                    schedules.c.status,
                    schedules.c.run_count,
                    schedules.c.last_run_at,
                ).where(schedules.c.id == schedule_id)
            ).one()
        )


def test_a_fire_time_gets_one_run_however_often_it_is_inserted(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    now = clock.now()
    first, second = now + seconds(10), now + seconds(20)
    with db.write() as conn:
        assert store.insert_fired(conn, [fired(1, first, now)]) == 1
    with db.write() as conn:
        assert store.insert_fired(conn, [fired(1, first, now), fired(1, second, now)]) == 1
        # The same fire time of another schedule is another run.
        assert store.insert_fired(conn, [fired(2, first, now)]) == 1
    assert runs_of(db, 1) == [(first, "queued"), (second, "queued")]
    # A skipped fire time holds its place as well.
    with db.write() as conn:
        skipped = fired(3, first, now, status="skipped", skip_reason="window", finished_at=now)
        assert store.insert_fired(conn, [skipped]) == 1
        assert store.insert_fired(conn, [fired(3, first, now)]) == 0
    assert runs_of(db, 3) == [(first, "skipped")]


def test_a_concurrent_insert_of_the_same_fire_time_is_a_no_op(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    now = clock.now()
    fire_time = now + seconds(10)
    results: list[int] = []

    def second_scheduler() -> None:
        with db.write() as conn:
            results.append(store.insert_fired(conn, [fired(1, fire_time, now)]))

    other = threading.Thread(target=second_scheduler)
    with db.write() as conn:
        assert store.insert_fired(conn, [fired(1, fire_time, now)]) == 1
        # The other waits: for this row's unique key (PostgreSQL) or the file (SQLite).
        other.start()
        other.join(0.2)
        assert other.is_alive()
    other.join(10)
    assert results == [0]
    assert runs_of(db, 1) == [(fire_time, "queued")]


def test_advance_sets_the_next_fire_time_and_keeps_last_run_at_unless_given(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    schedule_id = add_schedule(db, "s", now, now)
    store = ScheduleStore(db.dialect)
    with db.write() as conn:
        store.apply_fires(conn, [FireUpdate(schedule_id, now + seconds(10), "active", 1, now)], now)
    assert schedule_state(db, schedule_id) == (now + seconds(10), "active", 1, now)
    with db.write() as conn:
        store.apply_fires(conn, [FireUpdate(schedule_id, None, "completed", 2, None)], now)
    assert schedule_state(db, schedule_id) == (None, "completed", 2, now)


def test_a_fire_inserts_runs_and_advances_schedules_in_one_transaction(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    fired_id = add_schedule(db, "fired", now, now)
    later_id = add_schedule(db, "later", now, now + seconds(25))
    store = ScheduleStore(db.dialect)
    advance = FireUpdate(fired_id, now + seconds(10), "active", 1, now)

    def fire_then_fail() -> None:
        with db.write() as conn:
            store.record_fires(conn, [fired(fired_id, now, now)], [advance])
            raise RuntimeError("the transaction ends without a commit")

    with pytest.raises(RuntimeError):
        fire_then_fail()
    # Neither the run nor the advance survives without the other.
    assert runs_of(db, fired_id) == []
    assert schedule_state(db, fired_id) == (now, "active", 0, None)
    with db.write() as conn:
        inserted, next_due = store.record_fires(conn, [fired(fired_id, now, now)], [advance])
    assert (inserted, next_due) == (1, now + seconds(10))
    assert runs_of(db, fired_id) == [(now, "queued")]
    assert schedule_state(db, fired_id) == (now + seconds(10), "active", 1, now)
    # The next due time counts the schedules the fire left alone...
    advance = FireUpdate(fired_id, now + seconds(30), "active", 2, now + seconds(10))
    with db.write() as conn:
        inserted, next_due = store.record_fires(
            conn, [fired(fired_id, now + seconds(10), now)], [advance]
        )
    assert (inserted, next_due) == (1, now + seconds(25))
    # ... and not those that stopped.
    with db.write() as conn:
        _, next_due = store.record_fires(
            conn, [], [FireUpdate(later_id, now + seconds(5), "paused", 0, None)]
        )
    assert next_due == now + seconds(30)


def test_a_fire_time_fired_twice_still_advances_its_schedule(
    db: Database, clock: FakeClock
) -> None:
    now = clock.now()
    schedule_id = add_schedule(db, "s", now, now)
    with db.write() as conn:
        assert firing_sql.insert_fired_runs(conn, db.dialect, [fired(schedule_id, now, now)]) == 1
    advance = {
        "id": schedule_id,
        "next_run_at": now + seconds(10),
        "status": "active",
        "run_count": 1,
        "last_run_at": now,
    }
    with db.write() as conn:
        inserted, next_due = firing_sql.fire_schedules(
            conn, db.dialect, [fired(schedule_id, now, now)], [advance], "tickwork_runs"
        )
    assert (inserted, next_due) == (0, now + seconds(10))
    assert runs_of(db, schedule_id) == [(now, "queued")]
    assert schedule_state(db, schedule_id) == (now + seconds(10), "active", 1, now)
