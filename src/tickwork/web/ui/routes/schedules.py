"""Routes of the schedules pages: list, detail, create/edit form, and the actions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from tickwork.auth.principal import Principal
from tickwork.domain import inputs
from tickwork.domain.errors import InvalidTransitionError, TickworkError
from tickwork.domain.flows import Flow
from tickwork.domain.simulation import ConditionCheck
from tickwork.web.security import PageAdmin, PageOperator, PageViewer
from tickwork.web.ui import config_form
from tickwork.web.ui.dependencies import dependencies
from tickwork.web.ui.routes.common import (
    RecordId,
    blocking,
    error_toast,
    form_lists,
    is_htmx,
    list_fragment,
    page,
    redirect,
    render,
    toast_headers,
    viewer_for,
)
from tickwork.web.ui.views import group_form, schedule_detail, schedule_form, schedules
from tickwork.web.ui.views.query_string import id_list, id_param
from tickwork.web.ui.views.timing_preview import preview

router = APIRouter(include_in_schema=False)


def _one(form: dict[str, list[str]], key: str, default: str = "") -> str:
    values = form.get(key)
    return values[-1] if values else default


# -- the list ------------------------------------------------------------------------------


@router.get("/schedules", response_class=HTMLResponse)
def schedule_list(request: Request, principal: PageViewer) -> Response:
    """All schedules, filtered and paginated."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    query = schedules.ScheduleQuery.from_params(request.query_params)
    context = schedules.list_context(ui, viewer, query)
    return page(request, "pages/schedules.html", context, title="Schedules", nav_key="schedules")


@router.get("/ui/partials/schedules", response_class=HTMLResponse)
def schedule_table(request: Request, principal: PageViewer) -> Response:
    """The table of the list (filters and paging without a reload)."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    query = schedules.ScheduleQuery.from_params(request.query_params)
    context = schedules.list_context(ui, viewer, query)
    url = "/schedules" + query.link(page=query.page).rstrip("?")
    return list_fragment(request, url, "partials/schedule_table.html", context)


@router.get("/ui/partials/schedules/live", response_class=HTMLResponse)
def live_schedule_rows(request: Request, principal: PageViewer) -> Response:
    """The rows the list shows, fresh, for its poller (swapped in by id; the address bar and
    history stay as they are)."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    params = request.query_params
    query = schedules.ScheduleQuery.from_params(params)
    shown = list(dict.fromkeys(id_list(params.get("ids"))))[: schedules.PAGE_SIZES[-1]]
    total = id_param(params.get("total"))
    context = schedules.live_context(ui, viewer, query, shown, -1 if total is None else total)
    context["known"] = schedules.known_rows(params.get("sigs", ""))
    return render("partials/schedules_live.html", context)


# -- one schedule --------------------------------------------------------------------------


@router.get("/schedules/new", response_class=HTMLResponse)
def new_schedule(request: Request, principal: PageAdmin) -> Response:
    """The create form."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    params = request.query_params
    form = schedule_form.blank(ui, viewer, params.get("task"), params.get("group"))
    return render("pages/schedule_form.html", schedule_form.form_context(ui, viewer, form))


@router.post("/schedules/new", response_class=HTMLResponse)
async def create_schedule(request: Request, principal: PageAdmin) -> Response:
    """Create the schedule, or show the form again with the errors next to their fields."""
    ui = dependencies(request)
    raw = await form_lists(request)

    def work() -> Response:
        viewer = viewer_for(request, principal, ui)
        form = schedule_form.from_submission(ui, "create", raw)
        try:
            created = schedule_form.save(ui, viewer, form, raw)
        except TickworkError as exc:
            schedule_form.attach_error(form, exc)
            return render(
                "pages/schedule_form.html",
                schedule_form.form_context(ui, viewer, form),
                status_code=422,
            )
        return redirect(f"/schedules/{created.id}?notice=created")

    return await blocking(work)


@router.get("/schedules/{schedule_id}", response_class=HTMLResponse)
def schedule_page(request: Request, schedule_id: RecordId, principal: PageViewer) -> Response:
    """A schedule's definition, upcoming fire times, history and charts."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    query = schedule_detail.HistoryQuery.from_params(request.query_params)
    context = schedule_detail.detail_context(ui, viewer, schedule_id, query)
    return page(
        request,
        "pages/schedule_detail.html",
        context,
        title=context["schedule"].name,
        nav_key="schedules",
    )


