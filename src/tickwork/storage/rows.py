"""Turning result rows into domain objects."""

from __future__ import annotations

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


def schedule_from_row(row: Row[Any]) -> Schedule:
    """A :class:`Schedule` from a row of ``schedules``."""
    data = dict(row._mapping)
    data["trigger"] = TriggerType(data["trigger"])
    data["status"] = ScheduleStatus(data["status"])
    data["source"] = ScheduleSource(data["source"])
    data["misfire_policy"] = MisfirePolicy(data["misfire_policy"])
    data["overlap_policy"] = OverlapPolicy(data["overlap_policy"])
    data["payload"] = data["payload"] or {}
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
