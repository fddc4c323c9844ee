"""Firing a group schedule: one flow per fire time, or a skipped flow saying why not."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.domain.errors import InvalidInputError
from tickwork.domain.models import RunTrigger, Schedule
from tickwork.domain.tasks import TaskRegistry
from tickwork.services.flow_steps import FlowTarget, flow_columns, flow_steps, resolve_target
from tickwork.storage.flow_store import FlowStore, NewStep

log = logging.getLogger("tickwork.scheduler")

# Why a fire time of a group schedule started no flow when the group cannot be run.
INVALID_GROUP = "invalid_group"

# A group schedule's flow as every fire time starts it: its tasks, and each task's payload.
Prepared = tuple[FlowTarget, dict[str, dict[str, Any]]]


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
            prepared = self.prepare(schedule)
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
        values, steps = self.new_flow(
            schedule,
            prepared,
            fire_time,
            now,
            trigger=schedule.trigger.value,
            created_by="scheduler",
        )
        if late:
            values["details"] = {"late": True}
        created = self.flows.create(conn, values, steps, now)
        if created is None:
            log.warning(
                "fire time %s of schedule %s already has a flow (another scheduler fired it)",
                fire_time.isoformat(),
                schedule.id,
            )
        return created is not None

    def prepare(self, schedule: Schedule) -> Prepared:
        """The tasks and per-task payloads of a group schedule's flows, or
        :class:`InvalidInputError` when its group cannot run here (naming ``group`` or the
        ``payload`` field at fault)."""
        target = resolve_target(self.registry.check_flows(), group=schedule.group)
        return target, self.registry.validate_flow_payload(target.tasks, schedule.payload)

    def new_flow(
        self,
        schedule: Schedule,
        prepared: Prepared,
        fire_time: datetime,
        now: datetime,
        *,
        trigger: str,
        created_by: str,
    ) -> tuple[dict[str, Any], list[NewStep]]:
        """The ``flows`` row and the runs of the flow of ``fire_time``: the one shape every
        flow of a group schedule has, fired or backfilled."""
        target, payloads = prepared
        common: dict[str, Any] = {
            "trigger": trigger,
            "tenant_id": schedule.tenant_id,
            "now": now,
            "created_by": created_by,
        }
        values = flow_columns(target, schedule_id=schedule.id, scheduled_for=fire_time, **common)
        steps = flow_steps(self.registry, target, payloads, schedule=schedule, **common)
        return values, steps

    def backfill(
        self,
        conn: Connection,
        schedule: Schedule,
        prepared: Prepared,
        fire_times: Sequence[datetime],
        now: datetime,
        *,
        created_by: str,
        start_of: Callable[[int], datetime],
    ) -> dict[datetime, int]:
        """Create the flows (trigger ``backfill``) of ``fire_times`` that have none, through
        the unique fire-time key firing uses; a fire time whose flow was skipped gets that
        flow revived. The ``n``-th run these flows start first may start at
        ``start_of(n)``. Returns the id of each flow created, by fire time."""
        created: dict[datetime, int] = {}
        first_wave = 0
        for fire_time in fire_times:
            values, steps = self.new_flow(
                schedule,
                prepared,
                fire_time,
                now,
                trigger=RunTrigger.BACKFILL.value,
                created_by=created_by,
            )
            start_at = start_of(first_wave)
            flow_id = self.flows.create(conn, values, steps, now, start_at=start_at)
            if flow_id is None:
                flow_id = self.flows.revive_skipped(conn, values, steps, now, start_at=start_at)
            if flow_id is not None:
                created[fire_time] = flow_id
                first_wave += sum(1 for step in steps if not step.depends_on)
        return created

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
