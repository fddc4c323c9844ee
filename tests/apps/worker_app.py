"""An app for tests that run real worker processes.

Handlers append one line per event to the file named by ``TICKWORK_TEST_LOG`` (opened
with ``O_APPEND``, one ``write`` per line, so lines from concurrent processes never mix):
``start <run_id> <attempt> <pid>`` when an attempt begins and ``end <run_id> <attempt>
<pid>`` when its handler returns. Tests read the file to check that no attempt ran twice.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from tickwork import Context, Tickwork

app = Tickwork()


def _seconds(ctx: Context, payload: dict[str, Any]) -> float:
    """``payload["seconds"]``: a number, or a list giving the time of each attempt."""
    value = payload.get("seconds", 0)
    if isinstance(value, list):
        return float(value[min(ctx.attempt, len(value)) - 1])
    return float(value)


def _note(event: str, ctx: Context) -> None:
    path = os.environ.get("TICKWORK_TEST_LOG")
    if not path:
        return
    line = f"{event} {ctx.run_id} {ctx.attempt} {os.getpid()}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@app.task("test.sleep", max_attempts=20)
def sleep(ctx: Context, payload: dict[str, Any]) -> dict[str, Any]:
    """Record the attempt, sleep (ignoring cancellation), record its end, return."""
    _note("start", ctx)
    time.sleep(_seconds(ctx, payload))
    _note("end", ctx)
    return {"run_id": ctx.run_id, "attempt": ctx.attempt}


@app.task("test.sleep_async", max_attempts=20)
async def sleep_async(ctx: Context, payload: dict[str, Any]) -> dict[str, Any]:
    """The ``async def`` twin of ``test.sleep``."""
    _note("start", ctx)
    await asyncio.sleep(_seconds(ctx, payload))
    _note("end", ctx)
    return {"run_id": ctx.run_id, "attempt": ctx.attempt}


def read_log(path: str) -> list[tuple[str, int, int, int]]:
    """The events of a test log as ``(event, run_id, attempt, pid)``."""
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        rows = [line.split() for line in handle if line.strip()]
    return [(event, int(run), int(attempt), int(pid)) for event, run, attempt, pid in rows]
