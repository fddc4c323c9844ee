"""The processes ``tickwork run``, ``scheduler``, ``worker`` and ``web`` start, assembled from
an app and :class:`~tickwork.settings.Settings`.

This module sits above the app and the web layer: it builds a scheduler, a worker and a web
server from an app, so the app never needs the web layer and the CLI never builds the web
application itself.

Example::

    process = assemble(app, Settings(), scheduler=True, web=True)
    process.run()  # until SIGTERM/SIGINT
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from tickwork.app import Tickwork
from tickwork.domain.models import NodeKind
from tickwork.duties.runner import Duty, DutyRunner
from tickwork.duties.scheduler import SchedulerConfig
from tickwork.duties.worker import WorkerConfig
from tickwork.settings import Settings
from tickwork.web import create_app


def worker_config(settings: Settings, concurrency: int, queues: str | None) -> WorkerConfig:
    """A worker's configuration: ``queues`` is comma-separated (``None``: every queue)."""
    return WorkerConfig(
        concurrency=concurrency,
        queues=tuple(q.strip() for q in queues.split(",") if q.strip()) if queues else None,
        poll_interval=settings.poll_interval,
        heartbeat_interval=settings.heartbeat_interval,
        stall_timeout=settings.stall_timeout,
        shutdown_grace=settings.shutdown_grace,
    )


def scheduler_config(settings: Settings) -> SchedulerConfig:
    """A scheduler's configuration."""
    return SchedulerConfig(
        poll_interval=settings.poll_interval, lookahead=settings.scheduler_lookahead
    )


def web_duty(host: str, port: int, asgi_app: Any, **uvicorn_options: Any) -> Duty:
    """The web server (uvicorn) serving ``asgi_app`` as a duty of the process."""
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

    return Duty("web", NodeKind.WEB, serve, halt, lambda: {"host": host, "port": port})


@dataclass(slots=True)
class Process:
    """The duties of one process, ready to run; ``web_app`` is its web application, if any."""

    runner: DutyRunner
    web_app: FastAPI | None = None

    def run(self) -> None:
        """Run every duty until SIGTERM/SIGINT, then stop them cleanly."""
        # Everything loaded so far lives as long as the process: keep it out of the garbage
        # collector's full passes, which otherwise pause a scheduler's burst for tens of ms.
        gc.collect()
        gc.freeze()
        self.runner.run()


def assemble(
    app: Tickwork,
    settings: Settings,
    *,
    scheduler: bool = False,
    worker: WorkerConfig | None = None,
    web: bool = False,
) -> Process:
    """The process that runs a scheduler, a worker (with ``worker``'s configuration) and the
    web server on ``settings.host`` and ``settings.port``, as asked."""
    runner = app.runner(
        scheduler=scheduler_config(settings) if scheduler else None,
        worker=worker,
        heartbeat_interval=settings.heartbeat_interval,
    )
    if not web:
        return Process(runner)
    web_app = create_app(app, settings)
    # Behind an SSO proxy the trusted-proxy check needs the TCP peer's address, which
    # uvicorn would otherwise replace with the client's from X-Forwarded-For.
    proxy_headers = settings.auth != "proxy"
    runner.add(web_duty(settings.host, settings.port, web_app, proxy_headers=proxy_headers))
    return Process(runner, web_app)
