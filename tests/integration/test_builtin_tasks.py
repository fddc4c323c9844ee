"""The built-in task types do real work: HTTP calls, emails, exports, pruning, commands."""

from __future__ import annotations

import csv
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

import pytest

from tickwork import FakeClock, PayloadError, PermissionDeniedError, Run, Tickwork
from tickwork.builtin_tasks import PRUNE_SCHEDULE, register_builtin_tasks
from tickwork.domain.actor import Actor, Role
from tickwork.settings import Settings


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 503 if self.path.startswith("/down") else 200
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        received.append(json.loads(self.rfile.read(length)))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


received: list[object] = []


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        outbox_dir=str(tmp_path / "outbox"),
        export_dir=str(tmp_path / "exports"),
        http_allow=["127.0.0.1"],  # the test's HTTP server is on loopback
    )


@pytest.fixture
def builtin_app(app: Tickwork, settings: Settings) -> Tickwork:
    register_builtin_tasks(app, settings)
    return app


def _run(app: Tickwork, task: str, payload: dict[str, object]) -> Run:
    run = app.enqueue(task, payload)
    app.worker(concurrency=2).run_until_idle(20)
    return app.runs.get(run.id)


def test_http_request_checks_status(builtin_app: Tickwork, http_server: str) -> None:
    ok = _run(builtin_app, "http.request", {"url": f"{http_server}/ping"})
    assert ok.status.value == "succeeded"
    assert ok.result["status"] == 200
    posted = _run(
        builtin_app,
        "http.request",
        {
            "url": f"{http_server}/hook",
            "method": "POST",
            "json_body": {"a": 1},
            "expected_status": [201],
        },
    )
    assert posted.status.value == "succeeded"
    assert {"a": 1} in received
    down = builtin_app.enqueue("http.request", {"url": f"{http_server}/down"}, max_attempts=1)
    builtin_app.worker(concurrency=2).run_until_idle(20)
    failed = builtin_app.runs.get(down.id)
    assert failed.status.value == "failed"
    assert "503" in (failed.error or "")


def test_http_request_payload_is_validated(builtin_app: Tickwork) -> None:
    with pytest.raises(PayloadError) as error:
        builtin_app.enqueue("http.request", {"url": "not a url"})
    assert error.value.field == "payload.url"
    with pytest.raises(PayloadError) as error:
        builtin_app.enqueue("http.request", {"url": "http://x/", "method": "BREW"})
    assert error.value.field == "payload.method"


def test_email_goes_to_the_outbox_without_smtp(builtin_app: Tickwork, settings: Settings) -> None:
    run = _run(
        builtin_app, "email.send", {"to": ["ops@example.com"], "subject": "Hi", "body": "Hello"}
    )
    assert run.status.value == "succeeded"
    path = Path(run.result["path"])
    assert path.parent == Path(settings.outbox_dir)
    message = message_from_bytes(path.read_bytes())
    assert message["To"] == "ops@example.com"
    assert message["Subject"] == "Hi"
    with pytest.raises(PayloadError) as error:
        builtin_app.enqueue("email.send", {"to": ["nobody"], "subject": "x"})
    assert error.value.field == "payload.to"


def test_export_writes_run_history(
    builtin_app: Tickwork, settings: Settings, http_server: str
) -> None:
    for _ in range(3):
        builtin_app.enqueue("http.request", {"url": f"{http_server}/ping"})
    builtin_app.worker(concurrency=2).run_until_idle(20)
    run = _run(builtin_app, "data.export", {"format": "csv", "task": "http.request"})
    assert run.status.value == "succeeded"
    with open(run.result["path"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    assert {r["status"] for r in rows} == {"succeeded"}
    assert Path(run.result["path"]).parent == Path(settings.export_dir)
    as_json = _run(builtin_app, "data.export", {"format": "json", "task": "data.export"})
    exported = json.loads(Path(as_json.result["path"]).read_text())
    assert [r["status"] for r in exported] == ["running", "succeeded"]


def test_prune_deletes_only_old_finished_runs(
    builtin_app: Tickwork, clock: FakeClock, http_server: str
) -> None:
    old = builtin_app.enqueue("http.request", {"url": f"{http_server}/ping"})
    builtin_app.worker(concurrency=2).run_until_idle(20)
    clock.advance(timedelta(days=40).total_seconds())
    pending = builtin_app.enqueue(
        "http.request", {"url": f"{http_server}/ping"}, run_at=clock.now() + timedelta(days=1)
    )
    run = _run(builtin_app, "tickwork.prune", {"days": 30})
    assert run.result["runs"] == 1
    remaining = {r.id for r in builtin_app.runs.list()}
    assert old.id not in remaining
    assert pending.id in remaining


def test_prune_is_a_system_schedule(builtin_app: Tickwork) -> None:
    builtin_app.sync_schedules()
    schedule = builtin_app.schedules.get(PRUNE_SCHEDULE)
    assert schedule.status.value == "active"
    assert schedule.source.value == "code"


def test_shell_command_only_when_enabled_and_for_admins(app: Tickwork, tmp_path: Path) -> None:
    register_builtin_tasks(app, Settings(shell_enabled=False))
    assert "shell.command" not in app.registry
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
    ok = _run(app, "shell.command", {"command": f"touch {tmp_path / 'marker'}"})
    assert ok.status.value == "succeeded"
    assert (tmp_path / "marker").exists()
    bad = app.enqueue("shell.command", {"command": "false"})
    app.worker(concurrency=1).run_until_idle(20)
    assert app.runs.get(bad.id).status.value == "failed"
