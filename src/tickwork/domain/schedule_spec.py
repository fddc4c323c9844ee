"""Validating a schedule's definition and turning it into stored values.

One function serves the Python API, the REST API, the CLI and code-defined schedules, so a
definition is accepted or refused the same way wherever it comes from. Every error names
the field it is about, and nothing is written unless the whole definition is valid.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from tickwork.domain import cron, inputs, triggers, windows
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.models import (
    MisfirePolicy,
    OverlapPolicy,
    Schedule,
    ScheduleSource,
    ScheduleStatus,
    TriggerType,
)
from tickwork.registry import DEFAULT_MAX_PAYLOAD_BYTES, TaskRegistry

TIMING_FIELDS = ("trigger", "cron", "interval", "run_at", "timezone", "start_at", "end_at")

# Fields a caller may set. ``status`` only at creation (``active`` or ``paused``).
DEFINITION_FIELDS = (
    "name",
    "task",
    "payload",
    "description",
    "tenant_id",
    *TIMING_FIELDS,
    "jitter",
    "misfire_policy",
    "misfire_grace",
    "misfire_cap",
    "overlap_policy",
    "max_runs",
    "max_attempts",
    "retry_backoff",
    "retry_backoff_max",
    "timeout",
    "queue",
    "priority",
    "windows",
    "blackout_dates",
    "condition",
)
CREATE_ONLY_FIELDS = ("status", "paused_until", "pause_note")

DEFAULT_MISFIRE_GRACE = 60.0
DEFAULT_MISFIRE_CAP = 10
MAX_MISFIRE_CAP = 1000
MIN_INTERVAL = 1.0
MAX_NAME_LENGTH = 200


def _optional(data: dict[str, Any], key: str) -> Any:
    value = data.get(key)
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _trigger(data: dict[str, Any]) -> TriggerType:
    given = {k for k in ("cron", "interval", "run_at") if _optional(data, k) is not None}
    explicit = _optional(data, "trigger")
    if explicit is not None:
        trigger: TriggerType = inputs.choice(explicit, "trigger", TriggerType)
        expected = {
            TriggerType.CRON: {"cron"},
            TriggerType.INTERVAL: {"interval"},
            TriggerType.ONCE: {"run_at"},
            TriggerType.MANUAL: set(),
        }[trigger]
        extra = given - expected
        if extra:
            field = sorted(extra)[0]
            raise InvalidInputError(
                f"{field} does not apply to a {trigger.value} trigger", field=field
            )
        missing = expected - given
        if missing:
            field = sorted(missing)[0]
            raise InvalidInputError(f"a {trigger.value} trigger needs {field}", field=field)
        return trigger
    if len(given) > 1:
        raise InvalidInputError(
            f"give only one of cron, interval or run_at (got {', '.join(sorted(given))})",
            field=sorted(given)[1],
        )
    if not given:
        raise InvalidInputError(
            "a schedule needs cron, interval or run_at (or trigger='manual')", field="cron"
        )
    return {
        "cron": TriggerType.CRON,
        "interval": TriggerType.INTERVAL,
        "run_at": TriggerType.ONCE,
    }[given.pop()]


def validate_definition(
    data: dict[str, Any],
    registry: TaskRegistry,
    *,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> dict[str, Any]:
    """Check a complete definition and return it as stored column values."""
    unknown = set(data) - set(DEFINITION_FIELDS) - set(CREATE_ONLY_FIELDS) - {"anchor_at"}
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidInputError(f"unknown field {inputs.echo(field)}", field=str(field)[:100])
    values: dict[str, Any] = {}
    values["name"] = inputs.text(data.get("name"), "name", max_length=MAX_NAME_LENGTH)
    task = registry.get(inputs.text(data.get("task"), "task"), field="task")
    values["task"] = task.name
    values["payload"] = task.validate_payload(data.get("payload"), max_bytes=max_payload_bytes)
    description = _optional(data, "description")
    values["description"] = (
        None if description is None else inputs.text(description, "description", max_length=2000)
    )
    tenant = _optional(data, "tenant_id")
    values["tenant_id"] = (
        None if tenant is None else inputs.text(tenant, "tenant_id", max_length=100)
    )

    timezone = _optional(data, "timezone") or "UTC"
    cron.zone(inputs.text(timezone, "timezone", max_length=64))
    values["timezone"] = timezone.strip()
    trigger = _trigger(data)
    values["trigger"] = trigger.value
    values["cron"] = (
        cron.validate(inputs.text(data["cron"], "cron"), "cron")
        if trigger is TriggerType.CRON
        else None
    )
    values["interval"] = (
        inputs.duration(data["interval"], "interval", minimum=MIN_INTERVAL, maximum=366 * 86400)
        if trigger is TriggerType.INTERVAL
        else None
    )
    values["run_at"] = (
        inputs.moment(data["run_at"], "run_at", timezone, strict_local=True)
        if trigger is TriggerType.ONCE
        else None
    )
    start = _optional(data, "start_at")
    end = _optional(data, "end_at")
    values["start_at"] = None if start is None else inputs.moment(start, "start_at", timezone)
    values["end_at"] = None if end is None else inputs.moment(end, "end_at", timezone)
    if values["start_at"] and values["end_at"] and values["end_at"] <= values["start_at"]:
        raise InvalidInputError("end_at must be after start_at", field="end_at")
    if values["run_at"] and values["start_at"] and values["run_at"] < values["start_at"]:
        raise InvalidInputError("run_at is before start_at", field="run_at")

    values["jitter"] = inputs.duration(data.get("jitter") or 0, "jitter", maximum=86400)
    values["misfire_policy"] = inputs.choice(
        data.get("misfire_policy") or MisfirePolicy.RUN_ONCE.value, "misfire_policy", MisfirePolicy
    ).value
    grace = data.get("misfire_grace")
    values["misfire_grace"] = (
        DEFAULT_MISFIRE_GRACE if grace is None else inputs.duration(grace, "misfire_grace")
    )
    cap = data.get("misfire_cap")
    values["misfire_cap"] = (
        DEFAULT_MISFIRE_CAP
        if cap is None
        else inputs.integer(cap, "misfire_cap", minimum=1, maximum=MAX_MISFIRE_CAP)
    )
    values["overlap_policy"] = inputs.choice(
        data.get("overlap_policy") or OverlapPolicy.ALLOW.value, "overlap_policy", OverlapPolicy
    ).value
    values["max_runs"] = _optional_int(data, "max_runs", minimum=1)
    values["max_attempts"] = _optional_int(data, "max_attempts", minimum=1, maximum=1000)
    values["retry_backoff"] = _optional_duration(data, "retry_backoff", minimum=0.001)
    values["retry_backoff_max"] = _optional_duration(data, "retry_backoff_max", minimum=0.001)
    values["timeout"] = _optional_duration(data, "timeout", minimum=0.001)
    queue = _optional(data, "queue")
    values["queue"] = None if queue is None else inputs.text(queue, "queue", max_length=100)
    priority = _optional(data, "priority")
    values["priority"] = (
        None
        if priority is None
        else inputs.integer(priority, "priority", minimum=-1000, maximum=1000)
    )
    values["windows"] = windows.normalize_windows(data.get("windows"))
    values["blackout_dates"] = windows.normalize_blackout_dates(data.get("blackout_dates"))
    condition = _optional(data, "condition")
    values["condition"] = None if condition is None else inputs.text(condition, "condition")
    return values


def _optional_int(data: dict[str, Any], key: str, **bounds: int) -> int | None:
    value = _optional(data, key)
    return None if value is None else inputs.integer(value, key, **bounds)


def _optional_duration(data: dict[str, Any], key: str, **bounds: float) -> float | None:
    value = _optional(data, key)
    return None if value is None else inputs.duration(value, key, **bounds)


def timing_preview(values: dict[str, Any], now: datetime) -> Schedule:
    """A transient :class:`Schedule` carrying ``values``' timing (for computing fire times)."""
    anchor = values.get("anchor_at")
    if values["trigger"] == TriggerType.INTERVAL.value and anchor is None:
        # Whole seconds, so "every 10 seconds" fires at readable times.
        anchor = values.get("start_at") or now.replace(microsecond=0)
    return Schedule(
        id=0,
        name=values["name"],
        task=values["task"],
        trigger=TriggerType(values["trigger"]),
        status=ScheduleStatus.ACTIVE,
        source=ScheduleSource.API,
        cron=values.get("cron"),
        interval=values.get("interval"),
        run_at=values.get("run_at"),
        timezone=values["timezone"],
        start_at=values.get("start_at"),
        end_at=values.get("end_at"),
        anchor_at=anchor,
    )


