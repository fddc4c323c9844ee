"""Parsing of user-supplied values: durations, moments, names. Errors name the field."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tickwork.domain import cron
from tickwork.domain.errors import InvalidInputError

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*"
    r"(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s?)?\s*$",
    re.IGNORECASE,
)


def duration(
    value: Any, field: str, *, minimum: float = 0.0, maximum: float | None = None
) -> float:
    """Seconds from a number, a ``timedelta`` or text such as ``"90"``, ``"5m"``, ``"1h30m"``."""
    seconds: float
    if isinstance(value, bool):
        raise InvalidInputError("expected a number of seconds", field=field)
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        match = _DURATION.match(value)
        if not match or not any(match.groups()):
            raise InvalidInputError(
                f"{value!r} is not a duration (seconds, or like 30s, 5m, 2h, 1d, 1h30m)",
                field=field,
            )
        days, hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
    else:
        raise InvalidInputError("expected a number of seconds", field=field)
    if not math.isfinite(seconds) or seconds < minimum:
        raise InvalidInputError(f"must be at least {minimum:g} seconds", field=field)
    if maximum is not None and seconds > maximum:
        raise InvalidInputError(f"must be at most {maximum:g} seconds", field=field)
    return seconds


MIN_YEAR = 1900
MAX_YEAR = 9000


def moment(
    value: Any, field: str, timezone: str = "UTC", *, strict_local: bool = False
) -> datetime:
    """A timezone-aware UTC datetime from a ``datetime`` or ISO 8601 text.

    A value without an offset is read as local time in ``timezone``. With ``strict_local``,
    a local time that does not exist (skipped by a DST change) or is ambiguous (repeated)
    is refused, since it cannot say which instant is meant.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidInputError(
                f"{value!r} is not an ISO 8601 date and time", field=field
            ) from exc
    else:
        raise InvalidInputError("expected an ISO 8601 date and time", field=field)
    try:
        result = _to_utc(parsed, value, field, timezone, strict_local=strict_local)
    except (OverflowError, ValueError) as exc:
        raise InvalidInputError(f"{value} is out of range", field=field) from exc
    if not MIN_YEAR <= result.year <= MAX_YEAR:
        raise InvalidInputError(
            f"{value} must be between the years {MIN_YEAR} and {MAX_YEAR}", field=field
        )
    return result


def _to_utc(
    parsed: datetime, value: Any, field: str, timezone: str, *, strict_local: bool
) -> datetime:
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    tz = cron.zone(timezone)
    first = parsed.replace(tzinfo=tz, fold=0)
    second = parsed.replace(tzinfo=tz, fold=1)
    if strict_local:
        if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != parsed:
            raise InvalidInputError(
                f"{value} does not exist in {timezone} (the clocks skip it); "
                "give an explicit UTC offset",
                field=field,
            )
        if first.utcoffset() != second.utcoffset():
            raise InvalidInputError(
                f"{value} happens twice in {timezone} (the clocks go back); "
                "give an explicit UTC offset",
                field=field,
            )
    return first.astimezone(UTC)


def integer(
    value: Any, field: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An integer within bounds (booleans and fractions are refused)."""
    if isinstance(value, bool):
        raise InvalidInputError("expected an integer", field=field)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if not isinstance(value, int):
        raise InvalidInputError("expected an integer", field=field)
    if minimum is not None and value < minimum:
        raise InvalidInputError(f"must be at least {minimum}", field=field)
    if maximum is not None and value > maximum:
        raise InvalidInputError(f"must be at most {maximum}", field=field)
    return value


def text(value: Any, field: str, *, max_length: int = 200, allow_empty: bool = False) -> str:
    """A stripped string of bounded length."""
    if not isinstance(value, str):
        raise InvalidInputError("expected a string", field=field)
    stripped = value.strip()
    if not stripped and not allow_empty:
        raise InvalidInputError("must not be empty", field=field)
    if len(stripped) > max_length:
        raise InvalidInputError(f"must be at most {max_length} characters", field=field)
    if any(ord(ch) < 32 and ch not in "\t\n" for ch in stripped):
        raise InvalidInputError("must not contain control characters", field=field)
    return stripped


def choice(value: Any, field: str, options: type[Any]) -> Any:
    """A member of the enum ``options`` from its value."""
    try:
        return options(value)
    except ValueError:
        allowed = ", ".join(o.value for o in options)
        raise InvalidInputError(f"{value!r} is not one of {allowed}", field=field) from None
