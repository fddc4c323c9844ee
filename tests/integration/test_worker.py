"""The worker in this process: every status transition, retries, timeouts, cancellation,
keys, fencing and release, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from tests.support.waiting import SLACK, wait_for
from tickwork import Context, FakeClock, Tickwork
from tickwork.control import Cancel, Retry
from tickwork.domain.errors import ConflictError, InvalidTransitionError
from tickwork.domain.models import RunStatus
from tickwork.duties.rescuer import StallRescuer
from tickwork.duties.worker import Worker, WorkerConfig
from tickwork.storage.queue_sql import Outcome
from tickwork.storage.run_store import RunStore


@contextmanager
def running_worker(
    app: Tickwork, on_stop: Callable[[], object] = lambda: None, **options: Any
) -> Iterator[Worker]:
    """A worker running on a thread until the block ends (``on_stop`` is called right after
    it is told to stop)."""
    options.setdefault("heartbeat_interval", 0.1)
    options.setdefault("stall_timeout", 30.0)
    options.setdefault("poll_interval", 0.05)
    worker = app.worker(WorkerConfig(**options))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        worker.wakeup.set()
        on_stop()
        thread.join(timeout=SLACK)
        assert not thread.is_alive()


def status(app: Tickwork, run_id: int) -> str:
    return app.runs.get(run_id).status.value


@pytest.fixture
def released() -> Iterator[threading.Event]:
    """An event handlers wait on instead of sleeping; set when the test ends, so no handler
    thread outlives its test."""
    event = threading.Event()
    yield event
    event.set()


def test_succeeded_records_duration_result_and_log_lines(app: Tickwork) -> None:
    seen: dict[str, Any] = {}

    @app.task("hello")
    def hello(ctx: Context, payload: dict[str, Any]) -> dict[str, Any]:
        seen.update(
            run_id=ctx.run_id,
            attempt=ctx.attempt,
            scheduled_for=ctx.scheduled_for,
            schedule_id=ctx.schedule_id,
            tenant_id=ctx.tenant_id,
            cancelled=ctx.cancelled,
        )
        ctx.log("hello %s", payload["name"])
        ctx.log.warning("careful")
        return {"greeting": f"hi {payload['name']}"}

    run = app.enqueue("hello", {"name": "ada"}, tenant_id="acme")
    assert run.status is RunStatus.QUEUED
    app.worker().run_until_idle()
    done = app.runs.get(run.id)
    assert done.status is RunStatus.SUCCEEDED
    assert done.result == {"greeting": "hi ada"}
    assert [(line["level"], line["message"]) for line in done.logs or []] == [
        ("info", "hello ada"),
        ("warning", "careful"),
    ]
    assert done.duration is not None
    assert done.duration >= 0
    assert done.worker_id
    assert done.error is None
    assert done.traceback is None
    assert seen == {
        "run_id": run.id,
        "attempt": 1,
        "scheduled_for": None,
        "schedule_id": None,
        "tenant_id": "acme",
        "cancelled": False,
    }


def test_failed_records_error_and_traceback(app: Tickwork) -> None:
    @app.task("broken")
    def broken(ctx: Context) -> None:
        ctx.log.error("about to fail")
        raise ValueError("bad input\x00with a NUL")

    run = app.enqueue("broken")
    app.worker().run_until_idle()
    failed = app.runs.get(run.id)
    assert failed.status is RunStatus.FAILED
    assert failed.error is not None
    assert failed.error.startswith("ValueError: bad input")
    assert failed.traceback is not None
    assert "raise ValueError" in failed.traceback
    assert failed.finished_at is not None
    assert failed.logs
    assert failed.logs[0]["message"] == "about to fail"


def test_schedule_context_fields(app: Tickwork, clock: FakeClock) -> None:
    seen: list[tuple[Any, ...]] = []

    @app.task("tick")
    def tick(ctx: Context) -> None:
        seen.append((ctx.schedule_id, ctx.scheduled_for, ctx.trigger))

    schedule = app.schedules.create(name="every-minute", task="tick", interval=60)
    clock.advance(61)
    app.scheduler().tick()
    app.worker().run_until_idle()
    (run,) = app.runs.list(schedule_id=schedule.id)
    assert run.status is RunStatus.SUCCEEDED
    assert seen == [(schedule.id, run.scheduled_for, "interval")]
    assert app.schedules.get(schedule.id).last_status == "succeeded"


def test_retries_back_off_exponentially_with_jitter(app: Tickwork, clock: FakeClock) -> None:
    attempts: list[int] = []

    @app.task("flaky", max_attempts=3, retry_backoff=10, retry_backoff_max=1000)
    def flaky(ctx: Context) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise RuntimeError(f"attempt {ctx.attempt} failed")
        return "ok"

    run = app.enqueue("flaky")
    start = clock.now()
    app.worker().run_until_idle()
    retrying = app.runs.get(run.id)
    assert retrying.status is RunStatus.RETRYING
    assert retrying.attempt == 2
    assert retrying.error == "RuntimeError: attempt 1 failed"
    assert retrying.run_at is not None
    first_delay = (retrying.run_at - start).total_seconds()
    assert 5 <= first_delay <= 10  # equal jitter: half of 10 s fixed, half random
    # Not due yet: nothing runs.
    clock.set(retrying.run_at - timedelta(seconds=0.5))
    app.worker().run_until_idle()
    assert attempts == [1]
    clock.set(retrying.run_at)
    second_start = clock.now()
    app.worker().run_until_idle()
    again = app.runs.get(run.id)
    assert again.status is RunStatus.RETRYING
    assert again.attempt == 3
    assert again.run_at is not None
    second_delay = (again.run_at - second_start).total_seconds()
    assert 10 <= second_delay <= 20  # doubled
    clock.set(again.run_at)
    app.worker().run_until_idle()
    final = app.runs.get(run.id)
    assert final.status is RunStatus.SUCCEEDED
    assert final.result == "ok"
    assert attempts == [1, 2, 3]
    history = app.runs.attempts(run.id)
    assert [(a.attempt, a.status) for a in history] == [(1, "failed"), (2, "failed")]
    assert history[0].error == "RuntimeError: attempt 1 failed"


def test_exhausted_attempts_fail_with_the_last_error(app: Tickwork, clock: FakeClock) -> None:
    @app.task("doomed", max_attempts=2, retry_backoff=1)
    def doomed(ctx: Context) -> None:
        raise RuntimeError("still broken")

    run = app.enqueue("doomed")
    app.worker().run_until_idle()
    clock.advance(5)
    app.worker().run_until_idle()
    failed = app.runs.get(run.id)
    assert failed.status is RunStatus.FAILED
    assert failed.attempt == 2
    assert failed.error == "RuntimeError: still broken (attempt 2 of 2; no attempts left)"


def test_retry_control_sets_exact_delay_and_schedule_overrides_backoff(
    app: Tickwork, clock: FakeClock
) -> None:
    @app.task("again", max_attempts=3)
    def again(ctx: Context) -> None:
        raise Retry(delay=42, reason="upstream busy")

    @app.task("slow-backoff", max_attempts=2, retry_backoff=1)
    def slow(ctx: Context) -> None:
        raise RuntimeError("nope")

    run = app.enqueue("again")
    schedule = app.schedules.create(
        name="overrides", task="slow-backoff", interval=3600, retry_backoff=400
    )
    clock.advance(3601)
    app.scheduler().tick()
    now = clock.now()
    app.worker().run_until_idle()
    retried = app.runs.get(run.id)
    assert retried.status is RunStatus.RETRYING
    assert retried.run_at == now + timedelta(seconds=42)
    assert retried.error == "upstream busy"
    assert retried.traceback is None
    (scheduled,) = app.runs.list(schedule_id=schedule.id)
    assert scheduled.status is RunStatus.RETRYING
    assert scheduled.run_at is not None
    assert 200 <= (scheduled.run_at - now).total_seconds() <= 400


def test_handler_cancel_control_ends_cancelled(app: Tickwork) -> None:
    @app.task("nothing-to-do")
    def nothing(ctx: Context) -> None:
        raise Cancel("no new data")

    run = app.enqueue("nothing-to-do")
    app.worker().run_until_idle()
    cancelled = app.runs.get(run.id)
    assert cancelled.status is RunStatus.CANCELLED
    assert cancelled.error == "no new data"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_timeouts_fail_the_attempt(app: Tickwork, kind: str) -> None:
    if kind == "sync":

        @app.task("slow", timeout=0.2)
        def slow(ctx: Context) -> str:
            ctx.wait_cancelled(10)
            return "late"

    else:

        @app.task("slow", timeout=0.2)
        async def slow_async(ctx: Context) -> str:
            await asyncio.sleep(10)
            return "late"

    run = app.enqueue("slow")
    per_run = app.enqueue("slow", timeout=0.1)
    app.worker().run_until_idle()
    for run_id, limit in ((run.id, "0.2"), (per_run.id, "0.1")):
        failed = app.runs.get(run_id)
        assert failed.status is RunStatus.FAILED
        assert failed.error == f"timed out after {limit}s"
        assert failed.result is None


def test_timeout_retries_while_attempts_remain(app: Tickwork) -> None:
    @app.task("slow-retry", timeout=0.1, max_attempts=2, retry_backoff=60)
    async def slow(ctx: Context) -> None:
        await asyncio.sleep(10)

    run = app.enqueue("slow-retry")
    app.worker().run_until_idle()
    retrying = app.runs.get(run.id)
    assert retrying.status is RunStatus.RETRYING
    assert app.runs.attempts(run.id)[0].error == "timed out after 0.1s"


def test_cancel_queued_run_never_runs(app: Tickwork) -> None:
    ran: list[int] = []

    @app.task("never")
    def never(ctx: Context) -> None:
        ran.append(ctx.run_id)

    run = app.enqueue("never")
    cancelled = app.runs.cancel(run.id)
    assert cancelled.status is RunStatus.CANCELLED
    app.worker().run_until_idle()
    assert ran == []
    assert status(app, run.id) == "cancelled"
    with pytest.raises(InvalidTransitionError):
        app.runs.cancel(run.id)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_cancel_running_run_is_seen_by_the_handler(app: Tickwork, kind: str) -> None:
    started = threading.Event()
    if kind == "sync":

        @app.task("long")
        def long(ctx: Context) -> None:
            started.set()
            if not ctx.wait_cancelled(20):
                raise AssertionError("never cancelled")
            assert ctx.cancelled
            raise RuntimeError("stopped on request")

    else:

        @app.task("long")
        async def long_async(ctx: Context) -> None:
            started.set()
            await asyncio.sleep(20)

    run = app.enqueue("long")
    # No heartbeat comes during the test: only the cancel's own wake-up can tell the worker.
    with running_worker(app, heartbeat_interval=3600, stall_timeout=7200):
        assert started.wait(SLACK)
        wait_for(lambda: status(app, run.id) == "running")
        asked = app.runs.cancel(run.id)
        assert asked.status is RunStatus.RUNNING
        assert asked.cancel_requested
        wait_for(lambda: status(app, run.id) == "cancelled")
    cancelled = app.runs.get(run.id)
    assert cancelled.error == "cancelled by an operator"


def test_cancel_running_run_that_returns_normally_is_cancelled_with_its_result(
    app: Tickwork,
) -> None:
    """Cancellation was asked for and the handler then returned: the run is recorded
    cancelled (not succeeded), and what the handler returned is kept."""
    started = threading.Event()

    @app.task("polite")
    def polite(ctx: Context) -> str:
        started.set()
        ctx.wait_cancelled(20)
        return "stopped early" if ctx.cancelled else "finished"

    run = app.enqueue("polite")
    with running_worker(app):
        assert started.wait(SLACK)
        wait_for(lambda: status(app, run.id) == "running")
        app.runs.cancel(run.id)
        wait_for(lambda: status(app, run.id) != "running")
    ended = app.runs.get(run.id)
    assert (ended.status, ended.result, ended.error) == (
        RunStatus.CANCELLED,
        "stopped early",
        "cancelled by an operator",
    )


def test_an_earlier_attempt_keeps_the_worker_that_ran_it_and_its_log(
    app: Tickwork, clock: FakeClock
) -> None:
    """The finish statement clears a retried run's worker; the attempt's history row still
    names the worker that ran it, and keeps the attempt's log lines (the run's own log is
    the latest attempt's)."""

    @app.task("second-time", max_attempts=2, retry_backoff=1)
    def second_time(ctx: Context) -> int:
        ctx.log.info("try %d", ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("first time")
        return ctx.attempt

    run = app.enqueue("second-time")
    first, second = app.worker(), app.worker()
    first.run_until_idle()
    clock.advance(5)
    second.run_until_idle()
    done = app.runs.get(run.id)
    assert (done.status, done.attempt) == (RunStatus.SUCCEEDED, 2)
    (earlier,) = app.runs.attempts(run.id)
    assert (earlier.worker_id, done.worker_id) == (first.worker_id, second.worker_id)
    assert [line["message"] for line in earlier.logs or []] == ["try 1"]
    assert [line["message"] for line in app.runs.get(run.id).logs or []] == ["try 2"]


def test_the_last_success_is_kept_apart_from_the_last_outcome(
    app: Tickwork, clock: FakeClock
) -> None:
    outcomes = iter([None, RuntimeError("down")])

    @app.task("flip")
    def flip(ctx: Context) -> None:
        error = next(outcomes)
        if error is not None:
            raise error

    schedule = app.schedules.create(name="flip", task="flip", trigger="manual")
    assert app.schedules.get(schedule.id).last_success_at is None
    app.schedules.run_now(schedule.id)
    app.worker().run_until_idle()
    succeeded = app.schedules.get(schedule.id)
    assert succeeded.last_status == "succeeded"
    assert succeeded.last_success_at == clock.now()
    clock.advance(60)
    app.schedules.run_now(schedule.id)
    app.worker().run_until_idle()
    failed = app.schedules.get(schedule.id)
    assert (failed.last_status, failed.last_success_at) == ("failed", succeeded.last_success_at)


def test_retry_by_operator_and_its_limits(app: Tickwork) -> None:
    @app.task("once-broken")
    def once(ctx: Context) -> int:
        if ctx.attempt == 1:
            raise RuntimeError("first time")
        return ctx.attempt

    run = app.enqueue("once-broken")
    app.worker().run_until_idle()
    assert status(app, run.id) == "failed"
    queued = app.runs.retry(run.id)
    assert queued.status is RunStatus.QUEUED
    assert queued.attempt == 2
    with pytest.raises(InvalidTransitionError):
        app.runs.retry(run.id)
    app.worker().run_until_idle()
    done = app.runs.get(run.id)
    assert done.status is RunStatus.SUCCEEDED
    assert done.result == 2
    assert [a.status for a in app.runs.attempts(run.id)] == ["failed"]


def test_keys_keep_one_pending_run(app: Tickwork) -> None:
    started = threading.Event()
    release = threading.Event()

    @app.task("refresh")
    def refresh(ctx: Context, payload: dict[str, Any]) -> None:
        started.set()
        release.wait(SLACK)

    first = app.enqueue("refresh", {"n": 1}, key="user-7")
    same = app.enqueue("refresh", {"n": 2}, key="user-7")
    assert same.id == first.id
    other = app.enqueue("refresh", key="user-8")
    assert other.id != first.id
    with running_worker(app, concurrency=1):
        assert started.wait(SLACK)
        wait_for(lambda: status(app, first.id) == "running")
        # Running runs do not hold their key: work asked for now runs after it.
        second = app.enqueue("refresh", {"n": 3}, key="user-7")
        assert second.id != first.id
        assert second.status is RunStatus.QUEUED
        assert app.enqueue("refresh", key="user-7").id == second.id
        release.set()
        wait_for(lambda: status(app, second.id) == "succeeded")
    assert status(app, first.id) == "succeeded"


def test_concurrent_enqueues_with_one_key_make_one_run(app: Tickwork) -> None:
    @app.task("dedupe")
    def dedupe(ctx: Context) -> None:
        pass

    ids: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def enqueue() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                ids.append(app.enqueue("dedupe", key="same").id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=enqueue) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(ids)) == 1
    assert len(app.runs.list(task="dedupe")) == 1