def with_first_fire(
    values: dict[str, Any], now: datetime, *, allow_exhausted: bool = False
) -> dict[str, Any]:
    """Add ``anchor_at`` and ``next_run_at`` computed from the timing, as of ``now``.

    Refuses a definition that can never fire again (an ``end_at`` in the past, say),
    unless ``allow_exhausted``: then ``next_run_at`` is ``None``.
    """
    preview = timing_preview(values, now)
    values = {**values, "anchor_at": preview.anchor_at}
    if preview.trigger is TriggerType.MANUAL:
        return {**values, "next_run_at": None}
    first = triggers.first_fire(preview, now)
    if first is None and allow_exhausted:
        return {**values, "next_run_at": None}
    if first is None:
        field = "end_at" if values.get("end_at") else ("run_at" if values.get("run_at") else "cron")
        raise InvalidInputError("this schedule would never fire: no fire time is left", field=field)
    return {**values, "next_run_at": first}


def keeps_anchor(old: Schedule, new_values: dict[str, Any]) -> bool:
    """Whether an edit leaves an interval schedule's grid where it was.

    Only a new interval or ``start_at`` (or another trigger) moves the grid; changing
    ``end_at`` or the time zone of an interval schedule keeps its phase.
    """
    return (
        old.trigger is TriggerType.INTERVAL
        and old.anchor_at is not None
        and new_values.get("trigger") == TriggerType.INTERVAL.value
        and new_values.get("interval") == old.interval
        and new_values.get("start_at") == old.start_at
    )


