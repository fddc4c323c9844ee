"""Parsing of user-supplied values: durations, moments, names. Errors name the field."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tickwork.domain import cron
from tickwork.domain.errors import InvalidInputError

# Every parser here refuses text longer than its cap before looking at it, so no input
# can make a request, the scheduler or a worker spend noticeable time on it.
MAX_DURATION_LENGTH = 64
MAX_MOMENT_LENGTH = 64
MAX_INTEGER_LENGTH = 24
MAX_ECHOED = 80
"""How much of a refused value an error message repeats."""
MAX_ID = 2**63 - 1
"""The largest record id (a signed 64-bit integer on both databases)."""
_RECORD_ID = re.compile(r"[0-9]{1,19}")

# One part of a duration: a number and an optional unit. Each match consumes at least one
# digit and nothing in it can match in two ways, so scanning is linear in the text.
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)[ \t]*([A-Za-z]?)[ \t]*")
_DURATION_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_DURATION_ORDER = "dhms"


def echo(value: Any) -> str:
    """``value`` as an error message repeats it: its ``repr``, cut to :data:`MAX_ECHOED`."""
    shown = repr(value)
    return shown if len(shown) <= MAX_ECHOED else shown[: MAX_ECHOED - 3] + "..."


def record_id(ref: Any) -> int | None:
    """``ref`` as a record id when it is one (an int, or ASCII digits, from 1 to
    :data:`MAX_ID`); ``None`` otherwise, so callers look ``ref`` up as a name instead."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        number = ref
    elif isinstance(ref, str) and _RECORD_ID.fullmatch(ref):
        number = int(ref)
    else:
        return None
    return number if 1 <= number <= MAX_ID else None


def _capped(value: str, field: str, limit: int, what: str) -> str:
    text = value.strip()
    if len(text) > limit:
        raise InvalidInputError(f"{what} is at most {limit} characters", field=field)
    return text


def _duration_text(value: str, field: str) -> float:
    """Seconds from text like ``90``, ``5m``, ``1h30m`` or ``1d 2h 3m 4s``: units in that
    order, each at most once; a number without a unit (only last) is seconds."""
    text = _capped(value, field, MAX_DURATION_LENGTH, "a duration")
    total = 0.0
    position = 0
    last_unit = -1
    while position < len(text):
        part = _DURATION_PART.match(text, position)
        unit = (part.group(2) or "s").lower() if part else ""
        if (
            part is None
            or unit not in _DURATION_UNITS
            or _DURATION_ORDER.index(unit) <= last_unit
            or (not part.group(2) and part.end() < len(text))
        ):
            raise InvalidInputError(
                f"{echo(text)} is not a duration (seconds, or like 30s, 5m, 2h, 1d, 1h30m)",
                field=field,
            )
        total += float(part.group(1)) * _DURATION_UNITS[unit]
        last_unit = _DURATION_ORDER.index(unit)
        position = part.end()
    return total


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
        seconds = _duration_text(value, field)
    else:
        raise InvalidInputError("expected a number of seconds", field=field)
    too_small = not math.isfinite(seconds) or seconds < minimum
    if too_small or (maximum is not None and seconds > maximum):
        if maximum is not None:
            raise InvalidInputError(
                f"must be from {plain(minimum)} to {plain(maximum)} seconds", field=field
            )
        raise InvalidInputError(f"must be at least {plain(minimum)} seconds", field=field)
    return seconds


def plain(number: float) -> str:
    """A number as people write it: ``86400``, ``0.5``, ``1000000`` (never ``1e+06``)."""
    if float(number).is_integer() and abs(number) < 1e18:
        return str(int(number))
    return f"{number:f}".rstrip("0").rstrip(".")


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
        text = _capped(value, field, MAX_MOMENT_LENGTH, "a date and time")
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidInputError(
                f"{echo(text)} is not an ISO 8601 date and time", field=field
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
    if isinstance(value, str):
        text = _capped(value, field, MAX_INTEGER_LENGTH, "an integer")
        if not re.fullmatch(r"-?[0-9]+", text):
            raise InvalidInputError(f"{echo(text)} is not an integer", field=field)
        value = int(text)
    if not isinstance(value, int):
        raise InvalidInputError("expected an integer", field=field)
    below = minimum is not None and value < minimum
    above = maximum is not None and value > maximum
    if (below or above) and minimum is not None and maximum is not None:
        raise InvalidInputError(f"must be from {minimum} to {maximum}", field=field)
    if below:
        raise InvalidInputError(f"must be at least {minimum}", field=field)
    if above:
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
    if any((ord(ch) < 32 and ch not in "\t\n") or 0x7F <= ord(ch) <= 0x9F for ch in stripped):
        raise InvalidInputError("must not contain control characters", field=field)
    return stripped


def choice(value: Any, field: str, options: type[Any]) -> Any:
    """A member of the enum ``options`` from its value."""
    try:
        return options(value)
    except ValueError:
        allowed = ", ".join(o.value for o in options)
        raise InvalidInputError(f"{echo(value)} is not one of {allowed}", field=field) from None


MAX_JSON_KEY_LENGTH = 100


def json_object(value: Any, field: str, *, max_bytes: int) -> dict[str, Any]:
    """A JSON object (a ``dict``, or its text as a form or the CLI sends it) of at most
    ``max_bytes`` bytes when serialized, with keys of at most :data:`MAX_JSON_KEY_LENGTH`
    characters; ``None`` or blank text is ``{}``. Text longer than the cap is refused
    before it is parsed."""
    if value is None:
        return {}
    if isinstance(value, str):
        if len(value) > max_bytes:
            raise InvalidInputError(f"{field} is at most {max_bytes} bytes of JSON", field=field)
        if not value.strip():
            return {}
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidInputError(f"{field} is not valid JSON: {exc}", field=field) from None
    if not isinstance(value, dict):
        raise InvalidInputError(
            f'{field} must be a JSON object such as {{"team": "payments"}}', field=field
        )
    for key in value:
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_JSON_KEY_LENGTH:
            raise InvalidInputError(
                f"{field} keys are non-empty text of at most {MAX_JSON_KEY_LENGTH} characters",
                field=field,
            )
    try:
        size = len(json.dumps(value, allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{field} is not JSON: {exc}", field=field) from None
    if size > max_bytes:
        raise InvalidInputError(
            f"{field} is {size} bytes of JSON; the limit is {max_bytes}", field=field
        )
    return dict(value)
