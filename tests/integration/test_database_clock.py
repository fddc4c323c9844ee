"""On PostgreSQL "now" is the database's clock, so processes on machines whose wall clocks
disagree still agree on when a schedule is due and when a run stalled.

Two schedulers and two workers share one database; one of each runs 90 s ahead, the other
90 s behind and then steps back a further 210 s mid-test (libfaketime). A trigger notes, by
the database's own clock, when each run was inserted and each status change happened, so the
checks never trust a time the processes wrote themselves. Every fire time must get exactly one
run, none inserted more than 1 s before its fire time; runs heartbeating on the slow clock must
not look stalled to the fast one; and a run of a killed worker is rescued once its heartbeat is
really older than the stall timeout, not before.
"""

from __future__ import annotations

import re
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.apps.worker_app import app as worker_app
from tests.integration.workers import (
    WorkerProcess,
    assert_all_succeeded_once,
    runs_held_by,
    started_runs,
)
from tests.support.nodes import node_pids
from tests.support.schedules import every_schedule_fired_after, fire_times_by_schedule
from tests.support.servers import TickworkProcess
from tests.support.skewed_clocks import SkewedClock
from tests.support.waiting import wait_for
from tickwork import Tickwork
from tickwork.domain.models import RunStatus
from tickwork.services.run_service import RunRequest
from tickwork.storage.database import Database

pytestmark = pytest.mark.slow

SKEW = 90.0
STEP_BACK = 210.0
STALL_TIMEOUT = 3.0
HEARTBEAT = 0.5
SECOND = timedelta(seconds=1)

RUN_EVENTS = """
CREATE TABLE test_run_events (
    run_id bigint NOT NULL,
    event text NOT NULL,
    attempt integer NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION test_note_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO test_run_events (run_id, event, attempt)
            VALUES (NEW.id, 'inserted', NEW.attempt);
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO test_run_events (run_id, event, attempt)
            VALUES (NEW.id, NEW.status, NEW.attempt);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_note_run AFTER INSERT OR UPDATE ON runs
    FOR EACH ROW EXECUTE FUNCTION test_note_run();
"""


def _server_now(db: Database) -> datetime:
    with db.read() as conn:
        value: datetime = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
    return value


def _local_clock_offsets(output: str) -> list[float]:
    """How far the wall clock of a process was off, in seconds, when it wrote each log line
    (``HH:MM:SS LEVEL ...``), against this machine's now (the lines are read moments after
    they were written)."""
    now = datetime.now(UTC)
    here = now.hour * 3600 + now.minute * 60 + now.second
    offsets = []
    for hours, minutes, seconds in re.findall(r"^(\d\d):(\d\d):(\d\d) ", output, re.MULTILINE):
        there = int(hours) * 3600 + int(minutes) * 60 + int(seconds)
        offsets.append(float((there - here + 43200) % 86400 - 43200))  # across midnight
    assert offsets, output
    return offsets


def _near(offset: float, expected: float) -> bool:
    # Lines are read up to a few seconds after they were written, on a loaded machine more.
    return abs(offset - expected) < 30


def _early_inserts(db: Database) -> list[tuple[int, datetime, datetime]]:
    """Runs inserted more than a second before their fire time (by the database's clock)."""
    with db.read() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT r.id, r.scheduled_for, e.at FROM runs r JOIN test_run_events e "
                "ON e.run_id = r.id AND e.event = 'inserted' "
                "WHERE r.scheduled_for IS NOT NULL "
                "AND e.at < r.scheduled_for - interval '1 second'"
            )
        ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def _status_changes(db: Database, run_id: int) -> list[tuple[str, int, datetime]]:
    with db.read() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT event, attempt, at FROM test_run_events WHERE run_id = :id ORDER BY at"
            ),
            {"id": run_id},
        ).all()
    return [(row[0], row[1], row[2]) for row in rows]


@pytest.fixture
def url(pg_database_url: str) -> str:
    """A PostgreSQL database noting every run's insert and status changes by its clock."""
    db = Database(pg_database_url)
    with db.write() as conn:
        conn.execute(sa.text(RUN_EVENTS))
    db.dispose()
    return pg_database_url


