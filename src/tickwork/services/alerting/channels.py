"""Channel operations: only an admin bound to no tenant creates, changes, tests or deletes
channels, and each change is audited (without the secret)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from typing import Any

from tickwork.domain import inputs
from tickwork.domain.actor import Actor
from tickwork.domain.alerts import AlertEvent, Channel, validate_channel
from tickwork.domain.errors import NotFoundError, PermissionDeniedError
from tickwork.services.alerting.config import AlertConfig
from tickwork.services.alerting.senders import send
from tickwork.storage.alert_store import AlertStore
from tickwork.storage.audit_store import AuditStore
from tickwork.storage.database import Database


def _audited(channel: Channel) -> dict[str, Any]:
    return {
        "name": channel.name,
        "kind": channel.kind.value,
        "url": channel.url,
        "to": channel.to,
        "secret": "***" if channel.secret else None,
    }


class ChannelService:
    """Creates, lists, changes, tests and deletes alert channels."""

    def __init__(self, db: Database, config: AlertConfig) -> None:
        self.db = db
        self.config = config
        self.store = AlertStore(db.dialect)
        self.audit = AuditStore()

    @staticmethod
    def _check_admin(actor: Actor) -> None:
        if not actor.is_unbound_admin:
            raise PermissionDeniedError(
                "only an admin bound to no tenant may manage alert channels", field="channel"
            )

    def _record(
        self, conn: Any, actor: Actor, action: str, channel: Channel, before: Any, after: Any
    ) -> None:
        self.audit.record(
            conn,
            at=self.db.now(),
            actor=actor.name,
            source=actor.source,
            action=action,
            target_type="channel",
            target_id=channel.id,
            tenant_id=None,
            before=before,
            after=after,
        )

    def create(self, actor: Actor, fields: Mapping[str, Any]) -> Channel:
        """Add a channel (``name``, ``kind``, and ``url``/``secret`` or ``to``)."""
        self._check_admin(actor)
        spec = validate_channel(fields)
        with self.db.write() as conn:
            channel = self.store.insert_channel(conn, spec, actor=actor.name, now=self.db.now())
            self._record(conn, actor, "channel.create", channel, None, _audited(channel))
        return channel

    def update(self, actor: Actor, ref: int | str, changes: Mapping[str, Any]) -> Channel:
        """Change a channel; fields left out keep their values (the secret too)."""
        self._check_admin(actor)
        with self.db.write() as conn:
            before = self._find(conn, ref)
            merged = {
                "name": before.name,
                "kind": before.kind.value,
                "url": before.url,
                "to": before.to,
                "secret": before.secret,
                **changes,
            }
            if merged["kind"] == "email":
                merged["url"] = merged["secret"] = None
            else:
                merged["to"] = None
                if merged["kind"] == "slack":
                    merged["secret"] = None
            spec = validate_channel(merged)
            after = self.store.update_channel(conn, before.id, spec, self.db.now())
            self._record(conn, actor, "channel.update", after, _audited(before), _audited(after))
        return after

    def _find(self, conn: Any, ref: int | str) -> Channel:
        ident = inputs.record_id(ref)
        if ident is not None:
            return self.store.get_channel(conn, ident)
        if not isinstance(ref, str) or len(ref) > 100:
            raise NotFoundError(f"channel {inputs.echo(ref)} not found", field="id")
        return self.store.get_channel(conn, ref)

    def get(self, actor: Actor, ref: int | str) -> Channel:
        """A channel by id or name."""
        with self.db.read() as conn:
            return self._find(conn, ref)

    def list(self, actor: Actor) -> builtins.list[Channel]:
        """Every channel, by name."""
        with self.db.read() as conn:
            return self.store.list_channels(conn)

    def delete(self, actor: Actor, ref: int | str) -> None:
        """Delete a channel; its undelivered notifications are dropped."""
        self._check_admin(actor)
        with self.db.write() as conn:
            channel = self._find(conn, ref)
            self.store.delete_channel(conn, channel.id)
            self._record(conn, actor, "channel.delete", channel, _audited(channel), None)

    def test(self, actor: Actor, ref: int | str) -> str:
        """Send a ``test`` event to the channel now (not through the outbox); return its id.

        Raises :class:`~tickwork.domain.errors.DeliveryError` when the channel
        does not take it.
        """
        self._check_admin(actor)
        channel = self.get(actor, ref)
        event_id = uuid.uuid4().hex
        now = self.db.now()
        body = {
            "id": event_id,
            "event": AlertEvent.TEST.value,
            "text": f"Test notification from tickwork to channel {channel.name!r}, "
            f"sent by {actor.name}",
            "url": self.config.link("/admin/channels"),
            "at": now.isoformat(),
        }
        send(channel, body, timeout=self.config.send_timeout, mail=self.config.mail)
        return event_id
