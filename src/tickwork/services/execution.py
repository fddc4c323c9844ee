"""Running handlers: a pool of daemon threads for ``def`` handlers, an event loop for ``async def``.

The pools use daemon threads so a handler that never returns cannot keep a stopping worker
alive: after the grace period its run is released back to the queue and the process exits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import queue
import threading
import traceback
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tickwork.context import Context
from tickwork.control import Cancel, Retry
from tickwork.domain.models import RunStatus
from tickwork.domain.retry import RetryPolicy
from tickwork.storage.queue_sql import ClaimedRun, Outcome

log = logging.getLogger("tickwork.worker")

MAX_RESULT_BYTES = 64 * 1024
MAX_ERROR_LENGTH = 2000
MAX_TRACEBACK_LENGTH = 20_000


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


@dataclass(frozen=True, slots=True)
class Stopped:
    """Why the worker stopped waiting for a handler: ``timeout``, ``cancel`` or ``lost``."""

    reason: str
    message: str


def json_result(value: Any, ctx: Context) -> Any:
    """The handler's return value if it is small JSON; otherwise a note saying what it was."""
    if value is None:
        return None
    try:
        text = json.dumps(value, allow_nan=False, default=_default)
    except (TypeError, ValueError) as exc:
        ctx.log.warning("result is not JSON (%s); stored its repr instead", exc)
        return {"repr": repr(value)[:2000]}
    if len(text) > MAX_RESULT_BYTES:
        ctx.log.warning(
            "result is %d bytes (limit %d); stored a truncated repr", len(text), MAX_RESULT_BYTES
        )
        return {"truncated": True, "repr": text[:2000]}
    return json.loads(text)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def describe_error(exc: BaseException) -> str:
    """``Type: message``, bounded in length."""
    message = str(exc)
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:MAX_ERROR_LENGTH]


def format_traceback(exc: BaseException) -> str:
    """The exception's traceback, bounded in length (the end is kept)."""
    text = "".join(traceback.format_exception(exc))
    return text[-MAX_TRACEBACK_LENGTH:]


def outcome_of(
    run: ClaimedRun,
    ctx: Context,
    now: datetime,
    *,
    result: Any = None,
    error: BaseException | None = None,
    stopped: Stopped | None = None,
) -> Outcome:
    """How an attempt ended, from what the handler returned or raised.

    A failure (an exception, a timeout or ``Retry``) is retried while attempts remain;
    ``Cancel`` or an operator's cancellation ends the run as cancelled.
    """
    assert run.token is not None

    def ended(status: RunStatus, **fields: Any) -> Outcome:
        assert run.token is not None
        return Outcome(run.id, run.token, status, now, logs=ctx.log_lines(), key=run.key, **fields)

    if stopped is not None and stopped.reason == "cancel" and error is not None:
        return ended(RunStatus.CANCELLED, error=stopped.message)
    if isinstance(error, Cancel):
        return ended(RunStatus.CANCELLED, error=error.reason)
    if error is None and (stopped is None or stopped.reason != "timeout"):
        # A handler that saw ``ctx.cancelled`` and still returned normally succeeded.
        return ended(RunStatus.SUCCEEDED, result=json_result(result, ctx))
    if stopped is not None and stopped.reason == "timeout":
        message, trace = stopped.message, None
    else:
        assert error is not None
        message = error.reason if isinstance(error, Retry) else describe_error(error)
        trace = None if isinstance(error, Retry) else format_traceback(error)
    if run.attempt < run.max_attempts:
        if isinstance(error, Retry) and error.delay is not None:
            delay = max(0.0, float(error.delay)) if math.isfinite(error.delay) else 0.0
        else:
            delay = RetryPolicy(run.retry_backoff, run.retry_backoff_max).delay(run.attempt)
        return ended(
            RunStatus.RETRYING,
            error=message,
            traceback=trace,
            retry_at=now + timedelta(seconds=delay),
        )
    if run.max_attempts > 1:
        message = f"{message} (attempt {run.attempt} of {run.max_attempts}; no attempts left)"
    return ended(RunStatus.FAILED, error=message, traceback=trace)
