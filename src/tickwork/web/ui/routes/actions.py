"""Routes of the operator actions in the UI: bulk actions from the lists (with a confirmation
stating the count), a schedule's backfill (previewed before it is confirmed) and the queues
page (pause, resume)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from tickwork.domain.errors import TickworkError
from tickwork.web.security import PageOperator, PageViewer
from tickwork.web.ui.dependencies import dependencies
from tickwork.web.ui.routes.common import (
    RecordId,
    blocking,
    form_lists,
    page,
    redirect,
    viewer_for,
)
from tickwork.web.ui.views import backfill, bulk, queues

router = APIRouter(include_in_schema=False)


async def _bulk(request: Request, principal: PageOperator, kind: str) -> Response:
    ui = dependencies(request)
    raw = await form_lists(request)

    def work() -> Response:
        viewer = viewer_for(request, principal, ui)
        choice = bulk.read_choice(kind, raw)
        if (raw.get("confirm") or [""])[-1] != "yes":
            context = bulk.confirm_context(ui, viewer, choice)
            return page(request, "pages/bulk_confirm.html", context, title="Confirm", nav_key=kind)
        result = bulk.apply(ui, viewer, choice, dry_run=False)
        context = bulk.done_context(viewer, choice, result)
        return page(request, "pages/bulk_done.html", context, title="Done", nav_key=kind)

    return await blocking(work)


@router.post("/schedules/bulk", response_class=HTMLResponse)
async def bulk_schedules(request: Request, principal: PageOperator) -> Response:
    """Pause, resume, run or delete the ticked schedules, or all that the filters match:
    first a confirmation stating how many, then the outcome."""
    return await _bulk(request, principal, "schedules")


@router.post("/runs/bulk", response_class=HTMLResponse)
async def bulk_runs(request: Request, principal: PageOperator) -> Response:
    """Retry or cancel the ticked runs, or all that the filters match (confirmed first)."""
    return await _bulk(request, principal, "runs")


@router.get("/schedules/{schedule_id}/backfill", response_class=HTMLResponse)
def backfill_page(request: Request, schedule_id: RecordId, principal: PageOperator) -> Response:
    """The backfill form; with ``start`` and ``end``, the fire times it would create runs
    for (a dry run) and the button that confirms."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    context = backfill.page_context(ui, viewer, schedule_id, request.query_params)
    return page(request, "pages/backfill.html", context, title="Backfill", nav_key="schedules")


@router.post("/schedules/{schedule_id}/backfill", response_class=HTMLResponse)
async def backfill_run(
    request: Request, schedule_id: RecordId, principal: PageOperator
) -> Response:
    """Create the runs of the previewed span."""
    ui = dependencies(request)
    raw = await form_lists(request)

    def work() -> Response:
        viewer = viewer_for(request, principal, ui)
        params = {k: v[-1] for k, v in raw.items() if v}
        try:
            done = backfill.create(ui, viewer, schedule_id, params)
        except TickworkError as exc:
            context = backfill.page_context(ui, viewer, schedule_id, params, error=exc)
            return page(
                request,
                "pages/backfill.html",
                context,
                title="Backfill",
                nav_key="schedules",
                status_code=exc.status_code,
            )
        notice = "backfilled-flows" if done.flows else "backfilled"
        return redirect(f"/schedules/{schedule_id}?notice={notice}")

    return await blocking(work)


@router.get("/queues", response_class=HTMLResponse)
def queue_list(request: Request, principal: PageViewer) -> Response:
    """Queues with their waiting and running runs; operators pause and resume them."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    context = queues.list_context(ui, viewer)
    return page(request, "pages/queues.html", context, title="Queues", nav_key="queues")


async def _queue_action(
    request: Request, principal: PageOperator, name: str, action: str
) -> Response:
    ui = dependencies(request)
    raw = await form_lists(request)

    def work() -> Response:
        viewer = viewer_for(request, principal, ui)
        note = (raw.get("note") or [""])[-1].strip() or None
        if action == "pause":
            ui.app.queues.pause(name, note=note, actor=viewer.actor)
        else:
            ui.app.queues.resume(name, actor=viewer.actor)
        return redirect(f"/queues?notice=queue-{action}d")

    return await blocking(work)


@router.post("/queues/{name}/pause")
async def pause_queue(request: Request, name: str, principal: PageOperator) -> Response:
    """Stop workers claiming runs of the queue."""
    return await _queue_action(request, principal, name, "pause")


@router.post("/queues/{name}/resume")
async def resume_queue(request: Request, name: str, principal: PageOperator) -> Response:
    """Let workers claim runs of the queue again."""
    return await _queue_action(request, principal, name, "resume")
