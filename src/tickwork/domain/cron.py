"""Cron expressions: validation, next fire times with time zones, and descriptions.

Parsing and matching come from cronsim. Five fields, or six with seconds first; month and
weekday names; ``7`` is Sunday; ``L``, ``LW``, ``5L`` and ``5#2``; the usual ``@`` macros.

Daylight saving time follows Vixie/Debian cron, for five- and six-field expressions alike:

- a *fixed-time* expression (neither the minute nor the hour field starts with ``*``) is
  matched against the local wall clock; a wall time the clocks skip runs once, right after
  the jump, and a wall time that happens twice runs once, the first time;
- any other expression (``*/15 * * * *``, ``0 * * * *``, ``* * * * * *``) follows the wall
  clock as it is: it fires in both copies of a repeated hour and not in a skipped one.

cronsim applies the fixed-time rule to five-field expressions only, and its wall-clock walk
assumes a one-hour shift (Lord Howe's half hour lost fire times), so this module walks both
kinds in naive local time itself (cronsim only matches) and maps each wall time to instants.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from cronsim.cronsim import Field

from tickwork.domain.errors import InvalidCronError, UnknownTimezoneError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# Where validation looks for a first fire time; cronsim gives up after 50 years without
# one, and leap-day expressions need at most 8.
_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)
# Wall times skipped by a DST jump map onto one instant and wall times of a repeated hour
# may map before the start; this bounds how many such candidates are passed over.
_MAX_PASSED_OVER = 10_000
_MINUTE = timedelta(minutes=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "Zulu"})
# Longer text is refused before it reaches a parser or the zone database: the longest
# useful expression (six fields of comma lists) and the longest IANA name are far shorter.
MAX_EXPRESSION_LENGTH = 200
MAX_ZONE_LENGTH = 64


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA time zone called ``name``, or :class:`UnknownTimezoneError` naming ``field``."""
    if isinstance(name, str) and len(name) > MAX_ZONE_LENGTH:
        raise UnknownTimezoneError(
            f"a time zone name is at most {MAX_ZONE_LENGTH} characters", field=field
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
            f"a cron expression is at most {MAX_EXPRESSION_LENGTH} characters", field=field
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
        iterator = CronSim(text, _REFERENCE)
        next(iterator)
    except CronSimError as exc:
        if _day_never_exists(text):
            raise InvalidCronError(
                f"cron expression {expr!r} can never fire: no month in it has that day",
                field=field,
            ) from exc
        raise InvalidCronError(f"invalid cron expression {expr!r}: {exc}", field=field) from exc
    except StopIteration as exc:
        raise InvalidCronError(f"cron expression {expr!r} can never fire", field=field) from exc
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise InvalidCronError(f"invalid cron expression {expr!r}", field=field) from exc
    return text


def _day_never_exists(text: str) -> bool:
    """Whether the day-of-month field parses but names a day no chosen month has."""
    parts = text.split()
    day_index = len(parts) - 3
    try:
        Field.DAY.parse(parts[day_index].upper())
        parts[day_index] = "1"
        CronSim(" ".join(parts), _REFERENCE)
    except (CronSimError, ValueError, IndexError, KeyError, TypeError):
        return False
    return True


@lru_cache(maxsize=4096)
def is_fixed_time(text: str) -> bool:
    """Whether a valid expression runs at set wall times (neither minute nor hour is ``*...``)."""
    parts = text.split()
    if len(parts) == 6:
        parts = parts[1:]
    return not parts[0].startswith("*") and not parts[1].startswith("*")


def _wall_time(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None, fold=0)


def _exists(candidate: datetime, tz: tzinfo) -> bool:
    return _wall_time(candidate.astimezone(UTC).astimezone(tz)) == _wall_time(candidate)


def _instant(wall: datetime, tz: tzinfo) -> datetime:
    """The instant a fixed-time job due at local ``wall`` runs (Vixie cron's DST rules)."""
    first = wall.replace(tzinfo=tz, fold=0)
    if _exists(first, tz):
        return first.astimezone(UTC)
    # The clocks skipped this wall time: run at the first minute after the jump.
    probe = wall.replace(second=0)
    for _ in range(24 * 60):
        probe += _MINUTE
        candidate = probe.replace(tzinfo=tz)
        if _exists(candidate, tz):
            return candidate.astimezone(UTC)
    raise InvalidCronError(f"no wall time after {wall} exists in {tz}")  # pragma: no cover


def _raw(text: str, start: datetime, reverse: bool) -> Iterator[datetime]:
    iterator: Iterator[Any] = CronSim(text, start, reverse=reverse)
    return iterator


def _copies(wall: datetime, tz: tzinfo) -> tuple[datetime, ...]:
    """The instants (UTC) at which the local clock shows ``wall``: none, one or two."""
    first = wall.replace(tzinfo=tz, fold=0)
    if not _exists(first, tz):
        return ()
    second = wall.replace(tzinfo=tz, fold=1)
    if second.utcoffset() == first.utcoffset():
        return (first.astimezone(UTC),)
    return (first.astimezone(UTC), second.astimezone(UTC))


def _repeat(wall: datetime, tz: tzinfo) -> timedelta:
    """How long the span of repeated wall times containing ``wall`` is (zero if none)."""
    first = wall.replace(tzinfo=tz, fold=0).utcoffset()
    second = wall.replace(tzinfo=tz, fold=1).utcoffset()
    if first is None or second is None or first <= second:
        return timedelta(0)
    return first - second


def _wall_clock(text: str, tz: tzinfo, start: datetime, reverse: bool) -> Iterator[datetime]:
    """Instants, in order, at which the local clock shows a time ``text`` matches.

    A wall time the clocks skip never shows; one in a repeated span shows twice. The two
    copies of repeated times interleave, so instants wait in a heap until the walk has
    passed them; the walk starts a repeated span early so the other copy is not missed.
    """
    if getattr(tz, "key", None) in _UTC_NAMES:
        for found in _raw(text, _wall_time(start.astimezone(UTC)), reverse):
            yield found.replace(tzinfo=UTC)
        return
    local = start.astimezone(tz)
    wall = _wall_time(local)
    shift = _repeat(wall, tz)
    if shift and local.fold == (1 if reverse else 0):
        wall = wall + shift if reverse else wall - shift
    # A heap of (key, instant): the instant itself forward, its distance back in reverse.
    pending: list[tuple[datetime | timedelta, datetime]] = []
    for found in _raw(text, wall, reverse):
        copies = _copies(found, tz)
        if not copies:
            continue
        for moment in copies:
            heapq.heappush(pending, (_EPOCH - moment if reverse else moment, moment))
        # Every instant still to come lies after this wall time's first copy (in reverse,
        # before its last copy), so anything up to there is in order already.
        frontier = copies[-1] if reverse else copies[0]
        while pending and (pending[0][1] >= frontier if reverse else pending[0][1] <= frontier):
            yield heapq.heappop(pending)[1]
    while pending:
        yield heapq.heappop(pending)[1]


def iterate(
    expr: str, timezone: str, start: datetime, *, reverse: bool = False
) -> Iterator[datetime]:
    """Fire times in UTC strictly after ``start`` (or, with ``reverse``, at or before it)."""
    text = validate(expr)
    tz = zone(timezone)
    start = start.astimezone(UTC)
    # cronsim's reverse walk begins strictly before its start; fire times have whole
    # seconds, so beginning one second later includes ``start`` itself.
    origin = start.replace(microsecond=0) + timedelta(seconds=1) if reverse else start
    fixed = is_fixed_time(text)
    local = origin.astimezone(tz)
    if fixed:
        wall = _wall_time(local)
        if reverse and local.fold == 1:
            # In the second copy of a repeated hour, the whole first copy lies before
            # ``start`` too: walk back from the end of the repeated span.
            wall += _repeat(wall, tz)
        candidates = _raw(text, wall, reverse)
    else:
        candidates = _wall_clock(text, tz, origin, reverse)
    passed_over = 0
    # Several skipped wall times (02:00 and 02:30 on a spring-forward night) map onto one
    # instant; it fires once, so the walk only yields instants past the last one yielded.
    bound = start
    for found in candidates:
        moment = _instant(found, tz) if fixed else found
        if (moment > bound) if reverse else (moment <= bound):
            passed_over += 1
            if passed_over > _MAX_PASSED_OVER:
                return
            continue
        passed_over = 0
        bound = moment - timedelta(microseconds=1) if reverse else moment
        yield moment


def next_fire(expr: str, timezone: str, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after`` (aware), in UTC; ``None`` if none is left."""
    return next(iterate(expr, timezone, after), None)


def last_fire(expr: str, timezone: str, moment: datetime) -> datetime | None:
    """The last fire time at or before ``moment`` (aware), in UTC; ``None`` if there is none."""
    return next(iterate(expr, timezone, moment, reverse=True), None)


def fire_times(expr: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """Up to ``count`` fire times strictly after ``after``, in UTC."""
    return list(islice(iterate(expr, timezone, after), count))


def describe(expr: str) -> str:
    """A sentence saying when the expression fires, such as "At 09:00 on Monday through Friday"."""
    text = validate(expr)
    try:
        return str(CronSim(text, _REFERENCE).explain())
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
        skipped = offset - just_before
        return DstNote(
            "forward",
            f"clocks go forward at {local:%H:%M}: the {_span(skipped)} before it is skipped",
        )
    return None


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"
