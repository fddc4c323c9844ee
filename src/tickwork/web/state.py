"""What every request handler of the web app shares, stored on ``app.state.tickwork``.

Example (in a route of the UI)::

    state = web_state(request)
    schedules = state.tickwork.schedules.list(actor=principal.actor("ui"))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from tickwork.app import Tickwork
from tickwork.auth.principal import Principal
from tickwork.auth.sessions import SessionCodec
from tickwork.metrics import Metrics
from tickwork.settings import Settings


class RequestAuthenticator(Protocol):
    """What the web layer asks of its authenticator (``tickwork.web.security.Authenticator``).

    Declared here rather than imported, because the security module reads this state: the
    two would otherwise import each other.
    """

    @property
    def codec(self) -> SessionCodec:
        """The session cookie codec."""
        ...

    def authenticate(self, request: Request) -> Principal | None:
        """The caller, ``None`` when no credentials came; raises when they are wrong."""
        ...

    def authenticate_quickly(self, request: Request) -> Principal | None:
        """The caller when that needs no database access, else ``None``."""
        ...

    def with_csrf_token(self, principal: Principal) -> Principal:
        """``principal`` carrying its CSRF token (derived for proxy and anonymous callers)."""
        ...

    @property
    def has_codec(self) -> bool:
        """Whether the signing key is loaded."""
        ...


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
    authenticator: RequestAuthenticator
    # Seconds without a heartbeat after which a running process counts as not alive.
    node_stale_after: float
    metrics: Metrics
    page_error_renderer: PageErrorRenderer | None = None


def web_state(request: Request) -> WebState:
    """The :class:`WebState` of the app serving ``request``."""
    state: WebState = request.app.state.tickwork
    return state