def test_keyed_retry_yields_to_a_newer_pending_run(app: Tickwork, clock: FakeClock) -> None:
    started = threading.Event()
    release = threading.Event()

    @app.task("keyed", max_attempts=3, retry_backoff=1)
    def keyed(ctx: Context, payload: dict[str, Any]) -> None:
        if payload.get("first"):
            started.set()
            release.wait(SLACK)
            raise RuntimeError("first failed")

    first = app.enqueue("keyed", {"first": True}, key="k")
    with running_worker(app, concurrency=1):
        assert started.wait(SLACK)
        wait_for(lambda: status(app, first.id) == "running")
        newer = app.enqueue("keyed", key="k", run_at=clock.now() + timedelta(hours=1))
        release.set()
        wait_for(lambda: status(app, first.id) == "failed")
    failed = app.runs.get(first.id)
    assert failed.error is not None
    assert f"not retried: run {newer.id} with the same key 'k' is pending" in failed.error
    with pytest.raises(ConflictError):
        app.runs.retry(first.id)
    clock.advance(3601)
    app.worker().run_until_idle()
    assert status(app, newer.id) == "succeeded"
    app.runs.retry(first.id)


def test_manual_runs_never_disturb_cadence(app: Tickwork, clock: FakeClock) -> None:
    @app.task("report")
    def report(ctx: Context) -> None:
        pass

    schedule = app.schedules.create(name="hourly", task="report", interval=3600)
    planned = schedule.next_run_at
    clock.advance(600)
    manual = app.schedules.run_now(schedule.id)
    assert manual.trigger.value == "manual"
    app.enqueue("report")
    app.scheduler().tick()
    app.worker().run_until_idle()
    assert status(app, manual.id) == "succeeded"
    assert app.schedules.get(schedule.id).next_run_at == planned
    assert planned is not None
    clock.set(planned + timedelta(seconds=1))
    app.scheduler().tick()
    fired = [r for r in app.runs.list(schedule_id=schedule.id) if r.trigger.value == "interval"]
    assert [r.scheduled_for for r in fired] == [planned]


