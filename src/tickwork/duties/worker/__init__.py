"""The worker: claims runnable runs in batches, executes them, records outcomes in batches.

Its parts, after River's producer, executor and completer:

- :mod:`.claimer` claims up to the number of free slots in one statement, carrying the
  outcomes decided since the last claim in the same transaction;
- :mod:`.executor` runs each handler on a thread of its pool or on its event loop (never
  inside a database transaction), and its watchdog stops attempts that exceed their timeout;
- :mod:`.recorder` decides each attempt's outcome (the one place that does, with
  :mod:`.outcome`) and writes outcomes in batches, each fenced by its claim token, so an
  attempt that was superseded (its worker stalled and the run was rescued) records nothing;
- :mod:`.heartbeat` refreshes the heartbeat of running runs, learns of cancellations and of
  runs this worker lost, and rescues runs of dead workers;
- :mod:`.inflight` is the table of claimed runs and handler slots they all share;
- :mod:`.service` ties them together: :class:`Worker` runs the claim loop and shuts
  down gracefully (waits for handlers, then releases unfinished runs back to the queue).
"""

from tickwork.duties.worker.config import (
    DEFAULT_CONCURRENCY,
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_SHUTDOWN_GRACE,
    WorkerConfig,
    WorkerStats,
)
from tickwork.duties.worker.loop import Worker

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_SHUTDOWN_GRACE",
    "Worker",
    "WorkerConfig",
    "WorkerStats",
]
