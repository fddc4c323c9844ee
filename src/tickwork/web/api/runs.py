"""``/api/v1/runs``: history (filtered, keyset-paginated), detail, enqueue, retry, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from tickwork.domain.models import Run, RunStatus, RunTrigger
from tickwork.domain.queries import RunFilter
from tickwork.web.api.common import (
    ERROR_RESPONSES,
    SOURCE,
    App,
    IdFilter,
    Limit,
    StatusFilter,
    TextFilter,
    id_path,
    status_values,
)
from tickwork.web.api.schemas import (
    AttemptOut,
    EnqueueRequest,
    Moment,
    RunDetail,
    RunOut,
    RunPage,
    utc,
)
from tickwork.web.security import Admin, Operator, Viewer

router = APIRouter(prefix="/runs", tags=["runs"], responses=ERROR_RESPONSES)

RunId = Annotated[int, id_path("run")]


def run_out(run: Run) -> RunOut:
    """A run as list views return it."""
    return RunOut.model_validate(run)


@router.get("", response_model=RunPage, summary="List runs")
def list_runs(
    app: App,
    principal: Viewer,
    schedule_id: IdFilter = None,
    task: TextFilter = None,
    status: StatusFilter = None,
    trigger: RunTrigger | None = None,
    tenant_id: TextFilter = None,
    since: Annotated[Moment | None, Query(description="Created at or after")] = None,
    until: Annotated[Moment | None, Query(description="Created before")] = None,
    error: TextFilter = None,
    payload: TextFilter = None,
    before_id: IdFilter = None,
    limit: Limit = 50,
) -> RunPage:
    """Runs newest first, filtered; ``error`` and ``payload`` search the error text and the
    payload's JSON in any case. Pass ``next_before_id`` as ``before_id`` for the next
    page: pages stay stable while new runs arrive, at any depth."""
    filters = RunFilter(
        schedule_id=schedule_id,
        task=task,
        status=status_values(status, RunStatus),
        trigger=None if trigger is None else trigger.value,
        tenant_id=tenant_id,
        since=utc(since),
        until=utc(until),
        error=error,
        payload=payload,
    )
    found = app.reads.runs.values_page(
        principal.actor(SOURCE), filters, before_id=before_id, limit=limit + 1
    )
    next_id = None
    if len(found) > limit:
        found = found[:limit]
        next_id = found[-1]["id"]
    return RunPage(items=[RunOut.model_validate(r) for r in found], next_before_id=next_id)


@router.post(
    "", response_model=RunOut, status_code=status.HTTP_201_CREATED, summary="Enqueue a run"
)
def enqueue_run(app: App, principal: Admin, body: EnqueueRequest) -> RunOut:
    """Queue a run of a task (admins). With ``key``, the pending run holding that key is
    returned instead of a second one."""
    run = app.enqueue(
        body.task,
        body.payload,
        run_at=body.run_at,
        key=body.key,
        queue=body.queue,
        priority=body.priority,
        max_attempts=body.max_attempts,
        timeout=body.timeout,  # type: ignore[arg-type]
        tenant_id=body.tenant_id,
        actor=principal.actor(SOURCE),
    )
    return run_out(run)


@router.get("/{run_id}", response_model=RunDetail, summary="Get a run")
def get_run(app: App, principal: Viewer, run_id: RunId) -> RunDetail:
    """A run with its payload, result, logs, traceback and earlier attempts."""
    actor = principal.actor(SOURCE)
    run = app.runs.get(run_id, actor=actor)
    attempts = app.runs.attempts(run_id, actor=actor)
    return RunDetail.model_validate(
        {
            **run.to_dict(),
            "attempts": [AttemptOut.model_validate(a) for a in attempts],
        }
    )


@router.post("/{run_id}/retry", response_model=RunOut, summary="Retry a run")
def retry_run(app: App, principal: Operator, run_id: RunId) -> RunOut:
    """Queue a failed or cancelled run again as its next attempt (operators)."""
    return run_out(app.runs.retry(run_id, actor=principal.actor(SOURCE)))


@router.post("/{run_id}/cancel", response_model=RunOut, summary="Cancel a run")
def cancel_run(app: App, principal: Operator, run_id: RunId) -> RunOut:
    """Cancel a pending run, or ask a running one to stop (operators)."""
    return run_out(app.runs.cancel(run_id, actor=principal.actor(SOURCE)))