@router.get("/ui/partials/schedules/{schedule_id}/history", response_class=HTMLResponse)
def schedule_history(request: Request, schedule_id: RecordId, principal: PageViewer) -> Response:
    """The run history table of a schedule (filters and paging without a reload)."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    schedule = ui.app.reads.schedules.get(viewer.actor, schedule_id)
    query = schedule_detail.HistoryQuery.from_params(request.query_params)
    context = schedule_detail.history_context(ui, viewer, schedule, query)
    url = f"/schedules/{schedule_id}" + query.link(page=query.page).rstrip("?")
    return list_fragment(request, url, "partials/schedule_history.html", context)


@router.get("/schedules/{schedule_id}/edit", response_class=HTMLResponse)
def edit_schedule(request: Request, schedule_id: RecordId, principal: PageAdmin) -> Response:
    """The edit form (code-defined schedules are read-only: back to their page)."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    schedule = ui.app.reads.schedules.get(viewer.actor, schedule_id)
    if schedule.source.value == "code":
        raise InvalidTransitionError(
            f"schedule {schedule.name!r} is defined in code; change it there", field="source"
        )
    form = schedule_form.from_schedule(ui, schedule)
    return render("pages/schedule_form.html", schedule_form.form_context(ui, viewer, form))


@router.post("/schedules/{schedule_id}/edit", response_class=HTMLResponse)
async def update_schedule(
    request: Request, schedule_id: RecordId, principal: PageAdmin
) -> Response:
    """Save the edit (checked against the version the form was loaded with)."""
    ui = dependencies(request)
    raw = await form_lists(request)

    def work() -> Response:
        viewer = viewer_for(request, principal, ui)
        schedule = ui.app.reads.schedules.get(viewer.actor, schedule_id)
        form = schedule_form.from_submission(ui, "edit", raw, schedule)
        try:
            schedule_form.save(ui, viewer, form, raw)
        except TickworkError as exc:
            schedule_form.attach_error(form, exc)
            return render(
                "pages/schedule_form.html",
                schedule_form.form_context(ui, viewer, form),
                status_code=422 if exc.status_code == 422 else exc.status_code,
            )
        return redirect(f"/schedules/{schedule_id}?notice=saved")

    return await blocking(work)


# -- form helpers --------------------------------------------------------------------------


@router.get("/ui/partials/config-fields", response_class=HTMLResponse)
def config_fields(request: Request, principal: PageViewer) -> Response:
    """The config fields of the chosen task (the form swaps them in when the task changes)."""
    ui = dependencies(request)
    task_name = request.query_params.get("task", "")
    fields = config_form.with_values(schedule_form.config_fields(ui, task_name), {})
    return render(
        "partials/config_fields.html",
        {"fields": fields, "errors": {}, "task": ui.app.registry.find(task_name)},
    )


@router.get("/ui/partials/group-payload", response_class=HTMLResponse)
def group_payload(request: Request, principal: PageViewer) -> Response:
    """A payload box per task of the chosen group (the form swaps them in)."""
    ui = dependencies(request)
    steps = group_form.group_steps(ui, request.query_params.get("group", ""))
    return render("partials/group_payload.html", {"steps": steps, "texts": {}, "errors": {}})


