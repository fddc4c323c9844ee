"""Figures for an actor: ``/api/v1/stats``, the dashboard and ``/metrics``.

Example::

    stats = app.reads.stats.stats(actor, hours=24)
    stats.queue.runnable, stats.tasks[0].success_rate
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tickwork.domain.actor import Actor
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.queries import StatsFilter
from tickwork.domain.read_models import (
    Distribution,
    HourBucket,
    OutcomeStats,
    QueueDepth,
    WindowCount,
    success_rate,
)
from tickwork.storage.database import Database
from tickwork.storage.insights_store import InsightsStore
from tickwork.storage.node_store import NodeStore
from tickwork.storage.schedule_store import ScheduleStore
from tickwork.storage.timeline_store import TimelineStore

MIN_WINDOW_HOURS = 0.1
MAX_WINDOW_HOURS = 24 * 90
DEFAULT_TOP = 50
DEFAULT_STATS_CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Stats:
    """Everything ``/api/v1/stats`` reports for one window ending now."""

    since: datetime
    until: datetime
    runs_by_status: dict[str, int]
    schedules_by_status: dict[str, int]
    queue: QueueDepth
    fire_lateness: Distribution
    start_delay: Distribution
    tasks: list[OutcomeStats]
    schedules: list[OutcomeStats]
    runs_per_hour: list[HourBucket]

    @property
    def success_rate(self) -> float | None:
        """Succeeded among runs that succeeded or failed in the window."""
        return success_rate(
            self.runs_by_status.get("succeeded", 0), self.runs_by_status.get("failed", 0)
        )


@dataclass(frozen=True, slots=True)
class SystemFigures:
    """What ``/metrics`` reports from the database, for every tenant at once."""

    now: datetime
    unfinished: dict[tuple[str, str], int]  # (task, status) -> runs not final now
    finished: dict[tuple[str, str], int]  # (task, status) -> runs finished recently
    queue: QueueDepth
    schedules_by_status: dict[str, int]
    overdue: int
    heartbeats: list[tuple[str, str, datetime]]  # running nodes: id, kind, last heartbeat
    # Queues whose depth is exported even when empty: "default" and those workers take.
    queues: frozenset[str] = frozenset({"default"})


class StatsReads:
    """``app.reads.stats``: counts, rates, percentiles, lag and the queue's depth."""

    def __init__(self, db: Database, *, cache_seconds: float = DEFAULT_STATS_CACHE_SECONDS) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._store = InsightsStore(db.dialect)
        self._timeline = TimelineStore(db.dialect)
        self._schedules = ScheduleStore(db.dialect)
        self._nodes = NodeStore(db.dialect)
        self._cache: dict[tuple[object, ...], tuple[float, Stats]] = {}
        self._lock = threading.Lock()

    def stats(
        self,
        actor: Actor,
        *,
        hours: float = 24.0,
        task: str | None = None,
        schedule_id: int | None = None,
        top: int = DEFAULT_TOP,
    ) -> Stats:
        """Counts, success rates, duration percentiles, lateness, queue depth and hourly
        throughput over the last ``hours``; a tenant-bound actor sees only its tenant's."""
        if not isinstance(hours, int | float) or not MIN_WINDOW_HOURS <= hours <= MAX_WINDOW_HOURS:
            raise InvalidInputError(
                f"must be between {MIN_WINDOW_HOURS:g} and {MAX_WINDOW_HOURS} hours", field="hours"
            )
        # Percentiles over a long window read every run in it; dashboards that several
        # people keep open share one computation per few seconds.
        key = (actor.tenant_id, float(hours), task, schedule_id, top)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
                return cached[1]
        stats = self._compute(actor, hours, task, schedule_id, top)
        with self._lock:
            if len(self._cache) > 1000:
                self._cache.clear()
            self._cache[key] = (time.monotonic(), stats)
        return stats

    def _compute(
        self, actor: Actor, hours: float, task: str | None, schedule_id: int | None, top: int
    ) -> Stats:
        tenant = actor.tenant_id
        with self.db.read() as conn:
            now = self.db.now()
            filters = StatsFilter(
                since=now - timedelta(hours=hours),
                task=task,
                schedule_id=schedule_id,
                restrict_tenant=tenant,
            )
            by_status = {
                **self._store.finished_by_status(conn, filters),
                **self._store.current_by_status(conn, filters),
            }
            return Stats(
                since=filters.since,
                until=now,
                runs_by_status=by_status,
                schedules_by_status=self._schedules.counts_by_status(conn, tenant),
                queue=self._store.queue_depth(conn, now, tenant),
                fire_lateness=self._store.fire_lateness(conn, filters),
                start_delay=self._store.start_delay(conn, filters),
                tasks=self._store.by_task(conn, filters, top),
                schedules=self._store.by_schedule(conn, filters, top),
                runs_per_hour=self._store.per_hour(conn, filters),
            )

    def queue_depth(self, actor: Actor, now: datetime) -> QueueDepth:
        """Runnable, scheduled, running and waiting runs now."""
        with self.db.read() as conn:
            return self._store.queue_depth(conn, now, actor.tenant_id)

    def window_counts(self, actor: Actor, since: datetime) -> list[WindowCount]:
        """Runs finished since ``since``, counted by task, status and hour."""
        with self.db.read() as conn:
            return self._timeline.window_counts(conn, since, actor.tenant_id)

    def recent_durations(
        self, actor: Actor, tasks: Sequence[str], per_task: int = 200
    ) -> dict[str, list[float]]:
        """Durations in seconds of the latest ``per_task`` runs of each task that succeeded
        or failed."""
        with self.db.read() as conn:
            return self._timeline.recent_durations(conn, tasks, per_task, actor.tenant_id)

    def system(self, *, recent: timedelta, overdue_cap: int) -> SystemFigures:
        """The figures ``/metrics`` reports: every tenant's, for the installation's
        operators (runs finished within ``recent``; overdue schedules counted to
        ``overdue_cap``)."""
        with self.db.read() as conn:
            now = self.db.now()
            return SystemFigures(
                now=now,
                unfinished=self._store.unfinished_by_task_and_status(conn),
                finished=self._store.finished_by_task_and_status(conn, now - recent),
                queue=self._store.queue_depth(conn, now),
                schedules_by_status=self._schedules.counts_by_status(conn),
                overdue=len(self._schedules.overdue(conn, now, limit=overdue_cap)),
                heartbeats=self._nodes.running_heartbeats(conn),
                queues=frozenset({"default", *self._nodes.served_queues(conn)}),
            )
