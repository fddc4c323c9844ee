"""Real worker processes: graceful shutdown, SIGKILL at random moments, several workers on
one database, a worker frozen past the stall timeout."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps.worker_app import app as worker_app
from tests.apps.worker_app import read_log
from tests.integration.workers import (
    WorkerProcess,
    assert_all_succeeded_once,
    assert_each_attempt_ran_at_most_once,
    ends,
    runs_held_by,
    started_runs,
    starts,
)
from tests.support.nodes import node_pids
from tests.support.waiting import SLACK, wait_for
from tickwork import Tickwork
from tickwork.domain.models import RunStatus
from tickwork.services.run_service import RunRequest

pytestmark = pytest.mark.slow


def _live_app(database_url: str) -> Iterator[Tickwork]:
    app = Tickwork(database_url)
    app.registry = worker_app.registry
    yield app
    app.close()


@pytest.fixture
def live(database_url: str) -> Iterator[Tickwork]:
    """An app on the test database with the real clock (worker processes use theirs)."""
    yield from _live_app(database_url)


@pytest.fixture
def pg_live(pg_database_url: str) -> Iterator[Tickwork]:
    """:func:`live` on PostgreSQL only."""
    yield from _live_app(pg_database_url)


@pytest.fixture
def events(tmp_path: Path) -> Path:
    return tmp_path / "events.log"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_sigterm_or_ctrl_c_lets_a_running_handler_finish(
    live: Tickwork, events: Path, signum: signal.Signals
) -> None:
    run = live.enqueue("test.sleep", {"seconds": 1.0})
    with WorkerProcess(live.database_url, events, grace=SLACK) as worker:
        wait_for(lambda: run.id in started_runs(events))
        assert worker.stop(signum) == 0
        assert f"{signum.name} received: shutting down gracefully" in worker.output()
    done = live.runs.get(run.id)
    assert done.status is RunStatus.SUCCEEDED
    assert starts(events) == [(run.id, 1)]


def test_sigterm_past_grace_releases_the_run_to_another_worker(
    live: Tickwork, events: Path
) -> None:
    run = live.enqueue("test.sleep_async", {"seconds": [60, 0.1]})
    other = live.enqueue("test.sleep", {"seconds": [60, 0.1]})
    with WorkerProcess(live.database_url, events, grace=0.5) as worker:
        wait_for(lambda: {run.id, other.id} <= started_runs(events))
        assert worker.stop(signal.SIGTERM) == 0
        assert "released 2 unfinished runs" in worker.output()
    for run_id in (run.id, other.id):
        released = live.runs.get(run_id)
        assert released.status is RunStatus.QUEUED
        assert released.attempt == 2
        assert [(a.attempt, a.status) for a in live.runs.attempts(run_id)] == [(1, "released")]
    with WorkerProcess(live.database_url, events) as second:
        wait_for(lambda: all(live.runs.get(r).status.is_final for r in (run.id, other.id)))
        assert second.stop(signal.SIGTERM) == 0
    assert_all_succeeded_once(live, [run.id, other.id], events)
    assert sorted(starts(events)) == sorted(
        [(run.id, 1), (run.id, 2), (other.id, 1), (other.id, 2)]
    )


def test_sigkill_at_random_moments_loses_and_repeats_nothing(live: Tickwork, events: Path) -> None:
    rng = random.Random(7)
    requests = [
        RunRequest("test.sleep" if i % 3 else "test.sleep_async", {"seconds": 0.5})
        for i in range(100)
    ]
    run_ids = live.enqueue_many(requests)
    kills = 0
    # A slow survivor, so the victims find work however long they take to start.
    with WorkerProcess(live.database_url, events, concurrency=1) as survivor:
        tries = 0
        while tries < 8 and kills < 3 and len(live.runs.list(status="queued", limit=20)) >= 10:
            tries += 1
            victim = WorkerProcess(live.database_url, events, concurrency=4)
            try:
                wait_for(
                    lambda v=victim: (
                        runs_held_by(live, v.pid) or not live.runs.list(status="queued", limit=1)
                    )
                )
                # The kill lands at a random instant of the handlers' half second: not a
                # wait for an outcome, but the randomness the test is about.
                time.sleep(rng.uniform(0.0, 0.8))
                held = runs_held_by(live, victim.pid)
            finally:
                victim.kill()
            if not held:
                continue  # killed between two batches: nothing to recover
            kills += 1
            attempts = {r: live.runs.get(r).attempt for r in held}
            # Whichever live process notices first re-queues the dead worker's runs once
            # their heartbeats are older than the stall timeout.
            wait_for(
                lambda attempts=attempts: all(
                    live.runs.get(r).status is not RunStatus.RUNNING
                    or live.runs.get(r).attempt > attempt
                    for r, attempt in attempts.items()
                ),
                what=f"the runs of killed worker {victim.pid} to be re-queued",
            )
        assert kills >= 2
        # A wider worker drains what is left (the survivor alone would take a minute).
        with WorkerProcess(live.database_url, events, concurrency=8) as drainer:
            wait_for(lambda: all(live.runs.get(r).status.is_final for r in run_ids))
            # Stopped only once up: a SIGTERM while it still starts ends it with -15.
            wait_for(lambda: drainer.pid in node_pids(live.db, "worker"), what="the drainer up")
            assert drainer.stop(signal.SIGTERM) == 0
        assert survivor.stop(signal.SIGTERM) == 0
    assert_all_succeeded_once(live, run_ids, events)
    retried = [live.runs.get(r) for r in run_ids if live.runs.get(r).attempt > 1]
    assert retried, "no kill landed while a run was executing"
    for run in retried:
        history = live.runs.attempts(run.id)
        assert [a.attempt for a in history] == list(range(1, run.attempt))
        assert {a.status for a in history} == {"stalled"}


def test_a_frozen_worker_that_wakes_records_nothing_over_the_new_attempt(
    live: Tickwork, events: Path
) -> None:
    run = live.enqueue("test.sleep", {"seconds": [4, 0.1]})
    with WorkerProcess(live.database_url, events, concurrency=1) as frozen:
        wait_for(lambda: run.id in started_runs(events))
        frozen.send(signal.SIGSTOP)
        try:
            with WorkerProcess(live.database_url, events, concurrency=1) as rescuer:
                wait_for(lambda: live.runs.get(run.id).status.is_final)
                done = live.runs.get(run.id)
                assert done.status is RunStatus.SUCCEEDED
                assert done.attempt == 2
                frozen.send(signal.SIGCONT)
                # The frozen worker wakes and is refused, by its next heartbeat or when it
                # tries to record the outcome, whichever comes first.
                refusals = (
                    f"run {run.id} is no longer this worker's",
                    f"outcome of run {run.id} refused",
                )
                wait_for(lambda: any(text in frozen.output() for text in refusals))
                wait_for(lambda: (run.id, 1) in ends(events))
                # Once it has exited, nothing more can come from it.
                assert frozen.stop(signal.SIGTERM) == 0
                assert rescuer.stop(signal.SIGTERM) == 0
        finally:
            if frozen.running():
                frozen.send(signal.SIGCONT)
    after = live.runs.get(run.id)
    assert after.status is RunStatus.SUCCEEDED
    assert after.attempt == 2
    assert after.result == {"run_id": run.id, "attempt": 2}
    assert after.finished_at == done.finished_at
    assert [(a.attempt, a.status) for a in live.runs.attempts(run.id)] == [(1, "stalled")]
    assert_each_attempt_ran_at_most_once(events)


def test_several_workers_on_postgresql_never_execute_one_attempt_twice(
    pg_live: Tickwork, events: Path
) -> None:
    live = pg_live
    run_ids = live.enqueue_many(
        [
            RunRequest("test.sleep" if i % 2 else "test.sleep_async", {"seconds": 0.01})
            for i in range(400)
        ]
    )
    workers = [WorkerProcess(live.database_url, events, concurrency=8) for _ in range(3)]
    try:
        wait_for(lambda: all(live.runs.get(r).status.is_final for r in run_ids[-5:]))
        wait_for(lambda: len(live.runs.list(status=["queued", "running"], limit=1)) == 0)
        # A worker still starting when the others finished everything would die of the
        # SIGTERM before it handles signals: stop them once all three are up.
        wait_for(lambda: len(node_pids(live.db, "worker")) == 3, what="all three workers up")
        for worker in workers:
            worker.send(signal.SIGTERM)
        for worker in workers:
            assert worker.wait() == 0
    finally:
        for worker in workers:
            worker.kill()
    assert_all_succeeded_once(live, run_ids, events)
    assert sorted(starts(events)) == [(r, 1) for r in sorted(run_ids)]
    pids = {pid for _, _, _, pid in read_log(str(events))}
    assert len(pids) > 1, "one worker did all the work; the test proves nothing"
