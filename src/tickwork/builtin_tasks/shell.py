"""``shell.command``: run a program (only when the operator enables it; admins only)."""

from __future__ import annotations

import shlex
import subprocess
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from tickwork.context import Context

if TYPE_CHECKING:
    from tickwork.app import Tickwork

TASK = "shell.command"
MAX_OUTPUT = 10_000


class ShellConfig(BaseModel):
    """A command line, run without a shell."""

    command: str = Field(min_length=1, max_length=4000, description="Command line (no shell)")
    cwd: str | None = Field(default=None, description="Working directory")
    timeout: float = Field(default=600, gt=0, le=86400, description="Seconds before it is killed")


class CommandFailedError(Exception):
    """The command exited with a non-zero status."""


def run_command(ctx: Context, config: ShellConfig) -> dict[str, Any]:
    """Run the command; fail on a non-zero exit status."""
    argv = shlex.split(config.command)
    ctx.log.info("running %s", argv)
    completed = subprocess.run(
        argv, cwd=config.cwd, capture_output=True, text=True, timeout=config.timeout, check=False
    )
    for line in completed.stdout.splitlines()[-200:]:
        ctx.log.info(line)
    for line in completed.stderr.splitlines()[-200:]:
        ctx.log.warning(line)
    if completed.returncode != 0:
        raise CommandFailedError(f"exit status {completed.returncode}: {completed.stderr[-500:]}")
    return {"returncode": 0, "stdout": completed.stdout[-MAX_OUTPUT:]}


def register(app: Tickwork) -> None:
    """Register ``shell.command`` as an admin-only task."""
    if TASK not in app.registry:
        app.task(
            TASK, config=ShellConfig, admin_only=True, description="Run a command (admins only)"
        )(run_command)
