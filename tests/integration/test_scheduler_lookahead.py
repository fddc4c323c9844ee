"""The scheduler creates runs up to `lookahead` seconds before their fire time.

They wait in the queue until their run_at; editing or pausing the schedule withdraws them,
so the old definition never runs at a fire time that had not come yet.
"""

from __future__ import annotations

from datetime import timedelta

from tickwork import Context, FakeClock, SchedulerConfig, Tickwork
from tickwork.domain.actor import Actor


def _setup(app: Tickwork, clock: FakeClock) -> int:
    @app.task("echo")
    def echo(ctx: Context, payload: dict) -> dict:
        return payload

    schedule = app.schedules.create(
        name="every-10s",
        task="echo",
        interval=10,
        payload={"v": 1},
        start_at=clock.now() + timedelta(seconds=10),
    )
    return schedule.id


def test_runs_are_queued_ahead_but_start_on_time(app: Tickwork, clock: FakeClock) -> None:
    schedule_id = _setup(app, clock)
    fire = clock.now() + timedelta(seconds=10)
    scheduler = app.scheduler(SchedulerConfig(lookahead=1.0))
    clock.set(fire - timedelta(seconds=0.4))
    report = scheduler.tick()
    assert report.runs == 1
    assert report.lateness == [-0.4]
    [run] = app.runs.list(schedule_id=schedule_id)
    assert run.scheduled_for == fire
    assert run.run_at == fire
    assert app.schedules.get(schedule_id).next_run_at == fire + timedelta(seconds=10)
    app.worker(concurrency=1).run_until_idle(5)
    assert app.runs.get(run.id).status.value == "queued"
    clock.set(fire)
    app.worker(concurrency=1).run_until_idle(5)
    assert app.runs.get(run.id).status.value == "succeeded"
    assert scheduler.tick().runs == 0


def test_pause_withdraws_early_runs_and_resume_brings_them_back(
    app: Tickwork, clock: FakeClock
) -> None:
    schedule_id = _setup(app, clock)
    fire = clock.now() + timedelta(seconds=10)
    scheduler = app.scheduler(SchedulerConfig(lookahead=1.0))
    clock.set(fire - timedelta(seconds=0.5))
    assert scheduler.tick().runs == 1
    paused = app.schedules.pause(schedule_id)
    assert app.runs.list(schedule_id=schedule_id) == []
    assert paused.next_run_at == fire
    assert paused.run_count == 0
    app.schedules.resume(schedule_id)
    assert scheduler.tick().runs == 1
    [run] = app.runs.list(schedule_id=schedule_id)
    assert run.scheduled_for == fire


def test_an_edit_replaces_early_runs_with_the_new_definition(
    app: Tickwork, clock: FakeClock
) -> None:
    schedule_id = _setup(app, clock)
    fire = clock.now() + timedelta(seconds=10)
    scheduler = app.scheduler(SchedulerConfig(lookahead=1.0))
    clock.set(fire - timedelta(seconds=0.5))
    assert scheduler.tick().runs == 1
    app.schedules.update(schedule_id, payload={"v": 2}, actor=Actor(name="ops"))
    assert scheduler.tick().runs == 1
    [run] = app.runs.list(schedule_id=schedule_id)
    assert app.runs.get(run.id).payload == {"v": 2}
    assert run.scheduled_for == fire
    clock.set(fire)
    app.worker(concurrency=1).run_until_idle(5)
    assert app.runs.get(run.id).result == {"v": 2}


def test_started_or_due_runs_are_never_withdrawn(app: Tickwork, clock: FakeClock) -> None:
    schedule_id = _setup(app, clock)
    fire = clock.now() + timedelta(seconds=10)
    scheduler = app.scheduler(SchedulerConfig(lookahead=1.0))
    clock.set(fire - timedelta(seconds=0.5))
    scheduler.tick()
    clock.set(fire + timedelta(seconds=0.1))
    app.schedules.pause(schedule_id)
    [run] = app.runs.list(schedule_id=schedule_id)
    assert run.status.value == "queued"
    assert run.scheduled_for == fire


def test_conditions_and_overlap_policies_are_judged_at_the_fire_time(
    app: Tickwork, clock: FakeClock
) -> None:
    @app.task("noop")
    def noop(ctx: Context) -> None:
        return None

    start = clock.now() + timedelta(seconds=10)
    app.flags.set(Actor(name="ops"), "feature", False)
    by_flag = app.schedules.create(
        name="by-flag", task="noop", interval=10, start_at=start, condition="feature"
    )
    skipping = app.schedules.create(
        name="skipping", task="noop", interval=10, start_at=start, overlap_policy="skip"
    )
    eager = app.schedules.create(name="eager", task="noop", interval=10, start_at=start)
    scheduler = app.scheduler(SchedulerConfig(lookahead=1.0))
    clock.set(start - timedelta(seconds=0.5))
    report = scheduler.tick()
    # Only the schedule whose runs do not depend on the moment fires early; the loop
    # then sleeps until the others are due instead of spinning.
    assert report.runs == 1
    assert [r.schedule_id for r in app.runs.list()] == [eager.id]
    assert scheduler.seconds_until_due(report) == 0.5
    # The flag turns on in the last half second: the fire time sees it.
    app.flags.set(Actor(name="ops"), "feature", True)
    clock.set(start)
    assert scheduler.tick().runs == 2
    fired = {r.schedule_id: r for r in app.runs.list()}
    assert set(fired) == {by_flag.id, skipping.id, eager.id}
    assert all(r.scheduled_for == start and r.status.value == "queued" for r in fired.values())
