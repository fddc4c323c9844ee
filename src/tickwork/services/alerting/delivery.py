"""Delivering the outbox: any live process leases due notifications, sends each, and
records the delivery or schedules a retry with backoff.

A lease outlives one send (:attr:`AlertConfig.lease`), so a process killed mid-delivery
leaves its notifications to another once the lease expires: delivery is at least once,
and once when nothing crashes. A repeat carries the same event ``id``.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from tickwork.domain.alerts import Channel, Notification
from tickwork.domain.errors import DeliveryError
from tickwork.services.alerting.config import AlertConfig
from tickwork.services.alerting.senders import send
from tickwork.storage.alert_store import AlertStore
from tickwork.storage.database import Database

log = logging.getLogger("tickwork.alerts")

# Notifications leased per look at the outbox.
LEASE_BATCH = 20


def delivery_owner() -> str:
    """Who holds a lease: this process, for the logs and the outbox rows."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Delivery:
    """Sends due notifications (:meth:`deliver_due`)."""

    def __init__(self, db: Database, config: AlertConfig) -> None:
        self.db = db
        self.config = config
        self.store = AlertStore(db.dialect)
        self.owner = delivery_owner()

    def deliver_due(self) -> int:
        """Lease and send the notifications due now; return how many were attempted."""
        with self.db.read() as conn:
            if not self.store.has_due(conn, self.db.now()):
                return 0
        with self.db.write() as conn:
            now = self.db.now()
            leased = self.store.lease_due(
                conn,
                now=now,
                lease_until=now + timedelta(seconds=self.config.lease),
                owner=self.owner,
                limit=LEASE_BATCH,
            )
        for notification, channel in leased:
            self._deliver(notification, channel)
        return len(leased)

    def _deliver(self, notification: Notification, channel: Channel | None) -> None:
        error: str | None = None
        if channel is None:
            error = f"channel {notification.channel_name!r} no longer exists"
        else:
            try:
                send(
                    channel,
                    notification.body,
                    timeout=self.config.send_timeout,
                    mail=self.config.mail,
                )
            except DeliveryError as exc:
                error = exc.message
            except Exception as exc:
                log.exception("delivering notification %s failed", notification.id)
                error = f"{type(exc).__name__}: {exc}"
        with self.db.write() as conn:
            now = self.db.now()
            if error is None:
                self.store.delivered(conn, notification.id, self.owner, now)
                log.info(
                    "delivered %s %s to %s",
                    notification.event,
                    notification.event_id,
                    notification.channel_name,
                )
                return
            give_up = channel is None or notification.attempts >= self.config.max_attempts
            retry_at = None
            if not give_up:
                retry_at = now + timedelta(seconds=self.config.retry_delay(notification.attempts))
            self.store.failed_attempt(conn, notification.id, error=error, retry_at=retry_at)
        log.warning(
            "could not deliver %s %s to %s (attempt %d): %s; %s",
            notification.event,
            notification.event_id,
            notification.channel_name,
            notification.attempts,
            error,
            "giving up" if retry_at is None else f"retrying at {retry_at.isoformat()}",
        )
