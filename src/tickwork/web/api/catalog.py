"""``/api/v1/tasks``, ``/api/v1/cron/preview``, ``/api/v1/nodes``, ``/api/v1/stats`` and
``/api/v1/audit``: what can run, what a cron expression means, who is up, how it goes, and
who changed what."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from tickwork.domain.cron_preview import MAX_PREVIEW_COUNT
from tickwork.domain.errors import NotFoundError
from tickwork.domain.read_models import OutcomeStats
from tickwork.domain.tasks import Task
from tickwork.reads.stats import MAX_WINDOW_HOURS, MIN_WINDOW_HOURS
from tickwork.web.api.common import ERROR_RESPONSES, SOURCE, App, IdFilter, Limit, State, TextFilter
from tickwork.web.api.schemas import (
    AuditOut,
    AuditPage,
    CronPreviewOut,
    DistributionOut,
    FireTimeOut,
    HourOut,
    Moment,
    NodeOut,
    OutcomeStatsOut,
    QueueOut,
    StatsOut,
    TaskDefaults,
    TaskOut,
)
from tickwork.web.security import Viewer

router = APIRouter(responses=ERROR_RESPONSES)


class TaskList(BaseModel):
    """Every registered task, by name."""

    items: list[TaskOut]


class NodeList(BaseModel):
    """Every known scheduler, worker and web process, most recently seen first."""

    items: list[NodeOut]


def task_out(task: Task) -> TaskOut:
    """A registered task as the API shows it."""
    return TaskOut(
        name=task.name,
        description=task.description,
        config_schema=task.json_schema(),
        defaults=TaskDefaults(
            max_attempts=task.max_attempts,
            timeout=task.timeout,
            queue=task.queue,
            priority=task.priority,
            retry_backoff=task.retry_backoff,
            retry_backoff_max=task.retry_backoff_max,
        ),
        admin_only=task.admin_only,
        is_async=task.is_async,
        tags=list(task.tags),
    )


@router.get("/tasks", response_model=TaskList, tags=["tasks"], summary="List tasks")
def list_tasks(app: App, principal: Viewer) -> TaskList:
    """Every registered task with the JSON Schema of its payload and its run defaults."""
    return TaskList(items=[task_out(t) for t in app.registry])


@router.get("/tasks/{name}", response_model=TaskOut, tags=["tasks"], summary="Get a task")
def get_task(
    app: App,
    principal: Viewer,
    name: Annotated[str, Path(max_length=200, description="The task's name")],
) -> TaskOut:
    """One registered task."""
    task = app.registry.find(name)
    if task is None:
        raise NotFoundError(f"no task is registered as {name!r}", field="name")
    return task_out(task)


@router.get("/cron/preview", response_model=CronPreviewOut, tags=["cron"], summary="Preview a cron")
def cron_preview(
    app: App,
    principal: Viewer,
    expr: Annotated[str, Query(max_length=200, description="A cron expression")],
    timezone: Annotated[str, Query(max_length=64, description="An IANA time zone")] = "UTC",
    count: Annotated[int, Query(ge=1, le=MAX_PREVIEW_COUNT)] = 10,
    start: Annotated[
        Moment | None,
        Query(alias="from", description="Fire times strictly after this (default now)"),
    ] = None,
) -> CronPreviewOut:
    """What the expression means and its next fire times in the zone, with a note on those
    close to a DST change. An invalid expression or zone is a 422 naming ``expr`` or
    ``timezone``."""
    preview = app.preview(expr, timezone=timezone, count=count, start=start)
    body = preview.to_json()
    return CronPreviewOut(
        **body,
        fire_times=[FireTimeOut(at=f.at, local=f.local, dst=f.dst) for f in preview.fire_times],
    )


@router.get("/nodes", response_model=NodeList, tags=["nodes"], summary="List processes")
def list_nodes(
    state: State,
    principal: Viewer,
    include_stopped: Annotated[bool, Query(description="Also cleanly stopped ones")] = True,
) -> NodeList:
    """Schedulers, workers and web servers with their last heartbeat. Their ``info``
    (counters of the work done for every tenant) is empty for a principal bound to a
    tenant."""
    found = state.tickwork.reads.nodes.statuses(
        stale_after=state.node_stale_after, include_stopped=include_stopped
    )
    shared = principal.tenant_id is None
    return NodeList(
        items=[
            NodeOut(
                id=n.node.id,
                kind=n.node.kind,
                hostname=n.node.hostname,
                pid=n.node.pid,
                started_at=n.node.started_at,
                heartbeat_at=n.node.heartbeat_at,
                stopped_at=n.node.stopped_at,
                heartbeat_age=n.heartbeat_age,
                alive=n.alive,
                info=n.node.info if shared else {},
            )
            for n in found
        ]
    )


def _outcome(stats: OutcomeStats, by: str) -> OutcomeStatsOut:
    return OutcomeStatsOut(
        task=str(stats.key) if by == "task" else None,
        schedule_id=int(stats.key) if by == "schedule" and stats.key is not None else None,
        name=stats.name,
        total=stats.total,
        succeeded=stats.succeeded,
        failed=stats.failed,
        cancelled=stats.cancelled,
        skipped=stats.skipped,
        success_rate=stats.success_rate,
        duration=DistributionOut.model_validate(stats.duration),
    )


@router.get("/stats", response_model=StatsOut, tags=["stats"], summary="Statistics")
def stats(
    state: State,
    principal: Viewer,
    hours: Annotated[
        float,
        Query(ge=MIN_WINDOW_HOURS, le=MAX_WINDOW_HOURS, description="Window in hours"),
    ] = 24,
    task: TextFilter = None,
    schedule_id: IdFilter = None,
    top: Annotated[int, Query(ge=1, le=500, description="Most tasks and schedules")] = 50,
) -> StatsOut:
    """Counts by status, success rate and duration percentiles per task and per schedule
    over the window, queue depth, fire lateness and runs per hour."""
    found = state.tickwork.reads.stats.stats(
        principal.actor(SOURCE), hours=hours, task=task, schedule_id=schedule_id, top=top
    )
    return StatsOut(
        since=found.since,
        until=found.until,
        runs_by_status=found.runs_by_status,
        schedules_by_status=found.schedules_by_status,
        success_rate=found.success_rate,
        queue=QueueOut.model_validate(found.queue),
        fire_lateness=DistributionOut.model_validate(found.fire_lateness),
        start_delay=DistributionOut.model_validate(found.start_delay),
        tasks=[_outcome(s, "task") for s in found.tasks],
        schedules=[_outcome(s, "schedule") for s in found.schedules],
        runs_per_hour=[HourOut.model_validate(h) for h in found.runs_per_hour],
    )


@router.get("/audit", response_model=AuditPage, tags=["audit"], summary="Read the audit log")
def audit(
    app: App,
    principal: Viewer,
    target_type: TextFilter = None,
    target_id: TextFilter = None,
    actor: TextFilter = None,
    action: TextFilter = None,
    before_id: IdFilter = None,
    limit: Limit = 50,
) -> AuditPage:
    """Who changed what and when, with before and after, newest first. Pass
    ``next_before_id`` as ``before_id`` for the next page. A principal bound to a tenant
    reads its tenant's entries; logins (``auth.*``) are for admins bound to no tenant, and
    changes to users and tokens for admins."""
    found = app.reads.audit.list(
        principal.actor(SOURCE),
        target_type=target_type,
        target_id=target_id,
        by=actor,
        action=action,
        before_id=before_id,
        limit=limit + 1,
    )
    next_id = None
    if len(found) > limit:
        found = found[:limit]
        next_id = found[-1].id
    return AuditPage(items=[AuditOut.model_validate(e) for e in found], next_before_id=next_id)
