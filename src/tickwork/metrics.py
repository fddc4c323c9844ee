"""Prometheus metrics: figures read from the database at scrape time, plus histograms of
what the scheduler, workers and web server in this process observed.

A fleet runs schedulers, workers and web servers as separate processes, and only web
servers are scraped, so everything that can be derived from the database (runs by task and
status, queue depth, schedules, node heartbeats) is read from it when ``/metrics`` is
scraped, cached for a few seconds so frequent scrapes stay cheap. Histograms of run
durations, fire lateness and tick durations come from services running in the same
process (``tickwork run``) through their ``on_finished`` and ``on_tick`` hooks. Each app
has one :class:`Metrics` per process, ``app.metrics``.

Example::

    scheduler = app.scheduler()
    scheduler.on_tick = app.metrics.observe_tick
    body = app.metrics.render()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from tickwork.domain.actor import SYSTEM
from tickwork.outcome_metrics import OutcomeMetrics
from tickwork.reads.flows import FlowReads
from tickwork.reads.stats import StatsReads, SystemFigures

if TYPE_CHECKING:
    from tickwork.duties.scheduler import TickReport
    from tickwork.reads import Reads
    from tickwork.storage.queue_sql import FinishedRun, Outcome

log = logging.getLogger("tickwork.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST
DEFAULT_CACHE_SECONDS = 5.0
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
TICK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
MAX_OVERDUE_COUNTED = 10_000
RECENT = timedelta(hours=1)


class _DatabaseCollector:
    """Reads the database's figures at scrape time (at most once per ``cache_seconds``)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._cached: list[Metric] = []
        self._cached_at = float("-inf")
        self._lock = threading.Lock()

    def describe(self) -> list[Metric]:
        return []  # the families depend on the data; nothing to pre-register

    def collect(self) -> Iterable[Metric]:
        stats = self.metrics.stats
        if stats is None:
            return []
        with self._lock:
            if time.monotonic() - self._cached_at >= self.metrics.cache_seconds:
                self._cached = self._read(stats)
                self._cached_at = time.monotonic()
            return list(self._cached)

    def _read(self, stats: StatsReads) -> list[Metric]:
        up = GaugeMetricFamily(
            "tickwork_database_up", "Whether the last scrape could read the database (1 or 0)."
        )
        started = time.perf_counter()
        try:
            families = self._families(stats.system(recent=RECENT, overdue_cap=MAX_OVERDUE_COUNTED))
            if self.metrics.flows is not None:
                families += _flow_families(self.metrics.flows)
        except Exception as exc:
            log.warning("metrics: reading the database failed: %s", exc)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        took = GaugeMetricFamily(
            "tickwork_metrics_database_read_seconds",
            "How long reading the database's figures took at the last scrape.",
        )
        took.add_metric([], time.perf_counter() - started)
        return [up, took, *families]

    def _families(self, figures: SystemFigures) -> list[Metric]:
        unfinished, finished, queue = figures.unfinished, figures.finished, figures.queue
        runs = GaugeMetricFamily(
            "tickwork_runs",
            "Runs waiting, queued, retrying or running now, by task and status.",
            labels=["task", "status"],
        )
        for (task, status), count in sorted(unfinished.items()):
            runs.add_metric([task, status], count)
        recent = GaugeMetricFamily(
            "tickwork_runs_finished_last_hour",
            "Runs that finished (or were recorded as skipped) in the last hour, by task and "
            "status; every process reports the same figures from the database.",
            labels=["task", "status"],
        )
        for (task, status), count in sorted(finished.items()):
            recent.add_metric([task, status], count)
        depth = GaugeMetricFamily(
            "tickwork_queue_depth", "Runs due now and waiting for a worker.", labels=["queue"]
        )
        # A queue with nothing waiting reports 0 rather than no sample, so alert rules and
        # graphs see an empty queue instead of a gap.
        for name, count in sorted({**dict.fromkeys(figures.queues, 0), **queue.by_queue}.items()):
            depth.add_metric([name], count)
        oldest = GaugeMetricFamily(
            "tickwork_queue_oldest_age_seconds",
            "How long the longest-waiting due run has waited (0 when none waits).",
        )
        oldest.add_metric([], queue.oldest_runnable_age or 0.0)
        running = GaugeMetricFamily("tickwork_runs_running", "Runs executing right now.")
        running.add_metric([], queue.running)
        scheduled = GaugeMetricFamily(
            "tickwork_runs_scheduled", "Queued runs whose time has not come yet."
        )
        scheduled.add_metric([], queue.scheduled)
        by_status = GaugeMetricFamily(
            "tickwork_schedules", "Schedules by status.", labels=["status"]
        )
        for status, count in sorted(figures.schedules_by_status.items()):
            by_status.add_metric([status], count)
        late = GaugeMetricFamily(
            "tickwork_schedules_overdue",
            "Active schedules overdue by more than their misfire grace (the dead-man check).",
        )
        late.add_metric([], figures.overdue)
        age = GaugeMetricFamily(
            "tickwork_node_heartbeat_age_seconds",
            "Seconds since each running scheduler, worker and web process last heartbeated.",
            labels=["node", "kind"],
        )
        for node_id, kind, beat in figures.heartbeats:
            seconds = (figures.now - beat) / timedelta(seconds=1)
            age.add_metric([node_id, kind], max(0.0, seconds))
        return [runs, recent, depth, oldest, running, scheduled, by_status, late, age]


