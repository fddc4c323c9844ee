"""Context functions of the runs list (with live status) and of a run's page."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from tickwork.domain import inputs
from tickwork.domain.errors import ConflictError, InvalidInputError, NotFoundError
from tickwork.domain.models import Run, RunStatus, RunTrigger, Schedule
from tickwork.domain.queries import RunFilter, ScheduleFilter
from tickwork.web.ui.dependencies import UiDependencies
from tickwork.web.ui.viewer import Viewer
from tickwork.web.ui.views import backfill
from tickwork.web.ui.views.query_string import id_param, query_string

PAGE_SIZE = 50
# Schedules whose runs a part of a name selects, at most.
SCHEDULE_MATCHES = 200
NEWER_CAP = 100
LIVE_STATUSES = frozenset({"waiting", "queued", "running", "retrying"})
PENDING_STATUSES = frozenset({"waiting", "queued", "retrying"})
RANGES = {"1h": 1, "24h": 24, "7d": 24 * 7, "30d": 24 * 30}
RANGE_LABELS = {
    "": "Any time",
    "1h": "Last hour",
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "custom": "Between…",
}


@dataclass(frozen=True, slots=True)
class RunQuery:
    """Filters and page of the runs list, from the query string."""

    status: str = ""
    task: str = ""
    schedule: str = ""
    trigger: str = ""
    range: str = ""
    since: str = ""
    until: str = ""
    error: str = ""
    payload: str = ""
    before: int | None = None
    after: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> RunQuery:
        """Parse the query string; nonsense falls back to defaults (times are checked later)."""
        status = params.get("status", "")
        trigger = params.get("trigger", "")
        span = params.get("range", "")
        return cls(
            status=status if status in {s.value for s in RunStatus} else "",
            task=params.get("task", "").strip()[:200],
            schedule=params.get("schedule", "").strip()[:200],
            trigger=trigger if trigger in {t.value for t in RunTrigger} else "",
            range=span if span in RANGE_LABELS else "",
            since=params.get("since", "").strip()[:40],
            until=params.get("until", "").strip()[:40],
            error=params.get("error", "").strip()[:200],
            payload=params.get("payload", "").strip()[:200],
            before=id_param(params.get("before")),
            after=id_param(params.get("after")),
        )

    def link(self, **changes: object) -> str:
        """This list's query string with ``changes`` applied (paging resets unless given)."""
        values: dict[str, object] = {
            "status": self.status,
            "task": self.task,
            "schedule": self.schedule,
            "trigger": self.trigger,
            "range": self.range,
            "since": self.since if self.range == "custom" else "",
            "until": self.until if self.range == "custom" else "",
            "error": self.error,
            "payload": self.payload,
            "before": "",
            "after": "",
        }
        values.update(changes)
        return query_string(values)

    @property
    def filtered(self) -> bool:
        """Whether any filter is set."""
        return bool(
            self.status
            or self.task
            or self.schedule
            or self.trigger
            or self.range
            or self.error
            or self.payload
        )

    @property
    def first_page(self) -> bool:
        """Whether this is the newest page (where new runs would appear)."""
        return self.before is None and self.after is None


def resolve_filters(
    ui: UiDependencies, viewer: Viewer, query: RunQuery
) -> tuple[RunFilter, Schedule | None, dict[str, str]]:
    """The read filter for ``query``, the schedule it names, and errors by field."""
    errors: dict[str, str] = {}
    actor = viewer.actor
    schedule = None
    matching: list[int] | None = None
    if query.schedule:
        try:
            schedule = ui.app.reads.schedules.find(actor, query.schedule)
        except NotFoundError:
            # Part of a name: the runs of every schedule whose name contains it.
            found = ui.app.reads.schedules.list(
                actor, ScheduleFilter(name_part=query.schedule), limit=SCHEDULE_MATCHES
            )
            if found:
                matching = [s.id for s in found]
            else:
                errors["schedule"] = f"no schedule named {inputs.echo(query.schedule)} or like it"
        except ConflictError as exc:
            errors["schedule"] = exc.message
    since: datetime | None = None
    until: datetime | None = None
    if query.range in RANGES:
        since = viewer.now - timedelta(hours=RANGES[query.range])
    elif query.range == "custom":
        try:
            since = inputs.moment(query.since, "since", viewer.zone_name) if query.since else None
        except InvalidInputError as exc:
            errors["since"] = exc.message
        try:
            until = inputs.moment(query.until, "until", viewer.zone_name) if query.until else None
        except InvalidInputError as exc:
            errors["until"] = exc.message
        if since and until and until <= since:
            errors["until"] = "must be after the start"
    filters = RunFilter(
        schedule_id=schedule.id if schedule else (-1 if "schedule" in errors else None),
        schedule_ids=matching,
        task=query.task or None,
        status=[query.status] if query.status else None,
        trigger=query.trigger or None,
        since=since,
        until=until,
        error=query.error or None,
        payload=query.payload or None,
    )
    return filters, schedule, errors


def live_ids(runs: Sequence[Run]) -> list[int]:
    """Runs whose status may still change (the page polls them)."""
    return [r.id for r in runs if r.status.value in LIVE_STATUSES]


