"""Turning result rows into domain objects."""

from __future__ import annotations

import dataclasses
import functools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC
from itertools import repeat
from operator import itemgetter
from typing import Any

from sqlalchemy import Row

from tickwork.domain.models import (
    MisfirePolicy,
    Node,
    OverlapPolicy,
    Run,
    RunAttempt,
    RunStatus,
    RunTrigger,
    Schedule,
    ScheduleSource,
    ScheduleStatus,
    TriggerType,
)

# Enum members by value: a dict lookup is much cheaper than calling the enum, which
# matters when a scheduler converts a thousand due schedules at once.
_TRIGGERS = {member.value: member for member in TriggerType}
_SCHEDULE_STATUSES = {member.value: member for member in ScheduleStatus}
_SOURCES = {member.value: member for member in ScheduleSource}
_MISFIRE_POLICIES = {member.value: member for member in MisfirePolicy}
_OVERLAP_POLICIES = {member.value: member for member in OverlapPolicy}
_RUN_TRIGGERS = {member.value: member for member in RunTrigger}


def schedule_from_row(row: Row[Any]) -> Schedule:
    """A :class:`Schedule` from a row of ``schedules`` (all columns, or a subset)."""
    return schedule_from_values(dict(zip(row._fields, row, strict=True)))


def schedules_from_rows(rows: Iterable[Row[Any]], keys: Sequence[str]) -> list[Schedule]:
    """Schedules from many rows with the columns ``keys`` (a subset of all columns that has
    every field without a default); the same values as :func:`schedule_from_values`.

    A scheduler converts a burst of due schedules this way, so it skips the per-row dict
    and the frozen dataclass's ``__init__`` (one ``object.__setattr__`` call per field, ~13
    µs a row): each row's values are picked in field order and written into a new
    instance's slots.
    """
    pick = _field_picker(tuple(keys))
    schedules = []
    for row in rows:
        values = list(pick(tuple(row) + _FIELD_DEFAULTS))
        values[_TRIGGER] = _TRIGGERS[values[_TRIGGER]]
        values[_STATUS] = _SCHEDULE_STATUSES[values[_STATUS]]
        values[_SOURCE] = _SOURCES[values[_SOURCE]]
        values[_MISFIRE_POLICY] = _MISFIRE_POLICIES[values[_MISFIRE_POLICY]]
        values[_OVERLAP_POLICY] = _OVERLAP_POLICIES[values[_OVERLAP_POLICY]]
        values[_PAYLOAD] = values[_PAYLOAD] or {}
        values[_METADATA] = values[_METADATA] or {}
        values[_ORPHANED] = bool(values[_ORPHANED])
        schedule = object.__new__(Schedule)
        # Every slot is set, in C: one member-descriptor __set__ per field.
        deque(map(_SET_SLOT, _SLOTS, repeat(schedule), values), maxlen=0)
        schedules.append(schedule)
    return schedules


_FIELDS = dataclasses.fields(Schedule)
_FIELD_NAMES = tuple(f.name for f in _FIELDS)
# A field left out of a query gets its default; payload's and metadata's (new dicts) are set
# per row.
_FIELD_DEFAULTS = tuple(None if f.default is dataclasses.MISSING else f.default for f in _FIELDS)
_SLOTS = tuple(getattr(Schedule, name) for name in _FIELD_NAMES)
_SET_SLOT = type(_SLOTS[0]).__set__
(_TRIGGER, _STATUS, _SOURCE, _MISFIRE_POLICY, _OVERLAP_POLICY, _PAYLOAD, _ORPHANED, _METADATA) = (
    _FIELD_NAMES.index(name)
    for name in (
        "trigger",
        "status",
        "source",
        "misfire_policy",
        "overlap_policy",
        "payload",
        "orphaned",
        "metadata",
    )
)
# Filling slots is only equivalent to __init__ while Schedule stays a slotted dataclass
# without __post_init__ whose only default factories are payload's and metadata's.
assert "__slots__" in Schedule.__dict__
assert not hasattr(Schedule, "__post_init__")
assert [f.name for f in _FIELDS if f.default_factory is not dataclasses.MISSING] == [
    "payload",
    "metadata",
]


@functools.lru_cache(maxsize=16)
def _field_picker(keys: tuple[str, ...]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """Picks a Schedule's values in field order from a row of ``keys`` + the defaults."""
    column = {key: index for index, key in enumerate(keys)}
    positions = []
    for index, f in enumerate(_FIELDS):
        if f.name in column:
            positions.append(column[f.name])
        elif f.default is not dataclasses.MISSING or f.name in ("payload", "metadata"):
            positions.append(len(keys) + index)
        else:
            raise TypeError(f"schedule rows need the column {f.name!r}")
    return itemgetter(*positions)


def schedule_from_values(data: dict[str, Any]) -> Schedule:
    """A :class:`Schedule` from column values by name (all columns, or a subset)."""
    data["trigger"] = _TRIGGERS[data["trigger"]]
    data["status"] = _SCHEDULE_STATUSES[data["status"]]
    if "source" in data:
        data["source"] = _SOURCES[data["source"]]
    data["misfire_policy"] = _MISFIRE_POLICIES[data["misfire_policy"]]
    data["overlap_policy"] = _OVERLAP_POLICIES[data["overlap_policy"]]
    data["payload"] = data["payload"] or {}
    if "metadata" in data:
        data["metadata"] = data["metadata"] or {}
    if "orphaned" in data:
        data["orphaned"] = bool(data["orphaned"])
    return Schedule(**data)


def run_from_row(row: Row[Any]) -> Run:
    """A :class:`Run` from a row of ``runs`` (all columns, or a subset)."""
    data = dict(row._mapping)
    data["status"] = RunStatus(data["status"])
    data["trigger"] = RunTrigger(data["trigger"])
    if "payload" in data:
        data["payload"] = data["payload"] or {}
    if "cancel_requested" in data:
        data["cancel_requested"] = bool(data["cancel_requested"])
    return Run(**data)


def run_from_values(run_id: int, values: dict[str, Any]) -> Run:
    """The run just inserted with ``values``, as reading it back would give it."""
    return Run(
        id=run_id,
        task=values["task"],
        status=RunStatus(values["status"]),
        trigger=_RUN_TRIGGERS[values["trigger"]],
        payload=values["payload"],
        tenant_id=values["tenant_id"],
        queue=values["queue"],
        priority=values["priority"],
        max_attempts=values["max_attempts"],
        retry_backoff=values["retry_backoff"],
        retry_backoff_max=values["retry_backoff_max"],
        timeout=values["timeout"],
        run_at=values["run_at"].astimezone(UTC),
        created_at=values["created_at"].astimezone(UTC),
        key=values["key"],
        created_by=values["created_by"],
    )


def attempt_from_row(row: Row[Any]) -> RunAttempt:
    """A :class:`RunAttempt` from a row of ``run_attempts``."""
    data = dict(row._mapping)
    data.pop("id", None)
    return RunAttempt(**data)


def node_from_row(row: Row[Any]) -> Node:
    """A :class:`Node` from a row of ``nodes``."""
    data = dict(row._mapping)
    data["info"] = data["info"] or {}
    return Node(**data)
