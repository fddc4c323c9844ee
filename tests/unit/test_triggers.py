"""Fire times of each trigger: anchoring, bounds, and no drift."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tickwork.domain import triggers
from tickwork.domain.models import TriggerType

T0 = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Timing:
    trigger: TriggerType
    cron: str | None = None
    interval: float | None = None
    run_at: datetime | None = None
    timezone: str = "UTC"
    start_at: datetime | None = None
    end_at: datetime | None = None
    anchor_at: datetime | None = None


def test_interval_is_anchored_not_relative_to_the_question() -> None:
    timing = Timing(TriggerType.INTERVAL, interval=10, anchor_at=T0)
    assert triggers.next_after(timing, T0) == T0 + timedelta(seconds=10)
    # Asked late and at odd moments, the answer stays on the grid.
    assert triggers.next_after(timing, T0 + timedelta(seconds=23.7)) == T0 + timedelta(seconds=30)
    assert triggers.next_after(timing, T0 - timedelta(days=1)) == T0
    assert triggers.latest_at_or_before(timing, T0 + timedelta(seconds=39.99)) == T0 + timedelta(
        seconds=30
    )


def test_interval_uses_start_at_when_no_anchor() -> None:
    timing = Timing(TriggerType.INTERVAL, interval=60, start_at=T0 + timedelta(hours=1))
    assert triggers.next_after(timing, T0) == T0 + timedelta(hours=1)


def test_start_and_end_bound_cron() -> None:
    timing = Timing(
        TriggerType.CRON,
        cron="0 * * * *",
        start_at=T0 + timedelta(hours=5),
        end_at=T0 + timedelta(hours=7),
    )
    times = list(triggers.iter_after(timing, T0))
    assert times == [T0 + timedelta(hours=h) for h in (5, 6, 7)]
    assert triggers.latest_at_or_before(timing, T0 + timedelta(days=1)) == T0 + timedelta(hours=7)
    assert triggers.latest_at_or_before(timing, T0 + timedelta(hours=4)) is None


def test_once_fires_at_its_run_at_and_manual_never_fires() -> None:
    once = Timing(TriggerType.ONCE, run_at=T0)
    assert triggers.next_after(once, T0 - timedelta(seconds=1)) == T0
    assert triggers.next_after(once, T0) is None
    # A once schedule keeps its passed run_at, so the misfire policy decides.
    assert triggers.first_fire(once, T0 + timedelta(hours=1)) == T0
    manual = Timing(TriggerType.MANUAL)
    assert triggers.first_fire(manual, T0) is None


def test_count_between() -> None:
    timing = Timing(TriggerType.INTERVAL, interval=5, anchor_at=T0)
    assert triggers.count_between(timing, T0, T0 + timedelta(seconds=50)) == 11
    assert triggers.count_between(Timing(TriggerType.CRON, cron="* * * * *"), T0, T0) is None


def test_describe() -> None:
    assert triggers.describe(Timing(TriggerType.INTERVAL, interval=300)) == "Every 5 minutes"
    assert triggers.describe(Timing(TriggerType.INTERVAL, interval=1)) == "Every second"
    assert triggers.describe(Timing(TriggerType.INTERVAL, interval=90)) == "Every 90 seconds"
    assert "Europe/Paris" in triggers.describe(
        Timing(TriggerType.CRON, cron="0 9 * * *", timezone="Europe/Paris")
    )
    assert triggers.describe(Timing(TriggerType.MANUAL)) == "Manually only"


@settings(max_examples=200, deadline=None)
@given(
    interval=st.floats(min_value=1, max_value=86400 * 3, allow_nan=False),
    offset_us=st.integers(min_value=-(10**12), max_value=10**12),
    steps=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=20),
)
def test_interval_fire_times_never_drift(interval: float, offset_us: int, steps: list[int]) -> None:
    """However irregularly it is asked, every answer is anchor + k * interval."""
    timing = Timing(TriggerType.INTERVAL, interval=interval, anchor_at=T0)
    step = timedelta(microseconds=round(interval * 1_000_000))
    moment = T0 + timedelta(microseconds=offset_us)
    previous = None
    for advance in steps:
        moment += timedelta(microseconds=advance)
        found = triggers.next_after(timing, moment)
        assert found is not None
        assert found > moment
        assert (found - T0) % step == timedelta(0)
        assert found - step <= moment or found == T0
        if previous is not None:
            assert found >= previous
        previous = found


@settings(max_examples=100, deadline=None)
@given(interval=st.integers(min_value=1, max_value=7200), count=st.integers(2, 50))
def test_iterating_equals_stepping(interval: int, count: int) -> None:
    timing = Timing(TriggerType.INTERVAL, interval=interval, anchor_at=T0)
    walked = list(itertools.islice(triggers.iter_after(timing, T0), count))
    stepped = []
    moment = T0
    for _ in range(count):
        nxt = triggers.next_after(timing, moment)
        assert nxt is not None
        stepped.append(nxt)
        moment = nxt
    assert walked == stepped
