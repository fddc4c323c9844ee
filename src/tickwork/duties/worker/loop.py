"""The worker: the claim loop that ties a worker's parts together, and shutdown."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from tickwork.domain.errors import DatabaseUnavailableError
from tickwork.domain.tasks import TaskRegistry
from tickwork.duties.wakeup import Wakeup
from tickwork.duties.worker.claimer import Claimer
from tickwork.duties.worker.config import WorkerConfig, WorkerStats
from tickwork.duties.worker.executor import Executor
from tickwork.duties.worker.heartbeat import RunHeartbeat
from tickwork.duties.worker.inflight import InFlight, InFlightRuns
from tickwork.duties.worker.recorder import FinishedCallback, Recorder
from tickwork.storage.database import Database
from tickwork.storage.flow_store import FlowStore
from tickwork.storage.run_store import RunStore

log = logging.getLogger("tickwork.worker")


class Worker:
    """One worker process's duties. ``run(stop)`` blocks until ``stop`` is set."""

    def __init__(
        self,
        db: Database,
        registry: TaskRegistry,
        wakeup: Wakeup,
        config: WorkerConfig | None = None,
        *,
        worker_id: str | None = None,
        on_finished: FinishedCallback | None = None,
        cancel_wakeup: Wakeup | None = None,
        flows: FlowStore | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.wakeup = wakeup
        self.config = config or WorkerConfig()
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self.stats = WorkerStats()
        self._stopping = threading.Event()
        self._inflight = InFlightRuns(self.config.concurrency)
        self._recorder = Recorder(
            db, self._inflight, self.stats, on_finished=on_finished, flows=flows
        )
        self._recorder.wake_claimer = wakeup.set
        self._executor = Executor(registry, self._inflight, self._recorder, self._stopping)
        self._claimer = Claimer(
            db,
            self._recorder,
            wakeup,
            worker_id=self.worker_id,
            queues=self.config.queues,
            poll_interval=self.config.poll_interval,
        )
        self._heartbeat = RunHeartbeat(
            db,
            self._inflight,
            self._executor,
            self.stats,
            interval=self.config.heartbeat_interval,
            stall_timeout=self.config.stall_timeout,
            cancel_wakeup=cancel_wakeup or Wakeup(),
            stopping=self._stopping,
            flows=flows,
        )
        self._store = RunStore(db.dialect)
        # Signals tests and the all-in-one runner wait on.
        self.started = threading.Event()
        self.recorded = self._recorder.recorded

    # -- public ----------------------------------------------------------------------------

    @property
    def on_finished(self) -> FinishedCallback | None:
        """Called with each recorded batch (the runs accepted, and every outcome written)."""
        return self._recorder.on_finished

    @on_finished.setter
    def on_finished(self, callback: FinishedCallback | None) -> None:
        self._recorder.on_finished = callback

    @property
    def running(self) -> int:
        """Handlers currently executing."""
        return self._inflight.busy

    def info(self) -> dict[str, Any]:
        """What the node row shows about this worker."""
        return {
            "worker_id": self.worker_id,
            "concurrency": self.config.concurrency,
            "queues": list(self.config.queues) if self.config.queues else None,
            "running": self.running,
            "claimed": self.stats.claimed,
            "succeeded": self.stats.succeeded,
            "failed": self.stats.failed,
            "retried": self.stats.retried,
            "cancelled": self.stats.cancelled,
            "refused": self.stats.refused,
            "lost": self.stats.lost,
            "released": self.stats.released,
            "rescued": self.stats.rescued,
        }

    def run(self, stop: threading.Event) -> None:
        """Claim and execute runs until ``stop`` is set, then shut down gracefully."""
        self._start()
        self.started.set()
        log.info(
            "worker %s started (concurrency %d, queues %s)",
            self.worker_id,
            self.config.concurrency,
            ",".join(self.config.queues) if self.config.queues else "all",
        )
        try:
            self._claim_loop(stop)
        finally:
            self._shutdown()

    def run_until_idle(self, timeout: float = 30.0) -> None:
        """Process runnable runs until none is left and nothing is executing (for tests)."""
        self._start()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                # An outcome recorded while the claim ran may have released new runs (the
                # next step of a flow), which that claim could not see yet.
                recorded = self._recorder.batches
                _, claimed = self._claim_once()
                if not claimed:
                    if self._inflight.is_empty() and recorded == self._recorder.batches:
                        break
                    self._inflight.wait_for_change(0.01)
        finally:
            self._shutdown()

    def heartbeat(self) -> None:
        """Refresh heartbeats of this worker's runs; act on cancellations and lost runs."""
        self._heartbeat.beat()

    # -- the claim loop --------------------------------------------------------------------

    def _start(self) -> None:
        self._stopping.clear()
        self._claimer.start()
        self._executor.start()
        self._recorder.start()
        self._heartbeat.start()

    def _claim_loop(self, stop: threading.Event) -> None:
        backoff = 0.25
        backlog = False
        while not stop.is_set():
            self._inflight.wait_for_slots(stop, backlog, self.config.batch)
            if stop.is_set():
                break
            try:
                asked, claimed = self._claim_once()
                backoff = 0.25
            except DatabaseUnavailableError as exc:
                log.warning(
                    "worker cannot reach the database (%s); retrying in %.1fs", exc, backoff
                )
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:
                log.exception("claiming runs failed; retrying")
                stop.wait(self.config.poll_interval)
                continue
            # A full claim means more runs are waiting: claim again as slots free up. A
            # claim that found fewer runs than it asked for took every runnable one: another
            # claim now would find nothing and take the CPU from the handlers just started.
            backlog = claimed > 0 and claimed == asked
            if claimed < asked or claimed == 0:
                self._claimer.sleep_until_due()

    def _claim_once(self) -> tuple[int, int]:
        """Claim as many runs as there are free slots (up to a batch); dispatch them.

        Returns how many runs were asked for and how many were claimed.
        """
        limit = min(self._inflight.free(), self.config.batch)
        if limit <= 0:
            return 0, 0
        runs = self._claimer.claim(limit)
        if runs:
            self._executor.dispatch(runs)
            self.stats.claimed += len(runs)
        return limit, len(runs)

    # -- shutdown --------------------------------------------------------------------------

    def _shutdown(self) -> None:
        unfinished = self._inflight.settle(self.config.shutdown_grace)
        if unfinished:
            self._release(unfinished)
        # The recorder writes what is pending before its thread ends.
        self._recorder.stop(timeout=30)
        self._stopping.set()
        self._heartbeat.wake()
        self._executor.wake()
        self._heartbeat.join(timeout=5)
        self._executor.join(timeout=5)
        self.wakeup.close()
        log.info("worker %s stopped", self.worker_id)

    def _release(self, items: list[InFlight]) -> None:
        """Put runs whose handlers did not return within the grace period back in the queue."""
        for item in items:
            item.ctx.cancel()
        fences = [(i.run.id, i.run.token) for i in items if i.run.token is not None]
        try:
            with self.db.write() as conn:
                released = self._store.release(conn, fences, self.db.now())
        except DatabaseUnavailableError as exc:
            log.warning("could not release %d runs (%s); they will be rescued", len(items), exc)
            return
        self.stats.released += released
        self._inflight.drop(items)
        log.warning("released %d unfinished runs back to the queue", released)
