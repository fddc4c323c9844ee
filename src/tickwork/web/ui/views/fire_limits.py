"""When a schedule's fire times may run, as the schedule form edits it: allowed time
windows, blackout dates and the condition.

The form carries each as text (``windows`` as the API's JSON list, which the form's editor
keeps in step with its rows; ``blackout_dates`` as dates separated by commas or new lines;
``condition`` as a name). The same readers serve the save and the live preview, so both
name the same field with the same message. The schedule's page describes them in words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from tickwork.domain import inputs, windows
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.models import Flag
from tickwork.domain.simulation import ConditionCheck

# The longest text each reader looks at: room for the most windows and dates a schedule
# may have, written out with spaces.
MAX_WINDOWS_TEXT = windows.MAX_WINDOWS * 200
MAX_DATES_TEXT = windows.MAX_BLACKOUT_DATES * 20
MAX_CONDITION_LENGTH = 200
FIELDS = ("windows", "blackout_dates", "condition")
WINDOWS_EXAMPLE = '[{"days": ["mon", "fri"], "start": "09:00", "end": "17:00"}]'

_WHERE = re.compile(r"^windows\[(\d+)\](?:\.(\w+))?$")
# What the form's editor calls the parts of a window.
_PARTS = {"start": "from", "end": "to", "days": "days"}
_DAY_LABELS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def windows_text(value: Sequence[dict[str, Any]] | None) -> str:
    """A schedule's windows as the form's ``windows`` field holds them (JSON with each
    window's keys in one order, whatever order the database kept them in; or empty)."""
    if not value:
        return ""
    return json.dumps([{k: w[k] for k in ("days", "start", "end") if k in w} for w in value])


def dates_text(value: Sequence[str] | None) -> str:
    """A schedule's blackout dates as the form shows them."""
    return ", ".join(value or [])


def read_windows(text: str) -> list[dict[str, Any]] | None:
    """The windows the form's ``windows`` field holds, checked as the API checks them;
    :class:`InvalidInputError` on field ``windows`` says which window is wrong."""
    if not text.strip():
        return None
    if len(text) > MAX_WINDOWS_TEXT:
        raise InvalidInputError(f"must be at most {MAX_WINDOWS_TEXT} characters", field="windows")
    try:
        parsed = json.loads(text)
    except ValueError:
        raise InvalidInputError(
            f"write a JSON list of windows, such as {WINDOWS_EXAMPLE}", field="windows"
        ) from None
    try:
        return windows.normalize_windows(parsed)
    except InvalidInputError as exc:
        where = _WHERE.match(exc.field or "")
        if where is None:
            raise InvalidInputError(exc.message, field="windows") from None
        part = _PARTS.get(where.group(2) or "", "")
        prefix = f"window {int(where.group(1)) + 1}" + (f", {part}" if part else "")
        # The editor calls a window's start and end "from" and "to".
        message = exc.message.replace("start and end", "from and to")
        raise InvalidInputError(f"{prefix}: {message}", field="windows") from None


def read_blackout_dates(text: str) -> list[str] | None:
    """The dates the form's ``blackout_dates`` field holds (``YYYY-MM-DD``, separated by
    commas, spaces or new lines)."""
    if not text.strip():
        return None
    if len(text) > MAX_DATES_TEXT:
        raise InvalidInputError(
            f"must be at most {MAX_DATES_TEXT} characters", field="blackout_dates"
        )
    dates = text.replace(",", " ").split()
    try:
        return windows.normalize_blackout_dates(dates)
    except InvalidInputError as exc:
        raise InvalidInputError(exc.message, field="blackout_dates") from None


def read_condition(text: str) -> str | None:
    """The condition the form names (a flag or a registered predicate), or ``None``."""
    if not text.strip():
        return None
    return inputs.text(text, "condition", max_length=MAX_CONDITION_LENGTH)


def unknown_condition_message(name: str) -> str:
    """Why the form refuses a condition that names nothing the schedule sees."""
    return (
        f"no flag or registered condition named {inputs.echo(name)} that this schedule sees: "
        "set the flag first (tickwork flags set NAME on)"
    )


def known_conditions(predicates: Iterable[str], flags: Iterable[Flag]) -> list[tuple[str, str]]:
    """What a condition may name, each with its state now: the registered predicates and
    the flags the viewer sees (a name several tenants use is "on" only if every one is)."""
    states: dict[str, set[bool]] = {}
    for flag in flags:
        states.setdefault(flag.name, set()).add(flag.enabled)
    known = dict.fromkeys(predicates, "decided in code")
    for name, seen in states.items():
        known.setdefault(name, "on" if seen == {True} else "off" if seen == {False} else "mixed")
    return sorted(known.items())


def _day_span(days: Sequence[str]) -> str:
    numbers = sorted(windows.DAY_NAMES.index(d) for d in days)
    if len(numbers) == 7:
        return "every day"
    if len(numbers) >= 3 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{_DAY_LABELS[numbers[0]]}\u2013{_DAY_LABELS[numbers[-1]]}"
    return ", ".join(_DAY_LABELS[n] for n in numbers)


def describe_window(window: dict[str, Any]) -> str:
    """One window in words: its days (a run of three or more as a range), from and to, and
    "(next day)" when it spans midnight."""
    start, end = str(window["start"]), str(window["end"])
    overnight = " (next day)" if end < start else ""
    return f"{_day_span(window.get('days') or windows.DAY_NAMES)} {start}\u2013{end}{overnight}"


def describe_dates(values: Sequence[str]) -> str:
    """Blackout dates in words: "Fri 25 Dec 2026, Fri 1 Jan 2027"."""
    shown = []
    for value in values:
        day = date.fromisoformat(value)
        shown.append(f"{day.strftime('%a')} {day.day} {day.strftime('%b %Y')}")
    return ", ".join(shown)


def condition_state(check: ConditionCheck, now: datetime) -> str:
    """What a schedule's condition says now, in words (a flag's state, a missing flag, or a
    predicate that decides at each fire time)."""
    allowed, note = check(now)
    if not allowed:
        return f"{note}: fire times are skipped"
    return note or "on now"
