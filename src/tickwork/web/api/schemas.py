"""Request and response bodies of the REST API (pydantic; field names as in the Python API).

Request models forbid unknown fields, so a typo is a 422 naming it; deeper rules (a cron
expression, a payload against its task's config model) are checked by the services, which
name the field too. Response models document exactly what is returned.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from tickwork.domain.actor import Role
from tickwork.domain.models import (
    RunStatus,
    RunTrigger,
)

# Largest values the database's integer columns hold; ids are 64-bit.
MAX_ID = 2**63 - 1
MAX_INT32 = 2**31 - 1
# Durations in seconds may also be given as text ("90", "5m", "1h30m", "2d").
MAX_SECONDS = 3650 * 86400.0
MIN_YEAR = 1900
MAX_YEAR = 9000
NO_CONTROL_CHARACTERS = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"


def _no_nul(value: Any) -> Any:
    """Refuse NUL characters anywhere in a JSON value (PostgreSQL's jsonb cannot hold them)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("must not contain NUL characters")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


def _iso_moment(value: Any) -> Any:
    """Refuse what pydantic would read as seconds since 1970 (``6``, ``"6"``): the document
    promises an ISO 8601 date and time, and a number is more likely a mistake."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+(\.\d*)?\s*", value)
    ):
        raise ValueError("expected an ISO 8601 date and time, such as 2030-01-01T09:00:00Z")
    return value


def _sane_moment(value: datetime) -> datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_no_nul)]
Moment = Annotated[datetime, BeforeValidator(_iso_moment), AfterValidator(_sane_moment)]
"""A date and time in ISO 8601; without an offset it is read in the schedule's time zone."""
Seconds = (
    Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
    | Annotated[str, StringConstraints(min_length=1, max_length=50)]
)
Text = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=2000)]
Tenant = Annotated[str, StringConstraints(max_length=100)]
Count = Annotated[int, Field(ge=0, le=MAX_INT32)]
Positive = Annotated[int, Field(ge=1, le=MAX_INT32)]
Priority = Annotated[int, Field(ge=-1000, le=1000)]


def utc(value: datetime | None) -> datetime | None:
    """A query parameter's moment in UTC (naive values are read as UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class RequestModel(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    """A response body, built from the domain's dataclasses."""

    model_config = ConfigDict(from_attributes=True)


# -- errors ----------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    """What went wrong; ``field`` names the offending field when there is one."""

    code: str = Field(examples=["invalid_cron"])
    message: str = Field(examples=["invalid cron expression '61 * * * *'"])
    field: str | None = Field(default=None, examples=["cron"])


class ErrorBody(BaseModel):
    """Every 4xx and 5xx response of the API."""

    error: ErrorDetail


# -- runs ------------------------------------------------------------------------------


