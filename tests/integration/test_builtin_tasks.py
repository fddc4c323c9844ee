"""The built-in ``data.export`` writes run history as files, and ``shell.command`` exists
only when turned on and only admins may use it (``http.request``, ``email.send`` and
``tickwork.prune`` have their own modules)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tickwork import Context, PermissionDeniedError, Run, Tickwork
from tickwork.builtin_tasks import register_builtin_tasks
from tickwork.domain.actor import Actor, Role
from tickwork.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(outbox_dir=str(tmp_path / "outbox"), export_dir=str(tmp_path / "exports"))


@pytest.fixture
def builtin_app(app: Tickwork, settings: Settings) -> Tickwork:
    register_builtin_tasks(app, settings)
    return app


def _run(app: Tickwork, task: str, payload: dict[str, object]) -> Run:
    run = app.enqueue(task, payload)
    app.worker(concurrency=2).run_until_idle(60)
    return app.runs.get(run.id)


def test_export_writes_the_run_history_of_a_task_as_csv_and_json(
    builtin_app: Tickwork, settings: Settings
) -> None:
    @builtin_app.task("ok")
    def ok(ctx: Context) -> None:
        return None

    made = [builtin_app.enqueue("ok").id for _ in range(3)]
    builtin_app.worker(concurrency=2).run_until_idle(60)
    run = _run(builtin_app, "data.export", {"format": "csv", "task": "ok"})
    assert run.status.value == "succeeded", run.error
    assert Path(run.result["path"]).parent == Path(settings.export_dir)
    with open(run.result["path"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(int(r["id"]) for r in rows) == made
    assert {r["status"] for r in rows} == {"succeeded"}
    assert {r["task"] for r in rows} == {"ok"}
    as_json = _run(builtin_app, "data.export", {"format": "json", "task": "data.export"})
    exported = json.loads(Path(as_json.result["path"]).read_text())
    # Newest first: this one (running while it writes), then the CSV export.
    assert [(r["id"], r["status"]) for r in exported] == [
        (as_json.id, "running"),
        (run.id, "succeeded"),
    ]


def test_shell_command_exists_only_when_enabled(app: Tickwork) -> None:
    register_builtin_tasks(app, Settings(shell_enabled=False))
    assert "shell.command" not in app.registry
    register_builtin_tasks(app, Settings(shell_enabled=True))
    assert "shell.command" in app.registry


def test_shell_command_is_refused_to_operators(app: Tickwork) -> None:
    register_builtin_tasks(app, Settings(shell_enabled=True))
    operator = Actor(name="op", role=Role.OPERATOR)
    with pytest.raises(PermissionDeniedError):
        app.enqueue("shell.command", {"command": "true"}, actor=operator)
    with pytest.raises(PermissionDeniedError):
        app.schedules.create(
            name="sh",
            task="shell.command",
            cron="* * * * *",
            payload={"command": "true"},
            actor=operator,
        )
    assert app.runs.list() == []
    assert app.schedules.list() == []


def test_shell_command_runs_for_an_admin_and_fails_on_a_nonzero_exit(
    app: Tickwork, tmp_path: Path
) -> None:
    register_builtin_tasks(app, Settings(shell_enabled=True))
    ok = _run(app, "shell.command", {"command": f"touch {tmp_path / 'marker'}"})
    assert ok.status.value == "succeeded", ok.error
    assert (tmp_path / "marker").exists()
    bad = _run(app, "shell.command", {"command": "false"})
    assert bad.status.value == "failed"
