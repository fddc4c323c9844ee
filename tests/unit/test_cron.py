"""Cron expressions: validation, fire times across DST changes, previews' DST notes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickwork.domain import cron
from tickwork.domain.errors import CronWalkError, InvalidCronError, UnknownTimezoneError

# (zone, spring-forward day, fall-back day) in 2030.
DST_ZONES = [
    ("Europe/London", date(2030, 3, 31), date(2030, 10, 27)),
    ("America/New_York", date(2030, 3, 10), date(2030, 11, 3)),
    ("Australia/Sydney", date(2030, 10, 6), date(2030, 4, 7)),
]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def fires_on(expr: str, zone_name: str, day: date) -> list[datetime]:
    """Every fire time whose local date is ``day``, found by stepping as the scheduler does."""
    tz = ZoneInfo(zone_name)
    moment = datetime.combine(day - timedelta(days=1), datetime.min.time(), tz).astimezone(UTC)
    found = []
    while True:
        nxt = cron.next_fire(expr, zone_name, moment)
        assert nxt is not None
        assert nxt > moment
        local_day = nxt.astimezone(tz).date()
        if local_day > day:
            return found
        if local_day == day:
            found.append(nxt)
        moment = nxt


class TestValidate:
    # (expression, its normal form, its first fire time after 2030-01-01 00:00 UTC, a Tuesday)
    @pytest.mark.parametrize(
        ("expr", "normal", "first"),
        [
            ("* * * * *", "* * * * *", utc(2030, 1, 1, 0, 1)),
            ("*/5 * * * * *", "*/5 * * * * *", utc(2030, 1, 1, 0, 0, 5)),
            ("0 9 * * MON-FRI", "0 9 * * MON-FRI", utc(2030, 1, 1, 9)),
            ("0 0 1 JAN *", "0 0 1 JAN *", utc(2031, 1, 1)),
            ("0 0 * * 7", "0 0 * * 7", utc(2030, 1, 6)),
            ("0 0 L * *", "0 0 L * *", utc(2030, 1, 31)),
            ("0 0 LW * *", "0 0 LW * *", utc(2030, 1, 31)),
            ("0 0 * * 5L", "0 0 * * 5L", utc(2030, 1, 25)),
            ("0 0 * * 5#2", "0 0 * * 5#2", utc(2030, 1, 11)),
            ("0 0 29 2 *", "0 0 29 2 *", utc(2032, 2, 29)),
            ("@daily", "0 0 * * *", utc(2030, 1, 2)),
            ("@HOURLY", "0 * * * *", utc(2030, 1, 1, 1)),
            ("  0   9 * * 1  ", "0 9 * * 1", utc(2030, 1, 7, 9)),
        ],
    )
    def test_accepts_in_normal_form(self, expr: str, normal: str, first: datetime) -> None:
        assert cron.validate(expr) == normal
        assert cron.next_fire(expr, "UTC", utc(2030, 1, 1)) == first

    def test_macros_expand(self) -> None:
        assert cron.validate("@weekly") == "0 0 * * 0"
        assert cron.validate("@yearly") == "0 0 1 1 *"

    def test_seven_is_sunday(self) -> None:
        assert cron.next_fire("0 12 * * 7", "UTC", utc(2030, 1, 1)) == utc(2030, 1, 6, 12)

    @pytest.mark.parametrize(
        ("expr", "fragment"),
        [
            ("0 0 31 2 *", "can never fire"),
            ("0 0 30 2 *", "can never fire"),
            ("0 0 31 4,6 *", "can never fire"),
            ("61 * * * *", "invalid"),
            ("* * *", "3 fields"),
            ("* * * * * * *", "7 fields"),
            ("@fortnightly", "unknown cron macro"),
            ("", "empty"),
            ("   ", "empty"),
            ("0 25 * * *", "invalid"),
            ("a b c d e", "invalid"),
        ],
    )
    def test_refuses_naming_the_field(self, expr: str, fragment: str) -> None:
        with pytest.raises(InvalidCronError) as caught:
            cron.validate(expr, "cron")
        assert caught.value.field == "cron"
        assert fragment in caught.value.message

    def test_refuses_non_strings(self) -> None:
        with pytest.raises(InvalidCronError):
            cron.validate(["* * * * *"], "cron")  # type: ignore[arg-type]

    @pytest.mark.parametrize("name", ["Mars/Olympus", "", " UTC", "../etc/passwd", "utc/"])
    def test_unknown_zone(self, name: str) -> None:
        with pytest.raises(UnknownTimezoneError) as caught:
            cron.zone(name)
        assert caught.value.field == "timezone"

    def test_describe(self) -> None:
        assert cron.describe("0 9 * * 1-5") == "At 09:00 on Monday through Friday"


class TestFireTimes:
    def test_strictly_after(self) -> None:
        assert cron.next_fire("0 * * * *", "UTC", utc(2030, 1, 1, 10)) == utc(2030, 1, 1, 11)
        assert cron.next_fire("0 * * * *", "UTC", utc(2030, 1, 1, 9, 59, 59, 999999)) == utc(
            2030, 1, 1, 10
        )

    def test_seconds_field(self) -> None:
        assert cron.fire_times("*/20 * * * * *", "UTC", utc(2030, 1, 1), 3) == [
            utc(2030, 1, 1, 0, 0, 20),
            utc(2030, 1, 1, 0, 0, 40),
            utc(2030, 1, 1, 0, 1, 0),
        ]

    def test_last_fire_includes_the_moment(self) -> None:
        assert cron.last_fire("*/10 * * * * *", "UTC", utc(2030, 1, 1, 0, 0, 10)) == utc(
            2030, 1, 1, 0, 0, 10
        )
        assert cron.last_fire("0 * * * *", "UTC", utc(2030, 1, 1, 10, 30)) == utc(2030, 1, 1, 10)

    def test_time_zone(self) -> None:
        nxt = cron.next_fire("0 9 * * *", "Europe/London", utc(2030, 7, 1))
        assert nxt == utc(2030, 7, 1, 8)  # 09:00 BST

    def test_day_of_month_or_weekday(self) -> None:
        # Both restricted: either matches (the 13th, or any Friday).
        days = [t.date() for t in cron.fire_times("0 0 13 * 5", "UTC", utc(2030, 1, 1), 4)]
        assert days == [date(2030, 1, 4), date(2030, 1, 11), date(2030, 1, 13), date(2030, 1, 18)]
        # A day field starting with * counts as unrestricted, so only the weekday decides.
        fridays = cron.fire_times("0 0 */1 * 5", "UTC", utc(2030, 1, 1), 3)
        assert fridays == [utc(2030, 1, 4), utc(2030, 1, 11), utc(2030, 1, 18)]


class TestDst:
    """Vixie cron semantics, for five- and six-field expressions."""

    @pytest.mark.parametrize(("zone", "spring", "fall"), DST_ZONES)
    @pytest.mark.parametrize(
        "expr", ["30 1 * * *", "30 2 * * *", "0 2 * * *", "15 30 1 * * *", "0 30 2 * * *"]
    )
    def test_fixed_time_runs_once_per_local_day(
        self, zone: str, spring: date, fall: date, expr: str
    ) -> None:
        for day in (spring - timedelta(days=1), spring, fall, fall + timedelta(days=1)):
            assert len(fires_on(expr, zone, day)) == 1, (zone, day)

    @pytest.mark.parametrize(("zone", "spring", "fall"), DST_ZONES)
    def test_skipped_time_runs_right_after_the_jump(
        self, zone: str, spring: date, fall: date
    ) -> None:
        tz = ZoneInfo(zone)
        # 02:30 does not exist on the spring day in New York and Sydney (clocks jump
        # 02:00 -> 03:00), and 01:30 does not in London (01:00 -> 02:00).
        skipped = "30 1 * * *" if zone == "Europe/London" else "30 2 * * *"
        (fire,) = fires_on(skipped, zone, spring)
        local = fire.astimezone(tz)
        assert (local.hour, local.minute) == ((2, 0) if zone == "Europe/London" else (3, 0))
        assert cron.dst_note(fire, zone) is not None
        assert cron.dst_note(fire, zone).direction == "forward"  # type: ignore[union-attr]

    def test_several_skipped_times_run_once_after_the_jump(self) -> None:
        # 02:00 and 02:30 do not exist on Sydney's spring day; both map to 03:00, which
        # fires once, in a single walk as in a forward or backward step.
        start = utc(2029, 10, 6)
        times = cron.fire_times("0 0,30 1,2 * * *", "Australia/Sydney", start, 4)
        local = [t.astimezone(ZoneInfo("Australia/Sydney")) for t in times]
        assert [(t.day, t.hour, t.minute) for t in local] == [
            (7, 1, 0),
            (7, 1, 30),
            (7, 3, 0),
            (8, 1, 0),
        ]
        after_jump = times[2]
        assert cron.last_fire("0 0,30 1,2 * * *", "Australia/Sydney", after_jump) == after_jump
        reverse = list(
            itertools.islice(
                cron.iterate("0 0,30 1,2 * * *", "Australia/Sydney", times[3], reverse=True), 4
            )
        )
        assert reverse == times[::-1]

    @pytest.mark.parametrize(("zone", "spring", "fall"), DST_ZONES)
    def test_repeated_time_runs_the_first_time(self, zone: str, spring: date, fall: date) -> None:
        tz = ZoneInfo(zone)
        repeated = "30 2 * * *" if zone == "Australia/Sydney" else "30 1 * * *"
        (fire,) = fires_on(repeated, zone, fall)
        local = fire.astimezone(tz)
        assert local.fold == 0
        assert local.replace(fold=1).utcoffset() != local.utcoffset()
        note = cron.dst_note(fire, zone)
        assert note is not None
        assert note.direction == "back"
        assert "first" in note.message

    @pytest.mark.parametrize(("zone", "spring", "fall"), DST_ZONES)
    @pytest.mark.parametrize("expr", ["0 * * * *", "0 0 * * * *"])
    def test_wildcard_hour_follows_the_wall_clock(
        self, zone: str, spring: date, fall: date, expr: str
    ) -> None:
        tz = ZoneInfo(zone)
        spring_fires = fires_on(expr, zone, spring)
        fall_fires = fires_on(expr, zone, fall)
        # One hour fewer and one more: a run per real hour, on the hour of the wall clock.
        assert len(spring_fires) == 23
        assert len(fall_fires) == 25
        for fires in (spring_fires, fall_fires):
            assert all(t.astimezone(tz).minute == 0 for t in fires)
            gaps = {b - a for a, b in itertools.pairwise(fires)}
            assert gaps == {timedelta(hours=1)}

    def test_half_hour_shift_repeats_half_an_hour(self) -> None:
        # Lord Howe goes back from 02:00 (+11) to 01:30 (+10:30) on 2030-04-07: a wildcard
        # minute fires in both copies of 01:30-01:59 and once at 02:xx.
        day = date(2030, 4, 7)
        tz = ZoneInfo("Australia/Lord_Howe")
        ones = fires_on("*/10 1 * * *", "Australia/Lord_Howe", day)
        assert [t.astimezone(tz).strftime("%H:%M%z") for t in ones] == [
            "01:00+1100",
            "01:10+1100",
            "01:20+1100",
            "01:30+1100",
            "01:40+1100",
            "01:50+1100",
            "01:30+1030",
            "01:40+1030",
            "01:50+1030",
        ]
        twos = fires_on("*/20 2 * * *", "Australia/Lord_Howe", day)
        assert [t.astimezone(tz).strftime("%H:%M") for t in twos] == ["02:00", "02:20", "02:40"]
        # Walking back from inside the second copy finds the first copy too.
        back = itertools.islice(
            cron.iterate("*/10 1 * * *", "Australia/Lord_Howe", ones[7], reverse=True), 9
        )
        assert list(back) == [*ones[7::-1], ones[0] - timedelta(days=1) + timedelta(minutes=50)]

    def test_starting_inside_the_repeated_hour_does_not_go_back(self) -> None:
        # 01:10 EST, the second 1 o'clock hour; the 01:30 of this day already happened
        # (in EDT), so the next is tomorrow's.
        after = utc(2030, 11, 3, 6, 10)
        assert cron.next_fire("30 1 * * *", "America/New_York", after) == utc(2030, 11, 4, 6, 30)
        assert cron.last_fire("30 1 * * *", "America/New_York", after) == utc(2030, 11, 3, 5, 30)

    def test_no_note_on_ordinary_days(self) -> None:
        assert cron.dst_note(utc(2030, 6, 1, 12), "Europe/London") is None
        assert cron.dst_note(utc(2030, 3, 31, 0, 30), "UTC") is None


EXPRESSIONS = st.sampled_from(
    [
        "* * * * *",
        "*/7 * * * *",
        "30 1 * * *",
        "30 2 * * *",
        "0 */3 * * *",
        "0 9 * * 1-5",
        "15 30 1 * * *",
        "*/13 * * * * *",
        "0 0 L * *",
        "0 0 * * 5#2",
        "0 0,30 1,2 * * *",
        "0 0 * * *",
        "0 1-3 * * *",
        "*/20 2 * * *",
    ]
)
# Lord Howe moves by 30 minutes and Troll by two hours; Santiago and Havana change at
# midnight; Dublin's tzdata has negative summer time; Chatham is 12:45 ahead of UTC.
ZONES = st.sampled_from(
    [
        "UTC",
        "Europe/London",
        "America/New_York",
        "Australia/Sydney",
        "Australia/Lord_Howe",
        "America/Santiago",
        "America/Havana",
        "Europe/Dublin",
        "Antarctica/Troll",
        "Pacific/Chatham",
    ]
)
MOMENTS = st.datetimes(
    min_value=datetime(2029, 1, 1), max_value=datetime(2031, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(expr=EXPRESSIONS, zone=ZONES, start=MOMENTS)
def test_fire_times_strictly_increase_and_agree_with_reverse(
    expr: str, zone: str, start: datetime
) -> None:
    times = cron.fire_times(expr, zone, start, 6)
    assert len(times) == 6
    assert times[0] > start
    assert all(a < b for a, b in itertools.pairwise(times))
    for previous, current in zip([start, *times], times, strict=False):
        # Stepping one fire time at a time gives the same sequence as one walk.
        assert cron.next_fire(expr, zone, previous) == current
        # Nothing fires in between: the last fire time before ``current`` is at most
        # ``previous``.
        before = cron.last_fire(expr, zone, current - timedelta(microseconds=1))
        assert before is None or before <= previous
        assert cron.last_fire(expr, zone, current) == current


@settings(max_examples=100, deadline=None)
@given(
    expr=EXPRESSIONS,
    zone=ZONES,
    start=MOMENTS,
    later=st.timedeltas(timedelta(0), timedelta(days=3)),
)
def test_next_fire_is_monotonic(expr: str, zone: str, start: datetime, later: timedelta) -> None:
    first = cron.next_fire(expr, zone, start)
    second = cron.next_fire(expr, zone, start + later)
    assert first is not None
    assert second is not None
    assert first <= second


class TestSingleValueRanges:
    """``a-a/n`` is the single value ``a``, as Debian cron's ``get_range`` reads it."""

    def test_hour_range_of_one_value_with_a_step(self) -> None:
        assert cron.fire_times("0 0-0/12 * * *", "UTC", utc(2025, 1, 1), 3) == [
            utc(2025, 1, 2),
            utc(2025, 1, 3),
            utc(2025, 1, 4),
        ]
        assert cron.describe("0 0-0/12 * * *") == "At 00:00 every day"

    def test_day_range_of_one_value_with_a_step(self) -> None:
        assert cron.fire_times("0 0 1-1/10 * *", "UTC", utc(2025, 1, 1), 3) == [
            utc(2025, 2, 1),
            utc(2025, 3, 1),
            utc(2025, 4, 1),
        ]
        assert cron.describe("0 0 1-1/10 * *") == cron.describe("0 0 1 * *")

    def test_minute_range_of_one_value_with_a_step(self) -> None:
        assert cron.fire_times("17-17/30 * 31 * *", "UTC", utc(2025, 1, 1), 3) == [
            utc(2025, 1, 31, 0, 17),
            utc(2025, 1, 31, 1, 17),
            utc(2025, 1, 31, 2, 17),
        ]
        assert cron.describe("17-17/30 * 31 * *") == cron.describe("17 * 31 * *")

    @pytest.mark.parametrize(
        ("expr", "same_as"),
        [
            ("0 0 * JAN-JAN/2 *", "0 0 * 1 *"),
            ("0 0 * * MON-MON/2", "0 0 * * 1"),
            ("0 0 * * sun-sun/3", "0 0 * * 0"),
            ("30-30/1 5-5/7 * * *", "30 5 * * *"),
            ("0 0-0/5,12 * * *", "0 0,12 * * *"),
            ("5-5/10 * * * * *", "5 * * * * *"),
        ],
    )
    def test_names_lists_and_seconds(self, expr: str, same_as: str) -> None:
        start = utc(2025, 1, 1)
        assert cron.fire_times(expr, "UTC", start, 5) == cron.fire_times(same_as, "UTC", start, 5)
        assert cron.describe(expr) == cron.describe(same_as)

    def test_the_stored_text_is_what_was_written(self) -> None:
        assert cron.validate("0 0-0/12 * * *") == "0 0-0/12 * * *"

    @pytest.mark.parametrize("expr", ["0 5-5/0 * * *", "0 25-25/2 * * *", "0 3-1/2 * * *"])
    def test_bad_ranges_are_still_refused(self, expr: str) -> None:
        with pytest.raises(InvalidCronError):
            cron.validate(expr)

    def test_other_steps_are_unchanged(self) -> None:
        # ``a/n`` runs to the field's maximum (Debian's extension), ``a-b/n`` from a to b.
        assert [t.minute for t in cron.fire_times("5/20 * * * *", "UTC", utc(2025, 1, 1), 3)] == [
            5,
            25,
            45,
        ]
        assert [t.hour for t in cron.fire_times("0 1-5/2 * * *", "UTC", utc(2025, 1, 1), 4)] == [
            1,
            3,
            5,
            1,
        ]


