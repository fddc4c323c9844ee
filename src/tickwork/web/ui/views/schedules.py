"""Context functions of the schedules list: one table of code-defined and API schedules."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from tickwork.domain import triggers
from tickwork.domain.actor import Actor
from tickwork.domain.errors import NotFoundError
from tickwork.domain.models import (
    MisfirePolicy,
    Schedule,
    ScheduleSource,
    ScheduleStatus,
    SkipReason,
    TriggerType,
)
from tickwork.domain.queries import ScheduleFilter
from tickwork.domain.read_models import HistoryEntry, success_rate_of
from tickwork.reads.schedules import SORTS, ScheduleReads
from tickwork.web.ui.dependencies import UiDependencies
from tickwork.web.ui.formatting import absolute, relative
from tickwork.web.ui.viewer import Viewer
from tickwork.web.ui.views.query_string import id_param

PAGE_SIZES = (25, 50, 100)
SPARK_RUNS = 16
# How often the list refreshes its rows (statuses, last and next fire) while the tab shows.
LIVE_SECONDS = 3
# A missed-and-skipped entry older than this no longer earns a note under its row.
MISSED_NOTE_HOURS = 72

SORT_LABELS = {
    "name": "Name (A to Z)",
    "-name": "Name (Z to A)",
    "next": "Next run",
    "last": "Last run",
    "-id": "Newest first",
    "id": "Oldest first",
}


@dataclass(frozen=True, slots=True)
class Note:
    """A line under a schedule's row: what its misfire policy did, why it is paused."""

    tone: str
    text: str


@dataclass(slots=True)
class ScheduleRow:
    """One schedule as the table shows it."""

    schedule: Schedule
    words: str
    task_label: str | None
    outcomes: list[HistoryEntry]
    rate: float | None
    notes: list[Note] = field(default_factory=list)
    drift: str | None = None

    @property
    def is_code(self) -> bool:
        """Whether its definition comes from code (read-only here)."""
        return self.schedule.source is ScheduleSource.CODE

    @property
    def can_toggle(self) -> bool:
        """Whether pause/resume applies to its status."""
        return self.schedule.status in (
            ScheduleStatus.ACTIVE,
            ScheduleStatus.PAUSED,
            ScheduleStatus.FAILED,
        )

    @property
    def can_delete(self) -> bool:
        """API schedules, and code-defined ones no longer declared in code."""
        return not self.is_code or self.schedule.orphaned


@dataclass(frozen=True, slots=True)
class ScheduleQuery:
    """The list's filters, order and page, read from the query string."""

    status: str = ""
    task: str = ""
    tenant: str = ""
    text: str = ""
    source: str = ""
    sort: str = "name"
    page: int = 1
    per_page: int = PAGE_SIZES[0]

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ScheduleQuery:
        """Parse the query string; values that make no sense fall back to the defaults."""
        status = params.get("status", "")
        source = params.get("source", "")
        sort = params.get("sort", "name")
        return cls(
            status=status if status in {s.value for s in ScheduleStatus} else "",
            task=params.get("task", "").strip()[:200],
            tenant=params.get("tenant", "").strip()[:100],
            text=params.get("q", "").strip()[:200],
            source=source if source in ("code", "api") else "",
            sort=sort if sort in SORTS else "name",
            page=_positive(params.get("page"), 1),
            per_page=_page_size(params.get("per_page")),
        )

    def filters(self) -> ScheduleFilter:
        """The store's filter."""
        return ScheduleFilter(
            status=self.status or None,
            task=self.task or None,
            tenant_id=self.tenant or None,
            source=self.source or None,
            text=self.text or None,
        )

    def link(self, **changes: object) -> str:
        """The query string of this list with ``changes`` applied (page resets unless given)."""
        values: dict[str, object] = {
            "status": self.status,
            "task": self.task,
            "tenant": self.tenant,
            "q": self.text,
            "source": self.source,
            "sort": self.sort if self.sort != "name" else "",
            "per_page": self.per_page if self.per_page != PAGE_SIZES[0] else "",
            "page": "",
        }
        values.update(changes)
        pairs = [
            (k, str(v)) for k, v in values.items() if v not in ("", None) and (k, v) != ("page", 1)
        ]
        return "?" + urlencode(pairs) if pairs else "?"

    @property
    def filtered(self) -> bool:
        """Whether any filter is set."""
        return bool(self.status or self.task or self.tenant or self.text or self.source)


def _positive(value: str | None, default: int) -> int:
    try:
        number = int(value or default)
    except ValueError:
        return default
    return max(1, min(number, 1_000_000))


def _page_size(value: str | None) -> int:
    try:
        number = int(value or PAGE_SIZES[0])
    except ValueError:
        return PAGE_SIZES[0]
    return number if number in PAGE_SIZES else PAGE_SIZES[0]