def test_unknown_task_fails_clearly(app: Tickwork) -> None:
    @app.task("gone")
    def gone(ctx: Context) -> None:
        pass

    run = app.enqueue("gone")
    other = Tickwork(app.database_url, clock=app.clock)
    try:
        other.worker().run_until_idle()
    finally:
        other.close()
    failed = app.runs.get(run.id)
    assert failed.status is RunStatus.FAILED
    assert "unknown task 'gone'" in (failed.error or "")


# -- fencing, stalls and release ---------------------------------------------------------


def test_superseded_attempt_is_refused(app: Tickwork, clock: FakeClock) -> None:
    @app.task("fenced", max_attempts=3)
    def fenced(ctx: Context) -> None:
        pass

    run = app.enqueue("fenced")
    store = RunStore(app.db.dialect)
    with app.db.write() as conn:
        (claimed,) = store.claim(conn, worker_id="frozen", token="t1", now=clock.now(), limit=5)
    assert claimed.id == run.id
    assert claimed.attempt == 1
    clock.advance(31)
    assert StallRescuer(app.db, 30).rescue() == 1
    requeued = app.runs.get(run.id)
    assert requeued.status is RunStatus.QUEUED
    assert requeued.attempt == 2
    assert "stopped heartbeating" in (requeued.error or "")
    # The frozen worker wakes up: its heartbeat and its outcome are refused.
    with app.db.write() as conn:
        owned, _ = store.heartbeat(conn, [(run.id, "t1")], clock.now())
        accepted = store.finish(
            conn, [Outcome(run.id, "t1", RunStatus.SUCCEEDED, clock.now(), result="stale")]
        )
    assert owned == set()
    assert accepted == []
    # The new attempt runs and is recorded once.
    app.worker().run_until_idle()
    done = app.runs.get(run.id)
    assert done.status is RunStatus.SUCCEEDED
    assert done.attempt == 2
    assert done.result is None
    with app.db.write() as conn:
        late = store.finish(
            conn, [Outcome(run.id, "t1", RunStatus.FAILED, clock.now(), error="late")]
        )
    assert late == []
    assert app.runs.get(run.id).status is RunStatus.SUCCEEDED
    assert [(a.attempt, a.status) for a in app.runs.attempts(run.id)] == [(1, "stalled")]


