"""Operator actions: ``/api/v1/schedules/bulk``, ``/schedules/{id}/backfill``,
``/schedules/{id}/simulate``, ``/schedules/simulate``, ``/runs/bulk`` and
``/runs/{id}/run-missed``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tickwork.domain.simulation import DEFAULT_SIMULATED, MAX_SIMULATED, Simulation
from tickwork.web.api.action_schemas import (
    BackfillOut,
    BackfillRequest,
    BulkResultOut,
    RunBulkRequest,
    ScheduleBulkRequest,
    SimulatedFireOut,
)
from tickwork.web.api.common import ERROR_RESPONSES, SOURCE, App, id_path
from tickwork.web.api.schedule_schemas import ScheduleFields
from tickwork.web.api.schemas import Moment
from tickwork.web.security import Operator, Viewer

schedule_router = APIRouter(prefix="/schedules", tags=["schedules"], responses=ERROR_RESPONSES)
run_router = APIRouter(prefix="/runs", tags=["runs"], responses=ERROR_RESPONSES)

ScheduleId = Annotated[int, id_path("schedule")]
RunId = Annotated[int, id_path("run")]
From = Annotated[Moment | None, Query(alias="from", description="After this moment (default now)")]
To = Annotated[Moment | None, Query(description="Before this moment")]
SimulationLimit = Annotated[
    int, Query(ge=1, le=MAX_SIMULATED, description="Most fire times listed")
]
TRUNCATED_HEADER = "X-Tickwork-Truncated"
TRUNCATED_REASON_HEADER = "X-Tickwork-Truncated-Reason"


@schedule_router.post("/bulk", response_model=BulkResultOut, summary="Act on many schedules")
def bulk_schedules(app: App, principal: Operator, body: ScheduleBulkRequest) -> BulkResultOut:
    """Pause, resume or run (operators) or delete (admins) every schedule ``ids`` lists or
    ``filter`` matches, each with its own audit entry. ``failed`` lists those that could not
    change, with why; the others still change."""
    result = app.schedules.bulk(
        body.action,
        ids=body.ids,
        filter=None if body.filter is None else body.filter.model_dump(exclude_none=True),
        note=body.note,
        misfire=body.misfire,
        dry_run=body.dry_run,
        actor=principal.actor(SOURCE),
    )
    return BulkResultOut.model_validate(result.to_dict())


@schedule_router.post(
    "/simulate",
    response_model=list[SimulatedFireOut],
    response_model_exclude_none=True,
    summary="Simulate a schedule not saved yet",
)
def simulate_draft(
    app: App,
    principal: Viewer,
    body: ScheduleFields,
    response: Response,
    start: From = None,
    to: To = None,
    limit: SimulationLimit = DEFAULT_SIMULATED,
) -> list[SimulatedFireOut]:
    """What a schedule with this definition (the body ``POST /schedules`` takes; ``name``
    may be left out) would do at each fire time: ``run``, or ``skipped`` with the reason.
    Nothing is saved."""
    found = app.schedules.simulate_definition(
        start=start, end=to, count=limit, actor=principal.actor(SOURCE), **body.changes()
    )
    return _simulated(found, response)


@schedule_router.post(
    "/{schedule_id}/backfill", response_model=BackfillOut, summary="Backfill a span"
)
def backfill(
    app: App, principal: Operator, schedule_id: ScheduleId, body: BackfillRequest
) -> BackfillOut:
    """Create one run (trigger ``backfill``) per fire time in ``[start, end)`` that has none
    (operators); a fire time with a run never gets a second. A schedule that targets a
    group gets one flow (with all its runs) per fire time instead, never a second flow.
    Windows and blackout dates apply; the number of fire times is capped and their starts
    are spread out. With ``dry_run``, nothing is written."""
    result = app.schedules.backfill(
        schedule_id,
        body.start,
        body.end,
        dry_run=body.dry_run,
        actor=principal.actor(SOURCE),
    )
    return BackfillOut.model_validate(result.to_dict())


@schedule_router.get(
    "/{schedule_id}/simulate",
    response_model=list[SimulatedFireOut],
    response_model_exclude_none=True,
    summary="Simulate a schedule",
)
def simulate(
    app: App,
    principal: Viewer,
    schedule_id: ScheduleId,
    response: Response,
    start: From = None,
    to: To = None,
    limit: SimulationLimit = DEFAULT_SIMULATED,
) -> list[SimulatedFireOut]:
    """Each fire time after ``from`` (default now) and before ``to``: ``run``, or
    ``skipped`` with the reason (windows, blackout dates, the condition as it stands now;
    ``max_runs`` ends the list). When the list stops short, the
    ``X-Tickwork-Truncated-Reason`` header says why."""
    found = app.schedules.simulate(
        schedule_id, start=start, end=to, count=limit, actor=principal.actor(SOURCE)
    )
    return _simulated(found, response)


def _simulated(found: Simulation, response: Response) -> list[SimulatedFireOut]:
    response.headers[TRUNCATED_HEADER] = "true" if found.truncated else "false"
    if found.truncated_reason is not None:
        response.headers[TRUNCATED_REASON_HEADER] = found.truncated_reason
    return [SimulatedFireOut.model_validate(fire.to_dict()) for fire in found.fires]


@run_router.post("/bulk", response_model=BulkResultOut, summary="Act on many runs")
def bulk_runs(app: App, principal: Operator, body: RunBulkRequest) -> BulkResultOut:
    """Retry or cancel (operators) every run ``ids`` lists or ``filter`` matches, such as
    every failed run of a task since a time, each with its own audit entry."""
    result = app.runs.bulk(
        body.action,
        ids=body.ids,
        filter=None if body.filter is None else body.filter.model_dump(exclude_none=True),
        dry_run=body.dry_run,
        actor=principal.actor(SOURCE),
    )
    return BulkResultOut.model_validate(result.to_dict())


@run_router.post("/{run_id}/run-missed", response_model=BackfillOut, summary="Run missed times")
def run_missed(
    app: App,
    principal: Operator,
    run_id: RunId,
    dry_run: Annotated[bool, Query(description="Only list the fire times")] = False,
) -> BackfillOut:
    """Backfill exactly the fire times a skipped ``missed`` entry stands for (operators)."""
    result = app.runs.run_missed(run_id, dry_run=dry_run, actor=principal.actor(SOURCE))
    return BackfillOut.model_validate(result.to_dict())
