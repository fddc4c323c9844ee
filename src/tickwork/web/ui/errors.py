"""Errors of UI paths as HTML pages (or, for htmx requests, as a red toast)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from tickwork.auth.principal import Principal
from tickwork.web.ui.dependencies import dependencies
from tickwork.web.ui.routes.common import is_htmx, render, toast_headers, viewer_for
from tickwork.web.ui.viewer import Viewer

HEADINGS = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Invalid input",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "The database cannot be reached",
}


def render_error_page(request: Request, status: int, code: str, message: str) -> Response:
    """The web layer's ``page_error_renderer``: a page for browsers, a toast for htmx."""
    if is_htmx(request):
        headers = toast_headers(message, "bad")
        headers["HX-Reswap"] = "none"
        return Response(status_code=status, headers=headers)
    principal: Principal | None = getattr(request.state, "tickwork_principal", None)
    try:
        viewer = viewer_for(request, principal, dependencies(request))
    except Exception:  # the database itself may be what failed; show the page without it
        viewer = Viewer(principal=principal, zone=ZoneInfo("UTC"), now=datetime.now(UTC))
    context = {
        "view": viewer,
        "title": HEADINGS.get(status, "Error"),
        "heading": HEADINGS.get(status, "Error"),
        "message": message,
        "status": status,
        "code": code,
        "nav_key": "",
        "notice": None,
    }
    return render("pages/error.html", context, status_code=status)


__all__ = ["render_error_page"]
