"""Backfill and "run missed": one run per fire time of a span, never a second one."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.schedules import audit_actions, register_schedule_tasks, runs_of
from tickwork import FakeClock, Tickwork
from tickwork.domain.actor import PYTHON, Actor, Role
from tickwork.domain.backfill import BackfillResult
from tickwork.domain.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)  # a Tuesday


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_backfill_over_a_range_that_partly_ran_creates_only_the_missing_fire_times(
    app: Tickwork, clock: FakeClock
) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="b", task="noop", cron="*/10 * * * *")
    scheduler = app.scheduler()
    for minute in (10, 20, 30):
        clock.set(at(minute))
        scheduler.tick()
    clock.set(at(120))
    span = (at(0), at(60))

    preview = app.schedules.backfill(schedule.id, *span, dry_run=True)
    assert preview.fire_times == [at(m) for m in (0, 10, 20, 30, 40, 50)]
    assert preview.existing_fire_times == [at(10), at(20), at(30)]
    assert (preview.existing, preview.created, preview.missing) == (3, 0, 3)
    assert len(runs_of(app, schedule.id)) == 3

    done = app.schedules.backfill(schedule.id, *span)
    assert (done.existing, done.created) == (3, 3)
    backfilled = [r for r in runs_of(app, schedule.id) if r.trigger.value == "backfill"]
    assert [r.scheduled_for for r in backfilled] == [at(0), at(40), at(50)]
    assert sorted(done.run_ids) == sorted(r.id for r in backfilled)
    assert {r.status.value for r in backfilled} == {"queued"}
    # Their starts are spread at the backfill rate (10 a second by default).
    assert sorted(r.run_at for r in backfilled) == [
        clock.now() + timedelta(seconds=i / 10) for i in range(3)
    ]

    again = app.schedules.backfill(schedule.id, *span)
    assert (again.existing, again.created) == (6, 0)
    assert len(runs_of(app, schedule.id)) == 6
    assert audit_actions(app, schedule.id).count("schedule.backfill") == 2


def test_the_cap_cuts_a_long_span_and_the_dry_run_says_so(
    database_url: str, clock: FakeClock
) -> None:
    app = Tickwork(database_url, clock=clock, backfill_cap=5)
    try:
        register_schedule_tasks(app)
        schedule = app.schedules.create(name="c", task="noop", interval=60, start_at=T0)
        preview = app.schedules.backfill(schedule.id, at(0), at(60), dry_run=True)
        assert preview.fire_times == [at(m) for m in range(5)]
        assert preview.capped
        assert "cap of 5" in (preview.capped_reason or "")
        assert preview.cut_at == at(5)
        done = app.schedules.backfill(schedule.id, at(0), at(60))
        assert done.created == 5
        assert app.schedules.backfill(schedule.id, at(0), at(60)).created == 0
        rest = app.schedules.backfill(schedule.id, done.cut_at, at(60))
        assert rest.fire_times == [at(m) for m in range(5, 10)]
        assert rest.created == 5
    finally:
        app.close()


def test_windows_and_blackout_dates_exclude_fire_times_from_a_backfill(
    app: Tickwork, clock: FakeClock
) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(
        name="w",
        task="noop",
        cron="0 * * * *",
        windows=[{"start": "09:00", "end": "11:00"}],
        blackout_dates=["2030-01-02"],
    )
    result = app.schedules.backfill(schedule.id, T0, T0 + timedelta(days=2), dry_run=True)
    assert result.fire_times == [T0.replace(hour=h) for h in (9, 10, 11)]
    assert result.excluded == 45


def test_run_missed_backfills_exactly_the_fire_times_a_missed_entry_stands_for(
    app: Tickwork, clock: FakeClock
) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(
        name="m", task="noop", cron="*/10 * * * *", misfire_policy="skip"
    )
    scheduler = app.scheduler()
    clock.set(at(10))
    scheduler.tick()
    clock.set(at(55))  # down from 00:10 to 00:55: 00:20 .. 00:50 were missed
    scheduler.tick()
    (missed,) = [r for r in runs_of(app, schedule.id) if r.skip_reason == "missed"]
    assert missed.details is not None
    assert missed.details["count"] == 4

    preview = app.runs.run_missed(missed.id, dry_run=True)
    assert preview.fire_times == [at(m) for m in (20, 30, 40, 50)]
    assert preview.existing == 0
    done = app.runs.run_missed(missed.id)
    assert done.created == 4
    entries = {r.scheduled_for: r for r in runs_of(app, schedule.id)}
    assert [entries[at(m)].trigger.value for m in (20, 30, 40, 50)] == ["backfill"] * 4
    revived = entries[at(20)]
    assert revived.id == missed.id
    assert revived.status.value == "queued"
    assert revived.details is not None
    assert revived.details["skipped"]["reason"] == "missed"
    assert app.schedules.backfill(schedule.id, at(20), at(51)).created == 0
    with pytest.raises(InvalidInputError):
        app.runs.run_missed(entries[at(10)].id)


def test_backfill_checks_its_input_role_and_tenant(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="t", task="noop", cron="0 * * * *", tenant_id="acme")
    for start, end, field in [
        (at(60), at(0), "end"),
        ("yesterday", at(0), "start"),
        (at(0), "x" * 10_000, "end"),
    ]:
        with pytest.raises(InvalidInputError) as caught:
            app.schedules.backfill(schedule.id, start, end)
        assert caught.value.field == field
    viewer = Actor(name="v", role=Role.VIEWER)
    with pytest.raises(PermissionDeniedError):
        app.schedules.backfill(schedule.id, at(0), at(60), actor=viewer)
    other = Actor(name="o", role=Role.OPERATOR, tenant_id="globex")
    with pytest.raises(NotFoundError):
        app.schedules.backfill(schedule.id, at(0), at(60), actor=other)
    mine = Actor(name="a", role=Role.OPERATOR, tenant_id="acme")
    done = app.schedules.backfill(schedule.id, at(0), at(180), actor=mine)
    assert done.created == 3
    assert {r.tenant_id for r in runs_of(app, schedule.id)} == {"acme"}


def test_a_paused_schedule_does_not_hold_its_backfill(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="p", task="noop", cron="0 * * * *")
    app.schedules.pause(schedule.id, note="maintenance")
    clock.advance(6 * 3600)
    done = app.schedules.backfill(schedule.id, at(0), at(180))
    assert done.created == 3
    clock.advance(1)  # their starts are spread at the backfill rate
    app.worker(concurrency=2).run_until_idle(10)
    assert {r.status.value for r in runs_of(app, schedule.id)} == {"succeeded"}
    # Backfilled runs still waiting when the schedule resumes are not skipped as held.
    later = app.schedules.backfill(schedule.id, at(180), at(300))
    app.schedules.resume(schedule.id, misfire="skip")
    statuses = {r.id: r.status.value for r in runs_of(app, schedule.id)}
    assert {statuses[i] for i in later.run_ids} == {"queued"}


def test_a_group_schedule_whose_group_is_not_declared_here_is_refused_naming_group(
    app: Tickwork, database_url: str, clock: FakeClock
) -> None:
    @app.task("step.one", group="nightly")
    def one(ctx: object) -> None:
        return None

    schedule = app.schedules.create(name="g", group="nightly", cron="0 * * * *")
    elsewhere = Tickwork(database_url, clock=clock)  # a process without the group's tasks
    try:
        with pytest.raises(InvalidInputError) as caught:
            elsewhere.schedules.backfill(schedule.id, at(0), at(180), dry_run=True)
        assert caught.value.field == "group"
    finally:
        elsewhere.close()
    assert runs_of(app, schedule.id) == []
    assert app.schedules.backfill(schedule.id, at(0), at(180)).runs_created == 3


def test_a_backfill_racing_another_counts_only_the_runs_it_created(
    app: Tickwork, clock: FakeClock
) -> None:
    """Another backfill holds uncommitted runs for 00:00 and 00:10 while this one runs: this
    one waits on the unique fire-time key (PostgreSQL) or the write lock (SQLite), then
    counts those fire times as existing, not as its own."""
    register_schedule_tasks(app)
    schedule = app.schedules.create(name="r", task="noop", cron="*/10 * * * *")
    clock.set(at(120))
    results: list[BackfillResult] = []
    other = threading.Thread(
        target=lambda: results.append(app.schedules.backfill(schedule.id, at(0), at(40)))
    )
    service = app.backfill_service
    with app.db.write() as conn:
        rows = service._rows(PYTHON, app.schedules.get(schedule.id), [at(0), at(10)], at(120))
        assert len(service.store.insert(conn, rows)) == 2
        other.start()
        other.join(0.3)
        assert other.is_alive()
    other.join(20)
    (result,) = results
    assert (result.created, result.existing) == (2, 2)
    assert result.existing_fire_times == [at(0), at(10)]
    mine = [r for r in runs_of(app, schedule.id) if r.scheduled_for in (at(20), at(30))]
    assert result.run_ids == sorted(r.id for r in mine)
    assert len(runs_of(app, schedule.id)) == 4
