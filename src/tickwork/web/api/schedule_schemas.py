"""Request and response bodies of ``/api/v1/schedules`` (field names as in the Python API).

The request fields are those of :class:`~tickwork.domain.schedule_definition.ScheduleDefinition`
(a test keeps them so): the shapes are checked here, and the service validates the rest
into a definition. Responses are built from the stored :class:`~tickwork.domain.models.Schedule`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tickwork.domain import triggers
from tickwork.domain.models import (
    MisfirePolicy,
    OverlapPolicy,
    Schedule,
    ScheduleSource,
    ScheduleStatus,
    TriggerType,
)
from tickwork.web.api.schemas import (
    JsonObject,
    LongText,
    Moment,
    Positive,
    Priority,
    RequestModel,
    ResponseModel,
    Seconds,
    Tenant,
    Text,
)


class Window(RequestModel):
    """An allowed time range in the schedule's time zone; fire times outside are skipped."""

    days: (
        list[Annotated[str, StringConstraints(max_length=10)] | Annotated[int, Field(ge=0, le=6)]]
        | None
    ) = None
    start: Annotated[str, StringConstraints(max_length=20)] | None = None
    end: Annotated[str, StringConstraints(max_length=20)] | None = None


class ScheduleFields(RequestModel):
    """Fields a schedule's definition may set (all optional here; see the subclasses)."""

    name: Text | None = None
    task: Text | None = None
    group: Text | None = None
    payload: JsonObject | None = None
    description: LongText | None = None
    tenant_id: Tenant | None = None
    trigger: TriggerType | None = None
    cron: Text | None = None
    interval: Seconds | None = None
    run_at: Moment | None = None
    timezone: Annotated[str, StringConstraints(max_length=64)] | None = None
    start_at: Moment | None = None
    end_at: Moment | None = None
    jitter: Seconds | None = None
    misfire_policy: MisfirePolicy | None = None
    misfire_grace: Seconds | None = None
    misfire_cap: Positive | None = None
    overlap_policy: OverlapPolicy | None = None
    max_runs: Positive | None = None
    max_attempts: Positive | None = None
    retry_backoff: Seconds | None = None
    retry_backoff_max: Seconds | None = None
    timeout: Seconds | None = None
    queue: Annotated[str, StringConstraints(max_length=100)] | None = None
    priority: Priority | None = None
    windows: list[Window] | None = Field(default=None, max_length=100)
    blackout_dates: list[Annotated[str, StringConstraints(max_length=20)]] | None = Field(
        default=None, max_length=1000
    )
    condition: Text | None = None
    alert_after: Annotated[int, Field(ge=1, le=10_000)] | None = Field(
        default=None, description="Failed runs in a row that open a schedule.failing alert"
    )
    auto_pause_after: Annotated[int, Field(ge=1, le=10_000)] | None = Field(
        default=None, description="Failed runs in a row after which the schedule is paused"
    )
    alert_channels: list[Annotated[str, StringConstraints(max_length=100)]] | None = Field(
        default=None,
        max_length=20,
        description="Channel names to notify (default: TICKWORK_ALERT_CHANNELS)",
    )
    metadata: JsonObject | None = Field(
        default=None,
        description="Free-form JSON object (team, owner, ticket...), at most 8 KiB; "
        "filter the list with ?metadata=key or ?metadata=key=value",
    )

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent (an explicit ``null`` clears a field)."""
        data = self.model_dump(exclude_unset=True, mode="python")
        if "windows" in data and data["windows"] is not None:
            data["windows"] = [
                {k: v for k, v in w.items() if v is not None} for w in data["windows"]
            ]
        return data


class ScheduleCreate(ScheduleFields):
    """A new schedule: ``name``, ``task`` (or ``group``: a flow per fire time, with a
    ``payload`` per task) and one of ``cron``, ``interval``, ``run_at`` (or ``trigger:
    "manual"``). It starts ``active`` unless ``status`` is ``paused``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Weekly report",
                    "task": "http.request",
                    "cron": "0 9 * * 1",
                    "timezone": "Europe/London",
                    "payload": {"url": "https://example.com/hooks/report", "method": "POST"},
                },
                {
                    "name": "Heartbeat",
                    "task": "http.request",
                    "interval": "5m",
                    "payload": {"url": "https://example.com/ping"},
                    "overlap_policy": "skip",
                },
                {
                    "name": "Nightly ETL",
                    "group": "nightly-etl",
                    "cron": "0 2 * * *",
                    "timezone": "Europe/London",
                    "payload": {"etl.extract": {"source": "crm"}},
                },
            ]
        }
    )

    name: Text
    status: Literal["active", "paused"] | None = None
    paused_until: Moment | None = None
    pause_note: LongText | None = None


