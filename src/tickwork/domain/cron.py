"""Cron expressions: validation, next fire times with time zones, and descriptions.

Parsing and matching come from cronsim. Five fields, or six with seconds first; month and
weekday names; ``7`` is Sunday; ``L``, ``LW``, ``5L`` and ``5#2``; the usual ``@`` macros.
A range with a step holds the values from its start to its end in steps, as in Debian
cron's ``get_range``: ``0-0/12`` is hour 0 only. (cronsim reads a range holding a single
value as that value through the field's maximum; :func:`_for_cronsim` rewrites such a
term to the value before cronsim sees it.)

Daylight saving time follows Vixie/Debian cron, for five- and six-field expressions alike:

- a *fixed-time* expression (neither the minute nor the hour field starts with ``*``) is
  matched against the local wall clock; a wall time the clocks skip runs once, at the
  jump, and a wall time that happens twice runs once, the first time;
- any other expression (``*/15 * * * *``, ``0 * * * *``, ``* * * * * *``) follows the wall
  clock as it is: it fires in both copies of a repeated hour and not in a skipped one.

cronsim applies the fixed-time rule to five-field expressions only, and its wall-clock walk
assumes a one-hour shift (Lord Howe's half hour lost fire times), so this module walks both
kinds in naive local time itself (cronsim only matches) and maps wall times to instants. A
span of wall times a change skips or repeats is found once (:func:`_shift_around`) and
stepped over or walked twice as a whole, so a per-second expression costs the same on a
DST night as on any other.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from cronsim.cronsim import Field

from tickwork.domain.errors import CronWalkError, InvalidCronError, UnknownTimezoneError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# Longer input is refused before any parsing. A six-field expression naming every value
# of a field in a list still fits; the schedule API's ``cron`` field has the same limit.
MAX_EXPRESSION_LENGTH = 200
# The longest IANA name is 32 characters; the API allows 64.
MAX_ZONE_LENGTH = 64

# How far ahead a preview looks. cronsim's search costs grow with the span it covers, not
# with the number of fire times: 100 fire times of "midnight on the fifth Sunday of
# February" span three millennia and took half a second. 100 years bounds any preview's
# search to a few tens of milliseconds (bench/cron.py), and the preview says where it stopped.
PREVIEW_YEARS = 100
# Where validation looks for a first fire time; cronsim gives up after 50 years without
# one, and leap-day expressions need at most 8.
_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)
# A guard, not a limit anything reaches: the walks pass over at most one candidate per DST
# change (see :func:`iterate`).
_MAX_PASSED_OVER = 1_000
_SECOND = timedelta(seconds=1)
_TICK = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "Zulu"})
# cronsim's field order for six fields; five-field expressions have no seconds.
_FIELDS = (Field.SECOND, Field.MINUTE, Field.HOUR, Field.DAY, Field.MONTH, Field.DOW)
_RANGE_WITH_STEP = re.compile(r"([0-9A-Z]+)-([0-9A-Z]+)/([0-9]+)")


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA time zone called ``name``, or :class:`UnknownTimezoneError` naming ``field``."""
    if isinstance(name, str) and len(name) > MAX_ZONE_LENGTH:
        raise UnknownTimezoneError(
            f"unknown time zone: the name is {len(name)} characters long; "
            f"time zone names have at most {MAX_ZONE_LENGTH}",
            field=field,
        )
    if not isinstance(name, str) or not name or name != name.strip() or ".." in name:
        raise UnknownTimezoneError(f"unknown time zone {name!r}", field=field)
    return _zone(name, field)


