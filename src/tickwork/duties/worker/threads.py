"""What handlers run on: a pool of daemon threads for ``def`` handlers, an event loop for
``async def`` ones.

The pools use daemon threads so a handler that never returns cannot keep a stopping worker
alive: after the grace period its run is released back to the queue and the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

log = logging.getLogger("tickwork.worker")


class DaemonThreadPool:
    """A fixed set of daemon threads running submitted callables in order."""

    def __init__(self, size: int, name: str = "tickwork-handler") -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            except BaseException:
                # A job must never take its thread down with it (the pool would shrink).
                log.exception("a job of the handler pool failed")

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` on the next free thread."""
        self._jobs.put(job)

    def shutdown(self) -> None:
        """Let idle threads end; busy ones finish their job first (they are daemons)."""
        for _ in self._threads:
            self._jobs.put(None)


class EventLoopThread:
    """An asyncio event loop on its own daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="tickwork-async", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coroutine: Coroutine[Any, Any, None]) -> Future[None]:
        """Schedule ``coroutine`` on the loop."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def call(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop's thread."""
        self.loop.call_soon_threadsafe(callback)

    def shutdown(self) -> None:
        """Stop the loop."""
        self.loop.call_soon_threadsafe(self.loop.stop)
