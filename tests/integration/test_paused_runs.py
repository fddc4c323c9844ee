"""A paused schedule's runs that have not started are held, not run, on SQLite and
PostgreSQL: they run after resume, or are skipped (reason ``paused``) when their fire time
is older than the misfire grace by then. A Run Now still runs; an idle worker does not spin
on held runs."""

from __future__ import annotations

from tickwork import Context, FakeClock, Tickwork
from tickwork.domain.models import RunStatus
from tickwork.duties.worker.claimer import Claimer


def _register(app: Tickwork) -> None:
    @app.task("noop")
    def noop(ctx: Context) -> None:
        return None


def _queued_run(app: Tickwork, clock: FakeClock, grace: float = 60) -> tuple[int, int]:
    schedule = app.schedules.create(
        name="every-minute", task="noop", cron="* * * * *", misfire_grace=grace
    )
    clock.advance(60)
    app.scheduler().tick()
    [run] = app.runs.list(schedule_id=schedule.id)
    assert run.status is RunStatus.QUEUED
    return schedule.id, run.id


def test_a_queued_run_of_a_paused_schedule_waits_for_resume(
    app: Tickwork, clock: FakeClock
) -> None:
    _register(app)
    schedule_id, run_id = _queued_run(app, clock)
    app.schedules.pause(schedule_id, note="vendor maintenance")
    app.worker().run_until_idle(10)
    assert app.runs.get(run_id).status is RunStatus.QUEUED  # held
    clock.advance(30)  # within the 60 s grace of its fire time
    app.schedules.resume(schedule_id, misfire="skip")
    app.worker().run_until_idle(10)
    assert app.runs.get(run_id).status is RunStatus.SUCCEEDED


def test_a_held_run_past_the_grace_is_skipped_with_reason_paused(
    app: Tickwork, clock: FakeClock
) -> None:
    _register(app)
    schedule_id, run_id = _queued_run(app, clock, grace=60)
    app.schedules.pause(schedule_id)
    clock.advance(3600)
    app.schedules.resume(schedule_id, misfire="skip")
    skipped = app.runs.get(run_id)
    assert skipped.status is RunStatus.SKIPPED
    assert skipped.skip_reason == "paused"
    app.worker().run_until_idle(10)
    assert app.runs.get(run_id).status is RunStatus.SKIPPED


def test_run_now_of_a_paused_schedule_runs_and_held_runs_do_not_wake_an_idle_worker(
    app: Tickwork, clock: FakeClock
) -> None:
    _register(app)
    schedule_id, held_id = _queued_run(app, clock)
    app.schedules.pause(schedule_id)
    manual = app.schedules.run_now(schedule_id)
    app.worker().run_until_idle(10)
    assert app.runs.get(manual.id).status is RunStatus.SUCCEEDED
    assert app.runs.get(held_id).status is RunStatus.QUEUED
    worker = app.worker(poll_interval=0.5)
    claimer: Claimer = worker._claimer  # type: ignore[attr-defined]
    assert claimer._idle_delay() == 0.5  # the held run is not "due now"
