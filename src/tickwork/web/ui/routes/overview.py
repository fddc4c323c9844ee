"""Routes of the dashboard and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from tickwork.web.security import PageViewer
from tickwork.web.ui.dependencies import dependencies
from tickwork.web.ui.routes.common import page, render, viewer_for
from tickwork.web.ui.views import audit, dashboard

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def dashboard_page(request: Request, principal: PageViewer) -> Response:
    """Health of processes, the queue, throughput per hour, tasks, upcoming runs, failures."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    context = dashboard.dashboard_context(ui, viewer)
    return page(request, "pages/dashboard.html", context, title="Dashboard", nav_key="dashboard")


@router.get("/ui/partials/dashboard", response_class=HTMLResponse)
def dashboard_body(request: Request, principal: PageViewer) -> Response:
    """The dashboard's body (refreshed every few seconds)."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    return render("partials/dashboard_body.html", dashboard.dashboard_context(ui, viewer))


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, principal: PageViewer) -> Response:
    """Who changed what, when."""
    ui = dependencies(request)
    viewer = viewer_for(request, principal, ui)
    query = audit.AuditQuery.from_params(request.query_params)
    context = audit.audit_context(ui, viewer, query)
    return page(request, "pages/audit.html", context, title="Audit log", nav_key="audit")
