"""``/api/v1/schedules``: list, create, read, change, delete, pause, resume, cancel, run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from tickwork.app import Tickwork
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.flows import Flow
from tickwork.domain.models import Schedule, ScheduleSource, ScheduleStatus
from tickwork.web.api.common import (
    ERROR_RESPONSES,
    SOURCE,
    App,
    IdFilter,
    Limit,
    MetadataFilter,
    TextFilter,
    id_path,
    page,
)
from tickwork.web.api.flow_schemas import FlowOut
from tickwork.web.api.runs import run_out
from tickwork.web.api.schedule_schemas import (
    PauseRequest,
    ResumeRequest,
    RunNowRequest,
    ScheduleCreate,
    ScheduleOut,
    SchedulePage,
    ScheduleUpdate,
)
from tickwork.web.api.schemas import RunOut
from tickwork.web.security import Admin, Operator, Viewer

router = APIRouter(prefix="/schedules", tags=["schedules"], responses=ERROR_RESPONSES)

ScheduleId = Annotated[int, id_path("schedule")]


def schedule_out(app: Tickwork, schedule: Schedule) -> ScheduleOut:
    """A schedule as the API returns it."""
    return ScheduleOut.of(schedule, app.describe(schedule))


@router.get("", response_model=SchedulePage, summary="List schedules")
def list_schedules(
    app: App,
    principal: Viewer,
    status: ScheduleStatus | None = None,
    task: TextFilter = None,
    tenant_id: TextFilter = None,
    source: ScheduleSource | None = None,
    text: TextFilter = None,
    group: TextFilter = None,
    metadata: MetadataFilter = None,
    after_id: IdFilter = None,
    limit: Limit = 50,
) -> SchedulePage:
    """Schedules in id order, filtered; ``text`` searches names, tasks, descriptions and
    tenants in any case; ``group`` keeps those that target that group;
    ``metadata=team`` keeps those whose metadata has the key ``team``, ``metadata=team=x``
    those where it is ``x``. Pass ``next_after_id`` as ``after_id`` for the next page."""
    found = app.schedules.list(
        status=None if status is None else status.value,
        task=task,
        tenant_id=tenant_id,
        source=None if source is None else source.value,
        text=text,
        group=group,
        metadata=metadata,
        after_id=after_id,
        limit=limit + 1,
        actor=principal.actor(SOURCE),
    )
    items, next_id = page(found, limit)
    return SchedulePage(items=[schedule_out(app, s) for s in items], next_after_id=next_id)


@router.post(
    "",
    response_model=ScheduleOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a schedule",
)
def create_schedule(app: App, principal: Admin, body: ScheduleCreate) -> ScheduleOut:
    """Validate and create a schedule (admins). Nothing is written if any field is invalid."""
    schedule = app.schedules.create(actor=principal.actor(SOURCE), **body.changes())
    return schedule_out(app, schedule)


@router.get("/{schedule_id}", response_model=ScheduleOut, summary="Get a schedule")
def get_schedule(app: App, principal: Viewer, schedule_id: ScheduleId) -> ScheduleOut:
    """One schedule."""
    return schedule_out(app, app.schedules.get(schedule_id, actor=principal.actor(SOURCE)))


@router.patch("/{schedule_id}", response_model=ScheduleOut, summary="Change a schedule")
def update_schedule(
    app: App, principal: Admin, schedule_id: ScheduleId, body: ScheduleUpdate
) -> ScheduleOut:
    """Change fields of a schedule (admins); ``null`` clears a field. With ``version``, the
    change is refused (409) if someone changed the schedule since you read that version. A
    timing change recomputes ``next_run_at`` at once."""
    changes = body.changes()
    version = changes.pop("version", None)
    if not changes:
        raise InvalidInputError("no field to change was given", field="body")
    schedule = app.schedules.update(
        schedule_id, version=version, actor=principal.actor(SOURCE), **changes
    )
    return schedule_out(app, schedule)


@router.delete(
    "/{schedule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a schedule",
)
def delete_schedule(app: App, principal: Admin, schedule_id: ScheduleId) -> Response:
    """Delete a schedule (admins); its run history stays and its pending runs are cancelled."""
    app.schedules.delete(schedule_id, actor=principal.actor(SOURCE))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{schedule_id}/pause", response_model=ScheduleOut, summary="Pause a schedule")
def pause_schedule(
    app: App,
    principal: Operator,
    schedule_id: ScheduleId,
    body: Annotated[PauseRequest | None, Body()] = None,
) -> ScheduleOut:
    """Stop firing (operators), with an optional note and a time to resume by itself."""
    body = body or PauseRequest()
    schedule = app.schedules.pause(
        schedule_id, note=body.note, until=body.until, actor=principal.actor(SOURCE)
    )
    return schedule_out(app, schedule)


@router.post("/{schedule_id}/resume", response_model=ScheduleOut, summary="Resume a schedule")
def resume_schedule(
    app: App,
    principal: Operator,
    schedule_id: ScheduleId,
    body: Annotated[ResumeRequest | None, Body()] = None,
) -> ScheduleOut:
    """Fire again (operators). Fire times missed while paused follow ``misfire``."""
    body = body or ResumeRequest()
    schedule = app.schedules.resume(
        schedule_id, misfire=body.misfire, actor=principal.actor(SOURCE)
    )
    return schedule_out(app, schedule)


@router.post("/{schedule_id}/cancel", response_model=ScheduleOut, summary="End a schedule")
def cancel_schedule(app: App, principal: Admin, schedule_id: ScheduleId) -> ScheduleOut:
    """End a schedule for good (admins); its pending runs are cancelled."""
    return schedule_out(app, app.schedules.cancel(schedule_id, actor=principal.actor(SOURCE)))


@router.post(
    "/{schedule_id}/run",
    response_model=RunOut | FlowOut,
    status_code=status.HTTP_201_CREATED,
    summary="Run a schedule now",
)
def run_schedule(
    app: App,
    principal: Operator,
    schedule_id: ScheduleId,
    body: Annotated[RunNowRequest | None, Body()] = None,
) -> RunOut | FlowOut:
    """Queue a run now (operators) without touching ``next_run_at``; a group schedule starts
    its flow (the flow is returned). A ``payload`` replacing the schedule's needs an admin."""
    payload = None if body is None else body.payload
    started = app.schedules.run_now(schedule_id, payload=payload, actor=principal.actor(SOURCE))
    if isinstance(started, Flow):
        return FlowOut.of(started)
    return run_out(started)
