"""Retention: ``tickwork.prune`` deletes finished runs (succeeded, failed, cancelled, skipped)
older than the retention period with their attempt history, and node rows unseen for a week;
never an unfinished run, however old. The system schedule runs it daily at 03:00 UTC with
``TICKWORK_RETENTION_DAYS``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tickwork import Context, FakeClock, Tickwork
from tickwork.builtin_tasks import PRUNE_SCHEDULE, prune, register_builtin_tasks
from tickwork.domain.models import RunStatus
from tickwork.duties.node_heartbeat import NodeHeartbeat
from tickwork.settings import Settings
from tickwork.storage.alert_store import AlertStore
from tickwork.storage.run_store import RunStore
from tickwork.storage.tables import nodes, run_attempts, runs

DAY = timedelta(days=1)


@dataclass(frozen=True)
class History:
    """Ids of the runs :func:`make_history` left behind, by what should become of them."""

    old_finished: dict[str, int]
    old_unfinished: dict[str, int]
    recent: set[int]

    @property
    def kept(self) -> set[int]:
        return {*self.old_unfinished.values(), *self.recent}


def make_history(app: Tickwork, clock: FakeClock) -> History:
    """40 days of history: one old run in each final status (the failed one with attempt
    history), old runs still pending or running, one recent run, and node rows of both ages.
    Afterwards the clock stands 40 days after the old runs."""

    @app.task("ok")
    def ok(ctx: Context) -> None:
        return None

    @app.task("flaky", max_attempts=2, retry_backoff=1)
    def flaky(ctx: Context) -> None:
        raise RuntimeError("always")

    succeeded = app.enqueue("ok")
    failed = app.enqueue("flaky")
    cancelled = app.enqueue("ok", run_at=clock.now() + DAY)
    app.runs.cancel(cancelled.id)
    pending = app.enqueue("ok", run_at=clock.now() + 100 * DAY)
    app.worker().run_until_idle()
    clock.advance(5)
    app.worker().run_until_idle()  # the second and last attempt of "flaky"
    running = app.enqueue("ok")
    with app.db.write() as conn:
        RunStore(app.db.dialect).claim(conn, worker_id="gone", token="t", now=clock.now(), limit=1)
    missed = app.schedules.create(
        name="missed", task="ok", interval=60, misfire_policy="skip", misfire_grace=1
    )
    clock.advance(3600)
    app.scheduler().tick()  # records the missed hour as one skipped entry
    (skipped,) = [r for r in app.runs.list(schedule_id=missed.id) if r.status.value == "skipped"]
    # The fire time still within its grace was queued; it runs (and finishes) 35 days later.
    fired = {r.id for r in app.runs.list(schedule_id=missed.id)} - {skipped.id}
    app.schedules.pause(missed.id)
    NodeHeartbeat(app.db, "worker", node_id="worker:old").beat()

    clock.advance(days=35)
    recent = app.enqueue("ok")
    app.worker().run_until_idle()
    NodeHeartbeat(app.db, "worker", node_id="worker:recent").beat()
    clock.advance(days=5)

    assert app.runs.get(failed.id).status is RunStatus.FAILED
    assert len(app.runs.attempts(failed.id)) == 1
    assert app.runs.get(running.id).status is RunStatus.RUNNING
    return History(
        old_finished={
            "succeeded": succeeded.id,
            "failed": failed.id,
            "cancelled": cancelled.id,
            "skipped": skipped.id,
        },
        old_unfinished={"queued": pending.id, "running": running.id},
        recent={recent.id, *fired},
    )


def _run_ids(app: Tickwork) -> set[int]:
    with app.db.read() as conn:
        return set(conn.execute(sa.select(runs.c.id)).scalars())


def _attempt_run_ids(app: Tickwork) -> set[int]:
    with app.db.read() as conn:
        return set(conn.execute(sa.select(run_attempts.c.run_id)).scalars())


def _node_ids(app: Tickwork) -> set[str]:
    with app.db.read() as conn:
        return set(conn.execute(sa.select(nodes.c.id)).scalars())


def test_prune_deletes_old_finished_runs_of_every_final_status_and_keeps_unfinished_ones(
    app: Tickwork, clock: FakeClock
) -> None:
    history = make_history(app, clock)
    assert prune.prune(app, 30) == {"runs": 4, "nodes": 1, "alerts": 0}
    assert _run_ids(app) == history.kept
    assert _attempt_run_ids(app) == set()  # the failed run's attempt history went with it
    assert _node_ids(app) == {"worker:recent"}


def test_prune_works_in_batches_until_nothing_is_left(
    app: Tickwork, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = make_history(app, clock)
    monkeypatch.setattr(prune, "BATCH", 1)
    assert prune.prune(app, 30)["runs"] == 4
    assert _run_ids(app) == history.kept


def test_prune_stops_between_batches_when_asked(
    app: Tickwork, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_history(app, clock)
    monkeypatch.setattr(prune, "BATCH", 1)
    batches: list[int] = []

    def stop_after_two() -> bool:
        batches.append(1)
        return len(batches) > 2

    assert prune.prune(app, 30, stop_after_two)["runs"] == 2
    assert prune.prune(app, 30)["runs"] == 2  # the rest, next time


def test_the_retention_schedule_prunes_daily_at_3_utc_with_the_configured_days(
    app: Tickwork, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKWORK_RETENTION_DAYS", "7")
    register_builtin_tasks(app, Settings())
    app.sync_schedules()
    schedule = app.schedules.get(PRUNE_SCHEDULE)
    assert (schedule.status.value, schedule.source.value) == ("active", "code")
    assert schedule.payload == {"days": 7}
    assert schedule.cron == "0 3 * * *"
    assert schedule.timezone == "UTC"
    # The clock starts at 2030-01-01 00:00 UTC; three days of hourly ticks.
    scheduler = app.scheduler()
    for _ in range(72):
        clock.advance(3600)
        scheduler.tick()
    fired = sorted(r.scheduled_for for r in app.runs.list(schedule_id=schedule.id))
    assert fired == [
        datetime(2030, 1, 1, 3, tzinfo=UTC),
        datetime(2030, 1, 2, 3, tzinfo=UTC),
        datetime(2030, 1, 3, 3, tzinfo=UTC),
    ]


def test_the_retention_task_run_by_a_worker_deletes_what_is_older_than_its_days(
    app: Tickwork, clock: FakeClock
) -> None:
    register_builtin_tasks(app, Settings(retention_days=7))

    @app.task("ok")
    def ok(ctx: Context) -> None:
        return None

    old = app.enqueue("ok")
    pending = app.enqueue("ok", run_at=clock.now() + 100 * DAY)
    app.worker().run_until_idle()
    clock.advance(days=6)
    recent = app.enqueue("ok")
    app.worker().run_until_idle()
    clock.advance(days=2)
    task = app.enqueue("tickwork.prune", {"days": 7})
    app.worker().run_until_idle()
    done = app.runs.get(task.id)
    assert done.status is RunStatus.SUCCEEDED, done.error
    assert done.result == {"runs": 1, "nodes": 0, "alerts": 0}
    assert [line["message"] for line in done.logs or []] == [
        "deleted 1 runs of every tenant older than 7 days"
    ]
    assert _run_ids(app) == {pending.id, recent.id, task.id}
    assert old.id not in _run_ids(app)


def test_prune_forgets_resolved_incidents_and_sent_notifications_but_keeps_open_ones(
    app: Tickwork, clock: FakeClock
) -> None:
    store = AlertStore(app.db.dialect)
    with app.db.write() as conn:
        now = app.db.now()
        old = store.open_alert(conn, event="process.down", subject="scheduler", text="x", now=now)
        still = store.open_alert(conn, event="queue.backlog", subject="queue:a", text="y", now=now)
        assert old is not None
        assert still is not None
        store.resolve(conn, [old.id], now)
    clock.advance(days=31)
    assert prune.prune(app, 30)["alerts"] == 1
    assert [a.id for a in app.alerts.list()] == [still.id]


def test_batches_resume_where_the_last_ended_even_among_runs_finished_at_one_instant(
    app: Tickwork, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    @app.task("ok")
    def ok(ctx: Context) -> None:
        return None

    # The clock stands still: ten runs finish at one instant, three at the next.
    same_instant = [app.enqueue("ok").id for _ in range(10)]
    app.worker().run_until_idle()
    clock.advance(1)
    later = [app.enqueue("ok").id for _ in range(3)]
    app.worker().run_until_idle()
    kept = app.enqueue("ok", run_at=clock.now() + 100 * DAY).id
    clock.advance(days=40)
    monkeypatch.setattr(prune, "BATCH", 3)
    assert prune.prune(app, 30)["runs"] == len(same_instant) + len(later)
    assert _run_ids(app) == {kept}
