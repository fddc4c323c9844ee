"""What firing writes: overlap policies, windows, blackout dates, conditions and jitter.

Fire times that may not run are recorded as ``skipped`` runs with the reason, so an
operator can see why nothing ran.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.support.schedules import fire_times, register_schedule_tasks, runs_of
from tests.support.waiting import SLACK
from tickwork import FakeClock, Tickwork
from tickwork.domain.models import Schedule
from tickwork.storage.flag_store import FlagStore
from tickwork.storage.tables import runs

T0 = datetime(2030, 1, 1, tzinfo=UTC)  # a Tuesday


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def set_status(app: Tickwork, run_ids: list[int], status: str) -> None:
    with app.db.write() as conn:
        conn.execute(runs.update().where(runs.c.id.in_(run_ids)).values(status=status))


def statuses(app: Tickwork, schedule: Schedule) -> list[tuple[datetime | None, str, Any]]:
    return [(r.scheduled_for, r.status.value, r.skip_reason) for r in runs_of(app, schedule.id)]


def test_overlap_allow_fires_every_time_whatever_is_still_pending(
    app: Tickwork, clock: FakeClock
) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="a", task="noop", interval=10, overlap_policy="allow")
    scheduler = app.scheduler()
    for second in (10, 20, 30):
        clock.set(at(second))
        scheduler.tick()
    assert fire_times(app, schedule.id) == [at(10), at(20), at(30)]


def test_overlap_skip_records_a_skipped_run_while_the_previous_runs(
    app: Tickwork, clock: FakeClock
) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="s", task="noop", interval=10, overlap_policy="skip")
    scheduler = app.scheduler()
    clock.set(at(10))
    scheduler.tick()
    (first,) = runs_of(app, schedule.id)
    clock.set(at(20))
    scheduler.tick()  # the first is still queued
    set_status(app, [first.id], "running")
    clock.set(at(30))
    scheduler.tick()  # ... and then running
    set_status(app, [first.id], "succeeded")
    clock.set(at(40))
    scheduler.tick()
    assert statuses(app, schedule) == [
        (at(10), "succeeded", None),
        (at(20), "skipped", "overlap"),
        (at(30), "skipped", "overlap"),
        (at(40), "queued", None),
    ]
    skipped = runs_of(app, schedule.id, "skipped")[0]
    assert skipped.details == {"policy": "skip"}
    assert app.schedules.get(schedule.id).run_count == 2


def test_overlap_queue_one_keeps_one_run_waiting_behind_the_running_one(
    app: Tickwork, clock: FakeClock
) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="q", task="noop", interval=10, overlap_policy="queue_one")
    scheduler = app.scheduler()
    clock.set(at(10))
    scheduler.tick()
    (first,) = runs_of(app, schedule.id)
    set_status(app, [first.id], "running")
    for second in (20, 30):
        clock.set(at(second))
        scheduler.tick()
    assert statuses(app, schedule) == [
        (at(10), "running", None),
        (at(20), "queued", None),
        (at(30), "skipped", "overlap"),
    ]


def test_overlap_cancel_previous(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(
        name="c", task="noop", interval=10, overlap_policy="cancel_previous"
    )
    scheduler = app.scheduler()
    clock.set(at(10))
    scheduler.tick()
    (first,) = runs_of(app, schedule.id)
    set_status(app, [first.id], "running")
    clock.set(at(20))
    scheduler.tick()
    running = app.runs.get(first.id)
    assert running.cancel_requested  # a running run is asked to stop
    # Several fire times at once: only the newest runs, the others are recorded.
    clock.set(at(45))
    scheduler.tick()
    assert statuses(app, schedule)[1:] == [
        (at(20), "cancelled", None),
        (at(30), "skipped", "overlap"),
        (at(40), "queued", None),
    ]


def test_windows_allow_only_their_hours(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(
        name="office",
        task="noop",
        cron="0 * * * *",
        timezone="Europe/Paris",
        windows=[{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}],
    )
    assert schedule.windows == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}
    ]
    scheduler = app.scheduler()
    for hour in range(1, 25):
        clock.set(at(hour * 3600))
        scheduler.tick()
    # Paris is UTC+1 in January: 09:00-17:00 local is 08:00-16:00 UTC.
    assert fire_times(app, schedule.id) == [at(h * 3600) for h in range(8, 17)]
    skipped = runs_of(app, schedule.id, "skipped")
    assert len(skipped) == 24 - 9
    assert {r.skip_reason for r in skipped} == {"window"}
    assert skipped[0].details == {"timezone": "Europe/Paris"}


def test_a_window_spanning_midnight(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(
        name="night",
        task="noop",
        cron="0 * * * *",
        windows=[{"days": ["tue"], "start": "22:00", "end": "02:00"}],
    )
    scheduler = app.scheduler()
    for hour in range(1, 30):
        clock.set(at(hour * 3600))
        scheduler.tick()
    # Tuesday 22:00 to Wednesday 02:00 (the morning part belongs to the day before).
    assert fire_times(app, schedule.id) == [at(h * 3600) for h in (22, 23, 24, 25, 26)]


def test_blackout_dates_record_a_skipped_run_on_those_local_days(
    app: Tickwork, clock: FakeClock
) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(
        name="daily",
        task="noop",
        cron="0 9 * * *",
        timezone="America/New_York",
        blackout_dates=["2030-01-02", "2030-01-02", "2030-01-04"],
    )
    assert schedule.blackout_dates == ["2030-01-02", "2030-01-04"]
    scheduler = app.scheduler()
    for day in range(5):
        clock.set(at(day * 86400 + 14 * 3600 + 30))  # just after 09:00 in New York
        scheduler.tick()
    local_days = [
        t.astimezone(ZoneInfo("America/New_York")).day for t in fire_times(app, schedule.id)
    ]
    assert local_days == [1, 3, 5]
    assert [r.skip_reason for r in runs_of(app, schedule.id, "skipped")] == [
        "blackout",
        "blackout",
    ]


def test_conditions_from_predicates_and_flags(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)

    @app.condition("even_minutes")
    def even_minutes(schedule: Schedule, fire_time: datetime) -> bool:
        return fire_time.minute % 2 == 0

    @app.condition("broken")
    def broken(schedule: Schedule, fire_time: datetime) -> bool:
        raise RuntimeError("no answer")

    by_predicate = app.schedules.create(
        name="p", task="noop", cron="* * * * *", condition="even_minutes"
    )
    by_flag = app.schedules.create(name="f", task="noop", cron="* * * * *", condition="feature")
    failing = app.schedules.create(name="x", task="noop", cron="* * * * *", condition="broken")
    scheduler = app.scheduler()
    clock.set(at(60))
    scheduler.tick()  # the flag does not exist yet
    with app.db.write() as conn:
        FlagStore(app.db.dialect).set(conn, "feature", True, at(60), "test")
    clock.set(at(120))
    scheduler.tick()
    with app.db.write() as conn:
        FlagStore(app.db.dialect).set(conn, "feature", False, at(120), "test")
    clock.set(at(180))
    scheduler.tick()
    assert fire_times(app, by_predicate.id) == [at(120)]
    assert fire_times(app, by_flag.id) == [at(120)]
    assert fire_times(app, failing.id) == []
    notes = [r.details["note"] for r in runs_of(app, by_flag.id, "skipped") if r.details]
    assert notes == ["no condition or flag named 'feature'", "flag is off"]
    failed = runs_of(app, failing.id, "skipped")[0]
    assert failed.skip_reason == "condition"
    assert failed.details is not None
    assert "RuntimeError: no answer" in failed.details["note"]


def test_jitter_delays_the_run_but_not_the_fire_time(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="j", task="noop", interval=60, jitter=30)
    scheduler = app.scheduler()
    for minute in range(1, 21):
        clock.set(at(minute * 60))
        scheduler.tick()
    found = runs_of(app, schedule.id)
    assert [r.scheduled_for for r in found] == [at(m * 60) for m in range(1, 21)]
    delays = [
        (r.run_at - r.scheduled_for).total_seconds() for r in found if r.run_at and r.scheduled_for
    ]
    assert all(0 <= d <= 30 for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize("policy", ["skip", "queue_one", "cancel_previous"])
def test_overlap_counts_run_now_runs(app: Tickwork, clock: FakeClock, policy: str) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="o", task="noop", interval=10, overlap_policy=policy)
    manual = app.schedules.run_now(schedule.id)
    clock.set(at(10))
    app.scheduler().tick()
    expected = {"skip": "skipped", "queue_one": "skipped", "cancel_previous": "queued"}[policy]
    (fired,) = [r for r in runs_of(app, schedule.id) if r.scheduled_for == at(10)]
    assert fired.status.value == expected
    if policy == "cancel_previous":
        assert app.runs.get(manual.id).status.value == "cancelled"
    with app.db.read() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar()
    assert total == 2


def test_workers_on_postgresql_are_notified_only_of_runnable_runs(
    pg_app: Tickwork, clock: FakeClock
) -> None:
    import psycopg

    from tickwork.duties.wakeup import libpq_conninfo
    from tickwork.storage.dialect import RUNS_CHANNEL

    app = pg_app
    register_schedule_tasks(app)
    runnable = app.schedules.create(name="n", task="noop", interval=10)
    scheduler = app.scheduler()
    with psycopg.connect(libpq_conninfo(app.db.url), autocommit=True) as listener:
        listener.execute(f"LISTEN {RUNS_CHANNEL}")
        listener.execute("LISTEN tickwork_test_sentinel")
        clock.set(at(10))
        assert scheduler.tick().runs == 1
        assert [n.channel for n in listener.notifies(timeout=SLACK, stop_after=1)] == [RUNS_CHANNEL]
        # A fire time that is only recorded as skipped wakes nobody: notifications arrive
        # in commit order, so nothing may come before a sentinel sent after the tick.
        app.schedules.pause(runnable.id)
        app.schedules.create(name="b", task="noop", interval=10, blackout_dates=["2030-01-01"])
        clock.set(at(21))
        report = scheduler.tick()
        assert (report.runs, report.skipped) == (0, 1)
        with psycopg.connect(libpq_conninfo(app.db.url), autocommit=True) as sender:
            sender.execute("NOTIFY tickwork_test_sentinel")
        arrived = [n.channel for n in listener.notifies(timeout=SLACK, stop_after=1)]
        assert arrived == ["tickwork_test_sentinel"]


def test_the_tick_reports_the_next_due_time(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    fast = app.schedules.create(name="fast", task="noop", interval=10)
    app.schedules.create(name="slow", task="noop", interval=25)
    stopped = app.schedules.create(name="stopped", task="noop", interval=5)
    app.schedules.pause(stopped.id)  # keeps next_run_at 5, but paused ones do not count
    scheduler = app.scheduler()
    expected = {10: at(20), 20: at(25), 25: at(30), 30: at(40)}
    for second, next_due in expected.items():
        clock.set(at(second))
        report = scheduler.tick(maintenance=False)
        assert report.next_due_known
        assert report.next_due_at == next_due, second
    app.schedules.update(fast.id, max_runs=4)
    clock.set(at(40))
    assert scheduler.tick(maintenance=False).next_due_at == at(50)  # fast completed
