"""What a new flow consists of: its tasks (dependencies pulled in), the runs to create for
them in wave order, and the flow's own columns. Shared by ``app.flows.start`` and the
scheduler firing a group schedule, so both create the same rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tickwork.domain.errors import InvalidInputError
from tickwork.domain.flows import FlowGraph, group_name
from tickwork.domain.models import RunTrigger, Schedule
from tickwork.domain.tasks import TaskRegistry
from tickwork.services.run_defaults import task_run_defaults
from tickwork.storage.flow_store import NewStep


@dataclass(frozen=True, slots=True)
class FlowTarget:
    """What a flow runs: a group's tasks, or chosen tasks; ``tasks`` has every dependency
    pulled in, in wave order."""

    group: str | None
    requested: tuple[str, ...] | None
    tasks: tuple[str, ...]
    max_parallel: int | None
    stagger: float


def resolve_target(
    graph: FlowGraph, *, group: Any = None, tasks: Any = None, field: str = "group"
) -> FlowTarget:
    """The tasks of ``group`` or of ``tasks`` (exactly one of them), with every task they
    depend on, in wave order."""
    if (group is None) == (tasks is None):
        raise InvalidInputError("give exactly one of group or tasks", field=field)
    if group is not None:
        name = group_name(group, field)
        members = graph.group_tasks(name, field)
        settings = graph.settings_of(name)
        return FlowTarget(
            name,
            None,
            _in_waves(graph, graph.closure(members)),
            settings.max_parallel,
            settings.stagger,
        )
    if (
        not isinstance(tasks, list | tuple)
        or not tasks
        or len(tasks) > 1000
        or not all(isinstance(t, str) for t in tasks)
    ):
        raise InvalidInputError("tasks must be a non-empty list of task names", field="tasks")
    requested = tuple(dict.fromkeys(tasks))
    return FlowTarget(None, requested, _in_waves(graph, graph.closure(requested)), None, 0.0)


def _in_waves(graph: FlowGraph, tasks: Sequence[str]) -> tuple[str, ...]:
    return tuple(name for wave in graph.waves(tasks) for name in wave)


def flow_steps(
    registry: TaskRegistry,
    target: FlowTarget,
    payloads: Mapping[str, dict[str, Any]],
    *,
    trigger: str,
    tenant_id: str | None,
    now: datetime,
    created_by: str,
    schedule: Schedule | None = None,
) -> list[NewStep]:
    """The runs of a new flow, in wave order (so run ids follow the waves). A run with no
    dependency carries the flow's ``trigger``; the others ``dependency``."""
    steps = []
    for name in target.tasks:
        task = registry.get(name)
        values = {
            "schedule_id": None if schedule is None else schedule.id,
            "task": name,
            "payload": payloads.get(name, {}),
            "trigger": RunTrigger.DEPENDENCY.value if task.depends_on else trigger,
            "tenant_id": tenant_id,
            "run_at": now,
            "created_at": now,
            "created_by": created_by,
            **task_run_defaults(task, schedule),
        }
        steps.append(NewStep(name, values, task.depends_on))
    return steps


def flow_columns(
    target: FlowTarget,
    *,
    trigger: str,
    tenant_id: str | None,
    now: datetime,
    created_by: str,
    schedule_id: int | None = None,
    scheduled_for: datetime | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """The ``flows`` row of a new flow."""
    return {
        "group": target.group,
        "tasks": None if target.requested is None else list(target.requested),
        "schedule_id": schedule_id,
        "scheduled_for": scheduled_for,
        "tenant_id": tenant_id,
        "trigger": trigger,
        "key": key,
        "max_parallel": target.max_parallel,
        "stagger": target.stagger,
        "created_at": now,
        "created_by": created_by,
    }
