"""Routes of the runs pages: the list with live status, a run's page, retry and cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from tickwork.domain.errors import TickworkError
from tickwork.web.security import PageOperator, PageViewer
from tickwork.web.ui.dependencies import dependencies
from tickwork.web.ui.routes.common import (
    RecordId,
    blocking,
    error_toast,
    is_htmx,
    list_fragment,
    page,
    redirect,
    render,
    toast_headers,
    viewer_for,
)
from tickwork.web.ui.views import runs
from tickwork.web.ui.views.query_string import id_list, id_param

router = APIRouter(include_in_schema=False)

MAX_LIVE_IDS = 200


@router.get("/runs", response_class=HTMLResponse)
def run_list(request: Request, principal: PageViewer) -> Response:
    """All runs, newest first, filtered."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    query = runs.RunQuery.from_params(request.query_params)
    context = runs.list_context(ui, viewer, query)
    return page(request, "pages/runs.html", context, title="Runs", nav_key="runs")


@router.get("/ui/partials/runs", response_class=HTMLResponse)
def run_table(request: Request, principal: PageViewer) -> Response:
    """The list below the filters (filtering without a reload)."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    query = runs.RunQuery.from_params(request.query_params)
    context = runs.list_context(ui, viewer, query)
    url = "/runs" + query.link(before=query.before, after=query.after).rstrip("?")
    return list_fragment(request, url, "partials/run_list.html", context)


@router.get("/ui/partials/runs/live", response_class=HTMLResponse)
def live_rows(request: Request, principal: PageViewer) -> Response:
    """Rows whose status may have changed (swapped in by id) and the count of newer runs."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    params = request.query_params
    query = runs.RunQuery.from_params(params)
    ids = id_list(params.get("ids"))
    layout = "history" if params.get("layout") == "history" else "runs"
    context = runs.live_context(
        ui, viewer, query, ids[:MAX_LIVE_IDS], id_param(params.get("top")) or 0
    )
    context["layout"] = layout
    return render("partials/runs_live.html", context)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: RecordId, principal: PageViewer) -> Response:
    """A run: attempts, timing, trigger, worker, error, traceback, log lines."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    context = runs.detail_context(ui, viewer, run_id)
    return page(request, "pages/run_detail.html", context, title=f"Run #{run_id}", nav_key="runs")


@router.get("/ui/partials/runs/{run_id}", response_class=HTMLResponse)
def run_body(request: Request, run_id: RecordId, principal: PageViewer) -> Response:
    """The body of a run's page (polled while the run may still change)."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    return render("partials/run_detail_body.html", runs.detail_context(ui, viewer, run_id))


async def _act(request: Request, principal: PageOperator, run_id: int, action: str) -> Response:
    ui = dependencies(request)

    def work() -> Response:
        actor = principal.actor("ui")
        if action == "retry":
            run = ui.app.run_service.retry(actor, run_id)
            message = f"Run #{run.id} queued again (attempt {run.attempt})"
        else:
            run = ui.app.run_service.cancel(actor, run_id)
            message = (
                f"Run #{run.id} cancelled"
                if run.status.value == "cancelled"
                else f"Run #{run.id}: asked its handler to stop"
            )
        if not is_htmx(request):
            notice = "retried" if action == "retry" else "cancel-requested"
            return redirect(f"/runs/{run_id}?notice={notice}")
        viewer = viewer_for(request, principal, ui)
        return render(
            "partials/run_detail_body.html",
            runs.detail_context(ui, viewer, run_id),
            headers=toast_headers(message, href=f"/runs/{run.id}"),
        )

    try:
        return await blocking(work)
    except TickworkError as exc:
        if is_htmx(request):
            return error_toast(exc)
        raise


@router.post("/runs/{run_id}/retry")
async def retry(request: Request, run_id: RecordId, principal: PageOperator) -> Response:
    """Queue a failed or cancelled run again."""
    return await _act(request, principal, run_id, "retry")


@router.post("/runs/{run_id}/cancel")
async def cancel(request: Request, run_id: RecordId, principal: PageOperator) -> Response:
    """Cancel a pending run, or ask a running one to stop."""
    return await _act(request, principal, run_id, "cancel")
