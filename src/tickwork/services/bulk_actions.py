"""Bulk actions: pause, resume, run or delete many schedules, retry or cancel many runs.

The objects are matched in one query (by ids or by a filter, the caller's tenant restriction
in the SQL), then each goes through the same service method a single action uses, in its
own transaction with its own audit entry: one object that cannot change is reported in
``failed`` and the rest still change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from tickwork.domain import bulk, inputs
from tickwork.domain.actor import Actor
from tickwork.domain.bulk import BulkFailure, BulkResult, RunAction, ScheduleAction
from tickwork.domain.errors import InvalidInputError, PermissionDeniedError, TickworkError
from tickwork.domain.flows import Flow
from tickwork.domain.models import (
    PENDING_RUN_STATUSES,
    RunStatus,
    RunTrigger,
    ScheduleSource,
    ScheduleStatus,
)
from tickwork.domain.queries import RunFilter, ScheduleFilter
from tickwork.services.run_service import RunService
from tickwork.services.schedule_service import RESUME_CHOICES, ScheduleService
from tickwork.storage.run_queries import matching_run_ids
from tickwork.storage.schedule_store import matching_schedule_ids

SCHEDULE_FILTER_KEYS = ("status", "task", "group", "tenant_id", "text", "source")
RUN_FILTER_KEYS = (
    "status",
    "task",
    "schedule_id",
    "trigger",
    "tenant_id",
    "queue",
    "since",
    "until",
    "error",
    "payload",
)
# What a schedule already in this status needs no pause or resume for.
_ALREADY = {
    ScheduleAction.PAUSE: ScheduleStatus.PAUSED,
    ScheduleAction.RESUME: ScheduleStatus.ACTIVE,
}


class BulkActions:
    """Applies one action to every schedule or run a request matches."""

    def __init__(self, schedules: ScheduleService, runs: RunService) -> None:
        self.schedules = schedules
        self.runs = runs
        self.db = schedules.db

    # -- schedules ---------------------------------------------------------------------

    def on_schedules(
        self,
        actor: Actor,
        action: Any,
        *,
        ids: Any = None,
        filter: Any = None,
        note: Any = None,
        misfire: Any = "policy",
        dry_run: bool = False,
    ) -> BulkResult:
        """Apply ``action`` (pause, resume, run, delete) to the schedules ``ids`` lists or
        ``filter`` matches; ``note`` goes with a pause, ``misfire`` with a resume. With
        ``dry_run``, only count the matches."""
        chosen: ScheduleAction = bulk.action(action, ScheduleAction)
        _check_role(actor, chosen.needs, chosen.value)
        if note is not None and chosen is not ScheduleAction.PAUSE:
            raise InvalidInputError("a note goes only with pause", field="note")
        if misfire not in RESUME_CHOICES:
            raise InvalidInputError(
                f"misfire is one of {', '.join(RESUME_CHOICES)}", field="misfire"
            )
        found, result = self._match_schedules(actor, ids, filter)
        for schedule_id in [] if dry_run else found:
            try:
                self._apply(actor, chosen, schedule_id, note, misfire, result)
            except TickworkError as exc:
                result.failed.append(BulkFailure(schedule_id, exc.message))
        return result

    def _apply(
        self,
        actor: Actor,
        action: ScheduleAction,
        schedule_id: int,
        note: Any,
        misfire: str,
        result: BulkResult,
    ) -> None:
        service = self.schedules
        if action in _ALREADY and self._status(actor, schedule_id) is _ALREADY[action]:
            return
        if action is ScheduleAction.PAUSE:
            service.pause(actor, schedule_id, note=note)
        elif action is ScheduleAction.RESUME:
            service.resume(actor, schedule_id, misfire=misfire)
        elif action is ScheduleAction.RUN:
            started = service.run_now(actor, schedule_id)
            (result.flow_ids if isinstance(started, Flow) else result.run_ids).append(started.id)
        else:
            service.delete(actor, schedule_id)
        result.changed += 1
        result.changed_ids.append(schedule_id)

    def _status(self, actor: Actor, schedule_id: int) -> ScheduleStatus:
        with self.db.read() as conn:
            schedule = self.schedules.store.get(conn, schedule_id, restrict_tenant=actor.tenant_id)
        return schedule.status

    def _match_schedules(
        self, actor: Actor, ids: Any, filters: Any
    ) -> tuple[list[int], BulkResult]:
        bulk.one_selection(ids, filters)
        result = BulkResult()
        if ids is not None:
            wanted = bulk.bulk_ids(ids)
            with self.db.read() as conn:
                found = matching_schedule_ids(
                    conn,
                    ScheduleFilter(restrict_tenant=actor.tenant_id),
                    ids=wanted,
                    limit=len(wanted),
                )
            _report_missing("schedule", wanted, found, result)
        else:
            query = schedule_filter(filters, actor)
            with self.db.read() as conn:
                found = matching_schedule_ids(conn, query, limit=bulk.MAX_BULK_MATCHES + 1)
            _check_matches(found, "schedules")
        result.matched = len(found)
        return found, result

    # -- runs --------------------------------------------------------------------------

    def on_runs(
        self,
        actor: Actor,
        action: Any,
        *,
        ids: Any = None,
        filter: Any = None,
        dry_run: bool = False,
    ) -> BulkResult:
        """Apply ``action`` (retry, cancel) to the runs ``ids`` lists or ``filter`` matches;
        with ``dry_run``, only count the matches."""
        chosen: RunAction = bulk.action(action, RunAction)
        _check_role(actor, chosen.needs, chosen.value)
        bulk.one_selection(ids, filter)
        result = BulkResult()
        if ids is not None:
            wanted = bulk.bulk_ids(ids)
            with self.db.read() as conn:
                found = matching_run_ids(
                    conn, RunFilter(restrict_tenant=actor.tenant_id), ids=wanted, limit=len(wanted)
                )
            _report_missing("run", wanted, found, result)
        else:
            query = _eligible(run_filter(filter, actor), chosen)
            found = []
            if query.status:
                with self.db.read() as conn:
                    found = matching_run_ids(conn, query, limit=bulk.MAX_BULK_MATCHES + 1)
            _check_matches(found, "runs")
        result.matched = len(found)
        for run_id in [] if dry_run else found:
            try:
                if chosen is RunAction.RETRY:
                    self.runs.retry(actor, run_id)
                else:
                    self.runs.cancel(actor, run_id)
            except TickworkError as exc:
                result.failed.append(BulkFailure(run_id, exc.message))
                continue
            result.changed += 1
            result.changed_ids.append(run_id)
        return result


# The statuses each run action applies to: a filter matches only runs it can change.
_ACTIONABLE = {
    RunAction.RETRY: (RunStatus.FAILED.value, RunStatus.CANCELLED.value),
    RunAction.CANCEL: (*PENDING_RUN_STATUSES, RunStatus.RUNNING.value),
}


def _eligible(query: RunFilter, action: RunAction) -> RunFilter:
    """``query`` narrowed to the statuses ``action`` applies to (none left: no status)."""
    allowed = _ACTIONABLE[action]
    wanted = [s for s in (query.status or allowed) if s in allowed]
    return dataclasses.replace(query, status=wanted)


def _check_role(actor: Actor, needed: Any, action: str) -> None:
    if not actor.role.allows(needed):
        raise PermissionDeniedError(f"{action} needs the {needed.value} role", field="action")


def _report_missing(kind: str, wanted: list[int], found: list[int], result: BulkResult) -> None:
    present = set(found)
    for ident in wanted:
        if ident not in present:
            result.failed.append(BulkFailure(ident, f"{kind} {ident} not found"))


def _check_matches(found: list[int], kind: str) -> None:
    if len(found) > bulk.MAX_BULK_MATCHES:
        raise InvalidInputError(
            f"more than {bulk.MAX_BULK_MATCHES} {kind} match; narrow the filter",
            field="filter",
        )


def schedule_filter(filters: Any, actor: Actor) -> ScheduleFilter:
    """A bulk request's schedule ``filter`` as a query, restricted to ``actor``'s tenant."""
    given: Mapping[str, Any] = bulk.check_filter_keys(filters, SCHEDULE_FILTER_KEYS)
    status = bulk.filter_text(given, "status")
    if status is not None and status not in {s.value for s in ScheduleStatus}:
        raise InvalidInputError(
            f"{status!r} is not one of {', '.join(s.value for s in ScheduleStatus)}",
            field="filter.status",
        )
    return ScheduleFilter(
        status=status,
        task=bulk.filter_text(given, "task"),
        group=bulk.filter_text(given, "group"),
        tenant_id=bulk.filter_text(given, "tenant_id"),
        text=bulk.filter_text(given, "text"),
        source=_source(bulk.filter_text(given, "source")),
        restrict_tenant=actor.tenant_id,
    )


def _source(value: str | None) -> str | None:
    if value is not None and value not in {s.value for s in ScheduleSource}:
        raise InvalidInputError("source is code or api", field="filter.source")
    return value


def run_filter(filters: Any, actor: Actor) -> RunFilter:
    """A bulk request's run ``filter`` as a query, restricted to ``actor``'s tenant."""
    given: Mapping[str, Any] = bulk.check_filter_keys(filters, RUN_FILTER_KEYS)
    statuses = _run_statuses(given.get("status"))
    trigger = bulk.filter_text(given, "trigger")
    if trigger is not None and trigger not in {t.value for t in RunTrigger}:
        raise InvalidInputError(
            f"{trigger!r} is not one of {', '.join(t.value for t in RunTrigger)}",
            field="filter.trigger",
        )
    schedule_id = given.get("schedule_id")
    schedule_id = None if schedule_id in (None, "") else bulk.bulk_ids([schedule_id])[0]
    return RunFilter(
        schedule_id=schedule_id,
        task=bulk.filter_text(given, "task"),
        status=statuses,
        trigger=trigger,
        tenant_id=bulk.filter_text(given, "tenant_id"),
        queue=bulk.filter_text(given, "queue"),
        since=bulk.filter_moment(given, "since"),
        until=bulk.filter_moment(given, "until"),
        error=bulk.filter_text(given, "error"),
        payload=bulk.filter_text(given, "payload"),
        restrict_tenant=actor.tenant_id,
    )


def _run_statuses(value: Any) -> list[str] | None:
    if value in (None, "", []):
        return None
    values = value.split(",") if isinstance(value, str) else value
    if not isinstance(values, list) or len(values) > len(RunStatus):
        raise InvalidInputError("status is a status or a list of statuses", field="filter.status")
    allowed = {s.value for s in RunStatus}
    wanted = []
    for item in values:
        if not isinstance(item, str) or item.strip() not in allowed:
            raise InvalidInputError(
                f"{inputs.echo(item)} is not one of {', '.join(sorted(allowed))}",
                field="filter.status",
            )
        wanted.append(item.strip())
    return wanted