def test_stalled_run_without_attempts_left_fails(app: Tickwork, clock: FakeClock) -> None:
    @app.task("single")
    def single(ctx: Context) -> None:
        pass

    run = app.enqueue("single")
    store = RunStore(app.db.dialect)
    with app.db.write() as conn:
        store.claim(conn, worker_id="dead", token="t", now=clock.now(), limit=1)
    clock.advance(29)
    assert StallRescuer(app.db, 30).rescue() == 0
    clock.advance(2)
    assert StallRescuer(app.db, 30).rescue() == 1
    failed = app.runs.get(run.id)
    assert failed.status is RunStatus.FAILED
    assert "worker dead stopped heartbeating" in (failed.error or "")


def test_heartbeats_keep_a_long_run_alive(app: Tickwork, clock: FakeClock) -> None:
    started = threading.Event()
    release = threading.Event()

    @app.task("long-alive")
    def long(ctx: Context) -> str:
        started.set()
        release.wait(SLACK)
        return "done"

    run = app.enqueue("long-alive")
    with running_worker(app, heartbeat_interval=0.05, stall_timeout=30) as worker:
        assert started.wait(SLACK)
        for _ in range(3):
            before = app.runs.get(run.id).heartbeat_at
            clock.advance(20)
            wait_for(lambda before=before: app.runs.get(run.id).heartbeat_at != before)
        # 60 s of fake time passed, yet the heartbeats kept the run from being rescued.
        assert StallRescuer(app.db, 30).rescue() == 0
        release.set()
        wait_for(lambda: status(app, run.id) == "succeeded")
        assert worker.stats.lost == 0


