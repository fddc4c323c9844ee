"""``/api/v1/channels`` (where alerts go) and ``/api/v1/alerts`` (incidents).

Channels are the installation's: only an admin bound to no tenant creates, changes, tests,
deletes or sees the targets of channels; anyone signed in sees their names and kinds (to
pick them for a schedule). Secrets are never returned. Incidents of a tenant's schedules
are that tenant's; the installation's incidents (processes, queues) are for principals
bound to no tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, StringConstraints

from tickwork.domain.alerts import Alert, Channel, Notification
from tickwork.web.api.common import ERROR_RESPONSES, SOURCE, App, IdFilter, Limit, id_path
from tickwork.web.api.schemas import RequestModel, ResponseModel
from tickwork.web.security import Admin, Operator, Viewer

router = APIRouter(responses=ERROR_RESPONSES)

ChannelName = Annotated[str, StringConstraints(max_length=100)]
Url = Annotated[str, StringConstraints(max_length=2000)]
Recipient = Annotated[str, StringConstraints(max_length=254)]


class ChannelIn(RequestModel):
    """A channel: ``webhook`` (``url``, optional ``secret`` that signs each body as
    ``X-Tickwork-Signature: sha256=<hex HMAC>``), ``slack`` (an incoming-webhook ``url``) or
    ``email`` (``to``)."""

    name: ChannelName
    kind: Literal["webhook", "slack", "email"] = "webhook"
    url: Url | None = None
    to: list[Recipient] | None = Field(default=None, max_length=50)
    secret: Annotated[str, StringConstraints(max_length=500)] | None = None


class ChannelChange(RequestModel):
    """Changes to a channel; fields left out keep their values (the secret too)."""

    name: ChannelName | None = None
    kind: Literal["webhook", "slack", "email"] | None = None
    url: Url | None = None
    to: list[Recipient] | None = Field(default=None, max_length=50)
    secret: Annotated[str, StringConstraints(max_length=500)] | None = None


class ChannelOut(ResponseModel):
    """A channel. ``url`` and ``to`` are shown to admins bound to no tenant only."""

    id: int
    name: str
    kind: str
    url: str | None = None
    to: list[str] | None = None
    has_secret: bool | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    updated_at: datetime | None = None


class ChannelList(BaseModel):
    """Every channel, by name."""

    items: list[ChannelOut]


class TestSent(BaseModel):
    """A test notification the channel took."""

    id: str = Field(description="The test event's id")
    delivered: bool


class AlertOut(ResponseModel):
    """An incident: open from ``opened_at`` until ``resolved_at``."""

    id: int
    event: str
    subject: str
    text: str
    schedule_id: int | None
    tenant_id: str | None
    details: dict[str, Any] | None
    opened_at: datetime
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    open: bool


class AlertPage(BaseModel):
    """Incidents newest first; pass ``next_before_id`` as ``before_id`` for the next page."""

    items: list[AlertOut]
    next_before_id: int | None


class NotificationOut(ResponseModel):
    """One event sent (or being sent) to one channel."""

    id: int
    event_id: str
    event: str
    channel_name: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None


class AlertDetail(AlertOut):
    """An incident with the notifications it sent."""

    notifications: list[NotificationOut]


def channel_out(channel: Channel, *, full: bool) -> ChannelOut:
    """A channel as the API shows it (targets only when ``full``)."""
    if not full:
        return ChannelOut(id=channel.id, name=channel.name, kind=channel.kind.value)
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        kind=channel.kind.value,
        url=channel.url,
        to=channel.to or None,
        has_secret=channel.secret is not None,
        created_at=channel.created_at,
        created_by=channel.created_by,
        updated_at=channel.updated_at,
    )


def alert_out(alert: Alert) -> AlertOut:
    """An incident as the API shows it."""
    return AlertOut(
        id=alert.id,
        event=alert.event,
        subject=alert.subject,
        text=alert.text,
        schedule_id=alert.schedule_id,
        tenant_id=alert.tenant_id,
        details=alert.details,
        opened_at=alert.opened_at,
        resolved_at=alert.resolved_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        open=alert.is_open,
    )


def _notification_out(n: Notification) -> NotificationOut:
    return NotificationOut(
        id=n.id,
        event_id=n.event_id,
        event=n.event,
        channel_name=n.channel_name,
        status=n.status,
        attempts=n.attempts,
        next_attempt_at=n.next_attempt_at,
        created_at=n.created_at,
        delivered_at=n.delivered_at,
        last_error=n.last_error,
    )


def _given(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


# -- channels ------------------------------------------------------------------------------


@router.get("/channels", response_model=ChannelList, tags=["channels"], summary="List channels")
def list_channels(app: App, principal: Viewer) -> ChannelList:
    """Every channel by name; targets only for admins bound to no tenant."""
    actor = principal.actor(SOURCE)
    full = actor.is_unbound_admin
    return ChannelList(items=[channel_out(c, full=full) for c in app.channels.list(actor=actor)])


@router.post(
    "/channels",
    status_code=201,
    response_model=ChannelOut,
    tags=["channels"],
    summary="Create a channel (admin bound to no tenant)",
)
def create_channel(app: App, principal: Admin, body: ChannelIn) -> ChannelOut:
    """Add a channel; its name is unique."""
    channel = app.channel_service.create(principal.actor(SOURCE), _given(body))
    return channel_out(channel, full=True)


@router.get(
    "/channels/{channel_id}", response_model=ChannelOut, tags=["channels"], summary="Get a channel"
)
def get_channel(
    app: App, principal: Viewer, channel_id: Annotated[int, id_path("channel")]
) -> ChannelOut:
    """One channel (targets only for admins bound to no tenant)."""
    actor = principal.actor(SOURCE)
    return channel_out(app.channels.get(channel_id, actor=actor), full=actor.is_unbound_admin)


@router.patch(
    "/channels/{channel_id}",
    response_model=ChannelOut,
    tags=["channels"],
    summary="Change a channel (admin bound to no tenant)",
)
def update_channel(
    app: App,
    principal: Admin,
    channel_id: Annotated[int, id_path("channel")],
    body: ChannelChange,
) -> ChannelOut:
    """Change the fields given."""
    actor = principal.actor(SOURCE)
    return channel_out(app.channels.update(channel_id, actor=actor, **_given(body)), full=True)


@router.delete(
    "/channels/{channel_id}",
    status_code=204,
    tags=["channels"],
    summary="Delete a channel (admin bound to no tenant)",
)
def delete_channel(
    app: App, principal: Admin, channel_id: Annotated[int, id_path("channel")]
) -> Response:
    """Remove the channel; its undelivered notifications are dropped."""
    app.channels.delete(channel_id, actor=principal.actor(SOURCE))
    return Response(status_code=204)


@router.post(
    "/channels/{channel_id}/test",
    response_model=TestSent,
    tags=["channels"],
    summary="Send a test notification (admin bound to no tenant)",
)
def test_channel(
    app: App, principal: Admin, channel_id: Annotated[int, id_path("channel")]
) -> TestSent:
    """Send a ``test`` event to the channel now; 502 when the channel does not take it."""
    event_id = app.channels.test(channel_id, actor=principal.actor(SOURCE))
    return TestSent(id=event_id, delivered=True)


# -- incidents -----------------------------------------------------------------------------


@router.get("/alerts", response_model=AlertPage, tags=["alerts"], summary="List alerts")
def list_alerts(
    app: App,
    principal: Viewer,
    limit: Limit = 50,
    before_id: IdFilter = None,
    open: Annotated[bool | None, Query(description="Only open (true) or resolved (false)")] = None,
    event: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_.]+$")] = None,
    schedule_id: IdFilter = None,
) -> AlertPage:
    """Incidents newest first, open and resolved."""
    found = app.alerts.list(
        open=open,
        event=event,
        schedule_id=schedule_id,
        before_id=before_id,
        limit=limit + 1,
        actor=principal.actor(SOURCE),
    )
    items = found[:limit]
    return AlertPage(
        items=[alert_out(a) for a in items],
        next_before_id=items[-1].id if len(found) > limit else None,
    )


@router.get(
    "/alerts/{alert_id}", response_model=AlertDetail, tags=["alerts"], summary="Get an alert"
)
def get_alert(
    app: App, principal: Viewer, alert_id: Annotated[int, id_path("alert")]
) -> AlertDetail:
    """One incident with the notifications it sent."""
    actor = principal.actor(SOURCE)
    alert = app.alerts.get(alert_id, actor=actor)
    sent = app.incident_service.notifications(actor, alert_id)
    return AlertDetail(
        **alert_out(alert).model_dump(), notifications=[_notification_out(n) for n in sent]
    )


@router.post(
    "/alerts/{alert_id}/ack",
    response_model=AlertOut,
    tags=["alerts"],
    summary="Acknowledge an alert (operator)",
)
def ack_alert(
    app: App, principal: Operator, alert_id: Annotated[int, id_path("alert")]
) -> AlertOut:
    """Record that you have seen the incident; it stays open until its rule clears."""
    return alert_out(app.alerts.ack(alert_id, actor=principal.actor(SOURCE)))
