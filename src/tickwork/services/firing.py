"""Turning a due schedule's fire times into runs (or recorded skips), in the caller's transaction.

The scheduler fires locked due schedules through :class:`Firing`, and ``resume`` uses it to
apply the operator's misfire choice, so both write the same rows: a ``queued`` run per fire
time that may run, a ``skipped`` entry with its reason per fire time that may not (window,
blackout, condition, overlap) and one ``skipped`` entry summarising missed fire times.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from tickwork.domain import windows
from tickwork.domain.models import (
    PENDING_RUN_STATUSES,
    MisfirePolicy,
    OverlapPolicy,
    RunStatus,
    Schedule,
    ScheduleStatus,
    SkipReason,
)
from tickwork.domain.planning import FirePlan, fires_early, plan_fires
from tickwork.domain.tasks import TaskRegistry
from tickwork.services.flow_firing import GroupFiring
from tickwork.services.run_defaults import run_defaults
from tickwork.storage.flag_store import FlagStore
from tickwork.storage.flow_store import FlowStore
from tickwork.storage.run_store import RunStore
from tickwork.storage.schedule_store import FireUpdate, ScheduleStore

log = logging.getLogger("tickwork.scheduler")

# A condition predicate: given the schedule and the fire time, may it run?
Condition = Callable[[Schedule, datetime], bool]


@dataclass(slots=True)
class FireReport:
    """What one batch of firing wrote."""

    schedules: int = 0
    runs: int = 0
    skipped: int = 0
    completed: int = 0
    fire_times: list[datetime] = field(default_factory=list)
    # The earliest next_run_at of any active schedule once this batch was written.
    next_due_at: datetime | None = None

    def add(self, other: FireReport) -> None:
        """Add ``other``'s counts and fire times to this report."""
        self.schedules += other.schedules
        self.runs += other.runs
        self.skipped += other.skipped
        self.completed += other.completed
        self.fire_times.extend(other.fire_times)


# What run_defaults reads of a schedule: its task and its own run settings.
_run_defaults_inputs = attrgetter(
    "task", "queue", "priority", "max_attempts", "retry_backoff", "retry_backoff_max", "timeout"
)