def list_context(ui: UiDependencies, viewer: Viewer, query: RunQuery) -> dict[str, Any]:
    """Everything the runs page (and its table partial) shows."""
    filters, schedule, errors = resolve_filters(ui, viewer, query)
    actor = viewer.actor
    found = ui.app.reads.runs.browse(
        actor, filters, before_id=query.before, after_id=query.after, limit=PAGE_SIZE
    )
    if query.after is not None:
        has_newer = len(found) > PAGE_SIZE
        found = found[-PAGE_SIZE:] if has_newer else found
        has_older = True
    else:
        has_older = len(found) > PAGE_SIZE
        found = found[:PAGE_SIZE]
        has_newer = query.before is not None
    names = ui.app.reads.schedules.names(actor, [r.schedule_id for r in found])
    tasks = ui.task_choices(actor)
    return {
        "runs": found,
        "query": query,
        "errors": errors,
        "schedule": schedule,
        "schedule_names": names,
        "has_older": has_older and bool(found),
        "has_newer": has_newer and bool(found),
        "live": live_ids(found),
        "top_id": found[0].id if found else 0,
        "statuses": [s.value for s in RunStatus],
        "triggers": [t.value for t in RunTrigger],
        "tasks": tasks,
        "ranges": RANGE_LABELS,
        "newer_count": 0,
        "view": viewer,
    }


def live_context(
    ui: UiDependencies, viewer: Viewer, query: RunQuery, ids: Sequence[int], top_id: int
) -> dict[str, Any]:
    """The runs that changed, and how many newer runs match, for the page's poller."""
    filters, _, errors = resolve_filters(ui, viewer, query)
    actor = viewer.actor
    refreshed = ui.app.reads.runs.by_ids(actor, ids)
    newer = (
        ui.app.reads.runs.count(actor, filters, cap=NEWER_CAP, after_id=top_id)
        if query.first_page and not errors
        else 0
    )
    names = ui.app.reads.schedules.names(actor, [r.schedule_id for r in refreshed])
    return {
        "runs": refreshed,
        "live": live_ids(refreshed),
        "query": query,
        "top_id": top_id,
        "newer_count": newer,
        "newer_capped": newer >= NEWER_CAP,
        "schedule_names": names,
        "view": viewer,
    }


@dataclass(frozen=True, slots=True)
class TimingRow:
    """One line of a run's timing table."""

    label: str
    at: datetime | None
    note: str = ""


def awaits_next_attempt(run: Run) -> bool:
    """Whether the run went back to the queue for another attempt that has not started:
    its ``started_at`` and ``error`` are still the previous attempt's."""
    return run.status.value in PENDING_STATUSES and run.attempt > 1


def timing_rows(run: Run) -> list[TimingRow]:
    """When the run was created, due, started, heartbeated and finished."""
    rows = [TimingRow("Created", run.created_at, f"by {run.created_by}" if run.created_by else "")]
    if run.scheduled_for is not None:
        rows.append(TimingRow("Fire time", run.scheduled_for))
    if awaits_next_attempt(run):
        rows.append(TimingRow("Due", run.run_at, f"attempt {run.attempt}"))
        return rows
    rows.append(TimingRow("Due", run.run_at))
    if run.started_at is not None:
        rows.append(TimingRow("Started", run.started_at))
    if run.heartbeat_at is not None and run.status is RunStatus.RUNNING:
        rows.append(TimingRow("Last heartbeat", run.heartbeat_at))
    if run.finished_at is not None:
        rows.append(TimingRow("Finished", run.finished_at))
    return rows


def pretty_json(value: Any) -> str | None:
    """JSON for a ``<pre>`` block, or ``None`` for nothing."""
    if value is None or value in ({}, []):
        return None
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def detail_context(ui: UiDependencies, viewer: Viewer, run_id: int) -> dict[str, Any]:
    """Everything a run's page shows."""
    actor = viewer.actor
    run = ui.app.reads.runs.get(actor, run_id)
    attempts = ui.app.reads.runs.attempts(actor, run_id)
    schedule_name = None
    if run.schedule_id is not None:
        schedule_name = ui.app.reads.schedules.names(actor, [run.schedule_id]).get(run.schedule_id)
    task = ui.app.registry.find(run.task)
    waited = None
    if run.started_at is not None and run.run_at is not None and not awaits_next_attempt(run):
        waited = max(0.0, (run.started_at - run.run_at).total_seconds())
    running_for = None
    if run.status is RunStatus.RUNNING and run.started_at is not None:
        running_for = (viewer.now - run.started_at).total_seconds()
    return {
        "run": run,
        "attempts": attempts,
        "schedule_name": schedule_name,
        "task": task,
        "timing": timing_rows(run),
        "waited": waited,
        "running_for": running_for,
        "payload_json": pretty_json(run.payload),
        "result_json": pretty_json(run.result),
        "details_json": pretty_json(run.details),
        "live": run.status.value in LIVE_STATUSES,
        "next_attempt_pending": awaits_next_attempt(run),
        "can_retry": run.status in (RunStatus.FAILED, RunStatus.CANCELLED),
        "can_cancel": run.status.value in LIVE_STATUSES and not run.cancel_requested,
        "missed_link": _missed_link(run, viewer),
        "view": viewer,
        "title": f"Run #{run.id}",
        "nav_key": "runs",
        "notice": None,
    }


def _missed_link(run: Run, viewer: Viewer) -> str | None:
    """For a skipped ``missed`` entry an operator may act on, the backfill page of exactly
    the fire times it stands for."""
    if (
        run.skip_reason != "missed"
        or run.status is not RunStatus.SKIPPED
        or run.schedule_id is None
        or not isinstance(run.details, dict)
        or not viewer.can_operate
    ):
        return None
    return backfill.missed_link(run.schedule_id, run.details, viewer)


def without_paging(query: RunQuery) -> RunQuery:
    """The same filters on the newest page."""
    return replace(query, before=None, after=None)