def timing_changed(old: Schedule, new_values: dict[str, Any]) -> bool:
    """Whether an edit changes when the schedule fires."""
    current = old.to_dict()
    for key in TIMING_FIELDS:
        before = current[key]
        before = before.value if hasattr(before, "value") else before
        if before != new_values.get(key):
            return True
    return False


def definition_of(schedule: Schedule) -> dict[str, Any]:
    """The caller-settable fields of a stored schedule (to merge an edit into)."""
    data = schedule.to_dict()
    result = {}
    for key in DEFINITION_FIELDS:
        value = data[key]
        result[key] = value.value if hasattr(value, "value") else value
    return result


def code_hash(values: dict[str, Any]) -> str:
    """A fingerprint of a code-defined schedule's definition, to notice changes in code."""
    canonical = json.dumps(
        {k: values.get(k) for k in DEFINITION_FIELDS}, sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def as_json(schedule: Schedule) -> dict[str, Any]:
    """A schedule as JSON values (for the audit log's before and after)."""
    data = schedule.to_dict()
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
        elif hasattr(value, "value"):
            data[key] = value.value
    return data


__all__ = [
    "DEFINITION_FIELDS",
    "TIMING_FIELDS",
    "as_json",
    "code_hash",
    "definition_of",
    "keeps_anchor",
    "timing_changed",
    "timing_preview",
    "validate_definition",
    "with_first_fire",
]
