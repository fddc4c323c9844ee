"""Operator edits of schedules: validated, audited, one transaction each.

The Python API (``app.schedules``), the REST API, the CLI and the UI all go through this
class, so every change is checked and recorded in the audit log the same way whichever door
it came through. Code-defined schedules are written by
:class:`~tickwork.services.code_sync.CodeSync` instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.domain import inputs, schedule_spec, triggers
from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import (
    InvalidInputError,
    InvalidTransitionError,
    PermissionDeniedError,
    VersionConflictError,
)
from tickwork.domain.flows import Flow
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
from tickwork.domain.schedule_definition import DEFINITION_FIELDS, ScheduleDefinition
from tickwork.domain.tasks import TaskRegistry
from tickwork.services.firing import Firing
from tickwork.services.flow_service import FlowService
from tickwork.services.run_defaults import run_defaults
from tickwork.services.schedule_changes import ScheduleChanges
from tickwork.storage.alert_store import AlertStore
from tickwork.storage.database import Database
from tickwork.storage.schedule_store import ScheduleStore

ResumeChoice = str  # "policy" | "skip" | "run_once" | "run_all"
RESUME_CHOICES = ("policy", "skip", "run_once", "run_all")


def starts_paused(status: Any) -> bool:
    """Whether a new schedule's ``status`` (``active``, the default, or ``paused``) is paused."""
    status = status or ScheduleStatus.ACTIVE.value
    if status not in (ScheduleStatus.ACTIVE.value, ScheduleStatus.PAUSED.value):
        raise InvalidInputError("a new schedule is either active or paused", field="status")
    return bool(status == ScheduleStatus.PAUSED.value)


