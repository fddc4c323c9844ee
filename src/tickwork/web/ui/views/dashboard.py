"""Context function of the dashboard: health of processes, the queue, throughput, failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tickwork.domain.models import Node, NodeKind, Run, Schedule
from tickwork.storage.insights_store import InsightFilter, InsightsStore, OutcomeStats
from tickwork.storage.node_store import NodeStore
from tickwork.storage.run_store import RunFilter
from tickwork.storage.schedule_store import ScheduleStore
from tickwork.web.ui.services import UiServices
from tickwork.web.ui.viewer import Viewer

WINDOW_HOURS = 24
NODES_SEEN_WITHIN = timedelta(hours=24)
LIST_LENGTH = 8


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


def hourly_chart(buckets: dict[datetime, tuple[int, int, int]], end: datetime) -> dict[str, Any]:
    """The runs-per-hour chart: one stacked bar per hour, by outcome."""
    last = end.replace(minute=0, second=0, microsecond=0)
    hours = [last - timedelta(hours=WINDOW_HOURS - 1 - i) for i in range(WINDOW_HOURS)]
    values = [buckets.get(h, (0, 0, 0)) for h in hours]
    return {
        "kind": "bars",
        "height": 220,
        "x": [h.timestamp() for h in hours],
        "series": [
            {"label": "succeeded", "color": "--ok", "values": [v[0] for v in values]},
            {"label": "failed", "color": "--bad", "values": [v[1] for v in values]},
            {"label": "cancelled or skipped", "color": "--muted", "values": [v[2] for v in values]},
        ],
    }


def dashboard_context(ui: UiServices, viewer: Viewer) -> dict[str, Any]:
    """Everything the dashboard shows."""
    actor = viewer.actor
    tenant = actor.tenant_id
    now = viewer.now
    insights = InsightsStore(ui.app.db.dialect)
    first_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=WINDOW_HOURS - 1)
    window = InsightFilter(since=now - timedelta(hours=WINDOW_HOURS), restrict_tenant=tenant)
    with ui.app.db.read() as conn:
        nodes = NodeStore(ui.app.db.dialect).list(conn, since=now - NODES_SEEN_WITHIN)
        depth = insights.queue_depth(conn, now, tenant)
        per_hour = insights.per_hour(conn, InsightFilter(since=first_hour, restrict_tenant=tenant))
        tasks: list[OutcomeStats] = insights.by_task(conn, window, limit=25)
        finished = insights.finished_by_status(conn, window)
        schedule_counts = insights.schedules_by_status(conn, tenant)
        upcoming: list[Schedule] = ui.timeline.upcoming(conn, LIST_LENGTH, tenant)
        failures: list[Run] = ui.app.run_service.store.list(
            conn, RunFilter(status=["failed"], restrict_tenant=tenant), limit=LIST_LENGTH
        )
        overdue = [
            s
            for s in ScheduleStore(ui.app.db.dialect).overdue(conn, now, limit=LIST_LENGTH)
            if tenant is None or s.tenant_id == tenant
        ]
        names = ui.timeline.schedule_names(
            conn, [r.schedule_id for r in failures if r.schedule_id is not None]
        )
    buckets = {b.hour: (b.succeeded, b.failed, b.total - b.succeeded - b.failed) for b in per_hour}
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
        "tasks": sorted(tasks, key=lambda t: (-(t.failed), str(t.key))),
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
