"""What every request handler of the web app shares, stored on ``app.state.tickwork``.

Example (in a route of the UI)::

    state = web_state(request)
    schedules = state.tickwork.schedules.list(actor=principal.actor("ui"))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from tickwork.app import Tickwork
from tickwork.auth.service import AuthService
from tickwork.metrics import Metrics
from tickwork.settings import Settings

if TYPE_CHECKING:
    from tickwork.web.insights import Insights
    from tickwork.web.security import Authenticator

PageErrorRenderer = Callable[[Request, int, str, str], Response]
"""``(request, status_code, code, message) -> Response``: renders an error as an HTML page."""


@dataclass(slots=True)
class WebState:
    """The app, its settings and the services the web layer uses.

    ``page_error_renderer`` is set by the UI (in its ``mount``) to render errors of
    non-API paths as HTML pages; without it they are JSON like the API's.
    """

    tickwork: Tickwork
    settings: Settings
    auth: AuthService
    authenticator: Authenticator
    insights: Insights
    metrics: Metrics
    page_error_renderer: PageErrorRenderer | None = None


def web_state(request: Request) -> WebState:
    """The :class:`WebState` of the app serving ``request``."""
    state: WebState = request.app.state.tickwork
    return state
