"""The settings of new runs (queue, priority, retries, timeout): a schedule's own settings
win over its task's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tickwork.domain.models import Schedule
from tickwork.domain.tasks import Task, TaskRegistry


def run_defaults(schedule: Schedule, registry: TaskRegistry) -> dict[str, Any]:
    """Queue, priority, retry and timeout settings for runs of ``schedule``.

    The schedule's own settings win over the task's; a task this process does not know
    (deployed elsewhere) gets the general defaults.
    """
    task = None if schedule.task is None else registry.find(schedule.task)
    return task_run_defaults(task, schedule)


def task_run_defaults(task: Task | None, schedule: Schedule | None = None) -> dict[str, Any]:
    """Queue, priority, retry and timeout settings for runs of ``task``: the schedule's own
    settings (when given) win over the task's; an unknown task gets the general defaults."""
    own = schedule if schedule is not None else _NO_OVERRIDES
    return {
        "queue": own.queue or (task.queue if task else "default"),
        "priority": own.priority if own.priority is not None else (task.priority if task else 0),
        "max_attempts": own.max_attempts or (task.max_attempts if task else 1),
        "retry_backoff": own.retry_backoff or (task.retry_backoff if task else 2.0),
        "retry_backoff_max": own.retry_backoff_max or (task.retry_backoff_max if task else 600.0),
        "timeout": own.timeout if own.timeout is not None else (task.timeout if task else None),
    }


@dataclass(frozen=True, slots=True)
class _NoOverrides:
    queue: str | None = None
    priority: int | None = None
    max_attempts: int | None = None
    retry_backoff: float | None = None
    retry_backoff_max: float | None = None
    timeout: float | None = None


_NO_OVERRIDES = _NoOverrides()
