"""What every change to a schedule does besides the change itself, whoever makes it (an
operator through :class:`~tickwork.services.schedule_service.ScheduleService`, or the code
through :class:`~tickwork.services.code_sync.CodeSync`): the audit entry, the withdrawal of
runs created ahead of fire times the change moves, and the wake-up of schedulers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.domain import schedule_spec
from tickwork.domain.actor import Actor
from tickwork.domain.models import Schedule
from tickwork.storage.audit_store import AuditStore
from tickwork.storage.dialect import SCHEDULES_CHANNEL, Dialect
from tickwork.storage.run_store import RunStore


class ScheduleChanges:
    """The steps shared by every change to a schedule, each in the caller's transaction."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.runs = RunStore(dialect)
        self.audit = AuditStore()

    def record(
        self,
        conn: Connection,
        actor: Actor,
        action: str,
        schedule: Schedule,
        before: Schedule | None,
        after: Schedule | None,
        now: datetime,
    ) -> None:
        """Write the audit entry of ``action`` on ``schedule``, with its before and after."""
        self.audit.record(
            conn,
            at=now,
            actor=actor.name,
            source=actor.source,
            action=action,
            target_type="schedule",
            target_id=schedule.id,
            tenant_id=schedule.tenant_id,
            before=None if before is None else schedule_spec.as_json(before),
            after=None if after is None else schedule_spec.as_json(after),
        )

    def withdraw_early(
        self, conn: Connection, schedule: Schedule, now: datetime, *, keep_next_run: bool = False
    ) -> dict[str, Any]:
        """Withdraw runs created ahead of fire times still to come (the scheduler looks
        ahead); those fire times become due again, so nothing is skipped by the change.
        Returns the schedule's columns that change with it."""
        count, earliest = self.runs.withdraw_early(conn, schedule.id, now)
        if not count:
            return {}
        changes: dict[str, Any] = {"run_count": max(0, schedule.run_count - count)}
        if (
            not keep_next_run
            and earliest is not None
            and (schedule.next_run_at is None or earliest < schedule.next_run_at)
        ):
            changes["next_run_at"] = earliest
        return changes

    def notify(self, conn: Connection) -> None:
        """Wake the schedulers (on PostgreSQL; others notice at their next poll)."""
        self.dialect.notify(conn, SCHEDULES_CHANNEL)
