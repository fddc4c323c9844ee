"""Backfills and "run missed": runs for a schedule's fire times in a span, each at most once.

A backfill is an operator's explicit request, so the schedule's status, condition and
overlap policy do not stop it; its windows and blackout dates do (they say when the task
may run at all). Runs are created with trigger ``backfill`` under the unique fire-time key,
their starts spread at the configured rate, in one transaction with one audit entry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tickwork.domain import backfill as rules
from tickwork.domain import inputs
from tickwork.domain.actor import Actor, Role
from tickwork.domain.backfill import BackfillConfig, BackfillResult
from tickwork.domain.errors import (
    InvalidInputError,
    InvalidTransitionError,
    PermissionDeniedError,
)
from tickwork.domain.models import Run, RunStatus, RunTrigger, Schedule, SkipReason
from tickwork.domain.tasks import TaskRegistry
from tickwork.services.run_defaults import run_defaults
from tickwork.storage.audit_store import AuditStore
from tickwork.storage.backfill_store import BackfillStore
from tickwork.storage.database import Database
from tickwork.storage.run_store import RunStore
from tickwork.storage.schedule_store import ScheduleStore

_SKIPPED = RunStatus.SKIPPED.value
_BACKFILL = RunTrigger.BACKFILL.value


class BackfillService:
    """Creates the runs of a schedule's fire times in a span that have none."""

    def __init__(
        self,
        db: Database,
        registry: TaskRegistry,
        config: BackfillConfig,
        *,
        on_enqueue: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.config = config
        self.schedules = ScheduleStore(db.dialect)
        self.runs = RunStore(db.dialect)
        self.store = BackfillStore(db.dialect)
        self.audit = AuditStore()
        self._on_enqueue = on_enqueue

    def backfill(
        self, actor: Actor, schedule_id: int, start: Any, end: Any, *, dry_run: bool = False
    ) -> BackfillResult:
        """Create one run per fire time in ``[start, end)`` that has none (``dry_run``: only
        say which). Operators and admins; a tenant-bound actor only for its tenant's
        schedules."""
        if not actor.role.allows(Role.OPERATOR):
            raise PermissionDeniedError("viewers cannot backfill", field="role")
        first, last = rules.span(start, end)
        with self.db.write() as conn:
            now = self.db.now()
            schedule = self.schedules.get(conn, schedule_id, restrict_tenant=actor.tenant_id)
            if schedule.group is not None:
                raise InvalidTransitionError(
                    f"schedule {schedule.id} targets a group: backfilling flows is not "
                    "supported; start them with a flow (app.flows.start, POST /api/v1/flows)",
                    field="group",
                )
            plan = rules.backfill_fire_times(schedule, schedule, first, last, self.config.cap)
            entries = self.store.entries_between(conn, schedule.id, first, last)
            wanted = set(plan.fire_times)
            existing = sorted(
                t for t, status in entries.items() if t in wanted and status != _SKIPPED
            )
            result = BackfillResult(
                fire_times=plan.fire_times,
                existing=len(existing),
                created=0,
                dry_run=dry_run,
                existing_fire_times=existing,
                excluded=plan.excluded,
                cap=self.config.cap,
                capped_reason=plan.capped_reason,
                cut_at=plan.cut_at,
            )
            if dry_run:
                return result
            missing = [t for t in plan.fire_times if t not in set(existing)]
            rows = self._rows(actor, schedule, missing, now)
            skipped = [row for row in rows if entries.get(row["scheduled_for"]) == _SKIPPED]
            fresh = [row for row in rows if entries.get(row["scheduled_for"]) != _SKIPPED]
            self.store.revive_skipped(conn, schedule.id, skipped)
            self.store.insert(conn, fresh)
            result.run_ids = self.store.run_ids(conn, schedule.id, missing, _BACKFILL)
            result.created = len(result.run_ids)
            self._record(conn, actor, schedule, result, first, last, now)
        if result.created:
            self._on_enqueue()
        return result

    def run_missed(self, actor: Actor, run_id: int, *, dry_run: bool = False) -> BackfillResult:
        """Backfill exactly the fire times a skipped ``missed`` entry stands for."""
        with self.db.read() as conn:
            entry = self.runs.get(conn, run_id, restrict_tenant=actor.tenant_id)
        first, last = missed_span(entry)
        assert entry.schedule_id is not None
        return self.backfill(actor, entry.schedule_id, first, last, dry_run=dry_run)

    def _rows(
        self, actor: Actor, schedule: Schedule, fire_times: list[datetime], now: datetime
    ) -> list[dict[str, Any]]:
        defaults = {k: v for k, v in run_defaults(schedule, self.registry).items() if v is not None}
        return [
            {
                "schedule_id": schedule.id,
                "task": schedule.task,
                "payload": schedule.payload,
                "trigger": _BACKFILL,
                "tenant_id": schedule.tenant_id,
                "status": RunStatus.QUEUED.value,
                "scheduled_for": fire_time,
                "run_at": self.config.start_of(index, now),
                "created_at": now,
                "created_by": actor.name,
                "attempt": 1,
                **defaults,
            }
            for index, fire_time in enumerate(fire_times)
        ]

    def _record(
        self,
        conn: Any,
        actor: Actor,
        schedule: Schedule,
        result: BackfillResult,
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> None:
        self.audit.record(
            conn,
            at=now,
            actor=actor.name,
            source=actor.source,
            action="schedule.backfill",
            target_type="schedule",
            target_id=schedule.id,
            tenant_id=schedule.tenant_id,
            after={
                "start": start.isoformat(),
                "end": end.isoformat(),
                "fire_times": len(result.fire_times),
                "existing": result.existing,
                "created": result.created,
                "run_ids": result.run_ids[:100],
                "capped_reason": result.capped_reason,
            },
        )


def missed_span(entry: Run) -> tuple[datetime, datetime]:
    """The span ``[first, last]`` of the fire times a skipped ``missed`` entry stands for,
    as a half-open ``[first, just after last)``."""
    details = entry.details or {}
    if (
        entry.status is not RunStatus.SKIPPED
        or entry.skip_reason != SkipReason.MISSED.value
        or entry.schedule_id is None
        or not isinstance(details, dict)
        or "first" not in details
        or "last" not in details
    ):
        raise InvalidInputError(
            f"run {entry.id} is not a skipped 'missed' entry of a schedule", field="id"
        )
    first = inputs.moment(details["first"], "first")
    last = inputs.moment(details["last"], "last")
    return first, last + timedelta(microseconds=1)
