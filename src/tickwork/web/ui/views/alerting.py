"""Context functions of alerting in the UI: the Channels admin page, open incidents on the
dashboard, and a schedule's incidents on its page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tickwork.domain.alerts import Alert, ChannelKind
from tickwork.domain.errors import PermissionDeniedError
from tickwork.web.ui.dependencies import UiDependencies
from tickwork.web.ui.viewer import Viewer

INCIDENTS_SHOWN = 10

EVENT_LABELS = {
    "schedule.failing": "failing",
    "schedule.auto_paused": "auto-paused",
    "schedule.overdue": "overdue",
    "process.down": "process down",
    "queue.backlog": "backlog",
}


def channels_context(
    ui: UiDependencies,
    viewer: Viewer,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The Channels page: every channel, the create form, and the outcome of a test.

    Only an admin bound to no tenant sees it: channels' targets are the installation's.
    """
    if not viewer.actor.is_unbound_admin:
        raise PermissionDeniedError("only an admin bound to no tenant manages alert channels")
    return {
        "channels": ui.app.channels.list(actor=viewer.actor),
        "kinds": [k.value for k in ChannelKind],
        "values": dict(values or {"kind": ChannelKind.WEBHOOK.value}),
        "errors": dict(errors or {}),
        "default_channels": list(ui.app.alert_config.default_channels),
        "view": viewer,
        "title": "Channels",
        "nav_key": "channels",
        "outcome": notice,
        "notice": None,
    }


def open_incidents(ui: UiDependencies, viewer: Viewer) -> list[Alert]:
    """Incidents not cleared yet that the viewer may see, newest first."""
    return ui.app.alerts.list(open=True, limit=INCIDENTS_SHOWN, actor=viewer.actor)


def schedule_incidents(ui: UiDependencies, viewer: Viewer, schedule_id: int) -> list[Alert]:
    """A schedule's incidents, open and resolved, newest first."""
    return ui.app.alerts.list(schedule_id=schedule_id, limit=INCIDENTS_SHOWN, actor=viewer.actor)


def event_label(event: str) -> str:
    """A short name of an incident's event."""
    return EVENT_LABELS.get(event, event)
