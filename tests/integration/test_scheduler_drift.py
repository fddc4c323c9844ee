"""No drift: over hundreds of irregular ticks every fire time is exactly on its grid, once."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tests.support.schedules import fire_times, register_schedule_tasks
from tickwork import FakeClock, Tickwork

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def test_fire_times_stay_on_the_grid(app: Tickwork, clock: FakeClock) -> None:
    register_schedule_tasks(app)
    rng = random.Random(7)
    seven = app.schedules.create(name="seven", task="noop", interval=7)
    odd = app.schedules.create(
        name="odd", task="noop", interval=13.25, start_at=T0 + timedelta(seconds=3.5)
    )
    every_five = app.schedules.create(name="five", task="noop", cron="*/5 * * * * *")
    minutes = app.schedules.create(
        name="minutes", task="noop", cron="30 */2 * * * *", timezone="Asia/Kolkata"
    )
    scheduler = app.scheduler()
    for _ in range(250):
        # Irregular and sometimes long gaps, but within the default 60 s grace.
        clock.advance(rng.choice([rng.uniform(0.001, 1.5), rng.uniform(1, 9), 45.7]))
        scheduler.tick()
    now = clock.now()

    def assert_grid(schedule_id: int, expected: list[datetime]) -> None:
        found = fire_times(app, schedule_id)
        assert found == expected
        after = app.schedules.get(schedule_id)
        assert after.run_count == len(expected)
        assert after.last_run_at == expected[-1]
        assert after.next_run_at is not None
        assert after.next_run_at > now

    step7 = timedelta(seconds=7)
    assert_grid(seven.id, [T0 + step7 * k for k in range(1, (now - T0) // step7 + 1)])
    step13 = timedelta(seconds=13.25)
    first13 = T0 + timedelta(seconds=3.5)
    assert_grid(odd.id, [first13 + step13 * k for k in range((now - first13) // step13 + 1)])
    step5 = timedelta(seconds=5)
    assert_grid(every_five.id, [T0 + step5 * k for k in range(1, (now - T0) // step5 + 1)])
    # Second 30 of every even minute in Kolkata (UTC+05:30, no DST): 05:30:30 local is
    # 00:00:30 UTC, and every two minutes after.
    first_minute = datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC)
    step2 = timedelta(minutes=2)
    expected_minutes = [first_minute + step2 * k for k in range((now - first_minute) // step2 + 1)]
    assert expected_minutes[:3] == [
        datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC),
        datetime(2030, 1, 1, 0, 2, 30, tzinfo=UTC),
        datetime(2030, 1, 1, 0, 4, 30, tzinfo=UTC),
    ]
    assert len(expected_minutes) > 10
    assert_grid(minutes.id, expected_minutes)
