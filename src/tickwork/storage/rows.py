"""Turning result rows into domain objects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


def schedule_from_row(row: Row[Any]) -> Schedule:
    """A :class:`Schedule` from a row of ``schedules`` (all columns, or a subset)."""
    return schedule_from_values(dict(zip(row._fields, row, strict=True)))


def schedules_from_rows(rows: Iterable[Row[Any]], keys: Sequence[str]) -> list[Schedule]:
    """Schedules from many rows with the columns ``keys`` (read once, not per row)."""
    return [schedule_from_values(dict(zip(keys, row, strict=True))) for row in rows]


def schedule_from_values(data: dict[str, Any]) -> Schedule:
    """A :class:`Schedule` from column values by name (all columns, or a subset)."""
    data["trigger"] = _TRIGGERS[data["trigger"]]
    data["status"] = _SCHEDULE_STATUSES[data["status"]]
    if "source" in data:
        data["source"] = _SOURCES[data["source"]]
    data["misfire_policy"] = _MISFIRE_POLICIES[data["misfire_policy"]]
    data["overlap_policy"] = _OVERLAP_POLICIES[data["overlap_policy"]]
    data["payload"] = data["payload"] or {}
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
