"""Context function of the dashboard: health of processes, the queue, throughput, failures."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tickwork.domain.models import FINAL_RUN_STATUSES, Node, NodeKind, Run, Schedule
from tickwork.storage.insights_store import InsightsStore
from tickwork.storage.node_store import NodeStore
from tickwork.storage.run_store import RunFilter
from tickwork.storage.schedule_store import ScheduleStore
from tickwork.web.ui.services import UiServices
from tickwork.web.ui.viewer import Viewer

WINDOW_HOURS = 24
NODES_SEEN_WITHIN = timedelta(hours=24)
LIST_LENGTH = 8
TASK_ROWS = 25
# Percentiles come from each task's latest runs, so they cost the same at any volume.
DURATION_SAMPLE = 200
FINAL = {s.value for s in FINAL_RUN_STATUSES}


@dataclass(slots=True)
class TaskRow:
    """One task's outcomes in the window, and the spread of its recent durations."""

    task: str
    counts: dict[str, int]
    p50: float | None = None
    p95: float | None = None
    sample: int = 0

    @property
    def total(self) -> int:
        """Runs (and recorded skips) that ended in the window."""
        return sum(self.counts.values())

    @property
    def failed(self) -> int:
        """Runs that failed in the window."""
        return self.counts.get("failed", 0)

    @property
    def success_rate(self) -> float | None:
        """Succeeded among runs that succeeded or failed."""
        decided = self.counts.get("succeeded", 0) + self.failed
        return None if decided == 0 else self.counts.get("succeeded", 0) / decided


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """A process and whether its heartbeat is fresh."""

    node: Node
    age: float
    stale: bool

    @property
    def state(self) -> str:
        """``running``, ``stale`` (no recent heartbeat) or ``stopped`` (shut down cleanly)."""
        if self.node.stopped_at is not None:
            return "stopped"
        return "stale" if self.stale else "running"


def node_health(nodes: list[Node], now: datetime, stale_after: float) -> list[NodeHealth]:
    """Processes, live ones first, each marked stale when it stopped heartbeating."""
    found = [
        NodeHealth(
            node=n,
            age=max(0.0, (now - n.heartbeat_at).total_seconds()),
            stale=n.stopped_at is None and (now - n.heartbeat_at).total_seconds() > stale_after,
        )
        for n in nodes
    ]
    order = {"stale": 0, "running": 1, "stopped": 2}
    kinds = [k.value for k in NodeKind]
    found.sort(
        key=lambda h: (
            order[h.state],
            kinds.index(h.node.kind) if h.node.kind in kinds else 9,
            h.age,
        )
    )
    return found


def hourly_chart(buckets: dict[int, dict[str, int]], end: datetime) -> dict[str, Any]:
    """The runs-per-hour chart: one stacked bar per hour, by outcome."""
    last = int(end.timestamp() // 3600)
    hours = [last - WINDOW_HOURS + 1 + i for i in range(WINDOW_HOURS)]
    rows = [buckets.get(h, {}) for h in hours]
    other = [sum(v for k, v in r.items() if k not in ("succeeded", "failed")) for r in rows]
    return {
        "kind": "bars",
        "height": 220,
        "x": [h * 3600 for h in hours],
        "series": [
            {
                "label": "succeeded",
                "color": "--ok",
                "values": [r.get("succeeded", 0) for r in rows],
            },
            {"label": "failed", "color": "--bad", "values": [r.get("failed", 0) for r in rows]},
            {"label": "cancelled or skipped", "color": "--muted", "values": other},
        ],
    }


def dashboard_context(ui: UiServices, viewer: Viewer) -> dict[str, Any]:
    """Everything the dashboard shows."""
    actor = viewer.actor
    tenant = actor.tenant_id
    now = viewer.now
    insights = InsightsStore(ui.app.db.dialect)
    first_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=WINDOW_HOURS - 1)
    since_hour = int((now - timedelta(hours=WINDOW_HOURS)).timestamp() // 3600)
    with ui.app.db.read() as conn:
        nodes = NodeStore(ui.app.db.dialect).list(conn, since=now - NODES_SEEN_WITHIN)
        depth = insights.queue_depth(conn, now, tenant)
        per_task: dict[str, dict[str, int]] = {}
        buckets: dict[int, dict[str, int]] = {}
        finished: dict[str, int] = dict.fromkeys(sorted(FINAL), 0)
        for item in ui.timeline.window_counts(conn, first_hour, tenant):
            if item.status not in FINAL:
                continue
            hour = buckets.setdefault(item.hour, {})
            hour[item.status] = hour.get(item.status, 0) + item.count
            if item.hour >= since_hour:
                counts = per_task.setdefault(item.task, {})
                counts[item.status] = counts.get(item.status, 0) + item.count
                finished[item.status] += item.count
        busiest = sorted(per_task, key=lambda t: (-sum(per_task[t].values()), t))[:TASK_ROWS]
        samples = ui.timeline.recent_durations(conn, busiest, DURATION_SAMPLE, tenant)
        schedule_counts = insights.schedules_by_status(conn, tenant)
        upcoming: list[Schedule] = ui.timeline.upcoming(conn, LIST_LENGTH, tenant)
        failures: list[Run] = ui.app.run_service.store.list(
            conn, RunFilter(status=["failed"], restrict_tenant=tenant), limit=LIST_LENGTH
        )
        overdue = ScheduleStore(ui.app.db.dialect).overdue(
            conn, now, limit=LIST_LENGTH, restrict_tenant=tenant
        )
        names = ui.timeline.schedule_names(
            conn, [r.schedule_id for r in failures if r.schedule_id is not None], tenant
        )
    tasks = [
        TaskRow(
            task,
            per_task[task],
            p50=percentile(samples[task], 0.5),
            p95=percentile(samples[task], 0.95),
            sample=len(samples[task]),
        )
        for task in busiest
    ]
    health = node_health(nodes, now, ui.settings.stall_timeout)
    decided = finished.get("succeeded", 0) + finished.get("failed", 0)
    return {
        "nodes": health,
        "stale_count": sum(1 for h in health if h.state == "stale"),
        "has_scheduler": any(h.state == "running" and h.node.kind == "scheduler" for h in health),
        "has_worker": any(h.state == "running" and h.node.kind == "worker" for h in health),
        "stale_after": ui.settings.stall_timeout,
        "depth": depth,
        "chart": hourly_chart(buckets, now),
        "tasks": sorted(tasks, key=lambda t: (-t.failed, t.task)),
        "duration_sample": DURATION_SAMPLE,
        "finished": finished,
        "finished_total": sum(finished.values()),
        "success_rate": None if decided == 0 else finished.get("succeeded", 0) / decided,
        "schedule_counts": schedule_counts,
        "schedule_total": sum(schedule_counts.values()),
        "upcoming": upcoming,
        "failures": failures,
        "schedule_names": names,
        "overdue": overdue,
        "window_hours": WINDOW_HOURS,
        "view": viewer,
        "title": "Dashboard",
        "nav_key": "dashboard",
        "notice": None,
    }
