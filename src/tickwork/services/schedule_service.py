"""Operations on schedules: validated, audited, one transaction each.

The Python API (``app.schedules``), the REST API and the CLI all go through this class, so
every change is checked and recorded in the audit log the same way whichever door it
came through.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.domain import inputs, schedule_spec, triggers
from tickwork.domain.actor import Actor
from tickwork.domain.errors import (
    ConflictError,
    DuplicateNameError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    VersionConflictError,
)
from tickwork.domain.models import (
    MisfirePolicy,
    Run,
    RunStatus,
    RunTrigger,
    Schedule,
    ScheduleSource,
    ScheduleStatus,
    TriggerType,
)
from tickwork.registry import TaskRegistry
from tickwork.services.firing import Firing, run_defaults
from tickwork.storage.audit_store import AuditStore
from tickwork.storage.database import Database
from tickwork.storage.dialect import SCHEDULES_CHANNEL
from tickwork.storage.run_store import RunStore
from tickwork.storage.schedule_store import ScheduleFilter, ScheduleStore

log = logging.getLogger("tickwork.schedules")

ORPHANED_NOTE = "removed from code: paused until it is declared again or deleted"
CODE_PAUSED_NOTE = "defined in code with enabled=False: resume it to start"
# Serialises code-schedule syncs of processes starting together (PostgreSQL advisory lock).
SYNC_LOCK_ID = 7_301_947_124

ResumeChoice = str  # "policy" | "skip" | "run_once" | "run_all"
RESUME_CHOICES = ("policy", "skip", "run_once", "run_all")


@dataclass(frozen=True, slots=True)
class CodeSchedule:
    """A schedule declared in code with ``app.periodic``."""

    name: str
    fields: dict[str, Any]
    enabled: bool


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a sync of code-defined schedules changed."""

    created: list[str]
    updated: list[str]
    orphaned: list[str]
    conflicts: list[str]


