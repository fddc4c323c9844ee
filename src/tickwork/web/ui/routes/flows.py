"""Routes of the Groups page, the flows list and a flow's page, and their actions: start a
flow of a group or of every grouped task, cancel, retry."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from tickwork.auth.principal import Principal
from tickwork.domain.errors import InvalidInputError
from tickwork.web.security import PageOperator, PageViewer
from tickwork.web.ui.dependencies import dependencies
from tickwork.web.ui.routes.common import (
    RecordId,
    blocking,
    form_lists,
    list_fragment,
    page,
    redirect,
    render,
    viewer_for,
)
from tickwork.web.ui.views import flows

router = APIRouter(include_in_schema=False)


@router.get("/groups", response_class=HTMLResponse)
def group_page(request: Request, principal: PageViewer) -> Response:
    """Every group's tasks drawn in waves, with its settings and a "Run group" button."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    context = flows.groups_context(ui, viewer)
    return page(request, "pages/groups.html", context, title="Groups", nav_key="groups")


@router.post("/flows/start")
async def start_flow(request: Request, principal: PageOperator) -> Response:
    """Start a flow of the form's ``group``, or of every grouped task (``all``)."""
    ui = dependencies(request)
    raw = await form_lists(request)

    def work() -> Response:
        group = (raw.get("group") or [""])[-1]
        run_all = (raw.get("all") or [""])[-1] == "true"
        if run_all == bool(group):
            raise InvalidInputError("choose one group, or run all", field="group")
        actor = principal.actor("ui")
        if run_all:
            if not ui.app.groups.list():
                raise InvalidInputError("no task belongs to a group", field="all")
            tasks = list(ui.app.groups.everything().tasks)
            flow = ui.app.flows.start(tasks=tasks, actor=actor)
        else:
            flow = ui.app.flows.start(group=group, actor=actor)
        return redirect(f"/flows/{flow.id}?notice=flow-started")

    return await blocking(work)


@router.get("/flows", response_class=HTMLResponse)
def flow_list(request: Request, principal: PageViewer) -> Response:
    """Flows newest first, filtered by status, group, schedule and trigger."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    query = flows.FlowQuery.from_params(request.query_params)
    context = flows.flow_list_context(ui, viewer, query)
    return page(request, "pages/flows.html", context, title="Flows", nav_key="flows")


@router.get("/ui/partials/flows", response_class=HTMLResponse)
def flow_table(request: Request, principal: PageViewer) -> Response:
    """The list below the filters (filtering without a reload; polled while flows run)."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    query = flows.FlowQuery.from_params(request.query_params)
    context = flows.flow_list_context(ui, viewer, query)
    if request.query_params.get("poll") == "1":
        # The live refresh of the same list: no new history entry.
        return render("partials/flow_list.html", context)
    url = "/flows" + query.link(before=query.before).rstrip("?")
    return list_fragment(request, url, "partials/flow_list.html", context)


@router.get("/flows/{flow_id}", response_class=HTMLResponse)
def flow_page(request: Request, flow_id: RecordId, principal: PageViewer) -> Response:
    """A flow: its steps drawn in waves and coloured by status, durations, links to runs."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    context = flows.flow_context(ui, viewer, flow_id)
    return page(
        request, "pages/flow_detail.html", context, title=f"Flow #{flow_id}", nav_key="flows"
    )


@router.get("/ui/partials/flows/{flow_id}", response_class=HTMLResponse)
def flow_body(request: Request, flow_id: RecordId, principal: PageViewer) -> Response:
    """The body of a flow's page (polled while the flow runs)."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    return render("partials/flow_body.html", flows.flow_context(ui, viewer, flow_id))


async def _act(principal: Principal, request: Request, flow_id: int, action: str) -> Response:
    ui = dependencies(request)
    await form_lists(request)

    def work() -> Response:
        actor = principal.actor("ui")
        if action == "retry":
            ui.app.flows.retry(flow_id, actor=actor)
            return redirect(f"/flows/{flow_id}?notice=flow-retried")
        ui.app.flows.cancel(flow_id, actor=actor)
        return redirect(f"/flows/{flow_id}?notice=flow-cancelled")

    return await blocking(work)


@router.post("/flows/{flow_id}/cancel")
async def cancel_flow(request: Request, flow_id: RecordId, principal: PageOperator) -> Response:
    """Cancel a running flow: pending steps at once, running ones are asked to stop."""
    return await _act(principal, request, flow_id, "cancel")


@router.post("/flows/{flow_id}/retry")
async def retry_flow(request: Request, flow_id: RecordId, principal: PageOperator) -> Response:
    """Run a failed or cancelled flow's failed, cancelled and skipped steps again."""
    return await _act(principal, request, flow_id, "retry")