def _flow_families(flows: FlowReads) -> list[Metric]:
    """Flows by status, and the durations of flows that ended in the last hour."""
    by_status = GaugeMetricFamily("tickwork_flows", "Flows by status.", labels=["status"])
    for status, count in sorted(flows.counts_by_status(SYSTEM).items()):
        by_status.add_metric([status], count)
    ended: dict[str, list[float]] = {}
    since = flows.db.now() - RECENT
    for status, seconds in flows.durations_since(since):
        ended.setdefault(status, []).append(seconds)
    finished = GaugeMetricFamily(
        "tickwork_flows_finished_last_hour",
        "Flows that ended in the last hour, by status.",
        labels=["status"],
    )
    duration = GaugeMetricFamily(
        "tickwork_flow_duration_seconds",
        "Duration (creation to end) of flows that ended in the last hour: the median, the 95th "
        "percentile and the longest, by status.",
        labels=["status", "quantile"],
    )
    for status, values in sorted(ended.items()):
        finished.add_metric([status], len(values))
        ordered = sorted(values)
        for label, rank in (("0.5", 0.5), ("0.95", 0.95), ("1", 1.0)):
            index = min(len(ordered) - 1, max(0, int(rank * len(ordered) + 0.5) - 1))
            duration.add_metric([status, label], ordered[index])
    return [by_status, finished, duration]


class Metrics:
    """The metrics of one app, in a registry of their own (so apps and tests never clash)."""

    def __init__(
        self, reads: Reads | None = None, *, cache_seconds: float = DEFAULT_CACHE_SECONDS
    ) -> None:
        self.stats = None if reads is None else reads.stats
        self.flows = None if reads is None else reads.flows
        self.cache_seconds = cache_seconds
        self.registry = CollectorRegistry(auto_describe=True)
        self.outcomes = OutcomeMetrics(DURATION_BUCKETS)
        self.registry.register(self.outcomes)
        self.fire_lateness = Histogram(
            "tickwork_fire_lateness_seconds",
            "How long after its fire time a scheduler in this process created each run.",
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.tick_duration = Histogram(
            "tickwork_scheduler_tick_duration_seconds",
            "Duration of scheduler ticks in this process.",
            buckets=TICK_BUCKETS,
            registry=self.registry,
        )
        self.runs_fired = Counter(
            "tickwork_scheduler_runs_created",
            "Runs created by schedulers in this process.",
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "tickwork_http_request_duration_seconds",
            "Duration of HTTP requests served by this process, by route and status.",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_DatabaseCollector(self))

    def observe_tick(self, report: TickReport) -> None:
        """The scheduler's ``on_tick`` hook."""
        self.tick_duration.observe(report.duration)
        if report.runs:
            self.runs_fired.inc(report.runs)
        for lateness in report.lateness:
            self.fire_lateness.observe(max(0.0, lateness))

    def observe_finished(
        self, finished: Sequence[FinishedRun], outcomes: Sequence[Outcome]
    ) -> None:
        """The worker's ``on_finished`` hook."""
        self.outcomes.observe(finished, outcomes)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP request served (``route`` is the path template, never the raw path)."""
        self.http_duration.labels(method, route, str(status)).observe(seconds)

    def render(self) -> bytes:
        """The exposition text a Prometheus scrape gets."""
        return bytes(_generate_latest(self.registry))
