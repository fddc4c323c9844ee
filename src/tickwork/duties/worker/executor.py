"""Executing claimed runs: each handler on a thread of the pool (``def``) or on the event
loop (``async def``), none inside a database transaction; stopping those that time out or
are cancelled.

A ``def`` handler cannot be killed, so at its deadline the watchdog has the attempt's
outcome decided as a failure; the thread's slot stays taken until the handler returns. An
``async def`` handler is cancelled instead.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import threading
import time
from typing import Any

from tickwork.context import Context
from tickwork.domain.tasks import TaskRegistry
from tickwork.duties.worker.inflight import InFlight, InFlightRuns
from tickwork.duties.worker.outcome import Stopped
from tickwork.duties.worker.recorder import Recorder
from tickwork.duties.worker.threads import DaemonThreadPool, EventLoopThread
from tickwork.storage.queue_sql import ClaimedRun


class Executor:
    """Runs handlers for claimed runs and hands what they did to the recorder."""

    def __init__(
        self,
        registry: TaskRegistry,
        inflight: InFlightRuns,
        recorder: Recorder,
        stopping: threading.Event,
    ) -> None:
        self.registry = registry
        self.inflight = inflight
        self.recorder = recorder
        # Set when the worker stops: the watchdog ends.
        self._stopping = stopping
        self._pool: DaemonThreadPool | None = None
        self._loop: EventLoopThread | None = None
        # Deadlines of running ``def`` handlers, earliest first, for the watchdog.
        self._deadlines: list[tuple[float, int, InFlight]] = []
        self._deadline_seq = 0
        self._deadlines_changed = threading.Condition()
        self._watchdog: threading.Thread | None = None

    def start(self) -> None:
        """Start the handler threads, the event loop and the watchdog."""
        self._pool = DaemonThreadPool(self.inflight.concurrency)
        self._loop = EventLoopThread()
        self._watchdog = threading.Thread(
            target=self._watchdog_loop, name="tickwork-watchdog", daemon=True
        )
        self._watchdog.start()

    def wake(self) -> None:
        """Make the watchdog look at the stop signal now."""
        with self._deadlines_changed:
            self._deadlines_changed.notify_all()

    def join(self, timeout: float) -> None:
        """Wait for the watchdog to end; let idle handler threads and the loop end."""
        if self._watchdog is not None:
            self._watchdog.join(timeout=timeout)
        if self._pool is not None:
            self._pool.shutdown()
        if self._loop is not None:
            self._loop.shutdown()

    # -- dispatching -----------------------------------------------------------------------

    def dispatch(self, runs: list[ClaimedRun]) -> None:
        """Take a slot for each of ``runs`` and start its handler."""
        items = [self._in_flight(run) for run in runs]
        self.inflight.add(items)
        assert self._pool is not None
        assert self._loop is not None
        for item in items:
            run, task = item.run, item.task
            if run.cancel_requested:
                self.stop_item(item, Stopped("cancel", "cancelled by an operator"))
            if task is None:
                self._returned(
                    item,
                    error=LookupError(f"unknown task {run.task!r}: not registered in this worker"),
                )
                continue
            if run.timeout:
                item.deadline = time.monotonic() + run.timeout
            if task.is_async:
                self._loop.submit(self._execute_async(item))
            else:
                if item.deadline is not None:
                    self._watch(item)
                self._pool.submit(functools.partial(self._execute_sync, item))

    def _in_flight(self, run: ClaimedRun) -> InFlight:
        ctx = Context(
            run_id=run.id,
            task=run.task,
            attempt=run.attempt,
            max_attempts=run.max_attempts,
            payload=run.payload,
            trigger=run.trigger,
            queue=run.queue,
            scheduled_for=run.scheduled_for,
            schedule_id=run.schedule_id,
            tenant_id=run.tenant_id,
        )
        return InFlight(run=run, ctx=ctx, task=self.registry.find(run.task))

    def _arguments(self, item: InFlight) -> tuple[Any, ...]:
        assert item.task is not None
        if not item.task.wants_config:
            return (item.ctx,)
        return (item.ctx, item.task.build_argument(item.run.payload))

    # -- executing -------------------------------------------------------------------------

    def _execute_sync(self, item: InFlight) -> None:
        try:
            result = item.task.handler(*self._arguments(item))  # type: ignore[union-attr]
        except BaseException as exc:
            self._returned(item, error=exc)
        else:
            self._returned(item, result=result)

    async def _execute_async(self, item: InFlight) -> None:
        timer: asyncio.TimerHandle | None = None
        try:
            assert item.task is not None
            task = asyncio.ensure_future(item.task.handler(*self._arguments(item)))
            item.async_task = task
            if item.stopped is not None:
                task.cancel()
            if item.deadline is not None:
                timer = asyncio.get_running_loop().call_later(
                    max(0.0, item.deadline - time.monotonic()), self._time_out, item
                )
            result = await task
        except BaseException as exc:
            # A timeout or a cancellation cancels the task; ``item.stopped`` says which.
            self._returned(item, error=exc)
        else:
            self._returned(item, result=result)
        finally:
            if timer is not None:
                timer.cancel()

    def _returned(
        self, item: InFlight, *, result: Any = None, error: BaseException | None = None
    ) -> None:
        """The handler returned (or raised): have the outcome decided and free its slot."""
        self.recorder.decide(item, result=result, error=error)
        self.inflight.returned(item)

    # -- stopping --------------------------------------------------------------------------

    def stop_item(self, item: InFlight, stopped: Stopped) -> None:
        """Tell a handler to stop (timeout, cancellation); for ``async def``, cancel its task."""
        if item.stopped is None:
            item.stopped = stopped
        item.ctx.cancel()
        task = item.async_task
        if task is not None and self._loop is not None:
            self._loop.call(task.cancel)

    def _time_out(self, item: InFlight) -> None:
        timeout = item.run.timeout or 0
        self.stop_item(item, Stopped("timeout", f"timed out after {timeout:g}s"))

    def _watch(self, item: InFlight) -> None:
        assert item.deadline is not None
        with self._deadlines_changed:
            self._deadline_seq += 1
            heapq.heappush(self._deadlines, (item.deadline, self._deadline_seq, item))
            self._deadlines_changed.notify_all()

    def _watchdog_loop(self) -> None:
        while not self._stopping.is_set():
            expired: list[InFlight] = []
            with self._deadlines_changed:
                now = time.monotonic()
                while self._deadlines and self._deadlines[0][0] <= now:
                    expired.append(heapq.heappop(self._deadlines)[2])
                wait = self._deadlines[0][0] - now if self._deadlines else 0.5
                if not expired:
                    self._deadlines_changed.wait(min(wait, 0.5))
            for item in expired:
                if item.decided:
                    continue
                self._time_out(item)
                # The thread cannot be killed; its slot stays taken until the handler
                # returns, but the attempt is recorded as failed now.
                self.recorder.decide(
                    item, error=TimeoutError(f"timed out after {item.run.timeout:g}s")
                )