class ScheduleUpdate(ScheduleFields):
    """Changes to a schedule; with ``version``, refused (409) if it changed meanwhile."""

    version: Positive | None = None


class PauseRequest(RequestModel):
    """Pause a schedule, optionally saying why and until when."""

    note: LongText | None = None
    until: Moment | None = None


class ResumeRequest(RequestModel):
    """Resume a schedule; ``misfire`` says what to do with fire times missed while paused:
    ``policy`` (the schedule's own misfire policy), ``skip``, ``run_once`` or ``run_all``."""

    misfire: Literal["policy", "skip", "run_once", "run_all"] = "policy"


class RunNowRequest(RequestModel):
    """Run a schedule now; a ``payload`` replaces the schedule's (admins only)."""

    payload: JsonObject | None = None


class ScheduleOut(ResponseModel):
    """A schedule: its definition and its runtime state."""

    id: int
    name: str
    task: str | None
    group: str | None
    trigger: TriggerType
    status: ScheduleStatus
    source: ScheduleSource
    payload: dict[str, Any]
    cron: str | None
    interval: float | None
    run_at: datetime | None
    timezone: str
    description: str | None
    tenant_id: str | None
    start_at: datetime | None
    end_at: datetime | None
    anchor_at: datetime | None
    jitter: float
    misfire_policy: MisfirePolicy
    misfire_grace: float
    misfire_cap: int
    overlap_policy: OverlapPolicy
    max_runs: int | None
    run_count: int
    max_attempts: int | None
    retry_backoff: float | None
    retry_backoff_max: float | None
    timeout: float | None
    queue: str | None
    priority: int | None
    windows: list[dict[str, Any]] | None
    blackout_dates: list[str] | None
    condition: str | None
    alert_after: int | None
    auto_pause_after: int | None
    alert_channels: list[str] | None
    consecutive_failures: int
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_status: str | None
    pause_note: str | None
    paused_by: str | None
    paused_at: datetime | None
    paused_until: datetime | None
    orphaned: bool
    code_hash: str | None
    created_by: str | None
    created_at: datetime | None
    updated_at: datetime | None
    version: int
    metadata: dict[str, Any] = Field(default_factory=dict)
    last_success_at: datetime | None = Field(
        default=None, description="When its latest succeeded run finished"
    )
    timing: str = Field(description="When it fires, in words")
    error: str | None = Field(
        default=None,
        description="Why its stored timing cannot be used (it is then shown as failed)",
    )

    @classmethod
    def of(cls, schedule: Schedule, timing: str) -> ScheduleOut:
        """The response body of a stored schedule, with its timing in words. A schedule
        whose stored timing no longer parses is shown ``failed``, with the reason."""
        problem = triggers.stored_problem(schedule)
        data = {**schedule.to_dict(), "timing": timing, "error": problem}
        if problem is not None:
            data["status"] = ScheduleStatus.FAILED
        return cls.model_validate(data)


class SchedulePage(BaseModel):
    """A page of schedules in id order; pass ``next_after_id`` as ``after_id`` for the next."""

    items: list[ScheduleOut]
    next_after_id: int | None
