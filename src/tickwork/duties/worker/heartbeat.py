"""Keeping a worker's running runs alive, and noticing runs it no longer holds.

Every ``heartbeat_interval`` (and at once when an operator cancels a running run) the
worker refreshes the heartbeat of the attempts it holds, fenced by their tokens: the
statement also says which of them an operator asked to stop, and which were superseded
(rescued after this worker stalled), whose outcome will not be recorded. Each interval it
also rescues runs of dead workers, so a fleet recovers as long as any worker lives.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from tickwork.domain.errors import DatabaseUnavailableError
from tickwork.duties.rescuer import StallRescuer
from tickwork.duties.wakeup import Wakeup
from tickwork.duties.worker.config import WorkerStats
from tickwork.duties.worker.executor import Executor
from tickwork.duties.worker.inflight import InFlight, InFlightRuns
from tickwork.duties.worker.outcome import Stopped
from tickwork.storage.database import Database
from tickwork.storage.flow_store import FlowStore
from tickwork.storage.run_store import RunStore

log = logging.getLogger("tickwork.worker")


class RunHeartbeat:
    """The heartbeat of a worker's running runs; :meth:`run` is its thread's loop."""

    def __init__(
        self,
        db: Database,
        inflight: InFlightRuns,
        executor: Executor,
        stats: WorkerStats,
        *,
        interval: float,
        stall_timeout: float,
        cancel_wakeup: Wakeup,
        stopping: threading.Event,
        flows: FlowStore | None = None,
    ) -> None:
        self.db = db
        self.inflight = inflight
        self.executor = executor
        self.stats = stats
        self.interval = interval
        self.store = RunStore(db.dialect)
        self.rescuer = StallRescuer(db, stall_timeout, flows=flows)
        # Woken when an operator cancels a running run (PostgreSQL NOTIFY), so handlers are
        # told at once instead of at the next beat.
        self._cancel_wakeup = cancel_wakeup
        self._stopping = stopping
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start beating."""
        self._thread = threading.Thread(target=self.run, name="tickwork-run-heartbeat", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Make the loop look at the stop signal now."""
        self._cancel_wakeup.set()

    def join(self, timeout: float) -> None:
        """Wait for the loop to end."""
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def run(self) -> None:
        """Beat (and rescue every interval) until the worker stops."""
        next_rescue = time.monotonic() + self.interval
        while not self._stopping.is_set():
            self._cancel_wakeup.wait(max(0.0, next_rescue - time.monotonic()))
            if self._stopping.is_set():
                return
            try:
                self.beat()
                if time.monotonic() >= next_rescue:
                    next_rescue = time.monotonic() + self.interval
                    self.stats.rescued += self.rescuer.rescue()
            except DatabaseUnavailableError as exc:
                log.warning("run heartbeat failed (%s)", exc)
            except Exception:
                log.exception("run heartbeat failed")

    @staticmethod
    def _new_log_lines(items: list[InFlight]) -> list[tuple[int, str, list[dict[str, Any]]]]:
        """The logs of running attempts that logged since the last beat (fenced by token),
        so an operator watching a running run sees its lines before it ends."""
        changed = []
        for item in items:
            if item.decided or item.run.token is None:
                continue
            lines = item.ctx.log_lines()
            if lines is not None and len(lines) != item.streamed_lines:
                item.streamed_lines = len(lines)
                changed.append((item.run.id, item.run.token, lines))
        return changed

    def beat(self) -> None:
        """Refresh heartbeats of this worker's runs; act on cancellations and lost runs."""
        items = self.inflight.fenced()
        if not items:
            return
        fences = [(i.run.id, i.run.token) for i in items if i.run.token is not None]
        logs = self._new_log_lines(items)
        with self.db.write(queue=True) as conn:
            owned, cancel = self.store.heartbeat(conn, fences, self.db.now())
            self.store.stream_logs(conn, logs)
        for item in items:
            if item.run.id in cancel:
                self.executor.stop_item(item, Stopped("cancel", "cancelled by an operator"))
            if item.run.id not in owned:
                if not self.inflight.lose(item):
                    continue
                self.stats.lost += 1
                log.warning(
                    "run %s is no longer this worker's (it was rescued after a stall); "
                    "its outcome will not be recorded",
                    item.run.id,
                )
                self.executor.stop_item(item, Stopped("lost", "superseded"))
