"""Context function of the dashboard: health of processes, the queue, throughput, failures."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tickwork.domain.actor import Actor
from tickwork.domain.models import FINAL_RUN_STATUSES, Node, NodeKind
from tickwork.domain.queries import RunFilter
from tickwork.domain.read_models import percentile, success_rate
from tickwork.reads.service import Reads
from tickwork.web.ui.dependencies import UiDependencies
from tickwork.web.ui.viewer import Viewer
from tickwork.web.ui.views import alerting

WINDOW_HOURS = 24
NODES_SEEN_WITHIN = timedelta(hours=24)
LIST_LENGTH = 8
# Runs listed under "Running now" (the queue tile counts them all).
RUNNING_LENGTH = 50
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
        return success_rate(self.counts.get("succeeded", 0), self.failed)


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """A process and whether its heartbeat is fresh."""

    node: Node
    age: float
    stale: bool
    lost: bool = False
    # Another live process of its kind does its work (a stale or lost one is then history).
    replaced: bool = False

    @property
    def state(self) -> str:
        """``running``; ``stale`` (no recent heartbeat); ``lost`` (silent past the lost
        threshold: killed, or its machine gone); ``stopped`` (shut down cleanly)."""
        if self.node.stopped_at is not None:
            return "stopped"
        if self.lost:
            return "lost"
        return "stale" if self.stale else "running"

    @property
    def down(self) -> bool:
        """Whether it is an alarm now: stale or lost, and nothing of its kind is running."""
        return self.state in ("stale", "lost") and not self.replaced


def node_health(
    nodes: list[Node], now: datetime, stale_after: float, lost_after: float
) -> list[NodeHealth]:
    """Processes, what is down now first, then live ones, then history (lost or stopped
    processes whose work others do)."""
    found = []
    for n in nodes:
        age = max(0.0, (now - n.heartbeat_at).total_seconds())
        found.append(
            NodeHealth(
                node=n,
                age=age,
                stale=n.stopped_at is None and age > stale_after,
                lost=n.stopped_at is None and (n.lost_at is not None or age > lost_after),
            )
        )
    live = {h.node.kind for h in found if h.state == "running"}
    found = [dataclasses.replace(h, replaced=h.node.kind in live) for h in found]
    kinds = [k.value for k in NodeKind]
    found.sort(
        key=lambda h: (
            0 if h.down else 1 if h.state == "running" else 2,
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


def _finished_counts(
    reads: Reads, actor: Actor, now: datetime
) -> tuple[dict[str, dict[str, int]], dict[int, dict[str, int]], dict[str, int]]:
    """Finished runs of the window: per task, per hour, and per final status."""
    first_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=WINDOW_HOURS - 1)
    since_hour = int((now - timedelta(hours=WINDOW_HOURS)).timestamp() // 3600)
    per_task: dict[str, dict[str, int]] = {}
    buckets: dict[int, dict[str, int]] = {}
    finished: dict[str, int] = dict.fromkeys(sorted(FINAL), 0)
    for item in reads.stats.window_counts(actor, first_hour):
        if item.status not in FINAL:
            continue
        hour = buckets.setdefault(item.hour, {})
        hour[item.status] = hour.get(item.status, 0) + item.count
        if item.hour >= since_hour:
            counts = per_task.setdefault(item.task, {})
            counts[item.status] = counts.get(item.status, 0) + item.count
            finished[item.status] += item.count
    return per_task, buckets, finished


def _task_rows(reads: Reads, actor: Actor, per_task: dict[str, dict[str, int]]) -> list[TaskRow]:
    """The busiest tasks with their duration percentiles, failing ones first."""
    busiest = sorted(per_task, key=lambda t: (-sum(per_task[t].values()), t))[:TASK_ROWS]
    samples = reads.stats.recent_durations(actor, busiest, DURATION_SAMPLE)
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
    return sorted(tasks, key=lambda t: (-t.failed, t.task))


def _process_context(ui: UiDependencies, now: datetime) -> dict[str, Any]:
    """The processes card: each node's state, and what is down now."""
    nodes = ui.app.reads.nodes.seen_since(now - NODES_SEEN_WITHIN)
    health = node_health(nodes, now, ui.settings.stall_timeout, ui.settings.node_lost_after)
    return {
        "nodes": health,
        "stale_count": sum(1 for h in health if h.down),
        "history_count": sum(1 for h in health if h.state in ("stale", "lost") and h.replaced),
        "has_scheduler": any(h.state == "running" and h.node.kind == "scheduler" for h in health),
        "has_worker": any(h.state == "running" and h.node.kind == "worker" for h in health),
        "stale_after": ui.settings.stall_timeout,
    }


def dashboard_context(ui: UiDependencies, viewer: Viewer) -> dict[str, Any]:
    """Everything the dashboard shows."""
    actor = viewer.actor
    now = viewer.now
    reads = ui.app.reads
    per_task, buckets, finished = _finished_counts(reads, actor, now)
    schedule_counts = reads.schedules.counts_by_status(actor)
    failures = reads.runs.list(actor, RunFilter(status=["failed"]), limit=LIST_LENGTH)
    running = reads.runs.list(actor, RunFilter(status=["running"]), limit=RUNNING_LENGTH)
    return {
        **_process_context(ui, now),
        "depth": reads.stats.queue_depth(actor, now),
        "chart": hourly_chart(buckets, now),
        "tasks": _task_rows(reads, actor, per_task),
        "duration_sample": DURATION_SAMPLE,
        "finished": finished,
        "finished_total": sum(finished.values()),
        "success_rate": success_rate(finished.get("succeeded", 0), finished.get("failed", 0)),
        "schedule_counts": schedule_counts,
        "schedule_total": sum(schedule_counts.values()),
        "flow_counts": reads.flows.counts_by_status(actor),
        "upcoming": reads.schedules.upcoming(actor, LIST_LENGTH),
        "failures": failures,
        "running": running,
        "schedule_names": reads.schedules.names(
            actor, [r.schedule_id for r in [*failures, *running]]
        ),
        "overdue": reads.schedules.overdue(actor, now, LIST_LENGTH),
        "incidents": alerting.open_incidents(ui, viewer),
        "window_hours": WINDOW_HOURS,
        "view": viewer,
        "title": "Dashboard",
        "nav_key": "dashboard",
        "notice": None,
    }