def _missed_note(schedule: Schedule, outcome: HistoryEntry, viewer: Viewer) -> Note:
    details = outcome.details or {}
    count = details.get("count", "some")
    exact = details.get("count_is_exact", True)
    first = outcome.scheduled_for
    when = ""
    if first is not None:
        when = f" from {absolute(first, viewer.zone)} ({relative(first, viewer.now)})"
    amount = f"{count}{'' if exact else '+'} fire time{'s' if count != 1 else ''}"
    action = _missed_action(schedule, details, viewer)
    return Note("warn", f"Missed {amount}{when}: they {action}.")


def _missed_action(schedule: Schedule, details: dict[str, Any], viewer: Viewer) -> str:
    """What was done about missed fire times, as the skipped entry recorded it (entries
    written before it recorded the policy say only what they know)."""
    policy = details.get("policy")
    if policy is None:
        return f"were not run (misfire policy now: {schedule.misfire_policy.value})"
    if policy == MisfirePolicy.SKIP.value:
        return "were skipped (policy applied: skip)"
    if policy == MisfirePolicy.RUN_ALL.value:
        return (
            f"were beyond the catch-up cap of {schedule.misfire_cap} and skipped "
            "(misfire policy: run_all)"
        )
    caught_up = details.get("caught_up")
    if isinstance(caught_up, str):
        try:
            at = absolute(datetime.fromisoformat(caught_up), viewer.zone, seconds=True)
        except ValueError:
            at = caught_up[:40]
        return f"were not run; one catch-up run was queued for {at} (misfire policy: run_once)"
    if details.get("newer_ran"):
        return (
            "were not run; no catch-up run was needed, as a newer fire time within the "
            "grace ran (misfire policy: run_once)"
        )
    return "were not run (misfire policy: run_once)"


def notes_for(schedule: Schedule, outcomes: list[HistoryEntry], viewer: Viewer) -> list[Note]:
    """The notes under a schedule's row: paused, missed fire times, never-firing."""
    notes: list[Note] = []
    if schedule.status is ScheduleStatus.PAUSED:
        by = f" by {schedule.paused_by}" if schedule.paused_by else ""
        why = f": “{schedule.pause_note}”" if schedule.pause_note else ""
        until = ""
        if schedule.paused_until is not None:
            until = f" until {absolute(schedule.paused_until, viewer.zone)}"
        resume = ""
        if schedule.trigger.value != "manual" and viewer.can_operate:
            resume = " Resuming here skips the fire times that pass while paused (misfire=skip)."
        notes.append(Note("info", f"Paused{by}{until}{why}.{resume}"))
    problem = triggers.stored_problem(schedule)
    if problem is not None:
        notes.append(
            Note("bad", f"Its stored timing cannot be used ({problem}); edit it or delete it.")
        )
    elif schedule.status is ScheduleStatus.FAILED:
        notes.append(Note("bad", "Its fire times could not be computed; it stopped firing."))
    for outcome in outcomes[:SPARK_RUNS]:
        if outcome.skip_reason != SkipReason.MISSED.value:
            continue
        finished = outcome.finished_at
        if finished is not None and (viewer.now - finished).total_seconds() < (
            MISSED_NOTE_HOURS * 3600
        ):
            notes.append(_missed_note(schedule, outcome, viewer))
        break
    return notes


def drift_of(schedule: Schedule, ui: UiDependencies) -> str | None:
    """How a code-defined schedule differs from its declaration in code, if it does."""
    if schedule.source is not ScheduleSource.CODE:
        return None
    if schedule.orphaned:
        return "no longer declared in code"
    declared = ui.code_hash(schedule.name)
    if schedule.name not in ui.app.code_schedules:
        return None
    if declared is not None and schedule.code_hash and declared != schedule.code_hash:
        return "code declares a different definition; it is applied when the scheduler restarts"
    return None


@lru_cache(maxsize=4096)
def _words(
    trigger: TriggerType,
    cron: str | None,
    interval: float | None,
    run_at: datetime | None,
    timezone: str,
) -> str:
    timing = Schedule(
        id=0,
        name="",
        task="",
        trigger=trigger,
        status=ScheduleStatus.ACTIVE,
        source=ScheduleSource.API,
        cron=cron,
        interval=interval,
        run_at=run_at,
        timezone=timezone,
    )
    return triggers.describe_stored(timing)


def words_for(schedule: Schedule) -> str:
    """The schedule's timing in words (cached: describing a cron expression is not free)."""
    return _words(
        schedule.trigger, schedule.cron, schedule.interval, schedule.run_at, schedule.timezone
    )