class ScheduleService:
    """Creates, edits, pauses, resumes, cancels, deletes and runs schedules."""

    def __init__(
        self,
        db: Database,
        registry: TaskRegistry,
        firing: Firing,
        flow_service: FlowService,
        *,
        max_payload_bytes: int,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.firing = firing
        self.store = ScheduleStore(db.dialect)
        self.changes = ScheduleChanges(db.dialect)
        self.runs = self.changes.runs
        self.flows = firing.groups.flows
        self.flow_service = flow_service
        self.audit = self.changes.audit
        self.alerts = AlertStore(db.dialect)
        self.max_payload_bytes = max_payload_bytes
        self._on_change = on_change

    # -- helpers -----------------------------------------------------------------------

    def _check_allowed(
        self, actor: Actor, definition: ScheduleDefinition | Schedule, tenant_id: str | None
    ) -> None:
        """Refuse unless ``actor`` may schedule every task the definition runs (its task,
        or its group's tasks)."""
        for name in schedule_spec.group_tasks(definition, self.registry):
            task = self.registry.find(name)
            if task is not None:
                task.check_allowed(actor, tenant_id)

    def _tenant_for(self, actor: Actor, requested: Any) -> Any:
        if actor.tenant_id is None:
            return requested
        return actor.own_tenant(requested or None)

    # -- changes -----------------------------------------------------------------------

    def validate(self, actor: Actor, fields: Mapping[str, Any]) -> ScheduleDefinition:
        """Check ``fields`` as a new schedule's definition, with ``actor``'s tenant and the
        rule that only admins schedule admin-only tasks."""
        fields = {**fields, "tenant_id": self._tenant_for(actor, fields.get("tenant_id"))}
        definition = schedule_spec.validate_definition(
            fields, self.registry, max_payload_bytes=self.max_payload_bytes
        )
        self._check_allowed(actor, definition, definition.tenant_id)
        with self.db.read() as conn:
            self._check_channels(conn, definition)
        return definition

    def _check_channels(self, conn: Connection, definition: ScheduleDefinition) -> None:
        names = definition.alert_channels or []
        found = {c.name for c in self.alerts.channels_named(conn, names)}
        missing = [n for n in names if n not in found]
        if missing:
            raise InvalidInputError(
                f"no alert channel is called {inputs.echo(missing[0])}", field="alert_channels"
            )

    def create(
        self,
        actor: Actor,
        definition: ScheduleDefinition,
        *,
        paused: bool = False,
        pause_note: str | None = None,
        paused_until: datetime | str | None = None,
    ) -> Schedule:
        """Create a schedule, active or ``paused`` (with an optional note and end)."""
        tenant_id = self._tenant_for(actor, definition.tenant_id)
        if tenant_id != definition.tenant_id:
            definition = dataclasses.replace(definition, tenant_id=tenant_id)
        self._check_allowed(actor, definition, definition.tenant_id)
        with self.db.write() as conn:
            now = self.db.now()
            first = definition.first_fire(now)
            values = {
                **definition.columns(),
                "anchor_at": first.anchor_at,
                "next_run_at": first.next_run_at,
            }
            if paused:
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
            status = ScheduleStatus.PAUSED if paused else ScheduleStatus.ACTIVE
            schedule = self.store.insert(
                conn,
                {
                    **values,
                    "status": status.value,
                    "source": ScheduleSource.API.value,
                    "created_by": actor.name,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                    "run_count": 0,
                },
            )
            self.changes.record(conn, actor, "schedule.create", schedule, None, schedule, now)
            self.changes.notify(conn)
        self._on_change()
        return schedule

    def update(
        self,
        actor: Actor,
        schedule_id: int,
        changes: Mapping[str, Any],
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
            if key not in DEFINITION_FIELDS:
                raise InvalidInputError(
                    f"{inputs.echo(key)} cannot be changed this way", field=str(key)[:100]
                )
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
            definition = schedule_spec.validate_definition(
                _merged(before, changes), self.registry, max_payload_bytes=self.max_payload_bytes
            )
            self._check_allowed(actor, definition, definition.tenant_id)
            if definition.alert_channels != before.alert_channels:
                self._check_channels(conn, definition)
            retimed = _retimed(before, definition, now)
            values = {
                **definition.columns(),
                **self.changes.withdraw_early(
                    conn, before, now, keep_next_run="next_run_at" in retimed
                ),
                **retimed,
                "updated_at": now,
            }
            after = self.store.update(conn, schedule_id, values, expected_version=expected_version)
            self.changes.record(conn, actor, "schedule.update", after, before, after, now)
            self.changes.notify(conn)
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
                    **self.changes.withdraw_early(conn, before, now),
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
            self.changes.record(conn, actor, "schedule.pause", after, before, after, now)
            self.changes.notify(conn)
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
                f"{inputs.echo(misfire)} is not one of {', '.join(RESUME_CHOICES)}", field="misfire"
            )
        with self.db.write() as conn:
            now = self.db.now()
            before = self.store.get(conn, schedule_id, lock=True, restrict_tenant=actor.tenant_id)
            if before.status is ScheduleStatus.ACTIVE:
                return before
            after = self._activate(conn, before, now, misfire)
            self.changes.record(conn, actor, "schedule.resume", after, before, after, now)
            self.changes.notify(conn)
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
            # Failures before the pause do not count towards pausing it again.
            "consecutive_failures": 0,
        }
        fresh_start = before.next_run_at is None or before.status is ScheduleStatus.FAILED
        if fresh_start:
            values["next_run_at"] = triggers.first_fire(before, now)
            if values["next_run_at"] is None and before.trigger.value != "manual":
                values["status"] = ScheduleStatus.COMPLETED.value
        after = self.store.update(conn, before.id, values, bump_version=False)
        # Runs held while it was paused: those past the grace by now are skipped, the
        # others run as soon as a worker claims them.
        grace = timedelta(seconds=before.misfire_grace)
        self.runs.skip_held(conn, before.id, now - grace, now)
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
            self.flows.cancel_for_schedule(
                conn, schedule_id, now, f"schedule cancelled by {actor.name}"
            )
            self.runs.cancel_for_schedule(
                conn, schedule_id, now, f"schedule cancelled by {actor.name}"
            )
            after = self.store.update(
                conn,
                schedule_id,
                {"status": ScheduleStatus.CANCELLED.value, "next_run_at": None, "updated_at": now},
                bump_version=False,
            )
            self.changes.record(conn, actor, "schedule.cancel", after, before, after, now)
            self.changes.notify(conn)
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
            self.flows.cancel_for_schedule(
                conn, schedule_id, now, f"schedule deleted by {actor.name}"
            )
            self.runs.cancel_for_schedule(
                conn, schedule_id, now, f"schedule deleted by {actor.name}"
            )
            self.store.delete(conn, schedule_id)
            self.changes.record(conn, actor, "schedule.delete", before, before, None, now)
            self.changes.notify(conn)
        self._on_change()

    def run_now(
        self, actor: Actor, schedule_id: int, payload: dict[str, Any] | None = None
    ) -> Run | Flow:
        """Queue a run of the schedule's task now (a group schedule: start its flow, a
        :class:`~tickwork.domain.flows.Flow`); ``next_run_at`` is left alone.

        A ``payload`` replacing the schedule's needs an admin, and for an admin-only task
        (or a tenant-scoped one on a schedule without a tenant) an admin bound to no tenant.
        """
        if payload is not None and not actor.role.allows(Role.ADMIN):
            raise PermissionDeniedError(
                "only admins may run a schedule with another payload", field="payload"
            )
        with self.db.read() as conn:
            schedule = self.store.get(conn, schedule_id, restrict_tenant=actor.tenant_id)
        if schedule.group is not None:
            return self.flow_service.run_schedule(actor, schedule, payload)
        with self.db.write() as conn:
            now = self.db.now()
            schedule = self.store.get(conn, schedule_id, restrict_tenant=actor.tenant_id)
            assert schedule.task is not None
            if payload is None:
                body = schedule.payload
            else:
                task = self.registry.get(schedule.task)
                task.check_allowed(actor, schedule.tenant_id)
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


