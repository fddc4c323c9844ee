"""``tickwork users`` and ``tokens`` and the first admin of ``tickwork run``, as real
processes; changes made through the CLI and the Python API are audited like the API's."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tickwork import Tickwork
from tickwork.cli import main
from tickwork.storage.audit_store import AuditFilter, AuditStore

BIN = Path(sys.executable).parent / "tickwork"


def tickwork(
    database_url: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ``tickwork`` command in a process of its own."""
    env = {**os.environ, "TICKWORK_DATABASE_URL": database_url}
    return subprocess.run(
        [str(BIN), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Outcome]:
    """Run the ``tickwork`` command in this process (its start-up is what costs time)."""
    monkeypatch.setenv("TICKWORK_DATABASE_URL", database_url)

    def run(*args: str, stdin: str | None = None) -> Outcome:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        captured = capsys.readouterr()
        return Outcome(int(exited.value.code or 0), captured.out, captured.err)

    return run


def _audit(app: Tickwork, action: str) -> list[tuple[str, str]]:
    with app.db.read() as conn:
        entries = AuditStore().list(conn, AuditFilter(action=action), limit=100)
    return [(e.actor, e.source) for e in entries]


def test_users_and_tokens_commands(app: Tickwork, cli: Callable[..., Outcome]) -> None:
    made = cli("users", "create", "ada", "--role", "operator", "--json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["user"]["role"] == "operator"
    assert len(created["password"]) >= 20
    piped = cli(
        "users",
        "create",
        "bob",
        "--tenant",
        "acme",
        "--password-stdin",
        stdin="a long password\n",
    )
    assert piped.returncode == 0, piped.stderr
    assert "password:" not in piped.stdout
    duplicate = cli("users", "create", "ada")
    assert duplicate.returncode == 2
    assert duplicate.stderr.strip().splitlines() == [
        "error (username): a user named 'ada' already exists"
    ]
    bad_role = cli("users", "create", "eve", "--role", "root")
    assert bad_role.returncode == 2
    assert "role" in bad_role.stderr

    token = cli("tokens", "create", "ci", "--user", "ada", "--expires", "30d", "--json")
    assert token.returncode == 0, token.stderr
    secret = json.loads(token.stdout)["secret"]
    assert secret.startswith("tw_")
    assert json.loads(token.stdout)["token"]["role"] == "operator"
    listed = json.loads(cli("tokens", "list", "--json").stdout)
    assert [t["name"] for t in listed] == ["ci"]
    assert secret not in json.dumps(listed)
    revoked = cli("tokens", "revoke", "ci")
    assert revoked.returncode == 0, revoked.stderr
    assert cli("tokens", "list", "--json").stdout.strip() == "[]"
    disabled = cli("users", "disable", "ada")
    assert disabled.returncode == 0
    users = json.loads(cli("users", "list", "--json").stdout)
    assert [(u["username"], u["disabled"], u["tenant_id"]) for u in users] == [
        ("ada", True, None),
        ("bob", False, "acme"),
    ]
    for action in ("user.create", "token.create", "token.revoke", "user.disable"):
        assert ("cli", "cli") in _audit(app, action), action


def test_python_api_changes_are_audited(app: Tickwork) -> None:
    @app.task("noop")
    def noop(ctx: object) -> None:
        return None

    schedule = app.schedules.create(name="py", task="noop", interval=60)
    app.schedules.pause(schedule.id, note="n")
    app.schedules.resume(schedule.id)
    app.schedules.update(schedule.id, interval=120)
    run = app.schedules.run_now(schedule.id)
    app.runs.cancel(run.id)
    app.runs.retry(run.id)
    app.schedules.delete(schedule.id)
    for action in (
        "schedule.create",
        "schedule.pause",
        "schedule.resume",
        "schedule.update",
        "schedule.run_now",
        "run.cancel",
        "run.retry",
        "schedule.delete",
    ):
        assert _audit(app, action) == [("python", "python")], action


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_run_creates_the_first_admin_once(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    port = _free_port()
    env = {**os.environ, "TICKWORK_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [str(BIN), "run", "--port", str(port), "--concurrency", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        password = None
        deadline = time.monotonic() + 30
        while password is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            found = re.search(r"password: (\S+)", line)
            if found:
                password = found.group(1)
        assert password, "tickwork run printed no admin password"
        base = f"http://127.0.0.1:{port}"
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "tickwork run did not become ready"
            time.sleep(0.1)
        with httpx.Client(base_url=base) as client:
            login = client.post(
                "/api/v1/auth/login", json={"username": "admin", "password": password}
            )
            assert login.status_code == 200, login.text
            me = client.get("/api/v1/auth/me").json()
            assert (me["name"], me["role"]) == ("admin", "admin")
            ran = client.post(
                "/api/v1/runs",
                json={"task": "http.request", "payload": {"url": f"{base}/healthz"}},
                headers={"X-CSRF-Token": login.json()["csrf_token"]},
            )
            assert ran.status_code == 201, ran.text
            run_id = ran.json()["id"]
            while client.get(f"/api/v1/runs/{run_id}").json()["status"] != "succeeded":
                assert time.monotonic() < deadline + 30
                time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    again = tickwork(database_url, "users", "list", "--json")
    assert [u["username"] for u in json.loads(again.stdout)] == ["admin"]


def test_auth_none_is_refused_off_loopback(cli: Callable[..., Outcome]) -> None:
    refused = cli("web", "--auth", "none", "--host", "0.0.0.0")
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "loopback" in lines[0]
