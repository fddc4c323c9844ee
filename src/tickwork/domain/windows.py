"""Time windows and blackout dates that restrict when a schedule's fire times may run.

A window is ``{"days": ["mon", "tue", ...], "start": "09:00", "end": "17:00"}`` in the
schedule's time zone; ``days`` may be omitted for every day, and a window whose end is
before its start spans midnight. Blackout dates are ``YYYY-MM-DD`` in the schedule's zone.
A fire time outside every window, or on a blackout date, is recorded as skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any

from tickwork.domain import cron
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.inputs import echo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Every fire time is checked against all of a schedule's windows and dates, so their number
# is bounded; so is the text each parser looks at.
MAX_WINDOWS = 100
MAX_BLACKOUT_DATES = 1000
MAX_TIME_LENGTH = 20


def _parse_time(value: Any, field: str) -> time:
    if not isinstance(value, str):
        raise InvalidInputError("expected a time as HH:MM", field=field)
    if len(value) > MAX_TIME_LENGTH:
        raise InvalidInputError(f"a time is at most {MAX_TIME_LENGTH} characters", field=field)
    try:
        return time.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInputError(f"{echo(value)} is not a time as HH:MM", field=field) from exc


def _parse_day(value: Any, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if isinstance(value, str) and value[:3].lower() in DAY_NAMES:
        return DAY_NAMES.index(value[:3].lower())
    raise InvalidInputError(
        f"{echo(value)} is not a weekday (mon..sun, or 0..6 from Monday)", field=field
    )


def normalize_windows(windows: Any, field: str = "windows") -> list[dict[str, Any]] | None:
    """Validate windows and return them in canonical form (day names, ``HH:MM``)."""
    if windows is None:
        return None
    if not isinstance(windows, list):
        raise InvalidInputError("expected a list of windows", field=field)
    if len(windows) > MAX_WINDOWS:
        raise InvalidInputError(f"at most {MAX_WINDOWS} windows", field=field)
    result = []
    for index, window in enumerate(windows):
        where = f"{field}[{index}]"
        if not isinstance(window, dict):
            raise InvalidInputError("expected an object with start, end and days", field=where)
        unknown = set(window) - {"days", "start", "end"}
        if unknown:
            raise InvalidInputError(f"unknown keys {sorted(unknown)}", field=where)
        start = _parse_time(window.get("start", "00:00"), f"{where}.start")
        end = _parse_time(window.get("end", "23:59:59"), f"{where}.end")
        if start == end:
            raise InvalidInputError("start and end are the same time", field=f"{where}.end")
        days_value = window.get("days")
        if days_value is None:
            days = list(range(7))
        elif isinstance(days_value, list) and days_value:
            days = sorted({_parse_day(d, f"{where}.days") for d in days_value})
        else:
            raise InvalidInputError("expected a non-empty list of weekdays", field=f"{where}.days")
        result.append(
            {
                "days": [DAY_NAMES[d] for d in days],
                "start": start.isoformat("minutes" if not start.second else "seconds"),
                "end": end.isoformat("minutes" if not end.second else "seconds"),
            }
        )
    return result or None


def normalize_blackout_dates(values: Any, field: str = "blackout_dates") -> list[str] | None:
    """Validate blackout dates and return them as sorted ``YYYY-MM-DD`` strings."""
    if values is None:
        return None
    if not isinstance(values, list):
        raise InvalidInputError("expected a list of dates as YYYY-MM-DD", field=field)
    if len(values) > MAX_BLACKOUT_DATES:
        raise InvalidInputError(f"at most {MAX_BLACKOUT_DATES} dates", field=field)
    result = set()
    for index, value in enumerate(values):
        try:
            text = str(value)
            if len(text) > MAX_TIME_LENGTH:
                raise ValueError(text)
            result.add(date.fromisoformat(text).isoformat())
        except ValueError as exc:
            raise InvalidInputError(
                f"{echo(value)} is not a date as YYYY-MM-DD", field=f"{field}[{index}]"
            ) from exc
    return sorted(result) or None


def _in_window(local: datetime, window: dict[str, Any]) -> bool:
    start = time.fromisoformat(window["start"])
    end = time.fromisoformat(window["end"])
    days = {DAY_NAMES.index(d) for d in window["days"]}
    moment = local.time().replace(tzinfo=None)
    if start <= end:
        return local.weekday() in days and start <= moment <= end
    # Spanning midnight: the evening part belongs to the listed day, the morning part to
    # the day after it.
    if moment >= start:
        return local.weekday() in days
    return moment <= end and (local.weekday() - 1) % 7 in days


def exclusion(
    fire_time: datetime,
    timezone: str,
    windows: Sequence[dict[str, Any]] | None,
    blackout_dates: Sequence[str] | None,
) -> str | None:
    """Why ``fire_time`` may not run (``"blackout"`` or ``"window"``), or ``None`` if it may."""
    local = fire_time.astimezone(cron.zone(timezone))
    if blackout_dates and local.date().isoformat() in blackout_dates:
        return "blackout"
    if windows and not any(_in_window(local, w) for w in windows):
        return "window"
    return None
