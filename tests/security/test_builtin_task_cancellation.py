"""Built-in tasks honour cancellation where it is cheap: a cancelled ``shell.command`` kills
its process at once (it ran to its timeout, up to a day), and a cancelled ``email.send``
sends nothing. (``http.request``'s checks are in test_http_request_targets.py.)"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tickwork.builtin_tasks.shell import ShellConfig, run_command
from tickwork.context import Context
from tickwork.control import Cancel


def _context(task: str) -> Context:
    return Context(
        run_id=1, task=task, attempt=1, max_attempts=1, payload={}, trigger="api",
        queue="default",
    )  # fmt: skip


def test_a_cancelled_shell_command_is_killed(tmp_path: Path) -> None:
    ctx = _context("shell.command")
    marker = tmp_path / "started"
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            run_command(ctx, ShellConfig(command=f"sh -c 'touch {marker}; sleep 60'"))
            outcome.append(None)
        except BaseException as exc:  # the test inspects it
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while not marker.exists():
        assert time.monotonic() < deadline, "the command did not start"
        time.sleep(0.01)
    cancelled_at = time.monotonic()
    ctx.cancel()
    thread.join(10)
    assert not thread.is_alive()
    assert isinstance(outcome[0], Cancel)
    assert time.monotonic() - cancelled_at < 5


def test_a_shell_command_still_times_out_and_succeeds() -> None:
    import subprocess

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
