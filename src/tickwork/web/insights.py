"""Figures for ``/api/v1/stats``, ``/api/v1/nodes`` and the dashboard, one read each.

Example::

    stats = web_state(request).insights.stats(principal.actor(), hours=24)
    stats.queue.runnable, stats.tasks[0].success_rate
"""

from __future__ import annotations

import builtins
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from tickwork.domain.actor import Actor
from tickwork.domain.errors import InvalidInputError
from tickwork.domain.models import Node
from tickwork.storage.database import Database
from tickwork.storage.insights_store import (
    Distribution,
    HourBucket,
    InsightFilter,
    InsightsStore,
    OutcomeStats,
    QueueDepth,
)
from tickwork.storage.node_store import NodeStore

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
        succeeded = self.runs_by_status.get("succeeded", 0)
        decided = succeeded + self.runs_by_status.get("failed", 0)
        return None if decided == 0 else succeeded / decided


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """A node with how fresh its heartbeat is."""

    node: Node
    heartbeat_age: float
    alive: bool


class Insights:
    """Reads statistics and node status through :class:`InsightsStore`."""

    def __init__(
        self,
        db: Database,
        *,
        stale_after: float = 30.0,
        cache_seconds: float = DEFAULT_STATS_CACHE_SECONDS,
    ) -> None:
        self.db = db
        self.store = InsightsStore(db.dialect)
        self.nodes_store = NodeStore(db.dialect)
        self.stale_after = stale_after
        self.cache_seconds = cache_seconds
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
        with self.db.read() as conn:
            now = self.db.now()
            filters = InsightFilter(
                since=now - timedelta(hours=hours),
                until=None,
                task=task,
                schedule_id=schedule_id,
                restrict_tenant=actor.tenant_id,
            )
            by_status = {
                **self.store.finished_by_status(conn, filters),
                **self.store.current_by_status(conn, filters),
            }
            return Stats(
                since=filters.since,
                until=now,
                runs_by_status=by_status,
                schedules_by_status=self.store.schedules_by_status(conn, actor.tenant_id),
                queue=self.store.queue_depth(conn, now, actor.tenant_id),
                fire_lateness=self.store.fire_lateness(conn, filters),
                start_delay=self.store.start_delay(conn, filters),
                tasks=self.store.by_task(conn, filters, top),
                schedules=self.store.by_schedule(conn, filters, top),
                runs_per_hour=self.store.per_hour(conn, filters),
            )

    def nodes(self, *, include_stopped: bool = True) -> builtins.list[NodeStatus]:
        """Every known process, most recently seen first."""
        with self.db.read() as conn:
            now = self.db.now()
            found = self.nodes_store.list(conn)
        result = []
        for node in found:
            age = max(0.0, (now - node.heartbeat_at).total_seconds())
            if node.stopped_at is not None and not include_stopped:
                continue
            alive = node.stopped_at is None and age <= self.stale_after
            result.append(NodeStatus(node, age, alive))
        return result
