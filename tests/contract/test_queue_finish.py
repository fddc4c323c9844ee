"""Outcomes, heartbeats, rescue and release, straight through the store: every change to a
running attempt is fenced by its token, so a superseded attempt changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tickwork import FakeClock
from tickwork.domain.models import RunStatus
from tickwork.storage.database import Database
from tickwork.storage.queue_sql import _FINISH_POSTGRESQL, Outcome, OutcomeValues
from tickwork.storage.run_store import RunStore
from tickwork.storage.tables import runs

from .queue_helpers import attempts, claim, enqueue, get, seconds


def succeeded(run_id: int, token: str, at: datetime, **fields: Any) -> Outcome:
    return Outcome(run_id, token, RunStatus.SUCCEEDED, at, **fields)


def test_an_outcome_travels_as_the_finish_statements_read_it() -> None:
    at = datetime(2030, 1, 1, 0, 0, 1, 500, tzinfo=UTC)
    retry_at = datetime(2030, 1, 1, 0, 1, tzinfo=UTC)
    failed = Outcome(
        7, "tok", RunStatus.FAILED, at, {"r": 1}, [{"m": "x"}], error="e", traceback="tb"
    )
    values = OutcomeValues(*failed.as_values())
    assert values == OutcomeValues(
        id=7,
        token="tok",
        status="failed",
        finished_at=1_893_456_001_000_500,
        result={"r": 1},
        logs=[{"m": "x"}],
        error="e",
        traceback="tb",
        run_at=None,
        next_attempt=0,
    )
    retried = OutcomeValues(
        *Outcome(7, "tok", RunStatus.RETRYING, at, error="e", retry_at=retry_at).as_values()
    )
    assert (retried.finished_at, retried.run_at, retried.next_attempt) == (
        None,
        1_893_456_060_000_000,
        1,
    )


def test_finish_records_an_outcome_once_under_its_token(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    run = enqueue(db, store, clock.now())
    (claimed,) = claim(db, store, clock.now(), token="t1", worker_id="w1")
    clock.advance(3)
    with db.write(queue=True) as conn:
        assert store.finish(conn, [succeeded(run.id, "wrong", clock.now())]) == []
        (finished,) = store.finish(
            conn, [succeeded(run.id, "t1", clock.now(), result={"ok": True}, logs=[{"m": 1}])]
        )
    assert (finished.id, finished.status, finished.attempt, finished.worker_id) == (
        run.id,
        "succeeded",
        1,
        "w1",
    )
    assert finished.started_at == claimed.started_at
    done = get(db, run.id)
    assert (done.status, done.finished_at, done.result, done.logs) == (
        RunStatus.SUCCEEDED,
        clock.now(),
        {"ok": True},
        [{"m": 1}],
    )
    # The same outcome again (a retried write) is refused: the run is no longer running.
    with db.write(queue=True) as conn:
        assert store.finish(conn, [succeeded(run.id, "t1", clock.now())]) == []


def test_finish_refuses_a_superseded_attempt(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    run = enqueue(db, store, clock.now(), max_attempts=2)
    claim(db, store, clock.now(), token="t1")
    clock.advance(31)
    with db.write() as conn:
        (stalled,) = store.lock_stalled(conn, clock.now() - seconds(30))
        assert store.rescue(conn, stalled, clock.now()) == "queued"
    claim(db, store, clock.now(), token="t2")
    with db.write(queue=True) as conn:
        assert store.finish(conn, [succeeded(run.id, "t1", clock.now(), result="stale")]) == []
        (accepted,) = store.finish(conn, [succeeded(run.id, "t2", clock.now())])
    assert accepted.attempt == 2
    done = get(db, run.id)
    assert (done.status, done.attempt, done.result) == (RunStatus.SUCCEEDED, 2, None)


def test_a_retry_goes_back_to_the_queue_as_the_next_attempt(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    run = enqueue(db, store, clock.now(), max_attempts=3)
    claim(db, store, clock.now(), token="t1", worker_id="w1")
    retry_at = clock.now() + seconds(90)
    outcome = Outcome(
        run.id, "t1", RunStatus.RETRYING, clock.now(), error="boom", retry_at=retry_at
    )
    with db.write(queue=True) as conn:
        (finished,) = store.finish(conn, [outcome])
    assert (finished.status, finished.attempt) == ("retrying", 2)
    again = get(db, run.id)
    assert (again.status, again.attempt, again.run_at, again.error) == (
        RunStatus.RETRYING,
        2,
        retry_at,
        "boom",
    )
    assert (again.token, again.worker_id, again.heartbeat_at, again.finished_at) == (
        None,
        None,
        None,
        None,
    )
    assert attempts(db, run.id) == [(1, "failed")]
    assert claim(db, store, retry_at - seconds(1), token="t2") == []
    assert [r.attempt for r in claim(db, store, retry_at, token="t3")] == [2]


def test_heartbeat_refreshes_owned_attempts_and_reports_cancellations(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    first = enqueue(db, store, clock.now())
    second = enqueue(db, store, clock.now())
    claim(db, store, clock.now(), token="t1")
    with db.write() as conn:
        store.cancel(conn, get(db, second.id), clock.now(), "stop it")
    clock.advance(5)
    with db.write(queue=True) as conn:
        owned, cancel = store.heartbeat(conn, [(first.id, "t1"), (second.id, "t1")], clock.now())
    assert (owned, cancel) == ({first.id, second.id}, {second.id})
    assert get(db, first.id).heartbeat_at == clock.now()
    # A fence whose token is not the run's own is not refreshed.
    clock.advance(5)
    with db.write(queue=True) as conn:
        owned, _ = store.heartbeat(conn, [(first.id, "t2")], clock.now())
    assert owned == set()
    assert get(db, first.id).heartbeat_at == clock.now() - seconds(5)


def test_rescue_requeues_stalled_runs_and_fails_those_out_of_attempts(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    retryable = enqueue(db, store, clock.now(), max_attempts=2)
    last_try = enqueue(db, store, clock.now(), max_attempts=1)
    claim(db, store, clock.now(), token="t1", worker_id="dead")
    fresh = enqueue(db, store, clock.now() + seconds(20))
    clock.advance(20)
    claim(db, store, clock.now(), token="t2", worker_id="alive")
    clock.advance(11)
    with db.write() as conn:
        stalled = store.lock_stalled(conn, clock.now() - seconds(30))
        statuses = {run.id: store.rescue(conn, run, clock.now()) for run in stalled}
    assert statuses == {retryable.id: "queued", last_try.id: "failed"}
    requeued = get(db, retryable.id)
    assert (requeued.status, requeued.attempt, requeued.token, requeued.worker_id) == (
        RunStatus.QUEUED,
        2,
        None,
        None,
    )
    assert "worker dead stopped heartbeating" in (requeued.error or "")
    assert get(db, last_try.id).status is RunStatus.FAILED
    assert get(db, fresh.id).status is RunStatus.RUNNING
    assert attempts(db, retryable.id) == [(1, "stalled")]
    assert attempts(db, last_try.id) == [(1, "stalled")]


def test_rescue_gives_way_to_a_pending_run_holding_the_key(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    keyed = enqueue(db, store, clock.now(), max_attempts=3, key="nightly")
    claim(db, store, clock.now(), token="t1")
    # A running run does not hold its key, so a new one may take it meanwhile.
    holder = enqueue(db, store, clock.now() + seconds(60), key="nightly")
    clock.advance(31)
    with db.write() as conn:
        (stalled,) = store.lock_stalled(conn, clock.now() - seconds(30))
        assert store.rescue(conn, stalled, clock.now()) == "failed"
    assert f"run {holder.id} with the same key 'nightly' is pending" in (
        get(db, keyed.id).error or ""
    )


def test_release_requeues_without_using_up_an_attempt(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    run = enqueue(db, store, clock.now(), max_attempts=1)
    claim(db, store, clock.now(), token="t1")
    with db.write() as conn:
        assert store.release(conn, [(run.id, "other")], clock.now()) == 0
        assert store.release(conn, [(run.id, "t1")], clock.now()) == 1
    released = get(db, run.id)
    assert (released.status, released.attempt, released.max_attempts, released.token) == (
        RunStatus.QUEUED,
        2,
        2,
        None,
    )
    assert attempts(db, run.id) == [(1, "released")]


def test_next_run_at_is_the_earliest_runnable_time_of_the_queues(
    db: Database, store: RunStore, clock: FakeClock
) -> None:
    enqueue(db, store, clock.now() + seconds(30), queue="mail")
    enqueue(db, store, clock.now() + seconds(10), queue="reports")
    with db.read() as conn:
        assert store.next_run_at(conn) == clock.now() + seconds(10)
        assert store.next_run_at(conn, ["mail"]) == clock.now() + seconds(30)
        assert store.next_run_at(conn, ["none"]) is None
    with db.write() as conn:
        conn.execute(runs.update().values(status=sa.literal("running")))
    with db.read() as conn:
        assert store.next_run_at(conn) is None


def test_a_batch_of_outcomes_does_not_read_the_whole_running_index(
    pg_database_url: str, clock: FakeClock
) -> None:
    """However few runs the statistics say are running (they were gathered while every run
    was queued), the finish statement never reads the whole running index for its batch."""
    db = Database(pg_database_url, clock=clock)
    store = RunStore(db.dialect)
    try:
        for _ in range(300):
            enqueue(db, store, clock.now())
        with db.write() as conn:
            conn.execute(sa.text("ANALYZE runs"))
        claimed = claim(db, store, clock.now(), limit=250)
        batch = [succeeded(run.id, "t1", clock.now()).as_values() for run in claimed[:100]]
        with db.write(queue=True) as conn:
            plan = "\n".join(
                conn.exec_driver_sql(
                    "EXPLAIN " + _FINISH_POSTGRESQL, {"batch": json.dumps(batch)}
                ).scalars()
            )
            conn.rollback()
        assert "ix_runs_running" not in plan
    finally:
        db.dispose()