class Firing:
    """Writes the runs and skips of due schedules."""

    def __init__(
        self,
        schedules: ScheduleStore,
        runs: RunStore,
        flags: FlagStore,
        registry: TaskRegistry,
        conditions: dict[str, Condition],
        rng: random.Random | None = None,
        *,
        flows: FlowStore | None = None,
    ) -> None:
        self.groups = GroupFiring(flows or FlowStore(runs.dialect), registry)
        self.schedules = schedules
        self.runs = runs
        self.flags = flags
        self.registry = registry
        self.conditions = conditions
        self.rng = rng or random.Random()

    def fire_due(
        self,
        conn: Connection,
        due: list[Schedule],
        now: datetime,
        horizon: datetime | None = None,
    ) -> FireReport:
        """Fire every schedule in ``due`` (locked by the caller) as of ``now``.

        Fire times up to ``horizon`` (default ``now``) get their runs now; those still in
        the future wait in the queue until their ``run_at``.

        A schedule whose fire times cannot be computed (corrupt definition) is marked
        ``failed`` and logged; it does not stop the others.
        """
        report = FireReport()
        rows: list[dict[str, Any]] = []
        updates: list[FireUpdate] = []
        known_defaults: dict[tuple[Any, ...], Any] = {}
        for schedule in due:
            try:
                plan = plan_fires(schedule, now, horizon=horizon if fires_early(schedule) else None)
                own_rows: list[dict[str, Any]] = []
                own_report = FireReport()
                update = self._collect(
                    conn, schedule, plan, now, own_rows, own_report, known_defaults
                )
            except SQLAlchemyError:
                raise
            except Exception:
                log.exception(
                    "cannot compute fire times of schedule %s (%s); marking it failed",
                    schedule.id,
                    schedule.name,
                )
                updates.append(
                    FireUpdate(
                        schedule.id, None, ScheduleStatus.FAILED.value, schedule.run_count, None
                    )
                )
                continue
            rows.extend(own_rows)
            updates.append(update)
            report.add(own_report)
        report.schedules = len(due)
        inserted, report.next_due_at = self.schedules.record_fires(conn, rows, updates)
        if inserted != len(rows):
            log.warning(
                "%d of %d fire times already had a run (another scheduler fired them)",
                len(rows) - inserted,
                len(rows),
            )
        return report

    def fire_one(
        self,
        conn: Connection,
        schedule: Schedule,
        now: datetime,
        *,
        policy: MisfirePolicy | None = None,
        grace: float | None = None,
    ) -> tuple[FireReport, FireUpdate]:
        """Fire one schedule with an optional misfire policy and grace (used by resume)."""
        report = FireReport(schedules=1)
        rows: list[dict[str, Any]] = []
        plan = plan_fires(schedule, now, policy=policy, grace=grace)
        update = self._collect(conn, schedule, plan, now, rows, report, {})
        self.runs.insert_fired(conn, rows)
        return report, update

    def _collect(
        self,
        conn: Connection,
        schedule: Schedule,
        plan: FirePlan,
        now: datetime,
        rows: list[dict[str, Any]],
        report: FireReport,
        known_defaults: dict[tuple[Any, ...], Any],
    ) -> FireUpdate:
        base = self._base_row(schedule, now, known_defaults)
        if plan.missed is not None:
            self._skip(
                conn,
                schedule,
                base,
                rows,
                plan.missed.first,
                now,
                SkipReason.MISSED.value,
                plan.missed.details(),
            )
            report.skipped += 1
        remaining = (
            None if schedule.max_runs is None else max(0, schedule.max_runs - schedule.run_count)
        )
        # Fire times past max_runs (lowered by an edit, say) never happen.
        fires = [] if remaining == 0 else plan.fires
        completed = plan.completed or remaining == 0
        pending, running = self._active_runs(conn, schedule) if fires else (0, 0)
        created = 0
        last_run_at: datetime | None = None
        for index, fire_time in enumerate(fires):
            reason, details = self._exclusion(conn, schedule, fire_time)
            if reason is None:
                reason, pending, running = self._overlap(
                    conn, schedule, now, pending, running, last_in_plan=index == len(fires) - 1
                )
                details = None if reason is None else {"policy": schedule.overlap_policy.value}
            if reason is not None:
                self._skip(conn, schedule, base, rows, fire_time, now, reason, details)
                report.skipped += 1
                continue
            if schedule.group is not None:
                late = fire_time in plan.late_fires
                if not self.groups.start(conn, schedule, fire_time, now, late=late):
                    continue
                pending += 1
                created += 1
                last_run_at = fire_time
                report.fire_times.append(fire_time)
                if remaining is not None and created >= remaining:
                    completed = True
                    break
                continue
            row = {
                **base,
                "status": RunStatus.QUEUED.value,
                "scheduled_for": fire_time,
                "run_at": fire_time,
            }
            if schedule.jitter:
                row["run_at"] = fire_time + timedelta(seconds=self.rng.uniform(0, schedule.jitter))
            if fire_time in plan.late_fires:
                row["details"] = {"late": True}
            rows.append(row)
            pending += 1
            created += 1
            last_run_at = fire_time
            report.fire_times.append(fire_time)
            if remaining is not None and created >= remaining:
                # max_runs reached: later fire times of this plan never happen.
                completed = True
                break
        report.runs += created
        status = schedule.status.value
        if completed:
            status = ScheduleStatus.COMPLETED.value
            report.completed += 1
        return FireUpdate(
            id=schedule.id,
            next_run_at=None if completed else plan.next_run_at,
            status=status,
            run_count=schedule.run_count + created,
            last_run_at=last_run_at,
        )

    def _skip(
        self,
        conn: Connection,
        schedule: Schedule,
        base: dict[str, Any],
        rows: list[dict[str, Any]],
        fire_time: datetime,
        now: datetime,
        reason: str,
        details: dict[str, Any] | None,
    ) -> None:
        """Record a fire time that may not run: a skipped run, or for a group schedule a
        skipped flow."""
        if schedule.group is not None:
            self.groups.record_skip(conn, schedule, fire_time, now, reason, details)
            return
        rows.append(
            {
                **base,
                "status": RunStatus.SKIPPED.value,
                "scheduled_for": fire_time,
                "run_at": fire_time,
                "finished_at": now,
                "skip_reason": reason,
                "details": details,
            }
        )

    def _base_row(
        self, schedule: Schedule, now: datetime, known_defaults: dict[tuple[Any, ...], Any]
    ) -> dict[str, Any]:
        # Columns left out are NULL: a burst's rows are shorter to encode and to parse.
        row = {
            "schedule_id": schedule.id,
            "task": schedule.task,
            "payload": schedule.payload,
            "trigger": schedule.trigger.value,
            "created_at": now,
            "created_by": "scheduler",
        }
        # Many schedules of a burst share a task and its settings: their run defaults are
        # worked out once per batch.
        key = _run_defaults_inputs(schedule)
        defaults = known_defaults.get(key)
        if defaults is None:
            defaults = known_defaults[key] = {
                name: value
                for name, value in run_defaults(schedule, self.registry).items()
                if value is not None
            }
        row.update(defaults)
        if schedule.tenant_id is not None:
            row["tenant_id"] = schedule.tenant_id
        return row

    def _active_runs(self, conn: Connection, schedule: Schedule) -> tuple[int, int]:
        if schedule.overlap_policy is OverlapPolicy.ALLOW:
            return 0, 0
        if schedule.group is not None:
            return self.groups.flows.running_for_schedule(conn, schedule.id)
        active = self.runs.active_for_schedule(conn, schedule.id)
        pending = sum(1 for r in active if r.status.value in PENDING_RUN_STATUSES)
        return pending, len(active) - pending

    def _overlap(
        self,
        conn: Connection,
        schedule: Schedule,
        now: datetime,
        pending: int,
        running: int,
        *,
        last_in_plan: bool,
    ) -> tuple[str | None, int, int]:
        policy = schedule.overlap_policy
        overlap = SkipReason.OVERLAP.value
        if policy is OverlapPolicy.ALLOW:
            return None, pending, running
        if policy is OverlapPolicy.SKIP:
            return (overlap if pending or running else None), pending, running
        if policy is OverlapPolicy.QUEUE_ONE:
            return (overlap if pending else None), pending, running
        # cancel_previous: only the newest fire time of this batch runs; earlier ones in
        # the same batch would be cancelled straight away, so they are recorded as skipped.
        if not last_in_plan:
            return overlap, pending, running
        if (pending or running) and schedule.group is not None:
            self.groups.flows.cancel_for_schedule(
                conn, schedule.id, now, "cancelled: a newer fire time replaced it (cancel_previous)"
            )
        elif pending or running:
            self.runs.cancel_for_schedule(
                conn, schedule.id, now, "cancelled: a newer fire time replaced it (cancel_previous)"
            )
        return None, 0, 0

    def _exclusion(
        self, conn: Connection, schedule: Schedule, fire_time: datetime
    ) -> tuple[str | None, dict[str, Any] | None]:
        if not (schedule.windows or schedule.blackout_dates or schedule.condition):
            return None, None
        reason = windows.exclusion(
            fire_time, schedule.timezone, schedule.windows, schedule.blackout_dates
        )
        if reason is not None:
            return reason, {"timezone": schedule.timezone}
        if schedule.condition:
            allowed, note = self._condition(conn, schedule, fire_time)
            if not allowed:
                return SkipReason.CONDITION.value, {"condition": schedule.condition, "note": note}
        return None, None

    def _condition(
        self, conn: Connection, schedule: Schedule, fire_time: datetime
    ) -> tuple[bool, str]:
        name = schedule.condition
        assert name is not None
        predicate = self.conditions.get(name)
        if predicate is not None:
            try:
                return bool(predicate(schedule, fire_time)), "predicate returned false"
            except Exception as exc:
                log.exception("condition %r of schedule %s failed", name, schedule.id)
                return False, f"predicate raised {type(exc).__name__}: {exc}"
        flag = self.flags.state(conn, name, schedule.tenant_id)
        if flag is None:
            return False, f"no condition or flag named {name!r}"
        return flag, "flag is off"
