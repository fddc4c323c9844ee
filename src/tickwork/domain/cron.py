"""Cron expressions: validation, next fire times with time zones, and descriptions.

Built on cronsim, which implements Vixie/Debian cron semantics across DST changes: a
fixed-time job whose local time falls in a skipped hour runs once right after the jump,
one whose local time repeats runs once (the first time), and wildcard-hour jobs follow the
wall clock. Five fields, or six with seconds first; month and weekday names; ``7`` is
Sunday; ``L``, ``LW``, ``5L`` and ``5#2``; the usual ``@`` macros.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
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

# An expression that cannot fire within this span of a reference date never fires at all
# (cronsim itself gives up after 50 years; leap-day schedules need at most 8).
_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=512)
def zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA time zone called ``name``, or :class:`UnknownTimezoneError`."""
    if not isinstance(name, str) or not name or name != name.strip() or ".." in name:
        raise UnknownTimezoneError(f"unknown time zone {name!r}", field=field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise UnknownTimezoneError(f"unknown time zone {name!r}", field=field) from exc


def normalize(expr: str) -> str:
    """The expression with macros expanded and whitespace collapsed."""
    text = " ".join(expr.split())
    return MACROS.get(text.lower(), text)


@lru_cache(maxsize=4096)
def validate(expr: str, field: str = "cron") -> str:
    """Check that ``expr`` parses and can fire at least once; return it normalized.

    Raises :class:`InvalidCronError` naming ``field`` otherwise.
    """
    if not isinstance(expr, str) or not expr.strip():
        raise InvalidCronError("cron expression is empty", field=field)
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


def next_fire(expr: str, timezone: str, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after`` (aware), in UTC; ``None`` if none is left."""
    text = validate(expr)
    local = after.astimezone(zone(timezone))
    try:
        found = next(CronSim(text, local))
    except StopIteration:
        return None
    return found.astimezone(UTC)


def fire_times(expr: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """Up to ``count`` fire times strictly after ``after``, in UTC."""
    text = validate(expr)
    iterator = CronSim(text, after.astimezone(zone(timezone)))
    result: list[datetime] = []
    for _ in range(count):
        try:
            result.append(next(iterator).astimezone(UTC))
        except StopIteration:
            break
    return result


def describe(expr: str) -> str:
    """A sentence saying when the expression fires, such as "At 09:00 on Monday through Friday"."""
    text = validate(expr)
    try:
        return str(CronSim(text, _REFERENCE).explain())
    except Exception:  # explain() is best effort; an odd expression still schedules fine
        return text


@dataclass(frozen=True, slots=True)
class DstNote:
    """A DST change close to a fire time: ``forward`` (an hour is skipped) or ``back``."""

    direction: str
    message: str


def dst_note(fire_time: datetime, timezone: str) -> DstNote | None:
    """Say whether the clocks change within an hour of ``fire_time`` in ``timezone``."""
    tz = zone(timezone)
    before = (fire_time - timedelta(hours=1)).astimezone(tz).utcoffset()
    at = fire_time.astimezone(tz).utcoffset()
    after = (fire_time + timedelta(hours=1)).astimezone(tz).utcoffset()
    if before is None or at is None or after is None:
        return None
    if before != at:
        old, new = before, at
    elif at != after:
        old, new = at, after
    else:
        return None
    if new > old:
        return DstNote("forward", "clocks go forward near this time (an hour is skipped)")
    return DstNote("back", "clocks go back near this time (an hour repeats)")
