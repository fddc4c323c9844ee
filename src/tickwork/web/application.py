"""``create_app``: the ASGI application serving the REST API, the UI, health and metrics."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp

from tickwork import __version__
from tickwork.app import Tickwork
from tickwork.auth.passwords import Passwords
from tickwork.settings import Settings
from tickwork.web import observability
from tickwork.web.api import API_PREFIX, build_router
from tickwork.web.errors import install_error_handlers
from tickwork.web.loopback import LoopbackHostMiddleware
from tickwork.web.middleware import (
    AccessLogMiddleware,
    RequestBodyMiddleware,
    SecurityHeadersMiddleware,
)
from tickwork.web.security import Authenticator
from tickwork.web.state import WebState

log = logging.getLogger("tickwork.web")

DESCRIPTION = """
The REST API of tickwork, a database-backed job scheduler.

Authenticate with an API token (`Authorization: Bearer tw_...`, created with
`tickwork tokens create` or `POST /api/v1/tokens`) or, from a browser, a session cookie
from `POST /api/v1/auth/login` (then send the `tickwork_csrf` cookie's value as
`X-CSRF-Token` on POST, PATCH and DELETE).

Roles: `viewer` reads; `operator` also runs, pauses, resumes, retries and cancels;
`admin` also creates, changes and deletes schedules, users and tokens. A principal bound
to a tenant sees only that tenant's schedules and runs (others' are 404).

Every error is `{"error": {"code", "message", "field"}}` with a 4xx status.
"""


class TickworkAPI(FastAPI):
    """FastAPI with :class:`SecurityHeadersMiddleware` outside every other layer, so even
    the answer Starlette's outermost error handler gives carries the headers."""

    def build_middleware_stack(self) -> ASGIApp:
        """The usual stack, wrapped in the security headers."""
        return SecurityHeadersMiddleware(super().build_middleware_stack())


def create_app(
    tickwork: Tickwork,
    settings: Settings | None = None,
    *,
    passwords: Passwords | None = None,
) -> FastAPI:
    """The web application of ``tickwork``: REST API under ``/api/v1`` (OpenAPI at
    ``/api/openapi.json``, docs at ``/api/docs``), ``/healthz``, ``/readyz``, ``/metrics``
    and, when installed, the admin UI.

    Raises :class:`~tickwork.domain.errors.InvalidInputError` for unsafe settings (``--auth
    none`` on a non-loopback address). ``passwords`` lets tests use cheaper hashing.

    Example::

        app = create_app(Tickwork("sqlite:///tickwork.db"), Settings(auth="local"))
        uvicorn.run(app, host="127.0.0.1", port=8787)
    """
    settings = settings or Settings()
    if passwords is not None:
        tickwork.configure(passwords=passwords)
    authenticator = Authenticator(settings, tickwork.users, tickwork.tokens)
    metrics = tickwork.metrics
    fastapi_app = TickworkAPI(
        title="tickwork",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    _add_api_docs(fastapi_app)
    fastapi_app.state.tickwork = WebState(
        tickwork=tickwork,
        settings=settings,
        authenticator=authenticator,
        node_stale_after=max(30.0, 3 * settings.heartbeat_interval),
        metrics=metrics,
    )
    install_error_handlers(fastapi_app)
    fastapi_app.include_router(observability.router)
    fastapi_app.include_router(build_router())
    if not _mount_ui(fastapi_app):

        @fastapi_app.get("/", include_in_schema=False)
        def root() -> Any:
            return RedirectResponse("/api/docs")

    fastapi_app.add_middleware(
        RequestBodyMiddleware,
        max_bytes=settings.max_request_bytes,
        form_paths=frozenset({f"{API_PREFIX}/auth/login", f"{API_PREFIX}/auth/logout"}),
    )
    if settings.auth == "none":
        fastapi_app.add_middleware(LoopbackHostMiddleware)
    fastapi_app.add_middleware(AccessLogMiddleware, metrics=metrics)
    return fastapi_app


def _mount_ui(fastapi_app: FastAPI) -> bool:
    """Mount the admin UI when it is installed; return whether it was."""
    try:
        from tickwork.web.ui import mount  # type: ignore[attr-defined,unused-ignore]
    except ImportError as exc:
        if exc.name != "tickwork.web.ui":
            raise  # the UI is there but broken: say so rather than serve without it
        log.debug("no admin UI: %s", exc)
        return False
    mount(fastapi_app)
    return True


SWAGGER_ASSETS = Path(__file__).parent / "static" / "swagger"


def _add_api_docs(fastapi_app: FastAPI) -> None:
    """Serve the interactive API docs with a vendored Swagger UI (no CDN) and no inline
    script, so the content security policy needs no exception for it."""
    fastapi_app.mount("/api/docs/static", StaticFiles(directory=SWAGGER_ASSETS), name="swagger")

    @fastapi_app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(API_DOCS_PAGE)


API_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tickwork API</title>
<link rel="icon" type="image/png" href="/api/docs/static/favicon-32x32.png">
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="/api/openapi.json"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script src="/api/docs/static/docs-init.js"></script>
</body>
</html>
"""
