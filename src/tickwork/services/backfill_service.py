"""Backfills and "run missed": runs for a schedule's fire times in a span, each at most once.

A backfill is an operator's explicit request, so the schedule's status, condition and
overlap policy do not stop it; its windows and blackout dates do (they say when the task
may run at all). Runs are created with trigger ``backfill`` under the unique fire-time key,
their starts spread at the configured rate, in one transaction with one audit entry. A
schedule that targets a group gets one flow (with all its runs) per fire time instead,
created as firing creates it (:class:`~tickwork.services.flow_firing.GroupFiring`), under
the flows' unique fire-time key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tickwork.domain import backfill as rules
from tickwork.domain import inputs
from tickwork.domain.actor import Actor, Role
from tickwork.domain.backfill import BackfillConfig, BackfillResult
from tickwork.domain.errors import InvalidInputError, PermissionDeniedError
from tickwork.domain.flows import Flow
from tickwork.domain.models import Run, RunStatus, RunTrigger, Schedule, SkipReason
from tickwork.domain.tasks import TaskRegistry
from tickwork.services.flow_firing import GroupFiring, Prepared
from tickwork.services.run_defaults import run_defaults
from tickwork.storage.audit_store import AuditStore
from tickwork.storage.backfill_store import BackfillStore
from tickwork.storage.database import Database
from tickwork.storage.flow_queries import FlowReader
from tickwork.storage.flow_store import FlowStore
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
        flows: FlowStore | None = None,
        on_enqueue: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.config = config
        self.schedules = ScheduleStore(db.dialect)
        self.runs = RunStore(db.dialect)
        self.store = BackfillStore(db.dialect)
        self.audit = AuditStore()
        self.flow_reader = FlowReader(db.dialect)
        self.groups = GroupFiring(flows or FlowStore(db.dialect), registry)
        self._on_enqueue = on_enqueue

    def backfill(
        self, actor: Actor, schedule_id: int, start: Any, end: Any, *, dry_run: bool = False
    ) -> BackfillResult:
        """Create one run (a group schedule: one flow with all its runs) per fire time in
        ``[start, end)`` that has none (``dry_run``: only say which). Operators and admins;
        a tenant-bound actor only for its tenant's schedules."""
        if not actor.role.allows(Role.OPERATOR):
            raise PermissionDeniedError("viewers cannot backfill", field="role")
        first, last = rules.span(start, end)
        with self.db.write() as conn:
            now = self.db.now()
            schedule = self.schedules.get(conn, schedule_id, restrict_tenant=actor.tenant_id)
            prepared = None if schedule.group is None else self._prepare(actor, schedule)
            plan = rules.backfill_fire_times(schedule, schedule, first, last, self.config.cap)
            if prepared is None:
                entries = self.store.entries_between(conn, schedule.id, first, last)
            else:
                entries = self.store.flow_entries_between(conn, schedule.id, first, last)
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
                group=schedule.group,
                runs_per_fire_time=1 if prepared is None else len(prepared[0].tasks),
            )
            if dry_run:
                return result
            missing = [t for t in plan.fire_times if t not in set(existing)]
            if prepared is None:
                self._create_runs(conn, actor, schedule, missing, entries, now, result)
            else:
                self._create_flows(conn, actor, schedule, prepared, missing, now, result)
            self._record(conn, actor, schedule, result, first, last, now)
        if result.created:
            self._on_enqueue()
        return result

    def _prepare(self, actor: Actor, schedule: Schedule) -> Prepared:
        """What each flow of a group schedule runs; refused (naming the field) when its group
        cannot run here, or holds a task this actor may not start (as Run Now refuses)."""
        prepared = self.groups.prepare(schedule)
        for name in prepared[0].tasks:
            self.registry.get(name).check_allowed(actor, schedule.tenant_id)
        return prepared

    def _create_runs(
        self,
        conn: Any,
        actor: Actor,
        schedule: Schedule,
        missing: list[datetime],
        entries: dict[datetime, str],
        now: datetime,
        result: BackfillResult,
    ) -> None:
        rows = self._rows(actor, schedule, missing, now)
        skipped = [row for row in rows if entries.get(row["scheduled_for"]) == _SKIPPED]
        fresh = [row for row in rows if entries.get(row["scheduled_for"]) != _SKIPPED]
        created = self.store.insert(conn, fresh)
        created.update(self.store.revive_skipped(conn, schedule.id, skipped))
        result.count_created(created)
        result.run_ids = sorted(created.values())
        result.runs_created = result.created

    def _create_flows(
        self,
        conn: Any,
        actor: Actor,
        schedule: Schedule,
        prepared: Prepared,
        missing: list[datetime],
        now: datetime,
        result: BackfillResult,
    ) -> None:
        """One flow per missing fire time (counted as :meth:`BackfillResult.count_created`
        says)."""
        created = self.groups.backfill(
            conn,
            schedule,
            prepared,
            missing,
            now,
            created_by=actor.name,
            start_of=lambda index: self.config.start_of(index, now),
        )
        result.count_created(created)
        result.flow_ids = sorted(created.values())
        result.run_ids = self.store.flow_run_ids(conn, result.flow_ids)
        result.runs_created = len(result.run_ids)

    def run_missed(self, actor: Actor, run_id: int, *, dry_run: bool = False) -> BackfillResult:
        """Backfill exactly the fire times a skipped ``missed`` entry stands for."""
        with self.db.read() as conn:
            entry = self.runs.get(conn, run_id, restrict_tenant=actor.tenant_id)
        schedule_id, first, last = missed_span(entry)
        return self.backfill(actor, schedule_id, first, last, dry_run=dry_run)

    def run_missed_flow(
        self, actor: Actor, flow_id: int, *, dry_run: bool = False
    ) -> BackfillResult:
        """Backfill exactly the fire times a group schedule's skipped ``missed`` flow stands
        for: one flow each, the first of them the skipped flow itself."""
        with self.db.read() as conn:
            flow = self.flow_reader.get(conn, flow_id, restrict_tenant=actor.tenant_id)
        schedule_id, first, last = missed_span(flow)
        return self.backfill(actor, schedule_id, first, last, dry_run=dry_run)

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
        after: dict[str, Any] = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "fire_times": len(result.fire_times),
            "existing": result.existing,
            "created": result.created,
            "run_ids": result.run_ids[:100],
            "capped_reason": result.capped_reason,
        }
        if result.flows:
            after.update(
                group=result.group,
                flow_ids=result.flow_ids[:100],
                runs_created=result.runs_created,
            )
        self.audit.record(
            conn,
            at=now,
            actor=actor.name,
            source=actor.source,
            action="schedule.backfill",
            target_type="schedule",
            target_id=schedule.id,
            tenant_id=schedule.tenant_id,
            after=after,
        )


