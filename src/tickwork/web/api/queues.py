"""``/api/v1/queues``: list queues, pause and resume them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path

from tickwork.auth.principal import Principal
from tickwork.domain.queues import MAX_QUEUE_NAME, QueueState
from tickwork.web.api.common import ERROR_RESPONSES, SOURCE, App
from tickwork.web.api.schemas import NO_CONTROL_CHARACTERS, LongText, RequestModel, ResponseModel
from tickwork.web.security import Operator, Viewer

router = APIRouter(prefix="/queues", tags=["queues"], responses=ERROR_RESPONSES)

QueueName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_QUEUE_NAME,
        pattern=NO_CONTROL_CHARACTERS,
        description="The queue's name",
    ),
]


class QueueOut(ResponseModel):
    """A queue: its pending and running runs (a tenant-bound reader's own only), and whether
    it is paused (workers claim none of its runs), since when, by whom and why."""

    name: str
    pending: int
    running: int
    paused: bool
    paused_at: datetime | None
    paused_by: str | None
    note: str | None


class QueueList(ResponseModel):
    """Queues with pending or running runs, and paused ones, by name."""

    items: list[QueueOut]


class QueuePauseRequest(RequestModel):
    """Pause a queue, optionally saying why."""

    note: LongText | None = None


def _out(state: QueueState, principal: Principal) -> QueueOut:
    details = principal.tenant_id is None
    return QueueOut.model_validate(state.to_dict(with_pause_details=details))


@router.get("", response_model=QueueList, summary="List queues")
def list_queues(app: App, principal: Viewer) -> QueueList:
    """Queues by name with their pending and running runs and their pause."""
    found = app.queues.list(actor=principal.actor(SOURCE))
    return QueueList(items=[_out(q, principal) for q in found])


@router.post("/{name}/pause", response_model=QueueOut, summary="Pause a queue")
def pause_queue(
    app: App,
    principal: Operator,
    name: QueueName,
    body: Annotated[QueuePauseRequest | None, Body()] = None,
) -> QueueOut:
    """Stop workers claiming runs of this queue (operators bound to no tenant); running runs
    carry on. Pausing a paused queue changes nothing."""
    note = None if body is None else body.note
    return _out(app.queues.pause(name, note=note, actor=principal.actor(SOURCE)), principal)


@router.post("/{name}/resume", response_model=QueueOut, summary="Resume a queue")
def resume_queue(app: App, principal: Operator, name: QueueName) -> QueueOut:
    """Let workers claim runs of this queue again (operators bound to no tenant)."""
    return _out(app.queues.resume(name, actor=principal.actor(SOURCE)), principal)
