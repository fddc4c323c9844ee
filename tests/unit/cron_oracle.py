"""A brute-force cron oracle that shares no code with tickwork or cronsim.

It reads an expression by Debian cron's rules and finds fire times by visiting UTC seconds
in order, converting each to local wall time with zoneinfo and matching the fields, as a
cron daemon waking every second would. DST follows DESIGN section 3 (Vixie cron):

- a *fixed-time* expression (neither the minute nor the hour field starts with ``*``) fires
  at the first instant showing a matching wall time, and once at a forward jump when any
  wall time the jump skipped matches;
- any other expression fires at every instant whose wall time matches.

Fields (Debian's ``get_range``): ``*`` is the whole range, ``a`` one value, ``a-b`` a range
and ``/n`` a step through it; ``a/n`` runs from ``a`` to the field's maximum (Debian's
extension); names for months and weekdays; weekday ``7`` is Sunday. When the day-of-month
or the day-of-week field starts with ``*`` both must match, otherwise either. ``L``, ``W``
and ``#`` are not read.

Seconds are visited hierarchically only to be fast: a UTC day, hour or minute over which
the offset does not change and in which no wall time could match is passed over whole.
The oracle assumes no zone changes its offset twice within one UTC day.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (low, high, names, first name's value) for second, minute, hour, day, month, weekday.
BOUNDS: list[tuple[int, int, list[str], int]] = [
    (0, 59, [], 0),
    (0, 59, [], 0),
    (0, 23, [], 0),
    (1, 31, [], 0),
    (1, 12, MONTH_NAMES, 1),
    (0, 7, DAY_NAMES, 0),
]
ONE_SECOND = timedelta(seconds=1)
UNITS = [86400, 3600, 60, 1]


def _number(text: str, names: list[str], first: int) -> int:
    upper = text.upper()
    if upper in names:
        return names.index(upper) + first
    return int(text)


def parse_field(text: str, index: int) -> frozenset[int]:
    """The values one field allows, by Debian's ``get_list`` and ``get_range``."""
    low, high, names, first = BOUNDS[index]
    values: set[int] = set()
    for item in text.split(","):
        term, stepped, step_text = item.partition("/")
        step = int(step_text) if stepped else 1
        assert step > 0
        if term == "*":
            start, stop = low, high
        elif "-" in term:
            left, right = term.split("-")
            start, stop = _number(left, names, first), _number(right, names, first)
        else:
            start = _number(term, names, first)
            stop = high if stepped else start
        assert low <= start <= stop <= high, text
        values.update(range(start, stop + 1, step))
    if index == 5 and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True)
class Spec:
    """A parsed expression."""

    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_star: bool
    fixed: bool

    def date_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_day = day.day in self.days
        by_weekday = day.isoweekday() % 7 in self.weekdays
        return (by_day and by_weekday) if self.day_star else (by_day or by_weekday)

    def matches(self, wall: datetime) -> bool:
        return (
            wall.second in self.seconds
            and wall.minute in self.minutes
            and wall.hour in self.hours
            and self.date_matches(wall.date())
        )

    def may_match(self, start: datetime, end: datetime, unit: int) -> bool:
        """Whether a wall time in ``[start, end)`` may match, judged per ``unit`` seconds."""
        whole = start.replace(microsecond=0)
        if unit == 86400:
            whole = whole.replace(hour=0, minute=0, second=0)
        elif unit == 3600:
            whole = whole.replace(minute=0, second=0)
        elif unit == 60:
            whole = whole.replace(second=0)
        while whole < end:
            if self.date_matches(whole.date()) and (
                unit == 86400
                or (
                    whole.hour in self.hours
                    and (unit == 3600 or (whole.minute in self.minutes and unit == 60))
                )
            ):
                return True
            whole += timedelta(seconds=unit)
        return False


def parse(expr: str) -> Spec:
    parts = expr.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    assert len(parts) == 6
    seconds, minutes, hours, days, months, weekdays = (
        parse_field(text, i) for i, text in enumerate(parts)
    )
    return Spec(
        seconds,
        minutes,
        hours,
        days,
        months,
        weekdays,
        day_star=parts[3].startswith("*") or parts[5].startswith("*"),
        fixed=not parts[1].startswith("*") and not parts[2].startswith("*"),
    )


def _offset(moment: datetime, tz: ZoneInfo) -> timedelta:
    offset = moment.astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def _wall(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def _fires_at(spec: Spec, tz: ZoneInfo, moment: datetime) -> bool:
    local = moment.astimezone(tz)
    wall = local.replace(tzinfo=None)
    if not spec.fixed:
        return spec.matches(wall)
    if spec.matches(wall) and local.fold == 0:
        return True
    previous = moment - ONE_SECOND
    before, after = _offset(previous, tz), _offset(moment, tz)
    if after <= before:
        return False
    # The clocks jumped at ``moment``: wall times from one second after the previous
    # reading up to this one were skipped, and a fixed-time job due in them runs now.
    skipped = _wall(previous, tz) + ONE_SECOND
    while skipped < wall:
        if spec.matches(skipped):
            return True
        skipped += ONE_SECOND
    return False


def _seconds(spec: Spec, tz: ZoneInfo, start: datetime, level: int) -> Iterator[datetime]:
    """Fire instants in the UTC span of ``UNITS[level]`` seconds beginning at ``start``."""
    unit = UNITS[level]
    if unit == 1:
        if _fires_at(spec, tz, start):
            yield start
        return
    end = start + timedelta(seconds=unit)
    offset = _offset(start, tz)
    steady = _offset(start - ONE_SECOND, tz) == offset == _offset(end - ONE_SECOND, tz)
    if steady and not spec.may_match(start + offset, end + offset, unit):
        return
    sub = UNITS[level + 1]
    for k in range(unit // sub):
        yield from _seconds(spec, tz, start + timedelta(seconds=k * sub), level + 1)


def fire_times(
    expr: str, zone: str, after: datetime, count: int, horizon: timedelta
) -> list[datetime]:
    """Up to ``count`` fire times strictly after ``after`` and no later than ``after + horizon``."""
    spec = parse(expr)
    tz = ZoneInfo(zone)
    end = after + horizon
    day = after.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    found: list[datetime] = []
    while day <= end:
        for moment in _seconds(spec, tz, day, 0):
            if moment <= after:
                continue
            if moment > end:
                return found
            found.append(moment)
            if len(found) == count:
                return found
        day += timedelta(days=1)
    return found


def transitions(zone: str, first: datetime, last: datetime) -> list[datetime]:
    """The instants in ``[first, last)`` at which the zone's UTC offset changes, by scanning."""
    tz = ZoneInfo(zone)
    found = []
    day = first
    while day < last:
        following = day + timedelta(days=1)
        if _offset(day, tz) != _offset(following, tz):
            moment = day
            for step in (timedelta(hours=1), timedelta(minutes=1), ONE_SECOND):
                while _offset(moment + step, tz) == _offset(day, tz):
                    moment += step
            found.append(moment + ONE_SECOND)
        day = following
    return found
