"""Validating a schedule's definition into a :class:`ScheduleDefinition`.

One function serves the Python API, the REST API, the CLI, the UI and code-defined
schedules, so a definition is accepted or refused the same way wherever it comes from.
Every error names the field it is about, and nothing is written unless the whole
definition is valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tickwork.domain import alerts, cron, flows, inputs, windows
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.models import MisfirePolicy, OverlapPolicy, Schedule, TriggerType
from tickwork.domain.schedule_definition import (
    DEFAULT_MISFIRE_CAP,
    DEFAULT_MISFIRE_GRACE,
    DEFINITION_FIELDS,
    TIMING_FIELDS,
    ScheduleDefinition,
    ScheduleTiming,
)
from tickwork.domain.tasks import DEFAULT_MAX_PAYLOAD_BYTES, TaskRegistry

# Fields a caller may give only when creating a schedule (``status``: active or paused).
CREATE_ONLY_FIELDS = ("status", "paused_until", "pause_note")

MAX_MISFIRE_CAP = 1000
MIN_INTERVAL = 1.0
MAX_INTERVAL = 366 * 86400.0
MAX_NAME_LENGTH = 200
MAX_METADATA_BYTES = 8192
"""The largest ``metadata`` object, serialized as JSON."""


def _optional(data: Mapping[str, Any], key: str) -> Any:
    value = data.get(key)
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _trigger(data: Mapping[str, Any]) -> TriggerType:
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


def _timing(data: Mapping[str, Any]) -> ScheduleTiming:
    timezone = _optional(data, "timezone") or "UTC"
    cron.zone(inputs.text(timezone, "timezone", max_length=64))
    timezone = timezone.strip()
    trigger = _trigger(data)
    expression = interval = run_at = None
    if trigger is TriggerType.CRON:
        expression = cron.validate(inputs.text(data["cron"], "cron"), "cron")
    elif trigger is TriggerType.INTERVAL:
        interval = inputs.duration(
            data["interval"], "interval", minimum=MIN_INTERVAL, maximum=MAX_INTERVAL
        )
    elif trigger is TriggerType.ONCE:
        run_at = inputs.moment(data["run_at"], "run_at", timezone, strict_local=True)
    start = _optional(data, "start_at")
    end = _optional(data, "end_at")
    start_at = None if start is None else inputs.moment(start, "start_at", timezone)
    end_at = None if end is None else inputs.moment(end, "end_at", timezone)
    if start_at and end_at and end_at <= start_at:
        raise InvalidInputError("end_at must be after start_at", field="end_at")
    if run_at and start_at and run_at < start_at:
        raise InvalidInputError("run_at is before start_at", field="run_at")
    return ScheduleTiming(trigger, timezone, expression, interval, run_at, start_at, end_at)


def validate_definition(
    data: Mapping[str, Any],
    registry: TaskRegistry,
    *,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> ScheduleDefinition:
    """Check a complete definition and return it typed.

    Fields are checked in the order the API documents them, so the first error reported is
    the same whichever door the definition came through. ``status``, ``paused_until`` and
    ``pause_note`` (creation only) and ``anchor_at`` are accepted and left to the caller.
    """
    # Longer than most functions: one check per field, in the order errors are reported,
    # which splitting it up would scatter.
    unknown = set(data) - set(DEFINITION_FIELDS) - set(CREATE_ONLY_FIELDS) - {"anchor_at"}
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidInputError(f"unknown field {inputs.echo(field)}", field=str(field)[:100])
    name = inputs.text(data.get("name"), "name", max_length=MAX_NAME_LENGTH)
    task_name, group, payload = _target(data, registry, max_payload_bytes)
    description = _optional_text(data, "description", max_length=2000)
    tenant_id = _optional_text(data, "tenant_id", max_length=100)
    timing = _timing(data)
    jitter = inputs.duration(data.get("jitter") or 0, "jitter", maximum=86400)
    misfire_policy: MisfirePolicy = inputs.choice(
        data.get("misfire_policy") or MisfirePolicy.RUN_ONCE.value, "misfire_policy", MisfirePolicy
    )
    grace = data.get("misfire_grace")
    cap = data.get("misfire_cap")
    return ScheduleDefinition(
        name=name,
        task=task_name,
        group=group,
        payload=payload,
        description=description,
        tenant_id=tenant_id,
        trigger=timing.trigger,
        cron=timing.cron,
        interval=timing.interval,
        run_at=timing.run_at,
        timezone=timing.timezone,
        start_at=timing.start_at,
        end_at=timing.end_at,
        jitter=jitter,
        misfire_policy=misfire_policy,
        # The remaining fields are checked here, in the order of the keyword arguments.
        misfire_grace=(
            DEFAULT_MISFIRE_GRACE if grace is None else inputs.duration(grace, "misfire_grace")
        ),
        misfire_cap=(
            DEFAULT_MISFIRE_CAP
            if cap is None
            else inputs.integer(cap, "misfire_cap", minimum=1, maximum=MAX_MISFIRE_CAP)
        ),
        overlap_policy=inputs.choice(
            data.get("overlap_policy") or OverlapPolicy.ALLOW.value,
            "overlap_policy",
            OverlapPolicy,
        ),
        max_runs=_optional_int(data, "max_runs", minimum=1),
        max_attempts=_optional_int(data, "max_attempts", minimum=1, maximum=1000),
        retry_backoff=_optional_duration(data, "retry_backoff", minimum=0.001),
        retry_backoff_max=_optional_duration(data, "retry_backoff_max", minimum=0.001),
        timeout=_optional_duration(data, "timeout", minimum=0.001),
        queue=_optional_text(data, "queue", max_length=100),
        priority=_optional_int(data, "priority", minimum=-1000, maximum=1000),
        windows=windows.normalize_windows(data.get("windows")),
        blackout_dates=windows.normalize_blackout_dates(data.get("blackout_dates")),
        condition=_optional_text(data, "condition"),
        alert_after=alerts.threshold(data.get("alert_after"), "alert_after"),
        auto_pause_after=alerts.threshold(data.get("auto_pause_after"), "auto_pause_after"),
        alert_channels=alerts.alert_channels(data.get("alert_channels")),
        metadata=inputs.json_object(data.get("metadata"), "metadata", max_bytes=MAX_METADATA_BYTES),
    )


def _target(
    data: Mapping[str, Any], registry: TaskRegistry, max_payload_bytes: int
) -> tuple[str | None, str | None, dict[str, Any]]:
    """The schedule's task or group (exactly one) and its payload: the task's, or for a
    group a payload per task, each checked against that task's config model."""
    group = _optional(data, "group")
    if group is None:
        task = registry.get(inputs.text(data.get("task"), "task"), field="task")
        return (
            task.name,
            None,
            task.validate_payload(data.get("payload"), max_bytes=max_payload_bytes),
        )
    if _optional(data, "task") is not None:
        raise InvalidInputError("give a task or a group, not both", field="group")
    name = flows.group_name(inputs.text(group, "group"))
    graph = registry.check_flows()
    tasks = graph.closure(graph.group_tasks(name))
    payload = registry.validate_flow_payload(
        tasks, data.get("payload"), max_bytes=max_payload_bytes
    )
    return None, name, payload


def group_tasks(definition: ScheduleDefinition | Schedule, registry: TaskRegistry) -> list[str]:
    """The tasks a schedule's runs or flows run (for permission checks): its task, or its
    group's tasks with their dependencies (none when this process does not know them)."""
    if definition.group is None:
        return [] if definition.task is None else [definition.task]
    graph = registry.graph()
    if not graph.members.get(definition.group):
        return []
    return list(graph.closure(graph.group_tasks(definition.group)))


def _optional_text(data: Mapping[str, Any], key: str, *, max_length: int = 200) -> str | None:
    value = _optional(data, key)
    return None if value is None else inputs.text(value, key, max_length=max_length)


def _optional_int(data: Mapping[str, Any], key: str, **bounds: int) -> int | None:
    value = _optional(data, key)
    return None if value is None else inputs.integer(value, key, **bounds)


def _optional_duration(data: Mapping[str, Any], key: str, **bounds: float) -> float | None:
    value = _optional(data, key)
    return None if value is None else inputs.duration(value, key, **bounds)


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
    "CREATE_ONLY_FIELDS",
    "DEFINITION_FIELDS",
    "TIMING_FIELDS",
    "ScheduleDefinition",
    "as_json",
    "validate_definition",
]