def test_graceful_shutdown_releases_unfinished_runs(
    app: Tickwork, released: threading.Event
) -> None:
    started = threading.Event()

    @app.task("stubborn", max_attempts=1)
    def stubborn(ctx: Context) -> None:
        started.set()
        released.wait(SLACK)  # ignores cancellation, as a stubborn handler does

    quick_may_finish = threading.Event()
    quick_started = threading.Event()

    @app.task("quick")
    def quick(ctx: Context) -> None:
        quick_started.set()
        quick_may_finish.wait(SLACK)

    slow = app.enqueue("stubborn")
    fast = app.enqueue("quick")
    with running_worker(app, on_stop=quick_may_finish.set, shutdown_grace=2) as worker:
        assert started.wait(SLACK)
        assert quick_started.wait(SLACK)
    # The quick run finished within the grace period; the stubborn one went back.
    assert status(app, fast.id) == "succeeded"
    released = app.runs.get(slow.id)
    assert released.status is RunStatus.QUEUED
    assert released.attempt == 2
    assert released.max_attempts == 2
    assert released.worker_id is None
    assert released.token is None
    assert [(a.attempt, a.status) for a in app.runs.attempts(slow.id)] == [(1, "released")]
    assert worker.stats.released == 1


def test_worker_config_is_validated() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        WorkerConfig(concurrency=0)
    with pytest.raises(ValueError, match="stall_timeout"):
        WorkerConfig(heartbeat_interval=5, stall_timeout=5)
    assert WorkerConfig(concurrency=4, claim_batch=100).batch == 4


def test_a_running_attempts_log_streams_and_the_next_attempt_starts_a_new_one(
    app: Tickwork, clock: FakeClock, released: threading.Event
) -> None:
    """Log lines reached the database only when the attempt ended; the heartbeat now writes
    them while it runs. A retried run's new attempt starts with an empty log (the previous
    attempt's lines stay in its history row)."""

    @app.task("chatty", max_attempts=2, retry_backoff=1)
    def chatty(ctx: Context) -> None:
        ctx.log.info("try %d", ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("first time")
        released.wait(SLACK)

    run = app.enqueue("chatty")
    app.worker().run_until_idle()
    assert [line["message"] for line in app.runs.get(run.id).logs or []] == ["try 1"]
    clock.advance(5)

    def messages() -> list[str]:
        found = app.runs.get(run.id)
        assert found.status is RunStatus.RUNNING
        return [line["message"] for line in found.logs or []]

    with running_worker(app, heartbeat_interval=0.05, on_stop=released.set):
        wait_for(lambda: status(app, run.id) == "running")
        wait_for(lambda: messages() == ["try 2"], what="the running attempt's line")
    assert status(app, run.id) == "succeeded"
    assert [line["message"] for line in app.runs.attempts(run.id)[0].logs or []] == ["try 1"]