class EnqueueRequest(RequestModel):
    """Queue a run of a task now (or at ``run_at``); with ``key``, at most one pending run
    holds that key."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"task": "http.request", "payload": {"url": "https://example.com/ping"}},
                {"task": "data.export", "payload": {"format": "csv"}, "key": "export-once"},
            ]
        }
    )

    task: Text
    payload: JsonObject | None = None
    run_at: Moment | None = None
    key: Text | None = None
    queue: Annotated[str, StringConstraints(max_length=100)] | None = None
    priority: Priority | None = None
    max_attempts: Annotated[int, Field(ge=1, le=1000)] | None = None
    timeout: Seconds | None = None
    tenant_id: Tenant | None = None


class RunOut(ResponseModel):
    """A run, without its bulky fields (payload, result, logs, traceback)."""

    id: int
    task: str
    status: RunStatus
    trigger: RunTrigger
    schedule_id: int | None
    tenant_id: str | None
    queue: str
    priority: int
    attempt: int
    max_attempts: int
    retry_backoff: float
    retry_backoff_max: float
    timeout: float | None
    run_at: datetime | None
    scheduled_for: datetime | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    worker_id: str | None
    key: str | None
    flow_id: int | None
    error: str | None
    skip_reason: str | None
    cancel_requested: bool
    created_by: str | None
    duration: float | None = Field(description="Seconds from start to finish")


class AttemptOut(ResponseModel):
    """An earlier attempt of a run."""

    attempt: int
    status: str
    worker_id: str | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    traceback: str | None


class RunDetail(RunOut):
    """A run with its payload, result, captured logs, traceback and earlier attempts."""

    payload: dict[str, Any]
    result: Any = None
    logs: list[dict[str, Any]] | None
    traceback: str | None
    details: dict[str, Any] | None
    attempts: list[AttemptOut]


class RunPage(BaseModel):
    """A page of runs, newest first; pass ``next_before_id`` as ``before_id`` for the next."""

    items: list[RunOut]
    next_before_id: int | None


# -- tasks, cron, nodes ------------------------------------------------------------------


class TaskDefaults(BaseModel):
    """What runs of the task get unless a schedule or enqueue says otherwise."""

    max_attempts: int
    timeout: float | None
    queue: str
    priority: int
    retry_backoff: float
    retry_backoff_max: float


class TaskOut(BaseModel):
    """A registered task."""

    name: str
    description: str | None
    config_schema: dict[str, Any] = Field(description="JSON Schema of the payload")
    defaults: TaskDefaults
    admin_only: bool
    is_async: bool
    tags: list[str]


class FireTimeOut(BaseModel):
    """One upcoming fire time."""

    at: datetime = Field(description="In UTC")
    local: datetime = Field(description="In the preview's time zone")
    dst: str | None = Field(description="A note when the clocks change near this time")


class CronPreviewOut(BaseModel):
    """What a cron expression means and when it fires next."""

    expression: str
    timezone: str
    description: str
    next: list[str] = Field(description="ISO 8601 with the zone's UTC offset")
    dst: list[str | None]
    fire_times: list[FireTimeOut]
    truncated: bool = Field(
        description="True when there are fewer fire times than ``count`` asked for"
    )
    truncated_reason: str | None = Field(
        description="Why there are fewer fire times than asked for, when there are"
    )


class NodeOut(BaseModel):
    """A scheduler, worker or web process, as seen through its heartbeats."""

    id: str
    kind: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    heartbeat_age: float = Field(description="Seconds since the last heartbeat")
    alive: bool = Field(description="Not stopped, and heartbeating recently")
    info: dict[str, Any]


# -- stats ------------------------------------------------------------------------------


class DistributionOut(ResponseModel):
    """Count, average, maximum and percentiles of durations in seconds."""

    count: int
    avg: float | None
    max: float | None
    p50: float | None
    p95: float | None
    p99: float | None


class OutcomeStatsOut(BaseModel):
    """How runs of one task or schedule ended within the window."""

    task: str | None = None
    schedule_id: int | None = None
    name: str | None = None
    total: int
    succeeded: int
    failed: int
    cancelled: int
    skipped: int
    success_rate: float | None = Field(description="Succeeded / (succeeded + failed)")
    duration: DistributionOut


class QueueOut(ResponseModel):
    """The queue now."""

    runnable: int = Field(description="Queued or retrying runs due now")
    scheduled: int = Field(description="Queued or retrying runs due later")
    running: int
    waiting: int
    oldest_runnable_age: float | None = Field(description="Seconds the oldest due run waited")
    by_queue: dict[str, int]


class HourOut(ResponseModel):
    """Runs that finished within one hour."""

    hour: datetime
    total: int
    succeeded: int
    failed: int


class StatsOut(BaseModel):
    """Figures for a window ending now."""

    since: datetime
    until: datetime
    runs_by_status: dict[str, int] = Field(
        description="Final statuses: runs finished in the window; others: runs now"
    )
    schedules_by_status: dict[str, int]
    success_rate: float | None
    queue: QueueOut
    fire_lateness: DistributionOut = Field(
        description="How long after their fire time scheduled runs were created"
    )
    start_delay: DistributionOut = Field(
        description="How long runs waited between becoming due and starting"
    )
    tasks: list[OutcomeStatsOut]
    schedules: list[OutcomeStatsOut]
    runs_per_hour: list[HourOut]


# -- audit ------------------------------------------------------------------------------


class AuditOut(ResponseModel):
    """One entry of the audit log."""

    id: int
    at: datetime
    actor: str
    source: str
    action: str
    target_type: str
    target_id: str | None
    tenant_id: str | None
    before: Any = None
    after: Any = None


class AuditPage(BaseModel):
    """Audit entries, newest first; pass ``next_before_id`` as ``before_id`` for the next."""

    items: list[AuditOut]
    next_before_id: int | None


# -- users, tokens, sessions -----------------------------------------------------------


class UserOut(ResponseModel):
    """A user (never its password)."""

    id: int
    username: str
    role: Role
    tenant_id: str | None
    disabled: bool
    created_at: datetime
    created_by: str | None
    last_login_at: datetime | None


class UserPage(BaseModel):
    """Users in id order; pass ``next_after_id`` as ``after_id`` for the next page."""

    items: list[UserOut]
    next_after_id: int | None


class UserCreate(RequestModel):
    """A new user; without ``password`` one is generated and returned once."""

    username: Text
    role: Role = Role.VIEWER
    tenant_id: Tenant | None = None
    password: Annotated[str, StringConstraints(max_length=1024)] | None = None


class UserCreated(BaseModel):
    """The new user, and its generated password (``null`` when one was given)."""

    user: UserOut
    password: str | None


class UserUpdate(RequestModel):
    """Changes to a user."""

    role: Role | None = None
    tenant_id: Tenant | None = None
    disabled: bool | None = None
    password: Annotated[str, StringConstraints(max_length=1024)] | None = None


class TokenOut(ResponseModel):
    """An API token's record (never its secret)."""

    id: int
    name: str
    prefix: str = Field(description="The secret's first characters, to tell tokens apart")
    role: Role
    user_id: int | None
    tenant_id: str | None
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenPage(BaseModel):
    """Tokens in id order; pass ``next_after_id`` as ``after_id`` for the next page."""

    items: list[TokenOut]
    next_after_id: int | None


