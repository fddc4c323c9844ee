"""What a handler receives about its run: :class:`Context`."""

from __future__ import annotations

import logging
import threading
import traceback
from datetime import UTC, datetime
from typing import Any

MAX_LOG_LINES = 1000
MAX_LOG_LINE_LENGTH = 4000

# Most handlers never log or wait, so a run's log and its cancellation event are created on
# first use (under this lock), keeping a run's start cheap.
_LAZY = threading.Lock()


class RunLog:
    """Log lines of one run: kept with the run (shown in the UI) and sent to Python logging.

    ``ctx.log("message")`` or ``ctx.log.info("message %s", value)``.
    """

    def __init__(self, task: str, run_id: int) -> None:
        self.lines: list[dict[str, Any]] = []
        self.dropped = 0
        self._logger = logging.getLogger(f"tickwork.task.{task}")
        self._run_id = run_id
        self._lock = threading.Lock()

    def _add(self, level: str, message: str, args: tuple[Any, ...]) -> None:
        text = str(message)
        if args:
            try:
                text = text % args
            except (TypeError, ValueError):
                text = " ".join([text, *map(str, args)])
        self._logger.log(
            getattr(logging, level.upper(), logging.INFO), "[run %s] %s", self._run_id, text
        )
        with self._lock:
            if len(self.lines) >= MAX_LOG_LINES:
                self.dropped += 1
                return
            self.lines.append(
                {
                    "ts": datetime.now(UTC).isoformat(),
                    "level": level,
                    "message": text[:MAX_LOG_LINE_LENGTH],
                }
            )

    def __call__(self, message: str, *args: Any) -> None:
        self._add("info", message, args)

    def debug(self, message: str, *args: Any) -> None:
        """Record a debug line."""
        self._add("debug", message, args)

    def info(self, message: str, *args: Any) -> None:
        """Record an info line."""
        self._add("info", message, args)

    def warning(self, message: str, *args: Any) -> None:
        """Record a warning."""
        self._add("warning", message, args)

    def error(self, message: str, *args: Any) -> None:
        """Record an error."""
        self._add("error", message, args)

    def exception(self, message: str, *args: Any) -> None:
        """Record an error with the current exception's traceback."""
        self._add("error", f"{message}\n{traceback.format_exc()}", args)

    def snapshot(self) -> list[dict[str, Any]] | None:
        """The lines so far (plus a note if some were dropped), or ``None`` if there are none."""
        with self._lock:
            if not self.lines:
                return None
            lines = list(self.lines)
            if self.dropped:
                lines.append(
                    {
                        "ts": datetime.now(UTC).isoformat(),
                        "level": "warning",
                        "message": f"{self.dropped} more lines dropped (limit {MAX_LOG_LINES})",
                    }
                )
            return lines


class Context:
    """The run a handler is executing: ids, attempt, timing, a log, and cancellation.

    Example::

        @app.task("report.publish")
        def publish(ctx: Context, config: ReportConfig) -> dict:
            ctx.log.info("publishing %s (attempt %d)", config.report_id, ctx.attempt)
            for page in pages:
                if ctx.cancelled:
                    return {"stopped": True}
                ...
    """

    def __init__(
        self,
        *,
        run_id: int,
        task: str,
        attempt: int,
        max_attempts: int,
        payload: dict[str, Any],
        trigger: str,
        queue: str,
        scheduled_for: datetime | None = None,
        schedule_id: int | None = None,
        tenant_id: str | None = None,
        log: RunLog | None = None,
    ) -> None:
        self.run_id = run_id
        self.task = task
        self.attempt = attempt
        self.max_attempts = max_attempts
        self.payload = payload
        self.trigger = trigger
        self.queue = queue
        self.scheduled_for = scheduled_for
        self.schedule_id = schedule_id
        self.tenant_id = tenant_id
        self._log = log
        self._cancelled = False
        self._event: threading.Event | None = None

    @property
    def log(self) -> RunLog:
        """The run's log: lines are kept with the run and sent to Python logging."""
        if self._log is None:
            with _LAZY:
                if self._log is None:
                    self._log = RunLog(self.task, self.run_id)
        return self._log

    def log_lines(self) -> list[dict[str, Any]] | None:
        """The log lines so far, or ``None`` if the handler logged nothing."""
        return None if self._log is None else self._log.snapshot()

    @property
    def cancelled(self) -> bool:
        """Whether an operator cancelled the run, it timed out, or the worker is giving it up."""
        return self._cancelled

    def wait_cancelled(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking early if the run is cancelled."""
        if self._cancelled:
            return True
        with _LAZY:
            if self._event is None:
                self._event = threading.Event()
                if self._cancelled:
                    self._event.set()
            event = self._event
        return event.wait(timeout)

    def cancel(self) -> None:
        """Signal cancellation to the handler (the worker calls this)."""
        self._cancelled = True
        with _LAZY:
            event = self._event
        if event is not None:
            event.set()

    def __repr__(self) -> str:
        return f"<Context run_id={self.run_id} task={self.task!r} attempt={self.attempt}>"
