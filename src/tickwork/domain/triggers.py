"""Fire times of a schedule's trigger, bounded by ``start_at`` and ``end_at``.

Fire times are always derived from the previous *intended* fire time, never from "now"
or from when a run finished, so schedules do not drift. Interval schedules are anchored:
their fire times are ``anchor_at + k * interval`` for whole ``k``.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Protocol

from tickwork.domain import cron
from tickwork.domain.errors import TickworkError
from tickwork.domain.models import TriggerType

_EPSILON = timedelta(microseconds=1)


class Timing(Protocol):
    """The fields of a schedule that decide its fire times."""

    @property
    def trigger(self) -> TriggerType: ...
    @property
    def cron(self) -> str | None: ...
    @property
    def interval(self) -> float | None: ...
    @property
    def run_at(self) -> datetime | None: ...
    @property
    def timezone(self) -> str: ...
    @property
    def start_at(self) -> datetime | None: ...
    @property
    def end_at(self) -> datetime | None: ...
    @property
    def anchor_at(self) -> datetime | None: ...


def _micros(seconds: float) -> int:
    return max(1, round(seconds * 1_000_000))


def _anchor(timing: Timing) -> datetime:
    anchor = timing.anchor_at or timing.start_at
    if anchor is None:
        raise ValueError("an interval schedule needs anchor_at or start_at")
    return anchor


def _interval_after(anchor: datetime, step_us: int, after: datetime) -> datetime:
    if after < anchor:
        return anchor
    elapsed = (after - anchor) // _EPSILON
    return anchor + timedelta(microseconds=(elapsed // step_us + 1) * step_us)


def _interval_at_or_before(anchor: datetime, step_us: int, moment: datetime) -> datetime | None:
    if moment < anchor:
        return None
    elapsed = (moment - anchor) // _EPSILON
    return anchor + timedelta(microseconds=(elapsed // step_us) * step_us)


def next_after(timing: Timing, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after``, or ``None`` when none is left."""
    return next(iter_after(timing, after), None)


def iter_after(timing: Timing, after: datetime) -> Generator[datetime, None, str]:
    """Successive fire times strictly after ``after``, within ``start_at`` and ``end_at``.

    One iterator walks a cron expression without parsing it again at every step, so
    catching up many fire times stays cheap. When the fire times run out, the generator
    returns why (its ``StopIteration.value``), such as the schedule's ``end_at``.
    """
    if timing.start_at is not None and after < timing.start_at:
        after = timing.start_at - _EPSILON
    found: Generator[datetime, None, str]
    match timing.trigger:
        case TriggerType.CRON:
            assert timing.cron is not None
            found = cron.iterate(timing.cron, timing.timezone, after)
        case TriggerType.INTERVAL:
            assert timing.interval is not None
            found = _interval_iter(_anchor(timing), _micros(timing.interval), after)
        case TriggerType.ONCE:
            found = _once(timing.run_at, after)
        case _:
            found = _manual()
    end = timing.end_at
    while True:
        try:
            moment = next(found)
        except StopIteration as stop:
            return str(stop.value)
        if end is not None and moment > end:
            local = end.astimezone(cron.zone(timing.timezone))
            return f"the schedule ends at {local:%Y-%m-%d %H:%M:%S} ({timing.timezone})"
        yield moment


def upcoming(timing: Timing, after: datetime, count: int) -> cron.FireTimes:
    """Up to ``count`` fire times strictly after ``after`` for a preview, saying why if fewer.

    Like a cron preview, it looks 100 years ahead at most.
    """
    return cron.take(iter_after(timing, after), count, cron.preview_horizon(after))


def _interval_iter(
    anchor: datetime, step_us: int, after: datetime
) -> Generator[datetime, None, str]:
    current = _interval_after(anchor, step_us, after)
    step = timedelta(microseconds=step_us)
    while True:
        yield current
        current += step


def _once(run_at: datetime | None, after: datetime) -> Generator[datetime, None, str]:
    if run_at is not None and run_at > after:
        yield run_at
    return "a one-time schedule fires once"


def _manual() -> Generator[datetime, None, str]:
    yield from ()
    return "a manual schedule fires only when started"


def latest_at_or_before(timing: Timing, moment: datetime) -> datetime | None:
    """The last fire time at or before ``moment`` (used to jump over long downtimes)."""
    if timing.end_at is not None and moment > timing.end_at:
        moment = timing.end_at
    found: datetime | None
    match timing.trigger:
        case TriggerType.CRON:
            assert timing.cron is not None
            found = cron.last_fire(timing.cron, timing.timezone, moment)
        case TriggerType.INTERVAL:
            assert timing.interval is not None
            found = _interval_at_or_before(_anchor(timing), _micros(timing.interval), moment)
        case TriggerType.ONCE:
            found = timing.run_at if timing.run_at is not None and timing.run_at <= moment else None
        case _:
            found = None
    if found is not None and timing.start_at is not None and found < timing.start_at:
        return None
    if found is not None and found > moment:
        return None
    return found


def count_between(timing: Timing, first: datetime, last: datetime) -> int | None:
    """How many fire times lie in ``[first, last]``, when that can be computed directly."""
    if timing.trigger is TriggerType.INTERVAL and timing.interval is not None:
        return (last - first) // timedelta(microseconds=_micros(timing.interval)) + 1
    return None


def first_fire(timing: Timing, now: datetime) -> datetime | None:
    """The fire time a new or re-timed schedule starts from.

    A ``once`` schedule keeps its ``run_at`` even when it has passed, so the misfire policy
    decides what happens; other triggers start strictly after ``now``.
    """
    if timing.trigger is TriggerType.ONCE:
        run_at = timing.run_at
        if run_at is None or (timing.end_at is not None and run_at > timing.end_at):
            return None
        return run_at
    return next_after(timing, now)


def describe(timing: Timing) -> str:
    """The schedule in words, such as "At 09:00 on Monday through Friday (Europe/London)"."""
    match timing.trigger:
        case TriggerType.CRON:
            assert timing.cron is not None
            text = cron.describe(timing.cron)
            return f"{text} ({timing.timezone})"
        case TriggerType.INTERVAL:
            assert timing.interval is not None
            return f"Every {describe_seconds(timing.interval)}"
        case TriggerType.ONCE:
            assert timing.run_at is not None
            local = timing.run_at.astimezone(cron.zone(timing.timezone))
            return f"Once at {local:%Y-%m-%d %H:%M:%S} ({timing.timezone})"
        case _:
            return "Manually only"


def stored_problem(timing: Timing) -> str | None:
    """Why a *stored* schedule's timing cannot be used (a cron expression or zone edited by
    hand, or valid under an older version, that no longer parses), or ``None``.

    Listings show such a schedule as ``failed`` with this message instead of failing.
    """
    try:
        cron.zone(timing.timezone)
        describe(timing)
    except TickworkError as exc:
        return exc.message
    return None


def describe_stored(timing: Timing) -> str:
    """:func:`describe` for a stored schedule: its problem instead of raising."""
    problem = stored_problem(timing)
    return f"cannot fire: {problem}" if problem else describe(timing)


def describe_seconds(seconds: float) -> str:
    """A duration in the largest whole unit, such as "5 minutes", "hour" or "90 seconds"."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            amount = int(seconds // size)
            return unit if amount == 1 else f"{amount} {unit}s"
    if seconds == int(seconds):
        amount = int(seconds)
        return "second" if amount == 1 else f"{amount} seconds"
    return f"{seconds:g} seconds"