class TestDstGapsPerSecond:
    """Per-second expressions across a jump: the skipped span is mapped once, and nothing is
    cut short. Expected times are written out by hand from the zones' rules."""

    def test_troll_two_hour_gap(self) -> None:
        # Troll goes from +00 to +02 at 2025-03-30 01:00 UTC: 01:00-02:59 local are
        # skipped. A fixed-time job due in them runs once, at the jump (03:00 local); the
        # next day 01:00:00+02 is 2025-03-30T23:00:00Z.
        times = cron.fire_times(
            "* 0-59 1-2 * * *", "Antarctica/Troll", utc(2025, 3, 30, 0, 59), 100
        )
        assert len(times) == 100
        assert times[0] == utc(2025, 3, 30, 1)
        assert times[1:] == [utc(2025, 3, 30, 23) + timedelta(seconds=s) for s in range(99)]
        assert times[-1] == utc(2025, 3, 30, 23, 1, 38)

    def test_apia_skipped_day(self) -> None:
        # Samoa skipped 2011-12-30: 23:59:59 -10 on the 29th was followed by 00:00:00 +14 on
        # the 31st, both being 2011-12-30T10:00:00Z less a second and at it.
        preview = cron.upcoming(
            "* 0-59 0-23 * * *", "Pacific/Apia", utc(2011, 12, 30, 9, 59, 50), 20
        )
        assert not preview.truncated
        assert preview.times == [
            *(utc(2011, 12, 30, 9, 59, s) for s in range(51, 60)),
            *(utc(2011, 12, 30, 10, 0, s) for s in range(11)),
        ]

    def test_apia_skipped_day_wall_clock(self) -> None:
        # A wildcard-minute job follows the wall clock: no fire in the skipped day.
        assert cron.fire_times("0 * * * * *", "Pacific/Apia", utc(2011, 12, 30, 9, 58), 3) == [
            utc(2011, 12, 30, 9, 59),
            utc(2011, 12, 30, 10, 0),
            utc(2011, 12, 30, 10, 1),
        ]
        # And backwards over the day.
        assert cron.last_fire("0 * * * * *", "Pacific/Apia", utc(2011, 12, 30, 9, 59, 59)) == utc(
            2011, 12, 30, 9, 59
        )
        assert cron.last_fire(
            "* 0-59 0-23 * * *", "Pacific/Apia", utc(2011, 12, 30, 10, 0, 0, 500)
        ) == utc(2011, 12, 30, 10)
        assert cron.last_fire(
            "* 0-59 0-23 * * *", "Pacific/Apia", utc(2011, 12, 30, 9, 59, 59, 999999)
        ) == utc(2011, 12, 30, 9, 59, 59)

    def test_repeated_day_from_its_second_reading(self) -> None:
        # Apia repeated 1892-07-04 (+12:33:04 to -11:26:56). From noon of the second
        # reading, a fixed-time job waits for the 5th; a wall-clock job runs on.
        second_noon = utc(1892, 7, 4, 23, 26, 56)
        assert cron.next_fire("0 0 12 * * *", "Pacific/Apia", second_noon) == utc(
            1892, 7, 5, 23, 26, 56
        )
        assert cron.fire_times("0 * * * * *", "Pacific/Apia", second_noon, 2) == [
            utc(1892, 7, 4, 23, 27, 56),
            utc(1892, 7, 4, 23, 28, 56),
        ]
        # The day's first noon was the previous reading, 24 hours earlier.
        assert cron.last_fire("0 0 12 * * *", "Pacific/Apia", second_noon) == utc(
            1892, 7, 3, 23, 26, 56
        )

    def test_new_york_second_hour_per_second(self) -> None:
        # 01:10 EST, in the repeated hour: the fixed-time seconds of 01:xx all ran in EDT.
        assert cron.next_fire("* 0-59 1 * * *", "America/New_York", utc(2030, 11, 3, 6, 10)) == utc(
            2030, 11, 4, 6
        )
        # A wall-clock job runs on through the second reading, then waits for 01:00 EST on
        # the next day.
        times = cron.fire_times("* * 1 * * *", "America/New_York", utc(2030, 11, 3, 6, 59, 58), 3)
        assert times == [
            utc(2030, 11, 3, 6, 59, 59),
            utc(2030, 11, 4, 6),
            utc(2030, 11, 4, 6, 0, 1),
        ]


