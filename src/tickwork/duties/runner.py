"""Running long-lived duties in one process: threads, signals, node heartbeats, clean shutdown.

A :class:`DutyRunner` knows nothing of the app that built its duties: whoever assembles
a process (``Tickwork.runner`` for a scheduler or a worker, ``tickwork.processes`` for the
CLI's processes with a web server) adds the duties and the steps to take before they start
and after they stop.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from tickwork.domain.models import NodeKind
from tickwork.duties.node_heartbeat import DEFAULT_HEARTBEAT_INTERVAL, NodeHeartbeat
from tickwork.duties.rescuer import StallRescuer
from tickwork.duties.scheduler import Scheduler
from tickwork.duties.worker import Worker
from tickwork.services.alerting.service import AlertingService
from tickwork.storage.database import Database

log = logging.getLogger("tickwork.runner")


@dataclass(slots=True)
class Duty:
    """One long-lived duty of the process, run on a thread of its own.

    ``run`` blocks until the shared stop event is set; ``wake`` makes it notice that event
    at once; ``info`` is what its node heartbeat reports.
    """

    name: str
    # ``None``: a duty of no node kind of its own (it heartbeats with the process's others).
    kind: NodeKind | None
    run: Callable[[threading.Event], None]
    wake: Callable[[], None]
    info: Callable[[], dict[str, Any]]
    thread: threading.Thread | None = None


class DutyRunner:
    """Starts duties on threads, stops them on SIGTERM/SIGINT or when ``stop`` is set.

    ``on_start`` hooks run (in order) before any duty starts, ``on_exit`` hooks after every
    duty stopped and the heartbeats ended, even when a duty crashed.
    """

    def __init__(
        self,
        db: Database,
        *,
        stop: threading.Event | None = None,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
    ) -> None:
        self.db = db
        self.stop = stop or threading.Event()
        self.heartbeat_interval = heartbeat_interval
        self.duties: list[Duty] = []
        self.schedulers: list[Scheduler] = []
        self.workers: list[Worker] = []
        self.on_start: list[Callable[[], None]] = []
        self.on_exit: list[Callable[[], None]] = []
        self.ready = threading.Event()
        # The alerting duty, when one was added (tests wait on its signals).
        self.alerting: AlertingService | None = None

    def add(self, duty: Duty) -> None:
        """Add a duty (before :meth:`run`)."""
        self.duties.append(duty)

    def add_scheduler(self, scheduler: Scheduler) -> Scheduler:
        """Add a scheduler."""
        self.schedulers.append(scheduler)
        self.add(
            Duty(
                "scheduler",
                NodeKind.SCHEDULER,
                scheduler.run,
                scheduler.wakeup.set,
                lambda: {"poll_interval": scheduler.config.poll_interval},
            )
        )
        return scheduler

    def add_worker(self, worker: Worker) -> Worker:
        """Add a worker."""
        self.workers.append(worker)
        self.add(Duty("worker", NodeKind.WORKER, worker.run, worker.wakeup.set, worker.info))
        return worker

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handle(signum: int, _frame: FrameType | None) -> None:
            if self.stop.is_set():
                log.warning("second %s: exiting now", signal.Signals(signum).name)
                raise SystemExit(1)
            log.info("%s received: shutting down gracefully", signal.Signals(signum).name)
            self.stop.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self) -> None:
        """Start every duty and block until they stop."""
        self._install_signals()
        for hook in self.on_start:
            hook()
        heartbeats = []
        for kind in dict.fromkeys(d.kind for d in self.duties if d.kind is not None):
            infos = [d.info for d in self.duties if d.kind is kind]
            beat = NodeHeartbeat(
                self.db,
                kind.value,
                interval=self.heartbeat_interval,
                info=lambda infos=infos: {k: v for i in infos for k, v in i().items()},  # type: ignore[misc]
            )
            beat.start()
            heartbeats.append(beat)
        if not self.workers and self.schedulers:
            # Schedulers also rescue stalled runs, so a worker-less deployment still recovers.
            threading.Thread(target=self._rescue_loop, name="tickwork-rescuer", daemon=True).start()
        for duty in self.duties:
            duty.thread = threading.Thread(
                target=self._guard, args=(duty,), name=f"tickwork-{duty.name}", daemon=True
            )
            duty.thread.start()
        self.ready.set()
        try:
            while not self.stop.wait(0.5):
                pass
        finally:
            self.stop.set()
            for duty in self.duties:
                duty.wake()
            for duty in self.duties:
                if duty.thread is not None:
                    duty.thread.join()
            for beat in heartbeats:
                beat.stop()
            for hook in self.on_exit:
                hook()

    def _guard(self, duty: Duty) -> None:
        try:
            duty.run(self.stop)
        except Exception:
            log.exception("%s crashed; stopping the process", duty.name)
            self.stop.set()

    def _rescue_loop(self) -> None:
        rescuer = StallRescuer(self.db)
        while not self.stop.wait(self.heartbeat_interval):
            try:
                rescuer.rescue()
            except Exception as exc:
                log.warning("rescuing stalled runs failed: %s", exc)
