"""Running services in one process: signals, node heartbeats, start-up and clean shutdown.

``tickwork scheduler``, ``tickwork worker``, ``tickwork web`` and the all-in-one
``tickwork run`` all start their services through :class:`ServiceRunner`.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from tickwork.domain.models import NodeKind
from tickwork.services.node_heartbeat import NodeHeartbeat
from tickwork.services.rescuer import StallRescuer
from tickwork.services.scheduler import SchedulerConfig, SchedulerService
from tickwork.services.worker import WorkerConfig, WorkerService

if TYPE_CHECKING:
    from tickwork.app import Tickwork

log = logging.getLogger("tickwork.runner")


@dataclass(slots=True)
class _Service:
    name: str
    kind: NodeKind
    target: Callable[[threading.Event], None]
    on_stop: Callable[[], None]
    info: Callable[[], dict[str, Any]]
    thread: threading.Thread | None = None


class ServiceRunner:
    """Starts services on threads, stops them on SIGTERM/SIGINT or when ``stop`` is set."""

    def __init__(
        self,
        app: Tickwork,
        *,
        stop: threading.Event | None = None,
        heartbeat_interval: float = 5.0,
    ) -> None:
        self.app = app
        self.stop = stop or threading.Event()
        self.heartbeat_interval = heartbeat_interval
        self.services: list[_Service] = []
        self.schedulers: list[SchedulerService] = []
        self.workers: list[WorkerService] = []
        self.ready = threading.Event()

    def add_scheduler(self, config: SchedulerConfig | None = None) -> SchedulerService:
        """Add a scheduler."""
        scheduler = self.app.scheduler(config)
        if scheduler.on_tick is None:
            from tickwork.metrics import metrics_for

            scheduler.on_tick = metrics_for(self.app).observe_tick
        self.schedulers.append(scheduler)
        self.services.append(
            _Service(
                "scheduler",
                NodeKind.SCHEDULER,
                scheduler.run,
                scheduler.wakeup.set,
                lambda: {"poll_interval": scheduler.config.poll_interval},
            )
        )
        return scheduler

    def add_worker(self, config: WorkerConfig | None = None) -> WorkerService:
        """Add a worker."""
        worker = self.app.worker(config)
        if worker.on_finished is None:
            from tickwork.metrics import metrics_for

            worker.on_finished = metrics_for(self.app).observe_finished
        self.workers.append(worker)
        self.services.append(
            _Service("worker", NodeKind.WORKER, worker.run, worker.wakeup.set, worker.info)
        )
        return worker

    def add_web(self, host: str, port: int, asgi_app: Any, **uvicorn_options: Any) -> None:
        """Add the web server (uvicorn) serving ``asgi_app``."""
        import uvicorn

        server = uvicorn.Server(
            uvicorn.Config(asgi_app, host=host, port=port, log_config=None, **uvicorn_options)
        )
        # uvicorn installs signal handlers only on the main thread; this server runs on
        # another, so SIGTERM/SIGINT stay with the runner.

        def serve(stop: threading.Event) -> None:
            server.run()
            stop.set()

        def halt() -> None:
            server.should_exit = True

        self.services.append(
            _Service("web", NodeKind.WEB, serve, halt, lambda: {"host": host, "port": port})
        )

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
        """Start every service and block until they stop."""
        self._install_signals()
        if any(s.kind is NodeKind.SCHEDULER for s in self.services):
            report = self.app.sync_schedules()
            if report.created or report.updated or report.orphaned:
                log.info(
                    "code-defined schedules synced: %d created, %d updated, %d orphaned",
                    len(report.created),
                    len(report.updated),
                    len(report.orphaned),
                )
        self.app.start_listener()
        heartbeats = []
        for kind in dict.fromkeys(s.kind for s in self.services):
            infos = [s.info for s in self.services if s.kind is kind]
            beat = NodeHeartbeat(
                self.app.db,
                kind.value,
                interval=self.heartbeat_interval,
                info=lambda infos=infos: {k: v for i in infos for k, v in i().items()},  # type: ignore[misc]
            )
            beat.start()
            heartbeats.append(beat)
        rescuer_thread = None
        if not self.workers and self.schedulers:
            # Schedulers also rescue stalled runs, so a worker-less deployment still recovers.
            rescuer_thread = threading.Thread(
                target=self._rescue_loop, name="tickwork-rescuer", daemon=True
            )
            rescuer_thread.start()
        for service in self.services:
            service.thread = threading.Thread(
                target=self._guard, args=(service,), name=f"tickwork-{service.name}", daemon=True
            )
            service.thread.start()
        self.ready.set()
        try:
            while not self.stop.wait(0.5):
                pass
        finally:
            self.stop.set()
            for service in self.services:
                service.on_stop()
            for service in self.services:
                if service.thread is not None:
                    service.thread.join()
            for beat in heartbeats:
                beat.stop()
            self.app.close()

    def _guard(self, service: _Service) -> None:
        try:
            service.target(self.stop)
        except Exception:
            log.exception("%s crashed; stopping the process", service.name)
            self.stop.set()

    def _rescue_loop(self) -> None:
        rescuer = StallRescuer(self.app.db)
        while not self.stop.wait(self.heartbeat_interval):
            try:
                rescuer.rescue()
            except Exception as exc:
                log.warning("rescuing stalled runs failed: %s", exc)
