"""Every query on ``channels``, ``alerts`` (incidents) and ``notifications`` (the outbox)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from tickwork.domain.alerts import Alert, Channel, ChannelKind, ChannelSpec, Notification
from tickwork.domain.errors import DuplicateNameError, NotFoundError
from tickwork.domain.models import RUNNABLE_RUN_STATUSES
from tickwork.storage.dialect import Dialect
from tickwork.storage.tables import alerts, channels, notifications, runs

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


def _channel(row: Any) -> Channel:
    data = row._mapping
    return Channel(
        id=data["id"],
        name=data["name"],
        kind=ChannelKind(data["kind"]),
        url=data["url"],
        to=list(data["recipients"] or []),
        secret=data["secret"],
        created_at=data["created_at"],
        created_by=data["created_by"],
        updated_at=data["updated_at"],
    )


def _alert(row: Any) -> Alert:
    return Alert(**dict(row._mapping))


def _notification(row: Any) -> Notification:
    data = dict(row._mapping)
    for column in ("lease_until", "leased_by"):
        data.pop(column, None)
    return Notification(**data)


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Filters for listing incidents; ``None`` means "any"."""

    open: bool | None = None
    event: str | None = None
    schedule_id: int | None = None
    # A principal bound to a tenant sees only its tenant's incidents (never global ones).
    restrict_tenant: str | None = None


