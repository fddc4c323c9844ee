"""The admin web UI: server-rendered pages (Jinja2) with htmx, mounted on the web app.

``tickwork.web.create_app`` calls :func:`mount`, which adds the pages, their partials
(``/ui/partials/...``), the vendored static files (``/ui/static``) and the HTML error pages.
Every change goes through the same services as the API, with the viewer's actor, so roles,
tenants and the audit log apply alike.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from tickwork.web.ui.errors import render_error_page
from tickwork.web.ui.routes import (
    actions,
    admin,
    alerting,
    flows,
    overview,
    runs,
    schedules,
    session,
)
from tickwork.web.ui.templating import STATIC, STATIC_PREFIX


def mount(app: FastAPI) -> None:
    """Add the UI to ``app`` (whose ``state.tickwork`` is the web layer's state)."""
    app.mount(STATIC_PREFIX, StaticFiles(directory=str(STATIC)), name="ui-static")
    for module in (session, overview, actions, schedules, runs, flows, admin, alerting):
        app.include_router(module.router)
    app.state.tickwork.page_error_renderer = render_error_page


__all__ = ["mount"]
