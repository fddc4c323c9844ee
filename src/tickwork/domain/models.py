"""Value objects for schedules, runs and nodes, and the names of their states.

These are plain data: the storage layer builds them from rows and services pass them
around. Nothing here performs I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any


class ScheduleStatus(StrEnum):
    """Where a schedule stands. Only ``active`` schedules fire."""

    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TriggerType(StrEnum):
    """How a schedule decides its fire times."""

    CRON = "cron"
    INTERVAL = "interval"
    ONCE = "once"
    MANUAL = "manual"


class MisfirePolicy(StrEnum):
    """What to do with fire times older than ``misfire_grace`` when the scheduler reaches them."""

    SKIP = "skip"
    RUN_ONCE = "run_once"
    RUN_ALL = "run_all"


class OverlapPolicy(StrEnum):
    """What to do when a schedule fires while an earlier run of it is queued or running."""

    ALLOW = "allow"
    SKIP = "skip"
    QUEUE_ONE = "queue_one"
    CANCEL_PREVIOUS = "cancel_previous"


class ScheduleSource(StrEnum):
    """Who owns a schedule's definition."""

    CODE = "code"
    API = "api"


class RunStatus(StrEnum):
    """Where a run stands; ``succeeded``, ``failed``, ``cancelled`` and ``skipped`` are final."""

    WAITING = "waiting"
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        """Whether the run can change no more (except by an explicit retry)."""
        return self in FINAL_RUN_STATUSES


FINAL_RUN_STATUSES = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.SKIPPED}
)
RUNNABLE_RUN_STATUSES = (RunStatus.QUEUED.value, RunStatus.RETRYING.value)
PENDING_RUN_STATUSES = (
    RunStatus.WAITING.value,
    RunStatus.QUEUED.value,
    RunStatus.RETRYING.value,
)


class RunTrigger(StrEnum):
    """What created a run."""

    CRON = "cron"
    INTERVAL = "interval"
    ONCE = "once"
    MANUAL = "manual"
    API = "api"
    RETRY = "retry"
    DEPENDENCY = "dependency"
    BACKFILL = "backfill"


class SkipReason(StrEnum):
    """Why a fire time produced a ``skipped`` entry instead of a run."""

    MISSED = "missed"
    OVERLAP = "overlap"
    WINDOW = "window"
    BLACKOUT = "blackout"
    CONDITION = "condition"
    UPSTREAM_FAILED = "upstream_failed"
    # Held while its schedule was paused, and older than the misfire grace at resume.
    PAUSED = "paused"


class NodeKind(StrEnum):
    """What a process does."""

    SCHEDULER = "scheduler"
    WORKER = "worker"
    WEB = "web"


@dataclass(frozen=True, slots=True)
class Schedule:
    """A schedule as stored: its definition and its runtime state."""

    id: int
    name: str
    # The task it runs, or ``None`` when it targets a ``group`` (a flow per fire time).
    task: str | None
    trigger: TriggerType
    status: ScheduleStatus
    source: ScheduleSource
    payload: dict[str, Any] = field(default_factory=dict)
    group: str | None = None
    cron: str | None = None
    interval: float | None = None
    run_at: datetime | None = None
    timezone: str = "UTC"
    description: str | None = None
    tenant_id: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    anchor_at: datetime | None = None
    jitter: float = 0.0
    misfire_policy: MisfirePolicy = MisfirePolicy.RUN_ONCE
    misfire_grace: float = 60.0
    misfire_cap: int = 10
    overlap_policy: OverlapPolicy = OverlapPolicy.ALLOW
    max_runs: int | None = None
    run_count: int = 0
    max_attempts: int | None = None
    retry_backoff: float | None = None
    retry_backoff_max: float | None = None
    timeout: float | None = None
    queue: str | None = None
    priority: int | None = None
    windows: list[dict[str, Any]] | None = None
    blackout_dates: list[str] | None = None
    condition: str | None = None
    alert_after: int | None = None
    auto_pause_after: int | None = None
    alert_channels: list[str] | None = None
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    last_status: str | None = None
    pause_note: str | None = None
    paused_by: str | None = None
    paused_at: datetime | None = None
    paused_until: datetime | None = None
    orphaned: bool = False
    code_hash: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1
    # Final failures in a row of its runs (a success resets it), as the worker records them.
    consecutive_failures: int = 0
    # Free-form JSON object the operator attaches (team, owner, ticket, ...).
    metadata: dict[str, Any] = field(default_factory=dict)
    # When the latest succeeded run finished (``last_run_at`` is the latest fire).
    last_success_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The schedule as JSON-friendly values (datetimes stay datetimes)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Run:
    """One execution (or one recorded non-execution) of a task."""

    id: int
    task: str
    status: RunStatus
    trigger: RunTrigger
    payload: dict[str, Any] = field(default_factory=dict)
    schedule_id: int | None = None
    tenant_id: str | None = None
    queue: str = "default"
    priority: int = 0
    attempt: int = 1
    max_attempts: int = 1
    retry_backoff: float = 1.0
    retry_backoff_max: float = 300.0
    timeout: float | None = None
    run_at: datetime | None = None
    scheduled_for: datetime | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    worker_id: str | None = None
    token: str | None = None
    key: str | None = None
    flow_id: int | None = None
    error: str | None = None
    traceback: str | None = None
    result: Any = None
    logs: list[dict[str, Any]] | None = None
    skip_reason: str | None = None
    details: dict[str, Any] | None = None
    cancel_requested: bool = False
    created_by: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds between start and finish of the latest attempt, when both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-friendly values (datetimes stay datetimes)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["duration"] = self.duration
        return data


@dataclass(frozen=True, slots=True)
class RunAttempt:
    """An earlier attempt of a run: failed and retried, stalled, or released at shutdown."""

    run_id: int
    attempt: int
    status: str
    worker_id: str | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    traceback: str | None = None
    logs: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class Node:
    """A scheduler, worker or web process, as seen through its heartbeat row."""

    id: str
    kind: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None = None
    info: dict[str, Any] = field(default_factory=dict)
    # When it was found silent past the lost threshold (it never stopped cleanly).
    lost_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Flag:
    """A named on/off switch: the installation's (``tenant_id`` ``None``) or a tenant's."""

    id: int
    name: str
    tenant_id: str | None
    enabled: bool
    description: str | None
    updated_at: datetime
    updated_by: str | None
