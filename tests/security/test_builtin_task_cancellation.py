"""Built-in tasks honour cancellation where it is cheap: a cancelled ``shell.command`` kills
its process at once (it ran to its timeout, up to a day), and a cancelled ``email.send``
sends nothing. (``http.request``'s checks are in test_http_request_targets.py.)"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from tests.support.waiting import SLACK, wait_for
from tickwork.builtin_tasks.shell import ShellConfig, run_command
from tickwork.context import Context
from tickwork.control import Cancel


def _context(task: str) -> Context:
    return Context(
        run_id=1, task=task, attempt=1, max_attempts=1, payload={}, trigger="api",
        queue="default",
    )  # fmt: skip


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_cancelled_shell_command_is_killed_with_its_children(tmp_path: Path) -> None:
    """The command's child sleeps ten minutes, longer than the test waits for anything, so
    the handler can only return in time if the cancel killed the whole process group."""
    ctx = _context("shell.command")
    child = tmp_path / "child.pid"
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            run_command(ctx, ShellConfig(command=f"sh -c 'sleep 600 & echo $! > {child}; wait'"))
            outcome.append(None)
        except BaseException as exc:  # the test inspects it
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()

    def started() -> str:
        assert thread.is_alive(), outcome
        return child.read_text().strip() if child.exists() else ""

    pid = int(wait_for(started, what="the command's child to start"))
    assert _running(pid)
    ctx.cancel()
    thread.join(SLACK)
    assert not thread.is_alive()
    assert isinstance(outcome[0], Cancel)
    wait_for(lambda: not _running(pid), what=f"the command's child {pid} to be killed")


def test_a_shell_command_still_times_out_and_succeeds() -> None:
    ctx = _context("shell.command")
    with pytest.raises(subprocess.TimeoutExpired):
        run_command(ctx, ShellConfig(command="sleep 5", timeout=0.3))
    assert run_command(ctx, ShellConfig(command="echo hi"))["stdout"] == "hi\n"


def test_a_cancelled_email_is_not_sent(tmp_path: Path) -> None:
    from tickwork import Tickwork
    from tickwork.builtin_tasks import register_builtin_tasks
    from tickwork.settings import Settings

    app = Tickwork(f"sqlite:///{tmp_path / 'mail.db'}")
    try:
        register_builtin_tasks(app, Settings(outbox_dir=str(tmp_path / "outbox")))
        task = app.registry.get("email.send")
        ctx = _context("email.send")
        ctx.cancel()
        with pytest.raises(Cancel):
            task.handler(ctx, task.build_argument({"to": ["a@example.com"], "subject": "s"}))
        assert not (tmp_path / "outbox").exists()
    finally:
        app.close()
