"""The attempts this process's workers recorded, by outcome: a counter and a histogram of
their durations, kept per recorded batch and turned into Prometheus families at scrape time.

A Prometheus child per attempt (a label lookup, then a locked increment for the counter, the
sum and the bucket) cost a no-op run's worker more than a sixth of its own bookkeeping. Here
a batch takes one lock, and each attempt a subtraction and a bisection.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

if TYPE_CHECKING:
    from tickwork.storage.queue_sql import FinishedRun, Outcome


@dataclass(slots=True)
class _Durations:
    """One outcome's figures: attempts recorded, and the timed ones' buckets and sum."""

    recorded: int = 0
    # Timed attempts per bucket (not cumulative); the last one is +Inf.
    buckets: list[int] = field(default_factory=list)
    total: float = 0.0


class OutcomeMetrics:
    """``tickwork_runs_finished`` and ``tickwork_run_duration_seconds``, by ``status``.

    A collector for a :class:`~prometheus_client.CollectorRegistry`. An attempt's duration
    runs from its start to its outcome, as the worker saw them; an attempt without either
    is counted but not timed.
    """

    def __init__(self, buckets: Sequence[float]) -> None:
        self._bounds = tuple(float(bound) for bound in buckets)
        # As Prometheus' own histogram writes its bounds (1 as "1.0").
        self._labels = [repr(bound) for bound in self._bounds] + ["+Inf"]
        self._by_status: dict[str, _Durations] = {}
        self._lock = threading.Lock()

    def observe(self, finished: Sequence[FinishedRun], outcomes: Sequence[Outcome]) -> None:
        """Count a recorded batch: the runs whose outcomes were accepted, and the outcomes."""
        ended = {outcome.run_id: outcome.finished_at for outcome in outcomes}
        bounds = self._bounds
        with self._lock:
            for run in finished:
                figures = self._by_status.get(run.status)
                if figures is None:
                    figures = self._by_status[run.status] = _Durations(
                        buckets=[0] * (len(bounds) + 1)
                    )
                figures.recorded += 1
                finished_at = ended.get(run.id)
                if finished_at is None or run.started_at is None:
                    continue
                seconds = max(0.0, (finished_at - run.started_at).total_seconds())
                figures.buckets[bisect.bisect_left(bounds, seconds)] += 1
                figures.total += seconds

    def describe(self) -> list[Metric]:
        return []  # the families carry a sample per outcome seen; nothing to pre-register

    def collect(self) -> Iterable[Metric]:
        recorded = CounterMetricFamily(
            "tickwork_runs_finished",
            "Attempts recorded by workers in this process, by outcome.",
            labels=["status"],
        )
        durations = HistogramMetricFamily(
            "tickwork_run_duration_seconds",
            "Duration of attempts executed by workers in this process, by outcome.",
            labels=["status"],
        )
        with self._lock:
            figures = {
                status: (d.recorded, list(d.buckets), d.total)
                for status, d in sorted(self._by_status.items())
            }
        for status, (count, buckets, total) in figures.items():
            recorded.add_metric([status], count)
            if not any(buckets):
                continue
            cumulative, running = [], 0
            for label, in_bucket in zip(self._labels, buckets, strict=True):
                running += in_bucket
                cumulative.append((label, running))
            durations.add_metric([status], cumulative, total)
        return [recorded, durations]