_TRIGGER_VALUES = ("cron", "interval", "run_at")


def _merged(before: Schedule, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The full definition after an edit; a new trigger drops the old trigger's fields."""
    merged = {**ScheduleDefinition.of(before).columns(), **changes}
    # Naming a task drops the group, and naming a group drops the task.
    for chosen, other in (("task", "group"), ("group", "task")):
        if changes.get(chosen) not in (None, "") and other not in changes:
            merged[other] = None
    given = {k for k in _TRIGGER_VALUES if changes.get(k) not in (None, "")}
    if given or "trigger" in changes:
        for other in set(_TRIGGER_VALUES) - given:
            if other not in changes:
                merged[other] = None
        if "trigger" not in changes:
            merged["trigger"] = None
    return merged


def _retimed(before: Schedule, definition: ScheduleDefinition, now: datetime) -> dict[str, Any]:
    """Runtime columns an edit changes: ``anchor_at``, ``next_run_at`` and ``status``.

    A timing change recomputes the next fire time from now (an interval schedule keeps
    its grid unless its interval or ``start_at`` changed); it revives a ``completed``
    schedule. A ``max_runs`` at or below ``run_count`` completes an active schedule, and
    raising it lets a cron or interval schedule that completed by it carry on.
    """
    status = before.status
    extra: dict[str, Any] = {}
    timing = definition.changes_timing_of(before)
    if timing:
        fresh = definition.first_fire(now, anchor_at=definition.kept_anchor(before))
        extra["anchor_at"] = fresh.anchor_at
        if status is ScheduleStatus.COMPLETED:
            status = ScheduleStatus.ACTIVE
            extra["status"] = status.value
        extra["next_run_at"] = fresh.next_run_at if status is ScheduleStatus.ACTIVE else None
    max_runs = definition.max_runs
    runs_left = max_runs is None or max_runs > before.run_count
    if (
        not timing
        and status is ScheduleStatus.COMPLETED
        and max_runs != before.max_runs
        and runs_left
        and before.trigger in (TriggerType.CRON, TriggerType.INTERVAL)
    ):
        fresh = definition.first_fire(now, anchor_at=before.anchor_at, allow_exhausted=True)
        if fresh.next_run_at is not None:
            status = ScheduleStatus.ACTIVE
            extra.update(status=status.value, next_run_at=fresh.next_run_at)
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
