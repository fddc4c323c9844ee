"""Bringing the schedules declared in code (``app.periodic``) into the database.

The definition of a code-defined schedule comes from code and is read-only elsewhere; its
runtime state (status, next run, history) lives in the database, and its status is the
operator's to toggle. Processes that start together may sync at once: a PostgreSQL
advisory lock makes them take turns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.domain import schedule_spec
from tickwork.domain.actor import Actor
from tickwork.domain.errors import DuplicateNameError, TickworkError
from tickwork.domain.models import Schedule, ScheduleSource, ScheduleStatus, TriggerType
from tickwork.domain.schedule_definition import ScheduleDefinition
from tickwork.domain.tasks import TaskRegistry
from tickwork.services.schedule_changes import ScheduleChanges
from tickwork.storage.database import Database
from tickwork.storage.schedule_store import ScheduleStore

log = logging.getLogger("tickwork.schedules")

ORPHANED_NOTE = "removed from code: paused until it is declared again or deleted"
CODE_PAUSED_NOTE = "defined in code with enabled=False: resume it to start"
# Serialises code-schedule syncs of processes starting together (PostgreSQL advisory lock).
SYNC_LOCK_ID = 7_301_947_124
CODE_ACTOR = Actor(name="code", source="code")


@dataclass(frozen=True, slots=True)
class CodeSchedule:
    """A schedule declared in code with ``app.periodic``: its fields are checked at sync."""

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


class CodeSync:
    """Creates, updates and orphans code-defined schedules to match the code."""

    def __init__(
        self,
        db: Database,
        registry: TaskRegistry,
        *,
        max_payload_bytes: int,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.max_payload_bytes = max_payload_bytes
        self.store = ScheduleStore(db.dialect)
        self.changes = ScheduleChanges(db.dialect)
        self._on_change = on_change

    def definition(self, item: CodeSchedule) -> ScheduleDefinition:
        """The validated definition of a declared schedule."""
        return schedule_spec.validate_definition(
            {**item.fields, "name": item.name},
            self.registry,
            max_payload_bytes=self.max_payload_bytes,
        )

    def fingerprints(self, declared: Iterable[CodeSchedule]) -> dict[str, str | None]:
        """Each declared schedule's fingerprint as the code now declares it (``None`` when
        its declaration is invalid), to show drift between code and database."""
        found: dict[str, str | None] = {}
        for item in declared:
            try:
                found[item.name] = self.definition(item).fingerprint()
            except TickworkError:
                found[item.name] = None
        return found

    def sync(self, declared: Iterable[CodeSchedule]) -> SyncReport:
        """Bring code-defined schedules in the database in line with the code.

        New ones are created paused unless declared ``enabled=True``; changed ones are
        updated (a timing change recomputes ``next_run_at``); ones no longer declared are
        paused and marked orphaned. The operator's enable toggle is kept across syncs.
        Nothing is written if any declaration is invalid.
        """
        report = SyncReport([], [], [], [])
        validated = [(item, self.definition(item)) for item in declared]
        with self.db.write() as conn:
            self.db.dialect.advisory_lock(conn, SYNC_LOCK_ID)
            now = self.db.now()
            existing = {s.name: s for s in self.store.code_defined(conn)}
            for item, definition in validated:
                current = existing.get(item.name)
                if current is not None:
                    if self._update(conn, current, item, definition, now):
                        report.updated.append(item.name)
                elif self.store.find_by_name(conn, item.name) is not None:
                    log.error(
                        "code-defined schedule %r clashes with an API schedule of that name; "
                        "rename one of them",
                        item.name,
                    )
                    report.conflicts.append(item.name)
                else:
                    self._create(conn, item, definition, now)
                    report.created.append(item.name)
            names = {item.name for item, _ in validated}
            for name, current in existing.items():
                if name not in names and not current.orphaned:
                    self._orphan(conn, current, now)
                    report.orphaned.append(name)
            if report.created or report.updated or report.orphaned:
                self.changes.notify(conn)
        self._on_change()
        return report

    def _create(
        self, conn: Connection, item: CodeSchedule, definition: ScheduleDefinition, now: datetime
    ) -> None:
        first = definition.first_fire(now, allow_exhausted=True)
        status = ScheduleStatus.ACTIVE if item.enabled else ScheduleStatus.PAUSED
        state: dict[str, Any] = {"anchor_at": first.anchor_at, "next_run_at": first.next_run_at}
        if first.next_run_at is None and definition.trigger is not TriggerType.MANUAL:
            # Declared with no fire time left (an end_at that has passed): nothing to do,
            # but starting the process must not fail because of it.
            status = ScheduleStatus.COMPLETED
        elif not item.enabled:
            state.update(
                next_run_at=None, pause_note=CODE_PAUSED_NOTE, paused_by="code", paused_at=now
            )
        try:
            schedule = self.store.insert(
                conn,
                {
                    **definition.columns(),
                    **state,
                    "status": status.value,
                    "source": ScheduleSource.CODE.value,
                    "code_hash": definition.fingerprint(),
                    "created_by": "code",
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                    "run_count": 0,
                },
            )
        except DuplicateNameError:
            return
        self.changes.record(conn, CODE_ACTOR, "schedule.create", schedule, None, schedule, now)

    def _update(
        self,
        conn: Connection,
        current: Schedule,
        item: CodeSchedule,
        definition: ScheduleDefinition,
        now: datetime,
    ) -> bool:
        changes: dict[str, Any] = {}
        digest = definition.fingerprint()
        if current.code_hash != digest:
            changes.update(self.changes.withdraw_early(conn, current, now))
            changes.update(definition.columns())
            changes["code_hash"] = digest
            if definition.changes_timing_of(current):
                changes.update(_retimed(current, definition, now))
        if current.orphaned:
            changes["orphaned"] = False
            if current.pause_note == ORPHANED_NOTE and item.enabled:
                fresh = definition.first_fire(
                    now, anchor_at=definition.kept_anchor(current), allow_exhausted=True
                )
                changes.update(
                    status=ScheduleStatus.ACTIVE.value,
                    pause_note=None,
                    paused_by=None,
                    paused_at=None,
                    anchor_at=fresh.anchor_at,
                    next_run_at=fresh.next_run_at,
                )
                if fresh.next_run_at is None and definition.trigger is not TriggerType.MANUAL:
                    changes["status"] = ScheduleStatus.COMPLETED.value
            elif current.pause_note == ORPHANED_NOTE:
                changes["pause_note"] = CODE_PAUSED_NOTE
        if not changes:
            return False
        changes["updated_at"] = now
        after = self.store.update(conn, current.id, changes)
        self.changes.record(conn, CODE_ACTOR, "schedule.sync", after, current, after, now)
        return True

    def _orphan(self, conn: Connection, current: Schedule, now: datetime) -> None:
        """Pause a schedule the code no longer declares (unless already stopped) and mark it
        orphaned; it is never deleted and never left firing."""
        changes: dict[str, Any] = {
            **self.changes.withdraw_early(conn, current, now),
            "orphaned": True,
            "updated_at": now,
        }
        if current.status is ScheduleStatus.ACTIVE:
            changes.update(
                status=ScheduleStatus.PAUSED.value,
                pause_note=ORPHANED_NOTE,
                paused_at=now,
                paused_by="code",
            )
        after = self.store.update(conn, current.id, changes, bump_version=False)
        self.changes.record(conn, CODE_ACTOR, "schedule.orphan", after, current, after, now)
        log.warning(
            "schedule %r is no longer defined in code: paused and marked orphaned", current.name
        )


def _retimed(current: Schedule, definition: ScheduleDefinition, now: datetime) -> dict[str, Any]:
    """The runtime columns a timing change in code sets: a new anchor and next fire time;
    a completed schedule with fire times left comes back, an active one without completes."""
    fresh = definition.first_fire(
        now, anchor_at=definition.kept_anchor(current), allow_exhausted=True
    )
    status = current.status
    if status is ScheduleStatus.COMPLETED and fresh.next_run_at is not None:
        status = ScheduleStatus.ACTIVE
    elif (
        status is ScheduleStatus.ACTIVE
        and fresh.next_run_at is None
        and definition.trigger is not TriggerType.MANUAL
    ):
        status = ScheduleStatus.COMPLETED
    return {
        "anchor_at": fresh.anchor_at,
        "status": status.value,
        "next_run_at": fresh.next_run_at if status is ScheduleStatus.ACTIVE else None,
    }
