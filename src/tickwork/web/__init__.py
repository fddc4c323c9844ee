"""The web layer: the REST API, the admin UI, health checks and metrics in one ASGI app.

Example::

    from tickwork.web import create_app
    app = create_app(tickwork, settings)
"""

from tickwork.web.application import create_app
from tickwork.web.state import WebState, web_state

__all__ = ["WebState", "create_app", "web_state"]