def missed_span(entry: Run | Flow) -> tuple[int, datetime, datetime]:
    """The schedule of a skipped ``missed`` entry (a run, or a group schedule's flow) and
    the span ``[first, last]`` of the fire times it stands for, as a half-open
    ``[first, just after last)``. An entry a backfill already turned into a run (or a flow)
    still stands for its span (kept under ``details["skipped"]``), so running its missed
    fire times again finds them all existing."""
    details: Any = entry.details or {}
    if entry.status.value == _SKIPPED:
        reason = entry.skip_reason
    else:
        skipped = details.get("skipped") if isinstance(details, dict) else None
        reason = skipped.get("reason") if isinstance(skipped, dict) else None
        details = skipped.get("details") if isinstance(skipped, dict) else None
    if (
        reason != SkipReason.MISSED.value
        or entry.schedule_id is None
        or not isinstance(details, dict)
        or "first" not in details
        or "last" not in details
    ):
        kind = "run" if isinstance(entry, Run) else "flow"
        raise InvalidInputError(
            f"{kind} {entry.id} is not a skipped 'missed' entry of a schedule", field="id"
        )
    first = inputs.moment(details["first"], "first")
    last = inputs.moment(details["last"], "last")
    return entry.schedule_id, first, last + timedelta(microseconds=1)
