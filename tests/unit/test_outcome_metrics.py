"""The workers' outcome metrics expose what Prometheus' own counter and histogram would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from tickwork.domain.models import RunStatus
from tickwork.metrics import DURATION_BUCKETS
from tickwork.outcome_metrics import OutcomeMetrics
from tickwork.storage.queue_sql import FinishedRun, Outcome

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Durations on, between and beyond the bucket bounds; one negative (clocks disagree).
SECONDS = [0.0, 0.01, 0.0100001, 0.3, 1, 2.5, 59.9, 3600, 4000, -1.0]


def _exposition(registry: CollectorRegistry) -> list[str]:
    """The sample lines, without the ``_created`` timestamps a Prometheus child adds."""
    return sorted(
        line
        for line in generate_latest(registry).decode().splitlines()
        if line and not line.startswith("#") and "_created" not in line
    )


def _batch(status: str, first_id: int) -> tuple[list[FinishedRun], list[Outcome]]:
    finished = [FinishedRun(first_id + i, None, status, 1, START, "w") for i in range(len(SECONDS))]
    outcomes = [
        Outcome(first_id + i, "t", RunStatus(status), START + timedelta(seconds=s))
        for i, s in enumerate(SECONDS)
    ]
    # A run whose outcome is not in the batch is counted, not timed; so is one never started.
    finished.append(FinishedRun(first_id + 100, None, status, 1, START, "w"))
    finished.append(FinishedRun(first_id + 101, None, status, 1, None, None))
    outcomes.append(Outcome(first_id + 101, "t", RunStatus(status), START))
    return finished, outcomes


def test_batches_expose_the_samples_prometheus_children_would() -> None:
    ours = CollectorRegistry()
    outcomes = OutcomeMetrics(DURATION_BUCKETS)
    ours.register(outcomes)
    theirs = CollectorRegistry()
    duration = Histogram(
        "tickwork_run_duration_seconds",
        "Duration of attempts executed by workers in this process, by outcome.",
        ["status"],
        buckets=DURATION_BUCKETS,
        registry=theirs,
    )
    recorded = Counter(
        "tickwork_runs_finished",
        "Attempts recorded by workers in this process, by outcome.",
        ["status"],
        registry=theirs,
    )
    for first_id, status in ((1, "succeeded"), (200, "failed"), (400, "succeeded")):
        finished, ended = _batch(status, first_id)
        outcomes.observe(finished, ended)
        at = {o.run_id: o.finished_at for o in ended}
        for run in finished:
            recorded.labels(run.status).inc()
            if run.id in at and run.started_at is not None:
                seconds = (at[run.id] - run.started_at).total_seconds()
                duration.labels(run.status).observe(max(0.0, seconds))
    assert _exposition(ours) == _exposition(theirs)
    assert 'tickwork_runs_finished_total{status="succeeded"} 24.0' in _exposition(ours)


def test_an_outcome_never_timed_is_counted_without_a_histogram() -> None:
    registry = CollectorRegistry()
    outcomes = OutcomeMetrics(DURATION_BUCKETS)
    registry.register(outcomes)
    outcomes.observe([FinishedRun(1, None, "cancelled", 1, None, None)], [])
    assert _exposition(registry) == ['tickwork_runs_finished_total{status="cancelled"} 1.0']