class TestLimits:
    def test_a_long_expression_is_refused_before_parsing(self) -> None:
        with pytest.raises(InvalidCronError) as caught:
            cron.validate("0," * 5000 + "0 * * * *", "cron")
        assert caught.value.field == "cron"
        assert "10009 characters" in caught.value.message
        assert len(caught.value.message) < 100

    def test_a_long_zone_is_refused_before_lookup(self) -> None:
        with pytest.raises(UnknownTimezoneError) as caught:
            cron.zone("Europe/" + "x" * 10_000)
        assert caught.value.field == "timezone"
        assert len(caught.value.message) < 120

    def test_running_out_of_fire_times_says_why(self) -> None:
        preview = cron.upcoming("0 0 29 2 *", "UTC", datetime(9990, 1, 1, tzinfo=UTC), 5)
        assert preview.times == [utc(9992, 2, 29), utc(9996, 2, 29)]
        assert preview.truncated
        assert preview.truncated_reason == "no further fire time before the end of year 9999"

    def test_a_preview_looks_a_hundred_years_ahead(self) -> None:
        # Midnight on a fifth Sunday of February: leap years whose February starts on a
        # Sunday, 28 or 40 years apart. cronsim's search costs grow with the span.
        preview = cron.upcoming("0 0 * 2 SUN#5", "America/New_York", utc(2026, 1, 1), 10)
        assert preview.times == [utc(2032, 2, 29, 5), utc(2060, 2, 29, 5), utc(2088, 2, 29, 5)]
        assert (
            preview.truncated_reason == "a preview looks 100 years ahead, to 2126-01-01 00:00 UTC"
        )
        leap = cron.upcoming("0 0 * * *", "UTC", utc(2028, 2, 29, 12), 1)
        assert leap.times == [utc(2028, 3, 1)]
        assert cron.preview_horizon(utc(2028, 2, 29, 12)) == utc(2128, 2, 29, 12)
        assert cron.preview_horizon(utc(2027, 2, 28)) == utc(2127, 2, 28)
        assert cron.preview_horizon(utc(2024, 2, 29)) == utc(2124, 2, 29)
        assert cron.preview_horizon(utc(2096, 2, 29)) == utc(2196, 2, 29)
        assert cron.preview_horizon(utc(2000, 2, 29)) == utc(2100, 2, 28)
        assert cron.preview_horizon(utc(9950, 1, 1)).year == 9999

    def test_a_walk_that_stops_advancing_is_an_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def stuck(text: str, tz: object, start: datetime, reverse: bool) -> Iterator[datetime]:
            while True:
                yield start

        monkeypatch.setattr(cron, "_wall_clock", stuck)
        with pytest.raises(CronWalkError, match="stopped advancing"):
            cron.next_fire("* * * * *", "Europe/London", utc(2030, 1, 1))
        preview = cron.upcoming("* * * * *", "Europe/London", utc(2030, 1, 1), 3)
        assert preview.times == []
        assert preview.truncated_reason is not None
        assert "stopped advancing" in preview.truncated_reason
