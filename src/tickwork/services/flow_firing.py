"""Firing a group schedule: one flow per fire time, or a skipped flow saying why not."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.domain.errors import InvalidInputError
from tickwork.domain.models import Schedule
from tickwork.domain.tasks import TaskRegistry
from tickwork.services.flow_steps import flow_columns, flow_steps, resolve_target
from tickwork.storage.flow_store import FlowStore

log = logging.getLogger("tickwork.scheduler")

# Why a fire time of a group schedule started no flow when the group cannot be run.
INVALID_GROUP = "invalid_group"


class GroupFiring:
    """Creates the flows (or skipped flows) of a group schedule's fire times, in the
    scheduler's transaction."""

    def __init__(self, flows: FlowStore, registry: TaskRegistry) -> None:
        self.flows = flows
        self.registry = registry

    def start(
        self,
        conn: Connection,
        schedule: Schedule,
        fire_time: datetime,
        now: datetime,
        *,
        late: bool,
    ) -> bool:
        """Create the flow of ``fire_time``; ``False`` if that fire time has one already (or
        the group cannot run here, which is recorded as a skipped flow and logged)."""
        try:
            target = resolve_target(self.registry.check_flows(), group=schedule.group)
            payloads = self.registry.validate_flow_payload(target.tasks, schedule.payload)
        except InvalidInputError as exc:
            log.error(
                "schedule %s (%s) cannot start group %r: %s",
                schedule.id,
                schedule.name,
                schedule.group,
                exc.message,
            )
            self.record_skip(conn, schedule, fire_time, now, INVALID_GROUP, {"error": exc.message})
            return False
        common: dict[str, Any] = {
            "trigger": schedule.trigger.value,
            "tenant_id": schedule.tenant_id,
            "now": now,
            "created_by": "scheduler",
        }
        values = flow_columns(target, schedule_id=schedule.id, scheduled_for=fire_time, **common)
        if late:
            values["details"] = {"late": True}
        steps = flow_steps(self.registry, target, payloads, schedule=schedule, **common)
        created = self.flows.create(conn, values, steps, now)
        if created is None:
            log.warning(
                "fire time %s of schedule %s already has a flow (another scheduler fired it)",
                fire_time.isoformat(),
                schedule.id,
            )
        return created is not None

    def record_skip(
        self,
        conn: Connection,
        schedule: Schedule,
        fire_time: datetime,
        now: datetime,
        reason: str,
        details: dict[str, Any] | None,
    ) -> None:
        """Record a fire time that started no flow, with the reason."""
        self.flows.record_skip(
            conn,
            {
                "group": schedule.group,
                "schedule_id": schedule.id,
                "scheduled_for": fire_time,
                "tenant_id": schedule.tenant_id,
                "trigger": schedule.trigger.value,
                "skip_reason": reason,
                "details": details,
                "created_at": now,
                "finished_at": now,
                "created_by": "scheduler",
            },
        )
