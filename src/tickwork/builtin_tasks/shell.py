"""``shell.command``: run a program (only when the operator enables it; only admins bound to
no tenant may enqueue or schedule it)."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from tickwork.context import Context
from tickwork.control import Cancel

if TYPE_CHECKING:
    from tickwork.app import Tickwork

TASK = "shell.command"
MAX_OUTPUT = 10_000
CANCEL_CHECK_INTERVAL = 0.2  # seconds between looks at ctx.cancelled while the command runs


class ShellConfig(BaseModel):
    """A command line, run without a shell."""

    command: str = Field(min_length=1, max_length=4000, description="Command line (no shell)")
    cwd: str | None = Field(default=None, description="Working directory")
    timeout: float = Field(default=600, gt=0, le=86400, description="Seconds before it is killed")


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.killpg(process.pid, signal.SIGKILL)


class CommandFailedError(Exception):
    """The command exited with a non-zero status."""


def run_command(ctx: Context, config: ShellConfig) -> dict[str, Any]:
    """Run the command; fail on a non-zero exit status. A cancelled run kills it."""
    argv = shlex.split(config.command)
    ctx.log.info("running %s", argv)
    deadline = time.monotonic() + config.timeout
    # Its own process group, so that stopping it stops what it started too (a child that
    # kept the output pipes open would otherwise keep the run waiting).
    with subprocess.Popen(
        argv,
        cwd=config.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        while True:
            try:
                stdout, stderr = process.communicate(timeout=CANCEL_CHECK_INTERVAL)
                break
            except subprocess.TimeoutExpired:
                if ctx.cancelled or time.monotonic() >= deadline:
                    _kill_group(process)
                    process.communicate()
                    if ctx.cancelled:
                        raise Cancel("cancelled: the command was killed") from None
                    raise
    for line in stdout.splitlines()[-200:]:
        ctx.log.info(line)
    for line in stderr.splitlines()[-200:]:
        ctx.log.warning(line)
    if process.returncode != 0:
        raise CommandFailedError(f"exit status {process.returncode}: {stderr[-500:]}")
    return {"returncode": 0, "stdout": stdout[-MAX_OUTPUT:]}


def register(app: Tickwork) -> None:
    """Register ``shell.command`` as an admin-only task (an admin bound to no tenant)."""
    if TASK not in app.registry:
        app.task(
            TASK, config=ShellConfig, admin_only=True, description="Run a command (admins only)"
        )(run_command)