class TokenCreate(RequestModel):
    """A new API token. Bound to ``user_id``, it has at most that user's rights."""

    name: Text
    role: Role | None = None
    tenant_id: Tenant | None = None
    user_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    expires_at: Moment | None = None
    expires_in: Seconds | None = None


class TokenCreated(BaseModel):
    """The new token and its secret: send it as ``Authorization: Bearer <secret>``. It is
    shown only this once."""

    token: TokenOut
    secret: str


class LoginRequest(RequestModel):
    """A username and password."""

    username: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class PasswordChange(RequestModel):
    """Change your own password (sessions elsewhere end)."""

    current_password: Annotated[str, StringConstraints(max_length=1024)]
    new_password: Annotated[str, StringConstraints(max_length=1024)]


class PrincipalOut(BaseModel):
    """Who you are to tickwork."""

    name: str
    role: Role
    kind: Literal["user", "token", "proxy", "anonymous"]
    tenant_id: str | None
    user_id: int | None
    token_id: int | None
    csrf_token: str | None = Field(
        description="For cookie sessions: send it as X-CSRF-Token on unsafe requests"
    )
    auth_mode: Literal["local", "proxy", "none"]


class HealthOut(BaseModel):
    """Liveness."""

    status: Literal["ok"]


class CheckOut(BaseModel):
    """One readiness check."""

    name: str
    ok: bool
    detail: str


class ReadyOut(BaseModel):
    """Readiness: the database answers and its schema is current; the other checks are
    reported for information (they do not make this web server unready)."""

    ready: bool
    checks: list[CheckOut]