class AlertStore:
    """Reads and writes channels, incidents and notifications, in the caller's transaction."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    # -- channels ----------------------------------------------------------------------

    def insert_channel(
        self, conn: Connection, spec: ChannelSpec, *, actor: str, now: datetime
    ) -> Channel:
        """Add a channel; a name in use raises :class:`DuplicateNameError`."""
        try:
            with conn.begin_nested():
                row = conn.execute(
                    channels.insert()
                    .values(
                        name=spec.name,
                        kind=spec.kind.value,
                        url=spec.url,
                        recipients=spec.to or None,
                        secret=spec.secret,
                        created_at=now,
                        created_by=actor,
                        updated_at=now,
                    )
                    .returning(channels)
                ).one()
        except IntegrityError as exc:
            raise DuplicateNameError(
                f"a channel named {spec.name!r} already exists", field="name"
            ) from exc
        return _channel(row)

    def update_channel(
        self, conn: Connection, channel_id: int, spec: ChannelSpec, now: datetime
    ) -> Channel:
        """Replace a channel's definition."""
        try:
            with conn.begin_nested():
                row = conn.execute(
                    channels.update()
                    .where(channels.c.id == channel_id)
                    .values(
                        name=spec.name,
                        kind=spec.kind.value,
                        url=spec.url,
                        recipients=spec.to or None,
                        secret=spec.secret,
                        updated_at=now,
                    )
                    .returning(channels)
                ).one_or_none()
        except IntegrityError as exc:
            raise DuplicateNameError(
                f"a channel named {spec.name!r} already exists", field="name"
            ) from exc
        if row is None:
            raise NotFoundError(f"channel {channel_id} not found", field="id")
        return _channel(row)

    def get_channel(self, conn: Connection, ref: int | str) -> Channel:
        """A channel by id (an int) or by name (a string)."""
        column = channels.c.id if isinstance(ref, int) else channels.c.name
        row = conn.execute(sa.select(channels).where(column == ref)).one_or_none()
        if row is None:
            raise NotFoundError(f"channel {ref!r} not found", field="id")
        return _channel(row)

    def list_channels(self, conn: Connection) -> builtins.list[Channel]:
        """Every channel, by name."""
        return [_channel(r) for r in conn.execute(sa.select(channels).order_by(channels.c.name))]

    def channels_named(self, conn: Connection, names: Sequence[str]) -> builtins.list[Channel]:
        """The channels among ``names`` that exist, in the order of ``names``."""
        if not names:
            return []
        found = {
            c.name: c
            for c in map(
                _channel, conn.execute(sa.select(channels).where(channels.c.name.in_(names)))
            )
        }
        return [found[n] for n in names if n in found]

    def delete_channel(self, conn: Connection, channel_id: int) -> None:
        """Remove a channel; its notifications still pending are dropped as failed."""
        conn.execute(channels.delete().where(channels.c.id == channel_id))
        conn.execute(
            notifications.update()
            .where(notifications.c.channel_id == channel_id, notifications.c.status == PENDING)
            .values(status=FAILED, last_error="the channel was deleted", lease_until=None)
        )

    # -- incidents ---------------------------------------------------------------------

    def open_alert(
        self,
        conn: Connection,
        *,
        event: str,
        subject: str,
        text: str,
        now: datetime,
        schedule_id: int | None = None,
        tenant_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Alert | None:
        """Open an incident unless one of this event and subject is open: the new one, or
        ``None`` (another process opened it first)."""
        statement = (
            self.dialect.insert(alerts)
            .values(
                event=event,
                subject=subject,
                text=text,
                opened_at=now,
                schedule_id=schedule_id,
                tenant_id=tenant_id,
                details=details,
            )
            .on_conflict_do_nothing(
                index_elements=[alerts.c.event, alerts.c.subject],
                index_where=alerts.c.resolved_at.is_(None),
            )
            .returning(alerts)
        )
        row = conn.execute(statement).one_or_none()
        return None if row is None else _alert(row)

    def resolve(self, conn: Connection, alert_ids: Sequence[int], now: datetime) -> list[Alert]:
        """Close the still-open incidents among ``alert_ids``; return those this call closed."""
        if not alert_ids:
            return []
        rows = conn.execute(
            alerts.update()
            .where(alerts.c.id.in_(list(alert_ids)), alerts.c.resolved_at.is_(None))
            .values(resolved_at=now)
            .returning(alerts)
        )
        return [_alert(r) for r in rows]

    def open_alerts(
        self, conn: Connection, *, events: Sequence[str] | None = None
    ) -> builtins.list[Alert]:
        """Open incidents (of ``events``), oldest first."""
        query = sa.select(alerts).where(alerts.c.resolved_at.is_(None))
        if events:
            query = query.where(alerts.c.event.in_(list(events)))
        return [_alert(r) for r in conn.execute(query.order_by(alerts.c.opened_at, alerts.c.id))]

    def get_alert(
        self, conn: Connection, alert_id: int, *, restrict_tenant: str | None = None
    ) -> Alert:
        """One incident (a tenant sees only its own)."""
        query = sa.select(alerts).where(alerts.c.id == alert_id)
        if restrict_tenant is not None:
            query = query.where(alerts.c.tenant_id == restrict_tenant)
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFoundError(f"alert {alert_id} not found", field="id")
        return _alert(row)

    def list_alerts(
        self,
        conn: Connection,
        filters: AlertFilter,
        *,
        before_id: int | None = None,
        limit: int = 50,
    ) -> builtins.list[Alert]:
        """Incidents newest first, keyset-paginated by ``before_id``."""
        c = alerts.c
        query = sa.select(alerts).order_by(c.id.desc())
        if filters.open is True:
            query = query.where(c.resolved_at.is_(None))
        elif filters.open is False:
            query = query.where(c.resolved_at.is_not(None))
        if filters.event:
            query = query.where(c.event == filters.event)
        if filters.schedule_id is not None:
            query = query.where(c.schedule_id == filters.schedule_id)
        if filters.restrict_tenant is not None:
            query = query.where(c.tenant_id == filters.restrict_tenant)
        if before_id is not None:
            query = query.where(c.id < before_id)
        return [_alert(r) for r in conn.execute(query.limit(limit))]

    def acknowledge(self, conn: Connection, alert_id: int, actor: str, now: datetime) -> None:
        """Mark an incident as seen by ``actor`` (the first acknowledgement stays)."""
        conn.execute(
            alerts.update()
            .where(alerts.c.id == alert_id, alerts.c.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=actor)
        )

    # -- what the global rules look at ------------------------------------------------

    def waiting_by_queue(self, conn: Connection, now: datetime) -> dict[str, tuple[int, datetime]]:
        """Per queue with runnable runs due by ``now``: how many, and the oldest due time."""
        c = runs.c
        query = (
            sa.select(c.queue, sa.func.count(), sa.func.min(c.run_at))
            .where(c.status.in_(RUNNABLE_RUN_STATUSES), c.run_at <= now)
            .group_by(c.queue)
        )
        return {queue: (int(n), oldest) for queue, n, oldest in conn.execute(query)}

    # -- the outbox --------------------------------------------------------------------

    def enqueue(
        self,
        conn: Connection,
        *,
        event_id: str,
        event: str,
        body: dict[str, Any],
        targets: Sequence[Channel],
        now: datetime,
        alert_id: int | None = None,
    ) -> int:
        """Queue ``body`` for each channel of ``targets``; return how many were queued."""
        if not targets:
            return 0
        conn.execute(
            notifications.insert(),
            [
                {
                    "event_id": event_id,
                    "event": event,
                    "alert_id": alert_id,
                    "channel_id": channel.id,
                    "channel_name": channel.name,
                    "body": body,
                    "status": PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for channel in targets
            ],
        )
        return len(targets)

    def has_due(self, conn: Connection, now: datetime) -> bool:
        """Whether any pending notification is due at ``now`` (leased or not): a read that
        spares an idle process the write transaction of :meth:`lease_due`."""
        c = notifications.c
        query = sa.select(c.id).where(c.status == PENDING, c.next_attempt_at <= now).limit(1)
        return conn.execute(query).first() is not None

    def lease_due(
        self, conn: Connection, *, now: datetime, lease_until: datetime, owner: str, limit: int
    ) -> builtins.list[tuple[Notification, Channel | None]]:
        """Lease up to ``limit`` pending notifications that are due and not leased by a live
        delivery, with their channels (``None``: deleted since)."""
        c = notifications.c
        query = (
            sa.select(c.id)
            .where(
                c.status == PENDING,
                c.next_attempt_at <= now,
                sa.or_(c.lease_until.is_(None), c.lease_until < now),
            )
            .order_by(c.next_attempt_at, c.id)
            .limit(limit)
        )
        ids = [r[0] for r in conn.execute(self.dialect.lock_skip_locked(query))]
        if not ids:
            return []
        rows = conn.execute(
            notifications.update()
            .where(c.id.in_(ids))
            .values(lease_until=lease_until, leased_by=owner, attempts=c.attempts + 1)
            .returning(notifications)
        ).all()
        leased = [_notification(r) for r in rows]
        by_id = {
            ch.id: ch
            for ch in map(
                _channel,
                conn.execute(
                    sa.select(channels).where(
                        channels.c.id.in_({n.channel_id for n in leased if n.channel_id})
                    )
                ),
            )
        }
        leased.sort(key=lambda n: (n.next_attempt_at, n.id))
        return [(n, by_id.get(n.channel_id or 0)) for n in leased]

    def delivered(self, conn: Connection, notification_id: int, owner: str, now: datetime) -> None:
        """Record a delivery."""
        conn.execute(
            notifications.update()
            .where(notifications.c.id == notification_id)
            .values(status=DELIVERED, delivered_at=now, lease_until=None, last_error=None)
        )

    def failed_attempt(
        self,
        conn: Connection,
        notification_id: int,
        *,
        error: str,
        retry_at: datetime | None,
    ) -> None:
        """Record a failed attempt: try again at ``retry_at``, or give up (``None``)."""
        values: dict[str, Any] = {"last_error": error[:2000], "lease_until": None}
        if retry_at is None:
            values["status"] = FAILED
        else:
            values["next_attempt_at"] = retry_at
        conn.execute(
            notifications.update().where(notifications.c.id == notification_id).values(**values)
        )

    def notifications_of(
        self, conn: Connection, alert_ids: Sequence[int]
    ) -> builtins.list[Notification]:
        """Notifications of these incidents, oldest first."""
        if not alert_ids:
            return []
        query = (
            sa.select(notifications)
            .where(notifications.c.alert_id.in_(list(alert_ids)))
            .order_by(notifications.c.id)
        )
        return [_notification(r) for r in conn.execute(query)]

    def forget_before(self, conn: Connection, cutoff: datetime) -> int:
        """Delete incidents resolved before ``cutoff`` and notifications done with (delivered
        or given up) created before it; return how many incidents went. Open incidents and
        pending notifications stay, however old."""
        conn.execute(
            notifications.delete().where(
                notifications.c.status != PENDING, notifications.c.created_at < cutoff
            )
        )
        return int(
            conn.execute(
                alerts.delete().where(
                    alerts.c.resolved_at.is_not(None), alerts.c.resolved_at < cutoff
                )
            ).rowcount
        )

    def recent_notifications(
        self, conn: Connection, limit: int = 50
    ) -> builtins.list[Notification]:
        """The latest notifications, newest first."""
        query = sa.select(notifications).order_by(notifications.c.id.desc()).limit(limit)
        return [_notification(r) for r in conn.execute(query)]
