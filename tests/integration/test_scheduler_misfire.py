"""The scheduler after downtime: every misfire policy, and no flood of catch-up runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.schedules import fire_times, register_schedule_tasks, runs_of
from tickwork import FakeClock, Tickwork
from tickwork.duties.scheduler import SchedulerConfig

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize("policy", ["skip", "run_once", "run_all"])
@pytest.mark.parametrize("trigger", ["interval", "cron"])
def test_each_policy_after_six_hours_down(
    app: Tickwork, clock: FakeClock, policy: str, trigger: str
) -> None:
    register_schedule_tasks(app)
    timing = {"interval": 60} if trigger == "interval" else {"cron": "* * * * *"}
    schedule = app.schedules.create(
        name="m", task="noop", misfire_policy=policy, misfire_grace=10, misfire_cap=5, **timing
    )
    scheduler = app.scheduler()
    clock.set(at(61))
    assert scheduler.tick().runs == 1
    # Down from just after 00:01 until 06:00:30: fire times 120 .. 21600 were missed.
    clock.set(at(21630))
    report = scheduler.tick()
    expected_runs, missed_count, first, last = {
        "skip": ([], 359, 120, 21600),
        "run_once": ([21600], 358, 120, 21540),
        "run_all": ([120, 180, 240, 300, 360], 354, 420, 21600),
    }[policy]
    assert report.runs == len(expected_runs)
    assert fire_times(app, schedule.id) == [at(60)] + [at(s) for s in expected_runs]
    (missed,) = runs_of(app, schedule.id, "skipped")
    assert missed.skip_reason == "missed"
    assert missed.details == {
        "count": missed_count,
        "count_is_exact": True,
        "first": at(first).isoformat(),
        "last": at(last).isoformat(),
        "policy": policy,
        # run_once records which missed fire time got the one catch-up run.
        **({"caught_up": at(21600).isoformat()} if policy == "run_once" else {}),
    }
    late = [r for r in runs_of(app, schedule.id, "queued") if r.details]
    assert [r.scheduled_for for r in late] == [at(s) for s in expected_runs]
    # Then the normal cadence resumes.
    after = app.schedules.get(schedule.id)
    assert after.next_run_at == at(21660)
    clock.set(at(21661))
    assert scheduler.tick().runs == 1


def test_nothing_floods_after_a_day_down(app: Tickwork, clock: FakeClock) -> None:
    """100 every-second schedules, run_all capped at 10, down for a day."""
    register_schedule_tasks(app)
    for index in range(100):
        app.schedules.create(
            name=f"s{index}",
            task="noop",
            interval=1,
            misfire_policy="run_all",
            misfire_cap=10,
            misfire_grace=0,
        )
    scheduler = app.scheduler(SchedulerConfig(batch_size=25, max_per_tick=60, lookahead=0))
    clock.set(at(86400.5))
    first = scheduler.tick()
    # At most max_per_tick schedules per tick, each at most cap catch-up runs.
    assert (first.schedules, first.runs, first.skipped) == (60, 600, 60)
    second = scheduler.tick()
    assert (second.schedules, second.runs, second.skipped) == (40, 400, 40)
    assert scheduler.tick().schedules == 0
    for schedule in app.schedules.list(limit=500):
        assert schedule.next_run_at == at(86401)
        assert schedule.run_count == 10
    clock.set(at(86401))
    assert scheduler.tick().runs + scheduler.tick().runs == 100
