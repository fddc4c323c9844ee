"""``/api/v1/groups`` (the groups, their edges and waves) and ``/api/v1/flows`` (start,
list, read, cancel, retry, run a skipped ``missed`` flow's fire times)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from tickwork.domain.flows import FlowStatus
from tickwork.web.api.action_schemas import BackfillOut
from tickwork.web.api.common import (
    ERROR_RESPONSES,
    SOURCE,
    App,
    IdFilter,
    Limit,
    StatusFilter,
    TextFilter,
    id_path,
    page,
    status_values,
)
from tickwork.web.api.flow_schemas import FlowOut, FlowPage, FlowStart, GroupList, GroupOut
from tickwork.web.api.schemas import Moment, utc
from tickwork.web.security import Operator, Viewer

groups_router = APIRouter(prefix="/groups", tags=["flows"], responses=ERROR_RESPONSES)
router = APIRouter(prefix="/flows", tags=["flows"], responses=ERROR_RESPONSES)

FlowId = Annotated[int, id_path("flow")]
GroupName = Annotated[str, Path(max_length=200, description="The group's name")]


@groups_router.get("", response_model=GroupList, summary="List groups")
def list_groups(app: App, principal: Viewer) -> GroupList:
    """Every group of the app's tasks, with its edges and waves."""
    return GroupList(items=[GroupOut.of(g) for g in app.groups.list()])


@groups_router.get("/{name}", response_model=GroupOut, summary="Get a group")
def get_group(app: App, principal: Viewer, name: GroupName) -> GroupOut:
    """One group: its tasks, the dependencies a flow pulls in, edges and waves."""
    return GroupOut.of(app.groups.get(name))


@router.get("", response_model=FlowPage, summary="List flows")
def list_flows(
    app: App,
    principal: Viewer,
    status: StatusFilter = None,
    group: TextFilter = None,
    schedule_id: IdFilter = None,
    tenant_id: TextFilter = None,
    trigger: TextFilter = None,
    since: Annotated[Moment | None, Query(description="Created at or after")] = None,
    until: Annotated[Moment | None, Query(description="Created before")] = None,
    before_id: IdFilter = None,
    limit: Limit = 50,
) -> FlowPage:
    """Flows newest first, filtered, with their steps. Pass ``next_before_id`` as
    ``before_id`` for the next page."""
    found = app.flows.list(
        status=status_values(status, FlowStatus),
        group=group,
        schedule_id=schedule_id,
        tenant_id=tenant_id,
        trigger=trigger,
        since=utc(since),
        until=utc(until),
        before_id=before_id,
        limit=limit + 1,
        actor=principal.actor(SOURCE),
    )
    items, next_id = page(found, limit)
    return FlowPage(items=[FlowOut.of(f) for f in items], next_before_id=next_id)


@router.post(
    "", response_model=FlowOut, status_code=status.HTTP_201_CREATED, summary="Start a flow"
)
def start_flow(app: App, principal: Operator, body: FlowStart) -> FlowOut:
    """Start a flow of a group, or of tasks with their dependencies (operators; a
    ``payload`` needs an admin). Its runs are created at once: those with no unmet
    dependency queued, the others waiting."""
    flow = app.flows.start(
        group=body.group,
        tasks=body.tasks,
        payload=body.payload,
        key=body.key,
        tenant_id=body.tenant_id,
        actor=principal.actor(SOURCE),
    )
    return FlowOut.of(flow)


@router.get("/{flow_id}", response_model=FlowOut, summary="Get a flow")
def get_flow(app: App, principal: Viewer, flow_id: FlowId) -> FlowOut:
    """A flow with its steps (task, run id, status, dependencies, timings)."""
    return FlowOut.of(app.flows.get(flow_id, actor=principal.actor(SOURCE)))


@router.post("/{flow_id}/cancel", response_model=FlowOut, summary="Cancel a flow")
def cancel_flow(app: App, principal: Operator, flow_id: FlowId) -> FlowOut:
    """Cancel a running flow (operators): waiting and queued runs at once, running ones are
    asked to stop."""
    return FlowOut.of(app.flows.cancel(flow_id, actor=principal.actor(SOURCE)))


@router.post("/{flow_id}/retry", response_model=FlowOut, summary="Retry a flow")
def retry_flow(app: App, principal: Operator, flow_id: FlowId) -> FlowOut:
    """Run a failed or cancelled flow's failed, cancelled and skipped steps again
    (operators); succeeded steps are kept."""
    return FlowOut.of(app.flows.retry(flow_id, actor=principal.actor(SOURCE)))


@router.post("/{flow_id}/run-missed", response_model=BackfillOut, summary="Run missed times")
def run_missed(
    app: App,
    principal: Operator,
    flow_id: FlowId,
    dry_run: Annotated[bool, Query(description="Only list the fire times")] = False,
) -> BackfillOut:
    """Backfill exactly the fire times a group schedule's skipped ``missed`` flow stands for
    (operators): a flow each (trigger ``backfill``), the first of them that flow itself."""
    result = app.flows.run_missed(flow_id, dry_run=dry_run, actor=principal.actor(SOURCE))
    return BackfillOut.model_validate(result.to_dict())
