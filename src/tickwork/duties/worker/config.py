"""How a worker runs (:class:`WorkerConfig`) and what it counts (:class:`WorkerStats`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tickwork.duties.rescuer import DEFAULT_STALL_TIMEOUT

DEFAULT_CONCURRENCY = 10
DEFAULT_POLL_INTERVAL = 1.0
DEFAULT_HEARTBEAT_INTERVAL = 5.0
DEFAULT_SHUTDOWN_GRACE = 30.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How a worker runs."""

    # Handlers running at once (threads for ``def`` handlers; ``async def`` share one loop).
    concurrency: int = DEFAULT_CONCURRENCY
    # Queues to take runs from; ``None`` means all.
    queues: tuple[str, ...] | None = None
    # Longest sleep when idle; a notification or a run becoming due ends it sooner.
    poll_interval: float = DEFAULT_POLL_INTERVAL
    # Most runs claimed in one statement (default: the concurrency).
    claim_batch: int | None = None
    # How often running runs and this worker's node row are heartbeated.
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    # A run whose heartbeat is older than this belonged to a dead worker.
    stall_timeout: float = DEFAULT_STALL_TIMEOUT
    # How long a stopping worker waits for running handlers before releasing their runs.
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.heartbeat_interval <= 0 or self.poll_interval <= 0:
            raise ValueError("heartbeat_interval and poll_interval must be positive")
        if self.stall_timeout <= self.heartbeat_interval:
            raise ValueError("stall_timeout must be longer than heartbeat_interval")
        if self.shutdown_grace < 0:
            raise ValueError("shutdown_grace must not be negative")

    @property
    def batch(self) -> int:
        """Most runs claimed per statement."""
        return max(1, min(self.claim_batch or self.concurrency, self.concurrency))


@dataclass(slots=True)
class WorkerStats:
    """Counters a worker keeps for tests, metrics and the node row."""

    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    cancelled: int = 0
    refused: int = 0
    lost: int = 0
    released: int = 0
    rescued: int = 0
    durations: list[float] = field(default_factory=list)
