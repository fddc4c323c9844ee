"""The cron module against a brute-force oracle (tests/unit/cron_oracle.py) on random
expressions using ``*``, ``*/n``, ``a``, ``a-b``, ``a-b/n``, ``a-a/n``, ``a/n``, names and
lists in every field, starting around DST changes of zones with odd rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.unit import cron_oracle
from tickwork.domain import cron
from tickwork.domain.errors import InvalidCronError

# Lord Howe moves by 30 minutes and Troll by two hours; Santiago and Havana change at
# midnight; Dublin's tzdata has negative summer time; Chatham is 12:45 ahead of UTC; Apia
# skipped 2011-12-30.
ZONE_YEARS = [
    ("UTC", 2025, 2026),
    ("Europe/London", 2025, 2031),
    ("America/New_York", 2025, 2031),
    ("Australia/Sydney", 2025, 2031),
    ("Australia/Lord_Howe", 2025, 2031),
    ("America/Santiago", 2025, 2031),
    ("America/Havana", 2025, 2031),
    ("Europe/Dublin", 2025, 2031),
    ("Antarctica/Troll", 2025, 2031),
    ("Pacific/Chatham", 2025, 2031),
    ("Pacific/Apia", 2011, 2012),
]
COUNT = 6
HORIZON = timedelta(days=400)


@cache
def changes(zone: str, first_year: int, last_year: int) -> list[datetime]:
    found = cron_oracle.transitions(
        zone, datetime(first_year, 1, 1, tzinfo=UTC), datetime(last_year, 1, 1, tzinfo=UTC)
    )
    return found or [datetime(first_year, 6, 1, tzinfo=UTC)]


@st.composite
def starts(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and a moment within six hours of one of its DST changes."""
    zone, first, last = draw(st.sampled_from(ZONE_YEARS))
    change = draw(st.sampled_from(changes(zone, first, last)))
    seconds = draw(st.integers(-6 * 3600, 6 * 3600))
    micros = draw(st.sampled_from([0, 0, 500_000]))
    return zone, change + timedelta(seconds=seconds, microseconds=micros)


def _name(value: int, names: list[str], first: int, draw: st.DrawFn) -> str:
    """The value as a number, or sometimes as its name (``7``, Sunday, has none)."""
    position = value - first
    if position < len(names) and draw(st.integers(0, 3)) == 0:
        name = names[position]
        return name if draw(st.booleans()) else name.lower()
    return str(value)


@st.composite
def terms(draw: st.DrawFn, index: int) -> str:
    low, high, names, first = cron_oracle.BOUNDS[index]
    kind = draw(st.sampled_from(["*", "*", "*/n", "a", "a-b", "a-b/n", "a-a/n", "a-a/n", "a/n"]))
    a = draw(st.integers(low, high))
    b = draw(st.integers(a, high))
    n = draw(st.integers(1, high - low + 2))
    if kind == "*":
        return "*"
    if kind == "*/n":
        return f"*/{n}"
    left = _name(a, names, first, draw)
    if kind == "a":
        return left
    if kind == "a/n":
        return f"{left}/{n}"
    right = left if kind == "a-a/n" else _name(b, names, first, draw)
    return f"{left}-{right}" + ("" if kind == "a-b" else f"/{n}")


@st.composite
def fields(draw: st.DrawFn, index: int) -> str:
    # The date fields are mostly ``*`` so that most expressions fire near the change.
    if index >= 3 and draw(st.integers(0, 2)) > 0:
        return "*"
    return ",".join(draw(st.lists(terms(index), min_size=1, max_size=3)))


@st.composite
def expressions(draw: st.DrawFn, seconds: bool) -> str:
    first = 0 if seconds else 1
    return " ".join(draw(fields(i)) for i in range(first, 6))


def check(expr: str, zone: str, start: datetime) -> None:
    try:
        cron.validate(expr)
    except InvalidCronError:
        assume(False)
    expected = cron_oracle.fire_times(expr, zone, start, COUNT, HORIZON)
    found = cron.fire_times(expr, zone, start, COUNT)
    if len(expected) == COUNT:
        assert found == expected, (expr, zone, start)
    else:
        assert [t for t in found if t <= start + HORIZON] == expected, (expr, zone, start)
    # Backwards: each fire time is the last one at or before itself, and the one before it
    # is the last one before it.
    for previous, current in zip([None, *expected], expected, strict=False):
        assert cron.last_fire(expr, zone, current) == current, (expr, zone, current)
        if previous is not None:
            before = current - timedelta(microseconds=1)
            assert cron.last_fire(expr, zone, before) == previous, (expr, zone, current)


@pytest.mark.parametrize(
    ("expr", "zone", "start"),
    [
        ("* 0-59 1-2 * * *", "Antarctica/Troll", datetime(2025, 3, 30, 0, 59, tzinfo=UTC)),
        ("* 0-59 0-23 * * *", "Pacific/Apia", datetime(2011, 12, 30, 9, 59, 50, tzinfo=UTC)),
        ("0 0-0/12 * * *", "UTC", datetime(2025, 1, 1, tzinfo=UTC)),
        ("0 0 1-1/10 * *", "UTC", datetime(2025, 1, 1, tzinfo=UTC)),
        ("17-17/30 * 31 * *", "UTC", datetime(2025, 1, 1, tzinfo=UTC)),
        ("*/10 1 * * *", "Australia/Lord_Howe", datetime(2030, 4, 6, 14, 25, tzinfo=UTC)),
        ("30 2 * * *", "America/New_York", datetime(2030, 3, 9, 12, tzinfo=UTC)),
        ("* 30 1 * * *", "America/New_York", datetime(2030, 11, 3, 5, 30, 30, tzinfo=UTC)),
    ],
)
def test_the_issue_examples_agree_with_the_oracle(expr: str, zone: str, start: datetime) -> None:
    check(expr, zone, start)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(expr=expressions(seconds=False), where=starts())
def test_five_fields_agree_with_the_oracle(expr: str, where: tuple[str, datetime]) -> None:
    check(expr, *where)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(expr=expressions(seconds=True), where=starts())
def test_six_fields_agree_with_the_oracle(expr: str, where: tuple[str, datetime]) -> None:
    check(expr, *where)
