"""How an attempt ended, from what its handler returned or raised (no database here).

:meth:`~tickwork.duties.worker.recorder.Recorder.decide` is the one caller: the one place
a worker decides an attempt's outcome.
"""

from __future__ import annotations

import json
import math
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tickwork.context import Context
from tickwork.control import Cancel, Retry
from tickwork.domain.models import RunStatus
from tickwork.domain.retry import RetryPolicy
from tickwork.storage.queue_sql import ClaimedRun, Outcome

MAX_RESULT_BYTES = 64 * 1024
MAX_ERROR_LENGTH = 2000
MAX_TRACEBACK_LENGTH = 20_000


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
        return Outcome(
            run.id,
            run.token,
            status,
            now,
            logs=ctx.log_lines(),
            key=run.key,
            flow_id=run.flow_id,
            worker_id=run.worker_id,
            **fields,
        )

    if stopped is not None and stopped.reason == "cancel" and error is not None:
        return ended(RunStatus.CANCELLED, error=stopped.message)
    if isinstance(error, Cancel):
        return ended(RunStatus.CANCELLED, error=error.reason)
    if error is None and stopped is not None and stopped.reason == "cancel":
        # Cancellation was asked for and the handler then returned: the run was cancelled,
        # and what it returned (how far it got) is kept.
        return ended(RunStatus.CANCELLED, error=stopped.message, result=json_result(result, ctx))
    if error is None and (stopped is None or stopped.reason != "timeout"):
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