class ScheduleService:
    """Creates, edits, pauses, resumes, cancels, deletes and runs schedules."""

    def __init__(
        self,
        db: Database,
        registry: TaskRegistry,
        firing: Firing,
        *,
        max_payload_bytes: int,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.firing = firing
        self.store = ScheduleStore(db.dialect)
        self.runs = RunStore(db.dialect)
        self.audit = AuditStore()
        self.max_payload_bytes = max_payload_bytes
        self._on_change = on_change

    # -- helpers -----------------------------------------------------------------------

    def _record(
        self,
        conn: Connection,
        actor: Actor,
        action: str,
        schedule: Schedule,
        before: Schedule | None,
        after: Schedule | None,
        now: datetime,
    ) -> None:
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

    def _withdraw_early(
        self, conn: Connection, schedule: Schedule, now: datetime, *, keep_next_run: bool = False
    ) -> dict[str, Any]:
        """Withdraw runs created ahead of fire times still to come (the scheduler looks
        ahead); those fire times become due again, so nothing is skipped by the change."""
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

    def _changed(self, conn: Connection) -> None:
        self.db.dialect.notify(conn, SCHEDULES_CHANNEL)

    def _check_admin_only_task(self, actor: Actor, task_name: str) -> None:
        task = self.registry.find(task_name)
        if task is not None and task.admin_only and actor.role.value != "admin":
            raise PermissionDeniedError(f"only admins may schedule {task_name!r}", field="task")

    def _tenant_for(self, actor: Actor, requested: Any) -> Any:
        if actor.tenant_id is None:
            return requested
        if requested not in (None, "", actor.tenant_id):
            raise PermissionDeniedError(
                f"you may only use tenant {actor.tenant_id!r}", field="tenant_id"
            )
        return actor.tenant_id

    # -- reads -------------------------------------------------------------------------

    def get(self, schedule_id: int, actor: Actor) -> Schedule:
        """One schedule (a tenant-bound actor sees only its tenant's)."""
        with self.db.read() as conn:
            return self.store.get(conn, schedule_id, restrict_tenant=actor.tenant_id)

    def find(self, ref: str | int, actor: Actor) -> Schedule:
        """A schedule by id or by name (names are unique per tenant: an actor bound to no
        tenant is asked for the id when several tenants use the name)."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return self.get(int(ref), actor)
        with self.db.read() as conn:
            found = self.store.find_by_name(conn, str(ref), restrict_tenant=actor.tenant_id)
        if not found:
            raise NotFoundError(f"schedule {ref!r} not found", field="id")
        if len(found) > 1:
            raise ConflictError(
                f"several tenants have a schedule called {ref!r}; give its id instead",
                field="id",
            )
        return found[0]

    def list(
        self,
        actor: Actor,
        filters: ScheduleFilter | None = None,
        *,
        after_id: int | None = None,
        limit: int = 50,
        offset: int | None = None,
    ) -> builtins.list[Schedule]:
        """Schedules in id order, keyset-paginated by ``after_id``."""
        filters = dataclasses.replace(filters or ScheduleFilter(), restrict_tenant=actor.tenant_id)
        with self.db.read() as conn:
            return self.store.list(conn, filters, after_id=after_id, limit=limit, offset=offset)

    # -- changes -----------------------------------------------------------------------

    def create(self, actor: Actor, data: dict[str, Any]) -> Schedule:
        """Validate and create a schedule; nothing is written if anything is invalid."""
        data = dict(data)
        status = data.pop("status", None) or ScheduleStatus.ACTIVE.value
        paused_until = data.pop("paused_until", None)
        pause_note = data.pop("pause_note", None)
        if status not in (ScheduleStatus.ACTIVE.value, ScheduleStatus.PAUSED.value):
            raise InvalidInputError("a new schedule is either active or paused", field="status")
        data["tenant_id"] = self._tenant_for(actor, data.get("tenant_id"))
        values = schedule_spec.validate_definition(
            data, self.registry, max_payload_bytes=self.max_payload_bytes
        )
        self._check_admin_only_task(actor, values["task"])
        with self.db.write() as conn:
            now = self.db.now()
            values = schedule_spec.with_first_fire(values, now)
            if status == ScheduleStatus.PAUSED.value:
                values["next_run_at"] = None
                values["paused_at"] = now
                values["paused_by"] = actor.name
                values["pause_note"] = (
                    None
                    if pause_note is None
                    else inputs.text(pause_note, "pause_note", max_length=2000, allow_empty=True)
                    or None
                )
                values["paused_until"] = _pause_end(paused_until, "paused_until", now)
            elif paused_until is not None or pause_note is not None:
                field = "paused_until" if paused_until is not None else "pause_note"
                raise InvalidInputError(f"{field} needs status 'paused'", field=field)
            schedule = self.store.insert(
                conn,
                {
                    **values,
                    "status": status,
                    "source": ScheduleSource.API.value,
                    "created_by": actor.name,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                    "run_count": 0,
                },
            )
            self._record(conn, actor, "schedule.create", schedule, None, schedule, now)
            self._changed(conn)
        self._on_change()
        return schedule

    def update(
        self,
        actor: Actor,
        schedule_id: int,
        changes: dict[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Schedule:
        """Change a schedule's definition; a timing change recomputes ``next_run_at`` at once.

        With ``expected_version`` (or ``version`` among the changes) the edit is refused
        with :class:`VersionConflictError` if someone changed the schedule meanwhile.
        """
        changes = dict(changes)
        if "version" in changes:
            expected_version = changes.pop("version")
        if expected_version is not None:
            expected_version = inputs.integer(expected_version, "version", minimum=1)
        for key in changes:
            if key not in schedule_spec.DEFINITION_FIELDS:
                raise InvalidInputError(f"{key!r} cannot be changed this way", field=key)
        with self.db.write() as conn:
            now = self.db.now()
            before = self.store.get(conn, schedule_id, lock=True, restrict_tenant=actor.tenant_id)
            if expected_version is not None and before.version != expected_version:
                raise VersionConflictError(
                    f"schedule {schedule_id} is at version {before.version}, not "
                    f"{expected_version}: someone changed it; reload it and try again",
                    field="version",
                )
            if before.source is ScheduleSource.CODE:
                raise InvalidTransitionError(
                    f"schedule {before.name!r} is defined in code; change it there",
                    field="source",
                )
            if "tenant_id" in changes:
                changes["tenant_id"] = self._tenant_for(actor, changes["tenant_id"])
            values = schedule_spec.validate_definition(
                _merged(before, changes), self.registry, max_payload_bytes=self.max_payload_bytes
            )
            self._check_admin_only_task(actor, values["task"])
            retimed = _retimed(before, values, now)
            values.update(
                self._withdraw_early(conn, before, now, keep_next_run="next_run_at" in retimed)
            )
            values.update(retimed)
            values["updated_at"] = now
            after = self.store.update(conn, schedule_id, values, expected_version=expected_version)
            self._record(conn, actor, "schedule.update", after, before, after, now)
            self._changed(conn)
        self._on_change()
        return after

    def pause(
        self,
        actor: Actor,
        schedule_id: int,
        *,
        note: str | None = None,
        until: datetime | str | None = None,
    ) -> Schedule:
        """Stop a schedule from firing, with an optional note and an automatic resume time."""
        with self.db.write() as conn:
            now = self.db.now()
            before = self.store.get(conn, schedule_id, lock=True, restrict_tenant=actor.tenant_id)
            if before.status not in (
                ScheduleStatus.ACTIVE,
                ScheduleStatus.PAUSED,
                ScheduleStatus.FAILED,
            ):
                raise InvalidTransitionError(
                    f"schedule {before.id} is {before.status.value}; it cannot be paused",
                    field="status",
                )
            until_at = _pause_end(until, "until", now)
            after = self.store.update(
                conn,
                schedule_id,
                {
                    **self._withdraw_early(conn, before, now),
                    "status": ScheduleStatus.PAUSED.value,
                    "pause_note": None
                    if note is None
                    else inputs.text(note, "note", max_length=2000, allow_empty=True) or None,
                    "paused_by": actor.name,
                    "paused_at": now,
                    "paused_until": until_at,
                    "updated_at": now,
                },
                bump_version=False,
            )
            self._record(conn, actor, "schedule.pause", after, before, after, now)
            self._changed(conn)
        self._on_change()
        return after

    def resume(
        self, actor: Actor, schedule_id: int, *, misfire: ResumeChoice = "policy"
    ) -> Schedule:
        """Let a paused schedule fire again.

        Fire times that passed while it was paused follow ``misfire``: ``"policy"`` (the
        schedule's own misfire policy), ``"skip"``, ``"run_once"`` or ``"run_all"``.
        """
        if misfire not in RESUME_CHOICES:
            raise InvalidInputError(
                f"{misfire!r} is not one of {', '.join(RESUME_CHOICES)}", field="misfire"
            )
        with self.db.write() as conn:
            now = self.db.now()
            before = self.store.get(conn, schedule_id, lock=True, restrict_tenant=actor.tenant_id)
            if before.status is ScheduleStatus.ACTIVE:
                return before
            after = self._activate(conn, before, now, misfire)
            self._record(conn, actor, "schedule.resume", after, before, after, now)
            self._changed(conn)
        self._on_change()
        return after

    def _activate(
        self, conn: Connection, before: Schedule, now: datetime, misfire: str
    ) -> Schedule:
        if before.status not in (ScheduleStatus.PAUSED, ScheduleStatus.FAILED):
            raise InvalidTransitionError(
                f"schedule {before.id} is {before.status.value}; it cannot be resumed",
                field="status",
            )
        values: dict[str, Any] = {
            "status": ScheduleStatus.ACTIVE.value,
            "pause_note": None,
            "paused_by": None,
            "paused_at": None,
            "paused_until": None,
            "updated_at": now,
        }
        fresh_start = before.next_run_at is None or before.status is ScheduleStatus.FAILED
        if fresh_start:
            values["next_run_at"] = triggers.first_fire(before, now)
            if values["next_run_at"] is None and before.trigger.value != "manual":
                values["status"] = ScheduleStatus.COMPLETED.value
        after = self.store.update(conn, before.id, values, bump_version=False)
        if misfire == "policy" or after.status is not ScheduleStatus.ACTIVE:
            return after
        # The operator's choice applies to every fire time up to now, with no grace (a
        # ``once`` schedule created paused may be past its run_at).
        _, update = self.firing.fire_one(conn, after, now, policy=MisfirePolicy(misfire), grace=0.0)
        self.store.apply_fires(conn, [update], now)
        return self.store.get(conn, before.id)

    def cancel(self, actor: Actor, schedule_id: int) -> Schedule:
        """End a schedule for good; its pending runs are cancelled."""
        with self.db.write() as conn:
            now = self.db.now()
            before = self.store.get(conn, schedule_id, lock=True, restrict_tenant=actor.tenant_id)
            if before.status is ScheduleStatus.CANCELLED:
                return before
            self.runs.cancel_for_schedule(
                conn, schedule_id, now, f"schedule cancelled by {actor.name}"
            )
            after = self.store.update(
                conn,
                schedule_id,
                {"status": ScheduleStatus.CANCELLED.value, "next_run_at": None, "updated_at": now},
                bump_version=False,
            )
            self._record(conn, actor, "schedule.cancel", after, before, after, now)
            self._changed(conn)
        self._on_change()
        return after

    def delete(self, actor: Actor, schedule_id: int) -> None:
        """Delete a schedule; its history stays, its pending runs are cancelled.

        A code-defined schedule can only be deleted once it has been removed from code.
        """
        with self.db.write() as conn:
            now = self.db.now()
            before = self.store.get(conn, schedule_id, lock=True, restrict_tenant=actor.tenant_id)
            if before.source is ScheduleSource.CODE and not before.orphaned:
                raise InvalidTransitionError(
                    f"schedule {before.name!r} is defined in code; remove it from code first",
                    field="source",
                )
            self.runs.cancel_for_schedule(
                conn, schedule_id, now, f"schedule deleted by {actor.name}"
            )
            self.store.delete(conn, schedule_id)
            self._record(conn, actor, "schedule.delete", before, before, None, now)
            self._changed(conn)
        self._on_change()

    def run_now(self, actor: Actor, schedule_id: int, payload: dict[str, Any] | None = None) -> Run:
        """Queue a run of the schedule's task now; ``next_run_at`` is left alone."""
        with self.db.write() as conn:
            now = self.db.now()
            schedule = self.store.get(conn, schedule_id, restrict_tenant=actor.tenant_id)
            if payload is None:
                body = schedule.payload
            else:
                task = self.registry.get(schedule.task)
                body = task.validate_payload(payload, max_bytes=self.max_payload_bytes)
            run, _ = self.runs.enqueue(
                conn,
                {
                    "schedule_id": schedule.id,
                    "task": schedule.task,
                    "payload": body,
                    "status": RunStatus.QUEUED.value,
                    "trigger": RunTrigger.MANUAL.value,
                    "tenant_id": schedule.tenant_id,
                    "run_at": now,
                    "scheduled_for": None,
                    "created_at": now,
                    "created_by": actor.name,
                    **run_defaults(schedule, self.registry),
                },
            )
            self.audit.record(
                conn,
                at=now,
                actor=actor.name,
                source=actor.source,
                action="schedule.run_now",
                target_type="schedule",
                target_id=schedule.id,
                tenant_id=schedule.tenant_id,
                after={"run_id": run.id, "payload": body},
            )
        return run

    # -- code-defined schedules --------------------------------------------------------

    def sync_code(self, declared: builtins.list[CodeSchedule]) -> SyncReport:
        """Bring code-defined schedules in the database in line with the code.

        New ones are created paused unless declared ``enabled=True``; changed ones are
        updated (a timing change recomputes ``next_run_at``); ones no longer declared are
        paused and marked orphaned. The operator's enable toggle is kept across syncs.
        """
        actor = Actor(name="code", source="code")
        report = SyncReport([], [], [], [])
        validated = []
        for item in declared:
            values = schedule_spec.validate_definition(
                {**item.fields, "name": item.name},
                self.registry,
                max_payload_bytes=self.max_payload_bytes,
            )
            validated.append((item, values, schedule_spec.code_hash(values)))
        with self.db.write() as conn:
            self.db.dialect.advisory_lock(conn, SYNC_LOCK_ID)
            now = self.db.now()
            existing = {s.name: s for s in self.store.code_defined(conn)}
            names = set()
            for item, values, digest in validated:
                names.add(item.name)
                current = existing.get(item.name)
                if current is None:
                    other = self.store.find_in_scope(conn, item.name, values["tenant_id"])
                    if other is not None:
                        log.error(
                            "code-defined schedule %r clashes with an API schedule of that name; "
                            "rename one of them",
                            item.name,
                        )
                        report.conflicts.append(item.name)
                        continue
                    self._create_code(conn, actor, item, values, digest, now)
                    report.created.append(item.name)
                    continue
                if self._update_code(conn, actor, current, item, values, digest, now):
                    report.updated.append(item.name)
            for name, current in existing.items():
                if name not in names and not current.orphaned:
                    after = self.store.update(
                        conn,
                        current.id,
                        {
                            **self._withdraw_early(conn, current, now),
                            "orphaned": True,
                            "status": ScheduleStatus.PAUSED.value
                            if current.status is ScheduleStatus.ACTIVE
                            else current.status.value,
                            "pause_note": ORPHANED_NOTE
                            if current.status is ScheduleStatus.ACTIVE
                            else current.pause_note,
                            "paused_at": now
                            if current.status is ScheduleStatus.ACTIVE
                            else current.paused_at,
                            "paused_by": "code"
                            if current.status is ScheduleStatus.ACTIVE
                            else current.paused_by,
                            "updated_at": now,
                        },
                        bump_version=False,
                    )
                    self._record(conn, actor, "schedule.orphan", after, current, after, now)
                    log.warning(
                        "schedule %r is no longer defined in code: paused and marked orphaned", name
                    )
                    report.orphaned.append(name)
            if report.created or report.updated or report.orphaned:
                self._changed(conn)
        self._on_change()
        return report

    def _create_code(
        self,
        conn: Connection,
        actor: Actor,
        item: CodeSchedule,
        values: dict[str, Any],
        digest: str,
        now: datetime,
    ) -> None:
        values = schedule_spec.with_first_fire(values, now, allow_exhausted=True)
        status = ScheduleStatus.ACTIVE if item.enabled else ScheduleStatus.PAUSED
        extra: dict[str, Any] = {}
        if values["next_run_at"] is None and values["trigger"] != TriggerType.MANUAL.value:
            # Declared with no fire time left (an end_at that has passed): nothing to do,
            # but starting the process must not fail because of it.
            status = ScheduleStatus.COMPLETED
        elif not item.enabled:
            extra = {
                "next_run_at": None,
                "pause_note": CODE_PAUSED_NOTE,
                "paused_by": "code",
                "paused_at": now,
            }
        try:
            schedule = self.store.insert(
                conn,
                {
                    **values,
                    **extra,
                    "status": status.value,
                    "source": ScheduleSource.CODE.value,
                    "code_hash": digest,
                    "created_by": "code",
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                    "run_count": 0,
                },
            )
        except DuplicateNameError:
            return
        self._record(conn, actor, "schedule.create", schedule, None, schedule, now)

    def _update_code(
        self,
        conn: Connection,
        actor: Actor,
        current: Schedule,
        item: CodeSchedule,
        values: dict[str, Any],
        digest: str,
        now: datetime,
    ) -> bool:
        changes: dict[str, Any] = {}
        if current.code_hash != digest:
            changes.update(self._withdraw_early(conn, current, now))
            changes.update(values)
            changes["code_hash"] = digest
            if schedule_spec.timing_changed(current, values):
                if schedule_spec.keeps_anchor(current, values):
                    values = {**values, "anchor_at": current.anchor_at}
                fresh = schedule_spec.with_first_fire(values, now, allow_exhausted=True)
                changes["anchor_at"] = fresh["anchor_at"]
                status = current.status
                if status is ScheduleStatus.COMPLETED and fresh["next_run_at"] is not None:
                    status = ScheduleStatus.ACTIVE
                elif (
                    status is ScheduleStatus.ACTIVE
                    and fresh["next_run_at"] is None
                    and values["trigger"] != TriggerType.MANUAL.value
                ):
                    status = ScheduleStatus.COMPLETED
                changes["status"] = status.value
                changes["next_run_at"] = (
                    fresh["next_run_at"] if status is ScheduleStatus.ACTIVE else None
                )
        if current.orphaned:
            changes["orphaned"] = False
            if current.pause_note == ORPHANED_NOTE and item.enabled:
                fresh = schedule_spec.with_first_fire(
                    {**values, "anchor_at": current.anchor_at}
                    if schedule_spec.keeps_anchor(current, values)
                    else values,
                    now,
                    allow_exhausted=True,
                )
                changes.update(
                    status=ScheduleStatus.ACTIVE.value,
                    pause_note=None,
                    paused_by=None,
                    paused_at=None,
                    anchor_at=fresh["anchor_at"],
                    next_run_at=fresh["next_run_at"],
                )
                if fresh["next_run_at"] is None and values["trigger"] != TriggerType.MANUAL.value:
                    changes["status"] = ScheduleStatus.COMPLETED.value
            elif current.pause_note == ORPHANED_NOTE:
                changes["pause_note"] = CODE_PAUSED_NOTE
        if not changes:
            return False
        changes["updated_at"] = now
        after = self.store.update(conn, current.id, changes)
        self._record(conn, actor, "schedule.sync", after, current, after, now)
        return True


_TRIGGER_VALUES = ("cron", "interval", "run_at")


def _merged(before: Schedule, changes: dict[str, Any]) -> dict[str, Any]:
    """The full definition after an edit; a new trigger drops the old trigger's fields."""
    merged = {**schedule_spec.definition_of(before), **changes}
    given = {k for k in _TRIGGER_VALUES if changes.get(k) not in (None, "")}
    if given or "trigger" in changes:
        for other in set(_TRIGGER_VALUES) - given:
            if other not in changes:
                merged[other] = None
        if "trigger" not in changes:
            merged["trigger"] = None
    return merged


def _retimed(before: Schedule, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Runtime columns an edit changes: ``anchor_at``, ``next_run_at`` and ``status``.

    A timing change recomputes the next fire time from now (an interval schedule keeps
    its grid unless its interval or ``start_at`` changed); it revives a ``completed``
    schedule. A ``max_runs`` at or below ``run_count`` completes an active schedule, and
    raising it lets a cron or interval schedule that completed by it carry on.
    """
    status = before.status
    extra: dict[str, Any] = {}
    timing = schedule_spec.timing_changed(before, values)
    if timing:
        if schedule_spec.keeps_anchor(before, values):
            values = {**values, "anchor_at": before.anchor_at}
        fresh = schedule_spec.with_first_fire(values, now)
        extra["anchor_at"] = fresh["anchor_at"]
        if status is ScheduleStatus.COMPLETED:
            status = ScheduleStatus.ACTIVE
            extra["status"] = status.value
        extra["next_run_at"] = fresh["next_run_at"] if status is ScheduleStatus.ACTIVE else None
    max_runs = values.get("max_runs")
    runs_left = max_runs is None or max_runs > before.run_count
    if (
        not timing
        and status is ScheduleStatus.COMPLETED
        and max_runs != before.max_runs
        and runs_left
        and before.trigger in (TriggerType.CRON, TriggerType.INTERVAL)
    ):
        kept = {**values, "anchor_at": before.anchor_at}
        fresh = schedule_spec.with_first_fire(kept, now, allow_exhausted=True)
        if fresh["next_run_at"] is not None:
            status = ScheduleStatus.ACTIVE
            extra.update(status=status.value, next_run_at=fresh["next_run_at"])
    if status is ScheduleStatus.ACTIVE and not runs_left:
        extra.update(status=ScheduleStatus.COMPLETED.value, next_run_at=None)
    return extra


def _pause_end(value: Any, field: str, now: datetime) -> datetime | None:
    """When a pause ends by itself: ``None``, or a moment in the future."""
    if value in (None, ""):
        return None
    until = inputs.moment(value, field)
    if until <= now:
        raise InvalidInputError(f"{field} must be in the future", field=field)
    return until