@lru_cache(maxsize=512)
def _zone(name: str, field: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise UnknownTimezoneError(f"unknown time zone {name!r}", field=field) from exc


def normalize(expr: str) -> str:
    """The expression with macros expanded and whitespace collapsed."""
    text = " ".join(expr.split())
    return MACROS.get(text.lower(), text)


def validate(expr: str, field: str = "cron") -> str:
    """Check that ``expr`` parses and can fire at least once; return it normalized.

    Raises :class:`InvalidCronError` naming ``field`` otherwise.
    """
    if not isinstance(expr, str) or not expr.strip():
        raise InvalidCronError("cron expression is empty", field=field)
    if len(expr) > MAX_EXPRESSION_LENGTH:
        raise InvalidCronError(
            f"cron expression is {len(expr)} characters long; the limit is {MAX_EXPRESSION_LENGTH}",
            field=field,
        )
    return _validate(expr, field)


@lru_cache(maxsize=4096)
def _validate(expr: str, field: str) -> str:
    text = normalize(expr)
    if text.startswith("@"):
        raise InvalidCronError(
            f"unknown cron macro {text!r}; use one of {', '.join(sorted(MACROS))}", field=field
        )
    count = len(text.split())
    if count not in (5, 6):
        raise InvalidCronError(
            f"cron expression {expr!r} has {count} fields; expected 5 "
            "(minute hour day month weekday) or 6 (with seconds first)",
            field=field,
        )
    try:
        iterator = CronSim(_for_cronsim(text), _REFERENCE)
        next(iterator)
    except CronSimError as exc:
        if _day_never_exists(text):
            raise InvalidCronError(
                f"cron expression {expr!r} can never fire: no month in it has that day",
                field=field,
            ) from exc
        raise InvalidCronError(
            f"invalid cron expression {expr!r}: {_explain_bad_field(text, str(exc))}",
            field=field,
        ) from exc
    except StopIteration as exc:
        raise InvalidCronError(f"cron expression {expr!r} can never fire", field=field) from exc
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise InvalidCronError(f"invalid cron expression {expr!r}", field=field) from exc
    return text


# The values each field allows, as cronsim's "Bad <field>" errors name the fields.
_FIELD_RANGES = {
    "second": "0\u201359",
    "minute": "0\u201359",
    "hour": "0\u201323",
    "day-of-month": "1\u201331 (or L, LW, 15W)",
    "month": "1\u201312 or JAN\u2013DEC",
    "day-of-week": "0\u20137 or SUN\u2013SAT (0 and 7 are Sunday; 5L, 5#2)",
}
_FIELD_ORDER = ("minute", "hour", "day-of-month", "month", "day-of-week")


def _explain_bad_field(text: str, problem: str) -> str:
    """cronsim's "Bad hour" as "hour must be 0-23 (it is '25')"; other problems as they are."""
    name = problem.removeprefix("Bad ").strip()
    if not problem.startswith("Bad ") or name not in _FIELD_RANGES:
        return problem
    parts = text.split()
    order = ("second", *_FIELD_ORDER) if len(parts) == 6 else _FIELD_ORDER
    value = parts[order.index(name)] if name in order else ""
    shown = f" (it is {value!r})" if value else ""
    return f"{name} must be {_FIELD_RANGES[name]}{shown}"


def _day_never_exists(text: str) -> bool:
    """Whether the day-of-month field parses but names a day no chosen month has."""
    parts = text.split()
    day_index = len(parts) - 3
    try:
        Field.DAY.parse(parts[day_index].upper())
        parts[day_index] = "1"
        CronSim(_for_cronsim(" ".join(parts)), _REFERENCE)
    except (CronSimError, ValueError, IndexError, KeyError, TypeError):
        return False
    return True


@lru_cache(maxsize=4096)
def _for_cronsim(text: str) -> str:
    """``text`` with each ``a-a/n`` term written ``a``, so cronsim reads it as Debian does.

    Debian cron's ``get_range`` sets the values from the start to the end of a range in
    steps, so a range holding one value is that value whatever the step. cronsim's
    ``Field.parse`` turns any term whose range holds one value and has a step into "that
    value through the field's maximum" (its reading of ``a/n``): ``0-0/12`` in the hour
    field fired at 00:00 and 12:00 while ``explain()`` said "At 00:00". Terms that do not
    parse are left alone, so cronsim still reports them.
    """
    parts = text.upper().split()
    fields = _FIELDS if len(parts) == 6 else _FIELDS[1:]
    return " ".join(
        ",".join(_single_value_range(field, term) for term in part.split(","))
        for field, part in zip(fields, parts, strict=False)
    )


def _single_value_range(field: Field, term: str) -> str:
    match = _RANGE_WITH_STEP.fullmatch(term)
    if match is None or int(match[3]) == 0:
        return term
    try:
        first, last = field.int(match[1]), field.int(match[2])
    except CronSimError:
        return term
    return match[1] if first == last else term


@lru_cache(maxsize=4096)
def is_fixed_time(text: str) -> bool:
    """Whether a valid expression runs at set wall times (neither minute nor hour is ``*...``)."""
    parts = text.split()
    if len(parts) == 6:
        parts = parts[1:]
    return not parts[0].startswith("*") and not parts[1].startswith("*")


def _wall_time(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None, fold=0)


def _utc(wall: datetime, offset: timedelta) -> datetime:
    """The instant at which a clock ``offset`` ahead of UTC shows ``wall``."""
    return (wall - offset).replace(tzinfo=UTC)


def _offsets(wall: datetime, tz: tzinfo) -> tuple[timedelta, timedelta]:
    """The UTC offsets before and after a change that ``wall`` falls in (equal if none).

    zoneinfo reads a wall time with ``fold=0`` at the offset in force before a change and
    with ``fold=1`` at the one after, whether the change skips wall times or repeats them.
    """
    before = wall.replace(tzinfo=tz, fold=0).utcoffset()
    after = wall.replace(tzinfo=tz, fold=1).utcoffset()
    assert before is not None
    assert after is not None
    return before, after


def _offset_at(seconds: int, tz: tzinfo) -> timedelta | None:
    return (_EPOCH + timedelta(seconds=seconds)).astimezone(tz).utcoffset()


@dataclass(frozen=True, slots=True)
class _Shift:
    """A change of a zone's UTC offset, and the wall times it skips or repeats.

    Clocks that go forward skip the wall times in ``[start, end)``; clocks that go back show
    them twice, first at the ``before`` offset and then at the ``after`` one.
    """

    at: datetime
    before: timedelta
    after: timedelta

    @property
    def start(self) -> datetime:
        return _wall_time(self.at) + min(self.before, self.after)

    @property
    def end(self) -> datetime:
        return _wall_time(self.at) + max(self.before, self.after)


def _shift_around(wall: datetime, tz: tzinfo) -> _Shift | None:
    """The offset change that skips or repeats ``wall``, or ``None`` if it shows once.

    The change lies between the two readings of ``wall``; a binary search over whole
    seconds finds it in a few dozen conversions, however long the skipped or repeated span
    is (Samoa skipped a whole day in 2011 and repeated one in 1892).
    """
    before, after = _offsets(wall, tz)
    if before == after:
        return None
    # The offset is ``before`` at ``low`` and has changed by ``high``.
    low = (wall - max(before, after) - _NAIVE_EPOCH) // _SECOND
    high = -((_NAIVE_EPOCH - (wall - min(before, after))) // _SECOND)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(middle, tz) == before:
            low = middle
        else:
            high = middle
    return _Shift(_EPOCH + timedelta(seconds=high), before, after)


def _matches(text: str, wall: datetime, reverse: bool) -> Iterator[datetime]:
    """Wall times ``text`` matches, strictly after ``wall`` (strictly before, in reverse).

    Fire times have whole seconds: cronsim drops ``wall``'s microseconds, which makes the
    bound strict in both directions. It stops after 50 years without a match.
    """
    iterator: Iterator[Any] = CronSim(text, wall, reverse=reverse)
    return iterator


def _span_walls(text: str, shift: _Shift, wall: datetime, reverse: bool) -> Iterator[datetime]:
    """Matching wall times of ``shift``'s span strictly after ``wall`` (before, in reverse),
    in walking order."""
    for found in _matches(text, wall, reverse):
        if (found < shift.start) if reverse else (found >= shift.end):
            return
        yield found


def _at(walls: Iterator[datetime], offset: timedelta) -> Iterator[datetime]:
    return (_utc(wall, offset) for wall in walls)


_EXHAUSTED = "no further fire time within 50 years"
_PAST_9999 = "no further fire time before the end of year 9999"


def _fixed_time(
    text: str, tz: tzinfo, origin: datetime, reverse: bool
) -> Generator[datetime, None, str]:
    """Fire times of a fixed-time expression strictly after ``origin`` (before it, latest
    first, in reverse).

    Each matching wall time runs at its first reading; the wall times a jump skips run
    once, at the jump, and the walk goes on past the skipped span instead of visiting every
    skipped second.
    """
    local = origin.astimezone(tz)
    wall = _wall_time(local)
    if local.fold == 1 and (shift := _shift_around(wall, tz)) is not None:
        # In the second reading of repeated wall times, the first readings of all of them
        # lie before ``origin``: a forward walk resumes after the span, a reverse one
        # starts from its end.
        wall = shift.end if reverse else shift.end - _TICK
    while True:
        for found in _matches(text, wall, reverse):
            before, after = _offsets(found, tz)
            if after <= before:
                yield _utc(found, before)
                continue
            jump = _shift_around(found, tz)
            assert jump is not None
            yield jump.at
            # Forward, the wall time right after the jump shows at the jump too: it is
            # covered. Backward, the walk resumes before the skipped span.
            wall = jump.start if reverse else jump.end
            break
        else:
            return _EXHAUSTED


def _repeated_span(text: str, shift: _Shift, wall: datetime, reverse: bool) -> Iterator[datetime]:
    """A wall-clock walk through a repeated span, from just past ``wall`` in it.

    Forward: the first readings of the span's matching wall times after ``wall``, then the
    second readings of all of them. In reverse: the second readings before ``wall``, then
    the first readings of all of them.
    """
    near, far = (shift.after, shift.before) if reverse else (shift.before, shift.after)
    yield from _at(_span_walls(text, shift, wall, reverse), near)
    entry = shift.end if reverse else shift.start - _TICK
    yield from _at(_span_walls(text, shift, entry, reverse), far)


def _wall_clock(
    text: str, tz: tzinfo, origin: datetime, reverse: bool
) -> Generator[datetime, None, str]:
    """Instants strictly after ``origin`` (before it, latest first, in reverse) at which the
    local clock shows a wall time ``text`` matches.

    The walk follows the clock: it steps over skipped wall times in one go, and walks a
    repeated span reading by reading (:func:`_repeated_span`) before carrying on past it.
    """
    local = origin.astimezone(tz)
    wall = _wall_time(local)
    shift = _shift_around(wall, tz)
    if shift is not None:
        # ``origin`` is a real instant, so this is a repeated span, not a skipped one.
        if local.fold == (1 if reverse else 0):
            yield from _repeated_span(text, shift, wall, reverse)
        else:
            # Already in the reading that comes last in this direction.
            last = shift.before if reverse else shift.after
            yield from _at(_span_walls(text, shift, wall, reverse), last)
        wall = shift.start if reverse else shift.end - _TICK
    while True:
        for found in _matches(text, wall, reverse):
            before, after = _offsets(found, tz)
            if before == after:
                yield _utc(found, before)
                continue
            shift = _shift_around(found, tz)
            assert shift is not None
            if after < before:
                yield _utc(found, after if reverse else before)
                yield from _repeated_span(text, shift, found, reverse)
            wall = shift.start if reverse else shift.end - _TICK
            break
        else:
            return _EXHAUSTED


def _utc_walk(text: str, start: datetime, reverse: bool) -> Generator[datetime, None, str]:
    for found in _matches(text, _wall_time(start.astimezone(UTC)), reverse):
        yield found.replace(tzinfo=UTC)
    return _EXHAUSTED


def iterate(
    expr: str, timezone: str, start: datetime, *, reverse: bool = False
) -> Generator[datetime, None, str]:
    """Fire times in UTC strictly after ``start`` (or, with ``reverse``, at or before it).

    When the fire times run out, the generator returns why (its ``StopIteration.value``):
    cronsim looks 50 years ahead at most, and datetimes end with the year 9999. A guard
    raises :class:`CronWalkError` if the walk ever stops advancing; it does not stop early
    without saying so.
    """
    text = _for_cronsim(validate(expr))
    tz = zone(timezone)
    start = start.astimezone(UTC)
    # cronsim's reverse walk begins strictly before its start; fire times have whole
    # seconds, so beginning one second later includes ``start`` itself.
    origin = start.replace(microsecond=0) + _SECOND if reverse else start
    walk: Generator[datetime, None, str]
    if getattr(tz, "key", None) in _UTC_NAMES:
        walk = _utc_walk(text, origin, reverse)
    elif is_fixed_time(text):
        walk = _fixed_time(text, tz, origin, reverse)
    else:
        walk = _wall_clock(text, tz, origin, reverse)
    # The walks advance by construction. At most one candidate per DST change is passed
    # over (a jump met from both sides, or one a reverse walk meets just after ``start``),
    # so a long run of them means a bug or a zone unlike any in tzdata: say so.
    passed_over = 0
    bound = start
    while True:
        try:
            moment = next(walk)
        except StopIteration as end:
            return str(end.value)
        except OverflowError:
            # Python's datetimes run from year 1 to year 9999.
            return "no earlier fire time after year 1" if reverse else _PAST_9999
        if (moment > bound) if reverse else (moment <= bound):
            passed_over += 1
            if passed_over > _MAX_PASSED_OVER:
                raise CronWalkError(
                    f"the fire times of {expr!r} in {timezone} stopped advancing at "
                    f"{bound.isoformat()}; this is a bug in tickwork, please report it"
                )
            continue
        passed_over = 0
        bound = moment - _TICK if reverse else moment
        yield moment


def next_fire(expr: str, timezone: str, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after`` (aware), in UTC; ``None`` if none is left."""
    return next(iterate(expr, timezone, after), None)


def last_fire(expr: str, timezone: str, moment: datetime) -> datetime | None:
    """The last fire time at or before ``moment`` (aware), in UTC; ``None`` if there is none."""
    return next(iterate(expr, timezone, moment, reverse=True), None)


@dataclass(frozen=True, slots=True)
class FireTimes:
    """Upcoming fire times, and why there are fewer than asked for when there are."""

    times: list[datetime]
    truncated_reason: str | None = None

    @property
    def truncated(self) -> bool:
        """Whether the list holds fewer fire times than were asked for."""
        return self.truncated_reason is not None


def preview_horizon(after: datetime) -> datetime:
    """How far ahead of ``after`` a preview looks: :data:`PREVIEW_YEARS` years, at most to 9999."""
    year = after.year + PREVIEW_YEARS
    if year > datetime.max.year:
        return datetime.max.replace(tzinfo=UTC)
    try:
        return after.replace(year=year)
    except ValueError:  # 29 February, in a year without one
        return after.replace(year=year, day=28)


def take(
    walk: Generator[datetime, None, str | None], count: int, until: datetime | None = None
) -> FireTimes:
    """The first ``count`` fire times of ``walk`` up to ``until``, saying why if fewer.

    The reason is the one ``walk`` ended with, the horizon ``until``, or the message of a
    :class:`CronWalkError`.
    """
    times: list[datetime] = []
    while len(times) < count:
        try:
            moment = next(walk)
        except StopIteration as end:
            return FireTimes(times, str(end.value or "no further fire time"))
        except CronWalkError as exc:
            return FireTimes(times, exc.message)
        if until is not None and moment > until:
            return FireTimes(
                times, f"a preview looks {PREVIEW_YEARS} years ahead, to {until:%Y-%m-%d %H:%M} UTC"
            )
        times.append(moment)
    return FireTimes(times)


def upcoming(expr: str, timezone: str, after: datetime, count: int) -> FireTimes:
    """Up to ``count`` fire times strictly after ``after`` (in UTC) for a preview.

    The preview looks :data:`PREVIEW_YEARS` years ahead at most and says why it lists fewer
    than ``count`` when it does.
    """
    return take(iterate(expr, timezone, after), count, preview_horizon(after))


def fire_times(expr: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """Up to ``count`` fire times strictly after ``after``, in UTC (see :func:`upcoming`)."""
    return upcoming(expr, timezone, after, count).times


def describe(expr: str) -> str:
    """A sentence saying when the expression fires, such as "At 09:00 on Monday through Friday"."""
    text = validate(expr)
    try:
        return str(CronSim(_for_cronsim(text), _REFERENCE).explain())
    except Exception:  # explain() is best effort; an odd expression still schedules fine
        return text


@dataclass(frozen=True, slots=True)
class DstNote:
    """A fire time on a DST change: ``forward`` (at a jump) or ``back`` (in a repeated hour)."""

    direction: str
    message: str


def dst_note(fire_time: datetime, timezone: str) -> DstNote | None:
    """Say whether ``fire_time`` falls on a DST change in ``timezone``.

    A fire time at the instant the clocks go forward (where jobs of the skipped hour run)
    and one whose local time happens twice because the clocks go back are flagged.
    """
    tz = zone(timezone)
    local = fire_time.astimezone(tz)
    offset = local.utcoffset()
    other = local.replace(fold=1 - local.fold).utcoffset()
    if offset is not None and other is not None and other != offset:
        which = "first" if local.fold == 0 else "second"
        return DstNote(
            "back",
            f"clocks go back: {local:%H:%M} happens twice this day; this is the {which} one",
        )
    just_before = (fire_time - timedelta(microseconds=1)).astimezone(tz).utcoffset()
    if offset is not None and just_before is not None and just_before < offset:
        span = _span(offset - just_before)
        verb = "are" if span[0].isdigit() else "is"
        return DstNote(
            "forward", f"clocks go forward at {local:%H:%M}: the {span} before it {verb} skipped"
        )
    return None


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"