def test_schedulers_with_skewed_and_stepped_clocks_fire_each_time_once_and_never_early(
    url: str, tmp_path: Path
) -> None:
    app = Tickwork(url)
    database = app.db

    @app.task("noop")
    def noop() -> None:  # pragma: no cover - never executed here
        return None

    fast = SkewedClock(tmp_path, "fast", +SKEW)
    slow = SkewedClock(tmp_path, "slow", -SKEW)
    try:
        ids = [
            app.schedules.create(
                name=f"every-second-{index}",
                task="noop",
                **({"cron": "* * * * * *"} if index % 2 else {"interval": 1}),
            ).id
            for index in range(10)
        ]
        settings = {
            "app": "tests.apps.scheduler_app:app",
            "poll_interval": "0.2",
            "heartbeat_interval": "0.5",
            # Runs are inserted at their fire time, not ahead of it: any early insert is
            # the clock's fault.
            "scheduler_lookahead": "0",
        }
        with (
            TickworkProcess(
                "scheduler", log=tmp_path / "fast.log", database_url=url,
                extra_env=fast.env(), **settings,
            ) as ahead,
            TickworkProcess(
                "scheduler", log=tmp_path / "slow.log", database_url=url,
                extra_env=slow.env(), **settings,
            ) as behind,
        ):  # fmt: skip
            wait_for(lambda: len(node_pids(database, "scheduler")) == 2, what="both schedulers up")
            started = _server_now(database)
            wait_for(lambda: every_schedule_fired_after(database, ids, started + 3 * SECOND))
            slow.set(-SKEW - STEP_BACK)
            stepped = _server_now(database)
            wait_for(lambda: every_schedule_fired_after(database, ids, stepped + 5 * SECOND))
            for process in (ahead, behind):
                assert process.running(), process.output()
                assert process.stop(signal.SIGTERM) == 0, process.output()
        # The processes' log lines (flushed by now) carry their own wall clocks: the slow one
        # was behind, then further behind after the step.
        assert all(_near(o, SKEW) for o in _local_clock_offsets(ahead.output())), ahead.output()
        behind_offsets = _local_clock_offsets(behind.output())
        assert all(_near(o, -SKEW) or _near(o, -SKEW - STEP_BACK) for o in behind_offsets), (
            behind.output()
        )
        assert _near(behind_offsets[-1], -SKEW - STEP_BACK), behind.output()
        found = fire_times_by_schedule(database)
        assert set(found) == set(ids)
        for schedule_id, times in found.items():
            grid = [times[0] + SECOND * k for k in range((times[-1] - times[0]) // SECOND + 1)]
            assert times == grid, f"schedule {schedule_id}: a fire time missing or doubled"
        assert _early_inserts(database) == []
    finally:
        app.close()


def test_workers_with_skewed_clocks_keep_heartbeating_runs_and_rescue_only_real_stalls(
    url: str, tmp_path: Path
) -> None:
    app = Tickwork(url)
    database = app.db
    app.registry = worker_app.registry
    events = tmp_path / "events.log"
    fast = SkewedClock(tmp_path, "fast", +SKEW)
    slow = SkewedClock(tmp_path, "slow", -SKEW)
    options = {"concurrency": 2, "stall_timeout": STALL_TIMEOUT, "heartbeat": HEARTBEAT}
    try:
        # Each run outlives the stall timeout: only heartbeats keep it its worker's.
        run_ids = app.enqueue_many(
            [RunRequest("test.sleep", {"seconds": 2 * STALL_TIMEOUT}) for _ in range(4)]
        )
        # Only the slow worker serves the "doomed" queue, so it alone holds the runs that
        # die with it, and the fast one can only rescue them, not run them.
        with (
            WorkerProcess(
                url,
                events,
                extra_env=fast.env(),
                queues="default",
                **options,  # type: ignore[arg-type]
            ) as ahead,
            WorkerProcess(
                url,
                events,
                extra_env=slow.env(),
                queues="default,doomed",
                **options,  # type: ignore[arg-type]
            ) as behind,
        ):
            wait_for(lambda: runs_held_by(app, ahead.pid) and runs_held_by(app, behind.pid))
            slow.set(-SKEW - STEP_BACK)
            wait_for(lambda: all(app.runs.get(r).status.is_final for r in run_ids))
            # Nothing stalled while both heartbeated, whatever their clocks said.
            for run_id in run_ids:
                run = app.runs.get(run_id)
                assert (run.status, run.attempt) == (RunStatus.SUCCEEDED, 1), run_id
                assert app.runs.attempts(run_id) == []

            # A worker that dies holding runs: the other rescues them once their last
            # heartbeat is older than the stall timeout by the database's clock.
            doomed = app.enqueue_many(
                [RunRequest("test.sleep", {"seconds": 60}, queue="doomed") for _ in range(2)]
            )
            wait_for(lambda: set(doomed) <= started_runs(events))
            assert runs_held_by(app, behind.pid) == set(doomed)
            behind.kill()
            killed_at = _server_now(database)
            wait_for(lambda: all(app.runs.get(r).attempt == 2 for r in doomed))
            assert ahead.stop(signal.SIGTERM) == 0, ahead.output()
        assert all(_near(o, SKEW) for o in _local_clock_offsets(ahead.output())), ahead.output()
        for run_id in doomed:
            requeued = [at for event, attempt, at in _status_changes(database, run_id)
                        if event == "queued" and attempt == 2]  # fmt: skip
            assert len(requeued) == 1, _status_changes(database, run_id)
            waited = (requeued[0] - killed_at).total_seconds()
            assert waited >= STALL_TIMEOUT - HEARTBEAT - 0.5, (run_id, waited)
            assert app.runs.get(run_id).status is RunStatus.QUEUED
            assert [(a.attempt, a.status) for a in app.runs.attempts(run_id)] == [(1, "stalled")]
        assert_all_succeeded_once(app, run_ids, events)
    finally:
        app.close()
