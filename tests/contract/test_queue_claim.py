"""The claim statement, straight through the store: order, batch size, queue routing, the
row it returns, and that no run is ever claimed twice (``SKIP LOCKED`` on PostgreSQL, the
file lock on SQLite)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from tickwork import FakeClock
from tickwork.storage.database import Database
from tickwork.storage.firing_sql import insert_fired_runs
from tickwork.storage.queue_sql import ClaimedRun
from tickwork.storage.run_store import RunStore

from .queue_helpers import claim, enqueue, get, seconds


def test_claim_takes_the_highest_priority_then_the_earliest_run_at(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    now = clock.now()
    made = {
        name: enqueue(db, store, now, task=name, priority=priority, run_at=now - seconds(ago))
        for name, priority, ago in [
            ("low-old", 0, 40),
            ("high-new", 5, 10),
            ("high-old", 5, 20),
            ("low-oldest", 0, 50),
            ("negative-oldest", -1, 90),
        ]
    }
    enqueue(db, store, now, task="later", priority=10, run_at=now + seconds(60))
    taken = claim(db, store, now, limit=3)
    assert [r.task for r in taken] == ["high-old", "high-new", "low-oldest"]
    assert [r.task for r in claim(db, store, now, limit=10, token="t2")] == [
        "low-old",
        "negative-oldest",
    ]
    assert {r.id for r in taken} <= {run.id for run in made.values()}
    # A run is claimable from its run_at on, not before.
    assert claim(db, store, now + seconds(59), token="t3") == []
    assert [r.task for r in claim(db, store, now + seconds(60), token="t4")] == ["later"]


def test_claim_takes_at_most_its_limit(db: Database, store: RunStore, clock: FakeClock) -> None:
    now = clock.now()
    for _ in range(5):
        enqueue(db, store, now)
    sizes = [len(claim(db, store, now, limit=2, token=f"t{i}")) for i in range(4)]
    assert sizes == [2, 2, 1, 0]


def test_claim_routes_by_queue(db: Database, store: RunStore, clock: FakeClock) -> None:
    now = clock.now()
    for queue in ("mail", "reports", "default", "mail"):
        enqueue(db, store, now, queue=queue)
    assert [r.queue for r in claim(db, store, now, queues=["mail"])] == ["mail", "mail"]
    assert claim(db, store, now, queues=["mail"], token="t2") == []
    assert [r.queue for r in claim(db, store, now, queues=["reports", "x"], token="t3")] == [
        "reports"
    ]
    assert [r.queue for r in claim(db, store, now, token="t4")] == ["default"]


def test_a_claimed_row_carries_every_field_as_stored(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    now = clock.now()
    run = enqueue(
        db,
        store,
        now,
        task="report",
        payload={"id": "weekly", "nested": {"copies": [1, 2]}},
        tenant_id="acme",
        queue="reports",
        priority=7,
        max_attempts=3,
        retry_backoff=1.5,
        retry_backoff_max=30.0,
        timeout=12.5,
        run_at=now - seconds(1),
        key="weekly-report",
    )
    clock.advance(2)
    (claimed,) = claim(db, store, clock.now(), token="tok", worker_id="w-9")
    stored = get(db, run.id)
    # The claim's own values, and the rest exactly as stored, field by field.
    assert (claimed.status, claimed.started_at, claimed.worker_id, claimed.token) == (
        "running",
        clock.now(),
        "w-9",
        "tok",
    )
    for name in ClaimedRun._fields:
        value = getattr(stored, name)
        assert getattr(claimed, name) == (value.value if hasattr(value, "value") else value), name
    assert isinstance(claimed.retry_backoff, float)
    assert isinstance(claimed.timeout, float)
    assert claimed.run_at.tzinfo is UTC
    assert claimed.cancel_requested is False
    assert claimed.scheduled_for is None


def test_a_claim_sees_cancel_requested_and_a_fire_time(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    now = clock.now()
    fire_time = datetime(2029, 12, 31, 23, 59, tzinfo=UTC)
    with db.write() as conn:
        row = {
            "schedule_id": 4,
            "task": "noop",
            "payload": {},
            "status": "queued",
            "trigger": "cron",
            "queue": "default",
            "priority": 0,
            "max_attempts": 1,
            "retry_backoff": 2,
            "retry_backoff_max": 600,
            "run_at": fire_time,
            "scheduled_for": fire_time,
            "created_at": now,
        }
        assert insert_fired_runs(conn, db.dialect, [row]) == 1
    (claimed,) = claim(db, store, now)
    assert (claimed.schedule_id, claimed.scheduled_for, claimed.trigger) == (4, fire_time, "cron")
    assert claimed.retry_backoff == 2.0
    assert isinstance(claimed.retry_backoff, float)


def test_a_second_claimer_never_takes_a_run_the_first_holds(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    now = clock.now()
    ids = {enqueue(db, store, now).id for _ in range(5)}
    second: list[ClaimedRun] = []

    def claim_the_rest() -> None:
        second.extend(claim(db, store, now, limit=10, token="t2", worker_id="w2"))

    claimer = threading.Thread(target=claim_the_rest)
    with db.write(queue=True) as conn:
        first = store.claim(conn, worker_id="w1", token="t1", now=now, limit=2)
        claimer.start()
        if db.dialect.supports_skip_locked:
            # PostgreSQL: the second claim skips the rows the first has locked, at once.
            claimer.join(10)
            assert not claimer.is_alive()
        # SQLite: the second claim waits for the file lock, taken until this commits.
    claimer.join(10)
    assert not claimer.is_alive()
    assert len(first) == 2
    assert len(second) == 3
    assert {r.id for r in first} | {r.id for r in second} == ids
    assert {get(db, r.id).token for r in first} == {"t1"}
    assert {get(db, r.id).token for r in second} == {"t2"}


def test_concurrent_claimers_take_each_run_exactly_once(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    now = clock.now()
    ids = [enqueue(db, store, now).id for _ in range(40)]
    taken: list[list[int]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            while batch := claim(db, store, now, limit=3, token=f"t{index}"):
                taken[index].extend(r.id for r in batch)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    claimed = [run_id for batch in taken for run_id in batch]
    assert sorted(claimed) == sorted(ids)
