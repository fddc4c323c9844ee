"""What the read side returns beyond schedules and runs: history entries, audit entries,
figures, and the one definition of each derived figure (success rate, percentiles)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The outcomes a success rate weighs: skips and cancellations are neither.
DECIDED_STATUSES = ("succeeded", "failed")


def success_rate(succeeded: int, failed: int) -> float | None:
    """Succeeded among runs that succeeded or failed; ``None`` before any did either."""
    decided = succeeded + failed
    return None if decided == 0 else succeeded / decided


def success_rate_of(statuses: Iterable[str]) -> float | None:
    """:func:`success_rate` of the runs that ended with these statuses."""
    counted = list(statuses)
    return success_rate(counted.count("succeeded"), counted.count("failed"))


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0..1) of ``values`` (as the SQL figures
    compute theirs); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A finished run (or recorded skip), as history views, sparklines and charts show it."""

    id: int
    schedule_id: int | None
    status: str
    task: str | None = None
    trigger: str | None = None
    scheduled_for: datetime | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    skip_reason: str | None = None
    details: dict[str, Any] | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, when it ran."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class WindowCount:
    """How many runs of one task ended with one status within one hour."""

    task: str
    status: str
    hour: int  # whole hours since 1970
    count: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log."""

    id: int
    at: datetime
    actor: str
    source: str
    action: str
    target_type: str
    target_id: str | None
    tenant_id: str | None
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class Distribution:
    """Percentiles of a set of durations, in seconds (``None`` when the set is empty)."""

    count: int = 0
    avg: float | None = None
    max: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


@dataclass(frozen=True, slots=True)
class OutcomeStats:
    """How runs of one task or one schedule ended within a window."""

    key: str | int | None
    total: int
    succeeded: int
    failed: int
    cancelled: int
    skipped: int
    duration: Distribution
    name: str | None = None

    @property
    def success_rate(self) -> float | None:
        """See :func:`success_rate`."""
        return success_rate(self.succeeded, self.failed)


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """The queue right now."""

    runnable: int = 0  # queued or retrying, due now
    scheduled: int = 0  # queued or retrying, due later
    running: int = 0
    waiting: int = 0
    oldest_runnable_age: float | None = None  # seconds the longest-due runnable run has waited
    by_queue: dict[str, int] = field(default_factory=dict)  # runnable now, per queue


@dataclass(frozen=True, slots=True)
class HourBucket:
    """Runs that finished within one hour."""

    hour: datetime
    total: int
    succeeded: int
    failed: int
