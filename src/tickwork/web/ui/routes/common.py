"""What every UI route shares: building the viewer, rendering pages and partials, toasts."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import Path
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tickwork.auth.principal import Principal
from tickwork.domain.errors import TickworkError
from tickwork.domain.inputs import MAX_ID
from tickwork.web.ui import formatting, templating
from tickwork.web.ui.dependencies import UiDependencies
from tickwork.web.ui.viewer import ZONE_COOKIE, Viewer

T = TypeVar("T")

RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
"""The id in a page's path: one that no record can have is refused before any lookup."""

NOTICES = {
    "created": "Schedule created.",
    "saved": "Changes saved.",
    "deleted": "Schedule deleted. Its run history stays under Runs.",
    "logged-out": "You are logged out.",
    "paused": "Paused. It fires no more until resumed.",
    "resumed": "Resumed.",
    "queued": "Run queued.",
    "retried": "Run queued again.",
    "cancel-requested": "Cancellation requested.",
    "flow-started": "Flow started: its first steps are queued, the others wait for them.",
    "flow-retried": "Flow started again: its failed, cancelled and skipped steps run again.",
    "flow-cancelled": "Flow cancelled: pending steps cancelled, running ones asked to stop.",
    "backfilled": "Backfill done: its runs are queued (trigger backfill).",
    "backfilled-flows": (
        "Backfill done: its flows started (trigger backfill); their first steps are queued, "
        "the others wait for them."
    ),
    "queue-paused": "Queue paused: workers claim none of its runs until it is resumed.",
    "queue-resumed": "Queue resumed.",
}


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (and wants a fragment back)."""
    return request.headers.get("hx-request") == "true"


def viewer_for(request: Request, principal: Principal | None, ui: UiDependencies) -> Viewer:
    """The viewer of this request: principal, time zone from the cookie, the database's now."""
    zone = formatting.viewer_zone(request.cookies.get(ZONE_COOKIE))
    return Viewer(
        principal=principal,
        zone=zone,
        now=ui.app.db.now(),
        csrf_token=principal.csrf_token if principal is not None else None,
        # A page without a signed-in viewer shows no times: no reload to apply the zone.
        reloadable=principal is not None and request.method == "GET" and not is_htmx(request),
    )


def render(
    name: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a template into a response."""
    html = templating.render(name, dict(context))
    return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))


def page(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    title: str,
    nav_key: str,
    status_code: int = 200,
) -> HTMLResponse:
    """A full page: the context plus the layout's title, navigation and notice."""
    notice = NOTICES.get(request.query_params.get("notice", ""))
    full = {**context, "title": title, "nav_key": nav_key, "notice": notice}
    return render(name, full, status_code=status_code)


def list_fragment(
    request: Request, page_url: str, name: str, context: Mapping[str, Any]
) -> Response:
    """A list's fragment for htmx, telling the browser the page's own URL for the address bar
    (so reload, Back and a copied link show the whole page); a browser asking for the fragment
    itself, from an old link, is sent to that page."""
    if not is_htmx(request):
        return redirect(page_url)
    return render(name, context, headers={"HX-Push-Url": page_url})


def toast_headers(message: str, tone: str = "ok", href: str | None = None) -> dict[str, str]:
    """Headers that make the page show a toast after an htmx request (a link to ``href``
    when given, such as the run it is about)."""
    toast = {"message": message, "tone": tone}
    if href is not None:
        toast["href"] = href
    return {"HX-Trigger": json.dumps({"showToast": toast})}


def error_toast(error: TickworkError) -> Response:
    """An htmx action's refusal: a red toast, nothing swapped."""
    headers = toast_headers(error.message, "bad")
    headers["HX-Reswap"] = "none"
    return Response(status_code=error.status_code, headers=headers)


def redirect(url: str) -> RedirectResponse:
    """Post/redirect/get."""
    return RedirectResponse(url, status_code=303)


async def form_lists(request: Request) -> dict[str, list[str]]:
    """The submitted form as lists of strings per name (files are ignored)."""
    form = await request.form()
    result: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            continue
        result.setdefault(key, []).append(value)
    return result


async def blocking(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run database work off the event loop."""
    return await run_in_threadpool(function, *args, **kwargs)
