"""Opening and clearing incidents, and queueing their events for the channels, inside the
caller's transaction (so an incident and its notifications are written together or not at
all)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.domain.alerts import Alert, AlertEvent, Channel
from tickwork.domain.models import Schedule
from tickwork.services.alerting.config import AlertConfig
from tickwork.storage.alert_store import AlertStore


def schedule_subject(schedule_id: int) -> str:
    """The subject of a schedule's incidents."""
    return f"schedule:{schedule_id}"


def schedule_fields(schedule: Schedule) -> dict[str, Any]:
    """What an event says about its schedule."""
    return {"id": schedule.id, "name": schedule.name, "tenant_id": schedule.tenant_id}


class Events:
    """Opens incidents, clears them, and queues one notification per event and channel."""

    def __init__(self, store: AlertStore, config: AlertConfig) -> None:
        self.store = store
        self.config = config

    def targets(self, conn: Connection, names: Sequence[str] | None) -> list[Channel]:
        """The channels named (or the default channels when ``names`` is empty)."""
        return self.store.channels_named(conn, list(names or self.config.default_channels))

    def send(
        self,
        conn: Connection,
        event: AlertEvent | str,
        text: str,
        now: datetime,
        *,
        channels: Sequence[str] | None = None,
        alert: Alert | None = None,
        path: str = "/",
        **fields: Any,
    ) -> str:
        """Queue an event for its channels; return its id."""
        event_id = uuid.uuid4().hex
        body: dict[str, Any] = {
            "id": event_id,
            "event": str(event),
            "text": text,
            **{k: v for k, v in fields.items() if v is not None},
            "url": self.config.link(path),
            "at": now.isoformat(),
        }
        if alert is not None:
            body["alert_id"] = alert.id
        self.store.enqueue(
            conn,
            event_id=event_id,
            event=str(event),
            body=body,
            targets=self.targets(conn, channels),
            now=now,
            alert_id=None if alert is None else alert.id,
        )
        return event_id

    def open(
        self,
        conn: Connection,
        event: AlertEvent,
        subject: str,
        text: str,
        now: datetime,
        *,
        schedule: Schedule | None = None,
        path: str = "/",
        details: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Alert | None:
        """Open an incident and notify its channels, unless one is open for this event and
        subject already (``None``)."""
        alert = self.store.open_alert(
            conn,
            event=event.value,
            subject=subject,
            text=text,
            now=now,
            schedule_id=None if schedule is None else schedule.id,
            tenant_id=None if schedule is None else schedule.tenant_id,
            details=details,
        )
        if alert is None:
            return None
        self.send(
            conn,
            event,
            text,
            now,
            channels=None if schedule is None else schedule.alert_channels,
            alert=alert,
            path=path,
            schedule=None if schedule is None else schedule_fields(schedule),
            **fields,
        )
        return alert

    def clear(
        self,
        conn: Connection,
        alerts: Sequence[Alert],
        event: AlertEvent,
        text: str,
        now: datetime,
        *,
        schedule: Schedule | None = None,
        notify: bool = True,
        path: str = "/",
        **fields: Any,
    ) -> list[Alert]:
        """Resolve ``alerts``; when this call resolved any and ``notify``, send one ``event``
        saying so. Returns the incidents it resolved."""
        resolved = self.store.resolve(conn, [a.id for a in alerts], now)
        if resolved and notify:
            self.send(
                conn,
                event,
                text,
                now,
                channels=None if schedule is None else schedule.alert_channels,
                alert=resolved[0],
                path=path,
                schedule=None if schedule is None else schedule_fields(schedule),
                resolved=True,
                **fields,
            )
        return resolved
