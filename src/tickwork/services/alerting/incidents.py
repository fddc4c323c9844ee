"""Reading and acknowledging incidents. A principal bound to a tenant sees only its
tenant's schedules' incidents; the installation's (processes, queues) are for the others."""

from __future__ import annotations

import builtins
import dataclasses

from tickwork.domain.actor import Actor, Role
from tickwork.domain.alerts import Alert, Notification
from tickwork.domain.errors import PermissionDeniedError
from tickwork.storage.alert_store import AlertFilter, AlertStore
from tickwork.storage.audit_store import AuditStore
from tickwork.storage.database import Database


class IncidentService:
    """Lists incidents and records acknowledgements."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.store = AlertStore(db.dialect)
        self.audit = AuditStore()

    def list(
        self,
        actor: Actor,
        filters: AlertFilter | None = None,
        *,
        before_id: int | None = None,
        limit: int = 50,
    ) -> builtins.list[Alert]:
        """Incidents newest first."""
        filters = dataclasses.replace(filters or AlertFilter(), restrict_tenant=actor.tenant_id)
        with self.db.read() as conn:
            return self.store.list_alerts(conn, filters, before_id=before_id, limit=limit)

    def get(self, actor: Actor, alert_id: int) -> Alert:
        """One incident."""
        with self.db.read() as conn:
            return self.store.get_alert(conn, alert_id, restrict_tenant=actor.tenant_id)

    def notifications(self, actor: Actor, alert_id: int) -> builtins.list[Notification]:
        """The notifications an incident sent, oldest first."""
        with self.db.read() as conn:
            self.store.get_alert(conn, alert_id, restrict_tenant=actor.tenant_id)
            return self.store.notifications_of(conn, [alert_id])

    def acknowledge(self, actor: Actor, alert_id: int) -> Alert:
        """Record that ``actor`` (an operator or admin) has seen the incident."""
        if not actor.role.allows(Role.OPERATOR):
            raise PermissionDeniedError("acknowledging an alert needs an operator", field="id")
        with self.db.write() as conn:
            before = self.store.get_alert(conn, alert_id, restrict_tenant=actor.tenant_id)
            now = self.db.now()
            self.store.acknowledge(conn, alert_id, actor.name, now)
            after = self.store.get_alert(conn, alert_id)
            if before.acknowledged_at is None:
                self.audit.record(
                    conn,
                    at=now,
                    actor=actor.name,
                    source=actor.source,
                    action="alert.ack",
                    target_type="alert",
                    target_id=alert_id,
                    tenant_id=after.tenant_id,
                    before=None,
                    after={"event": after.event, "subject": after.subject},
                )
        return after
