"""The scheduler across DST changes, ticking with a fake clock: Vixie cron semantics end to end.

A fixed-time job runs exactly once per local day (right after the jump when its time is
skipped, the first time when it repeats); a wildcard-hour job follows the wall clock.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.schedules import fire_times, register_schedule_tasks
from tickwork import FakeClock, Tickwork

TRANSITIONS = [
    ("Europe/London", date(2030, 3, 31)),
    ("Europe/London", date(2030, 10, 27)),
    ("America/New_York", date(2030, 3, 10)),
    ("America/New_York", date(2030, 11, 3)),
    ("Australia/Sydney", date(2030, 10, 6)),
    ("Australia/Sydney", date(2030, 4, 7)),
]
FIXED = ["30 1 * * *", "30 2 * * *", "0 30 2 * * *"]
WILDCARD = "0 * * * *"


@pytest.mark.parametrize(("zone", "day"), TRANSITIONS, ids=[f"{z}-{d}" for z, d in TRANSITIONS])
def test_scheduler_follows_vixie_cron_across_dst(
    app: Tickwork, clock: FakeClock, zone: str, day: date
) -> None:
    tz = ZoneInfo(zone)
    rng = random.Random(f"{zone}{day}")
    register_schedule_tasks(app)
    start = datetime.combine(day - timedelta(days=1), time(), tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=2), time(), tz).astimezone(UTC)
    clock.set(start)
    ids = {
        expr: app.schedules.create(
            name=expr, task="noop", cron=expr, timezone=zone, end_at=end - timedelta(seconds=1)
        ).id
        for expr in [*FIXED, WILDCARD]
    }
    scheduler = app.scheduler()
    while True:
        due = [s.next_run_at for s in app.schedules.list(status="active") if s.next_run_at]
        if not due:
            break
        # Tick a little after the earliest due time, never exactly on it.
        clock.set(min(due) + timedelta(seconds=rng.uniform(0.001, 30)))
        scheduler.tick()
    assert app.schedules.list(status="active") == []

    local_days = [day - timedelta(days=1), day, day + timedelta(days=1)]
    for expr in FIXED:
        fired = fire_times(app, ids[expr])
        per_day = [t.astimezone(tz).date() for t in fired]
        assert per_day == local_days, (expr, fired)

    hourly = fire_times(app, ids[WILDCARD])
    assert all(t.astimezone(tz).minute == 0 for t in hourly)
    assert {b - a for a, b in itertools.pairwise(hourly)} == {timedelta(hours=1)}
    counts = [sum(1 for t in hourly if t.astimezone(tz).date() == d) for d in local_days]
    is_spring = tz.utcoffset(datetime.combine(day + timedelta(days=1), time())) > tz.utcoffset(
        datetime.combine(day - timedelta(days=1), time())
    )
    # The hour after midnight of the first day is the first fire (created at midnight).
    assert counts == [23, 23 if is_spring else 25, 24]