@router.get("/ui/partials/timing-preview", response_class=HTMLResponse)
def timing_preview(request: Request, principal: PageViewer) -> Response:
    """The schedule in words and its next fire times, or the error naming the field."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    params = request.query_params
    tenant = viewer.actor.tenant_id or params.get("tenant_id") or None
    simulation = ui.app.simulation_service

    def condition_check(name: str | None) -> ConditionCheck:
        return simulation.condition_check(name, tenant)

    result = preview(params, viewer, condition_check)
    return render("partials/timing_preview.html", {"p": result, "view": viewer})


# -- actions -------------------------------------------------------------------------------


def _after_action(
    request: Request,
    principal: Principal,
    schedule_id: int,
    origin: str,
    message: str,
    action: str,
    href: str | None = None,
) -> Response:
    """What an htmx action returns: the refreshed row on the list, a reload on the detail."""
    ui = dependencies(request)
    headers = toast_headers(message, href=href)
    if not is_htmx(request):
        notice = {"run": "queued", "pause": "paused", "resume": "resumed"}.get(action, "")
        target = "/schedules" if origin == "list" else f"/schedules/{schedule_id}"
        return redirect(f"{target}?notice={notice}" if notice else target)
    if origin == "list":
        viewer = viewer_for(request, principal, ui)
        context = schedules.row_context(ui, viewer, schedule_id)
        return render("partials/schedule_row.html", context, headers=headers)
    headers["HX-Refresh"] = "true"
    return Response(status_code=204, headers=headers)


def _after_flow_start(
    request: Request, principal: Principal, schedule_id: int, origin: str, flow: Flow
) -> Response:
    """Run now of a group schedule started a flow: its page (from the list, the row)."""
    if origin == "list" and is_htmx(request):
        message = f"Flow #{flow.id} started ({len(flow.steps)} runs)"
        return _after_action(request, principal, schedule_id, origin, message, "run")
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": f"/flows/{flow.id}"})
    return redirect(f"/flows/{flow.id}?notice=flow-started")


async def _act(request: Request, principal: Principal, schedule_id: int, action: str) -> Response:
    ui = dependencies(request)
    raw = await form_lists(request)
    origin = _one(raw, "from", "detail")

    def work() -> Response:
        actor = principal.actor("ui")
        service = ui.app.schedule_service
        message: str
        href: str | None = None
        if action == "run":
            run = service.run_now(actor, schedule_id)
            if isinstance(run, Flow):
                return _after_flow_start(request, principal, schedule_id, origin, run)
            message = f"Run #{run.id} queued"
            href = f"/runs/{run.id}"
            if origin == "history" and is_htmx(request):
                viewer = viewer_for(request, principal, ui)
                schedule = ui.app.reads.schedules.get(actor, schedule_id)
                context = schedule_detail.history_context(
                    ui, viewer, schedule, schedule_detail.HistoryQuery()
                )
                return render(
                    "partials/schedule_history.html",
                    context,
                    headers=toast_headers(message, href=href),
                )
        elif action == "pause":
            note = _one(raw, "note").strip() or None
            until = _one(raw, "until").strip() or None
            if until is not None:
                viewer = viewer_for(request, principal, ui)
                until = until if len(until) > 16 else until + ":00"
                until_at = inputs.moment(until, "until", viewer.zone_name)
                schedule = service.pause(actor, schedule_id, note=note, until=until_at)
            else:
                schedule = service.pause(actor, schedule_id, note=note)
            message = f"Paused “{schedule.name}”"
        elif action == "resume":
            misfire = _one(raw, "misfire", "skip") or "skip"
            schedule = service.resume(actor, schedule_id, misfire=misfire)
            message = f"Resumed “{schedule.name}”"
        else:
            schedule = ui.app.reads.schedules.get(actor, schedule_id)
            service.delete(actor, schedule_id)
            message = f"Deleted “{schedule.name}”"
            if not is_htmx(request):
                return redirect("/schedules?notice=deleted")
            if origin == "list":
                return Response(content="", headers=toast_headers(message))
            return Response(status_code=204, headers={"HX-Redirect": "/schedules?notice=deleted"})
        return _after_action(request, principal, schedule_id, origin, message, action, href)

    try:
        return await blocking(work)
    except TickworkError as exc:
        if is_htmx(request):
            return error_toast(exc)
        raise


@router.post("/schedules/{schedule_id}/run")
async def run_now(request: Request, schedule_id: RecordId, principal: PageOperator) -> Response:
    """Queue a run now (``next_run_at`` is left alone)."""
    return await _act(request, principal, schedule_id, "run")


@router.post("/schedules/{schedule_id}/pause")
async def pause(request: Request, schedule_id: RecordId, principal: PageOperator) -> Response:
    """Stop firing (with an optional note and automatic resume time)."""
    return await _act(request, principal, schedule_id, "pause")


@router.post("/schedules/{schedule_id}/resume")
async def resume(request: Request, schedule_id: RecordId, principal: PageOperator) -> Response:
    """Fire again; missed fire times are skipped unless the form chose otherwise."""
    return await _act(request, principal, schedule_id, "resume")


@router.get("/schedules/{schedule_id}/delete", response_class=HTMLResponse)
def confirm_delete(request: Request, schedule_id: RecordId, principal: PageAdmin) -> Response:
    """The confirmation page (browsers with scripts confirm in a dialog instead)."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    schedule = ui.app.reads.schedules.get(viewer.actor, schedule_id)
    context = {"schedule": schedule, "view": viewer}
    return page(request, "pages/confirm_delete.html", context, title="Delete", nav_key="schedules")


@router.post("/schedules/{schedule_id}/delete")
async def delete(request: Request, schedule_id: RecordId, principal: PageAdmin) -> Response:
    """Delete the schedule (its history stays)."""
    return await _act(request, principal, schedule_id, "delete")