def build_rows(
    ui: UiDependencies,
    viewer: Viewer,
    schedules: list[Schedule],
    outcomes: dict[int, list[HistoryEntry]],
) -> list[ScheduleRow]:
    """Rows for these schedules, with their recent outcomes."""
    rows = []
    for stored in schedules:
        recent = outcomes.get(stored.id, [])
        task = ui.app.registry.find(stored.task)
        schedule = stored
        if triggers.stored_problem(stored) is not None:
            # Shown as failed (with the note saying why), whatever the row says.
            schedule = dataclasses.replace(stored, status=ScheduleStatus.FAILED)
        rows.append(
            ScheduleRow(
                schedule=schedule,
                words=words_for(schedule),
                task_label=task.description if task else None,
                outcomes=recent,
                rate=success_rate_of(o.status for o in recent),
                notes=notes_for(schedule, recent, viewer),
                drift=drift_of(schedule, ui),
            )
        )
    return rows


def row_context(ui: UiDependencies, viewer: Viewer, schedule_id: int) -> dict[str, object]:
    """One row, for swapping it in after an action."""
    actor = viewer.actor
    schedule = ui.app.reads.schedules.get(actor, schedule_id)
    outcomes = ui.app.reads.schedules.recent_history(actor, [schedule.id], SPARK_RUNS)
    return {"row": build_rows(ui, viewer, [schedule], outcomes)[0], "view": viewer}


def _page_of(
    reads: ScheduleReads, actor: Actor, query: ScheduleQuery
) -> tuple[list[Schedule], int]:
    """The schedules of the page ``query`` asks for, and how many match its filters."""
    return reads.page(
        actor,
        query.filters(),
        sort=query.sort,
        offset=(query.page - 1) * query.per_page,
        limit=query.per_page,
    )


def list_context(ui: UiDependencies, viewer: Viewer, query: ScheduleQuery) -> dict[str, object]:
    """Everything the schedules page (and its table partial) shows."""
    actor = viewer.actor
    reads = ui.app.reads.schedules
    page_rows, total = _page_of(reads, actor, query)
    outcomes = reads.recent_history(actor, [s.id for s in page_rows], SPARK_RUNS)
    tenants = reads.tenants(actor)
    task_names = ui.task_choices(actor)
    pages = max(1, math.ceil(total / query.per_page))
    rows = build_rows(ui, viewer, page_rows, outcomes)
    return {
        "rows": rows,
        "total": total,
        "query": query,
        "pages": pages,
        "page_sizes": PAGE_SIZES,
        "statuses": [s.value for s in ScheduleStatus],
        "tasks": task_names,
        "tenants": tenants,
        "sorts": SORT_LABELS,
        "first_index": (query.page - 1) * query.per_page + 1 if total else 0,
        "last_index": min(query.page * query.per_page, total),
        "has_missed": any(n.tone == "warn" for r in rows for n in r.notes),
        "view": viewer,
        "now": viewer.now,
        "shown_ids": [s.id for s in page_rows],
        "shown_total": total,
        "list_changed": False,
        "live_seconds": LIVE_SECONDS,
    }


def known_rows(text: str) -> dict[int, str]:
    """The rows a page already shows, as its poll names them (``"id:sig,id:sig"``): the poll
    leaves out those whose fingerprint is unchanged. Anything malformed is ignored."""
    known: dict[int, str] = {}
    for pair in text.split(",")[: PAGE_SIZES[-1]]:
        ident, _, sig = pair.partition(":")
        schedule_id = id_param(ident)
        if schedule_id is not None and sig.isalnum() and len(sig) <= 32:
            known[schedule_id] = sig
    return known


def live_context(
    ui: UiDependencies, viewer: Viewer, query: ScheduleQuery, shown: list[int], shown_total: int
) -> dict[str, object]:
    """What the list's poller swaps in: the rows the page shows (``shown``), fresh, even those
    that no longer match its filters; the ids that no longer exist for this viewer; and
    whether what the filters match changed since the page loaded."""
    actor = viewer.actor
    reads = ui.app.reads.schedules
    page_rows, total = _page_of(reads, actor, query)
    found = {s.id: s for s in page_rows}
    gone: list[int] = []
    for schedule_id in shown:
        if schedule_id not in found:
            try:
                found[schedule_id] = reads.get(actor, schedule_id)
            except NotFoundError:
                gone.append(schedule_id)
    fresh = [found[i] for i in shown if i in found]
    outcomes = reads.recent_history(actor, [s.id for s in fresh], SPARK_RUNS)
    matching = [s.id for s in page_rows]
    return {
        "rows": build_rows(ui, viewer, fresh, outcomes),
        "gone": gone,
        "query": query,
        "total": total,
        "shown_ids": shown,
        "shown_total": shown_total,
        "list_changed": total != shown_total or set(matching) != set(shown),
        "live_seconds": LIVE_SECONDS,
        "view": viewer,
        "now": viewer.now,
    }


def next_run_label(schedule: Schedule, now: datetime) -> str:
    """Why there is no next run, when there is none."""
    if schedule.next_run_at is not None:
        return ""
    if schedule.status is ScheduleStatus.PAUSED:
        return "paused"
    if schedule.trigger.value == "manual":
        return "manual only"
    return schedule.status.value
