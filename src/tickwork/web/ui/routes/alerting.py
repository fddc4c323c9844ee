"""Routes of the Channels admin page: list, create, send a test, delete.

Channels are the installation's: the page is for admins, and only an admin bound to no
tenant may create, test or delete one (the service refuses anyone else).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from tickwork.domain.errors import DeliveryError, TickworkError
from tickwork.web.security import PageAdmin, PageOperator
from tickwork.web.ui.dependencies import dependencies
from tickwork.web.ui.routes.common import RecordId, blocking, form_lists, redirect, render
from tickwork.web.ui.routes.common import viewer_for as _viewer
from tickwork.web.ui.views import alerting

router = APIRouter(include_in_schema=False)

CHANNEL_FIELDS = ("name", "kind", "url", "to", "secret")
PAGE = "pages/channels.html"


@router.get("/admin/channels", response_class=HTMLResponse)
def channels_page(request: Request, principal: PageAdmin) -> Response:
    """Alert channels: list, create, send a test, delete."""
    ui = dependencies(request)
    return render(PAGE, alerting.channels_context(ui, _viewer(request, principal, ui)))


@router.post("/admin/channels", response_class=HTMLResponse)
async def create_channel(request: Request, principal: PageAdmin) -> Response:
    """Create a channel; a refused field is shown in red beside it."""
    ui = dependencies(request)
    raw = await form_lists(request)
    values = {name: (raw.get(name) or [""])[-1].strip() for name in CHANNEL_FIELDS}

    def work() -> Response:
        viewer = _viewer(request, principal, ui)
        fields = {k: v for k, v in values.items() if v}
        try:
            channel = ui.app.channel_service.create(viewer.actor, fields)
        except TickworkError as exc:
            field = exc.field if exc.field in CHANNEL_FIELDS else "form"
            context = alerting.channels_context(
                ui,
                viewer,
                values={k: v for k, v in values.items() if k != "secret"},
                errors={str(field): exc.message},
            )
            return render(PAGE, context, status_code=exc.status_code)
        notice = ("ok", f"Channel “{channel.name}” created. Send it a test to check it.")
        return render(PAGE, alerting.channels_context(ui, viewer, notice=notice))

    return await blocking(work)


@router.post("/admin/channels/{channel_id}/test", response_class=HTMLResponse)
async def send_test(request: Request, channel_id: RecordId, principal: PageAdmin) -> Response:
    """Send a test notification now and say whether the channel took it."""
    ui = dependencies(request)

    def work() -> Response:
        viewer = _viewer(request, principal, ui)
        alerting.channels_context(ui, viewer)  # refuses anyone but an unbound admin
        channel = ui.app.channels.get(channel_id, actor=viewer.actor)
        try:
            event_id = ui.app.channels.test(channel_id, actor=viewer.actor)
        except DeliveryError as exc:
            notice = ("bad", f"“{channel.name}” did not take the test: {exc.message}")
        else:
            notice = ("ok", f"Test notification {event_id} sent to “{channel.name}”.")
        return render(PAGE, alerting.channels_context(ui, viewer, notice=notice))

    return await blocking(work)


@router.post("/admin/channels/{channel_id}/delete")
async def delete_channel(request: Request, channel_id: RecordId, principal: PageAdmin) -> Response:
    """Delete a channel."""
    ui = dependencies(request)

    def work() -> Response:
        ui.app.channels.delete(channel_id, actor=principal.actor("ui"))
        return redirect("/admin/channels")

    return await blocking(work)


def _local_path(value: str, fallback: str) -> str:
    """``value`` when it is a path of this site (never another origin), else ``fallback``."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value[:500]
    return fallback


@router.post("/alerts/{alert_id}/ack")
async def ack_alert(request: Request, alert_id: RecordId, principal: PageOperator) -> Response:
    """Acknowledge an incident, then go back to the page it was shown on."""
    ui = dependencies(request)
    raw = await form_lists(request)
    back = _local_path((raw.get("back") or ["/"])[-1], "/")

    def work() -> Response:
        ui.app.alerts.ack(alert_id, actor=principal.actor("ui"))
        return redirect(back)

    return await blocking(work)
