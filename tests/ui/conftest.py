"""Fixtures for the UI tests: the web app in-process (pages through the ASGI test client, on
SQLite and PostgreSQL) and, for the browser tests, a real ``tickwork run`` server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette asks for httpx2; httpx works the same
    from fastapi.testclient import TestClient

from tests.ui.ui_app import register_tasks
from tickwork import Tickwork
from tickwork.auth.passwords import Passwords
from tickwork.auth.service import AuthService
from tickwork.domain.actor import Actor, Role
from tickwork.settings import Settings
from tickwork.web import create_app

FAST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
SETUP = Actor(name="setup", source="test", role=Role.ADMIN)
PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class Ui:
    """The web app under test, with users of each role."""

    app: Tickwork
    web: FastAPI
    auth: AuthService
    _users: set[str] = field(default_factory=set)

    def client(self) -> TestClient:
        """A browser-like client with no session (HTML accepted, redirects not followed)."""
        client = TestClient(self.web, raise_server_exceptions=True, follow_redirects=False)
        client.headers["Accept"] = "text/html"
        return client

    def login(self, role: str, tenant: str | None = None) -> tuple[TestClient, str]:
        """A client logged in as a user of ``role`` through the login form, and its CSRF."""
        username = f"{role}-{tenant or 'all'}"
        if username not in self._users:
            self.auth.create_user(SETUP, username, role=role, tenant_id=tenant, password=PASSWORD)
            self._users.add(username)
        client = self.client()
        response = client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "next": "/"},
            headers={"Origin": "http://testserver"},
        )
        assert response.status_code == 303, response.text
        page = client.get("/schedules")
        match = CSRF_FIELD.search(page.text) or re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
        token = match.group(1) if match else client.cookies.get("tickwork_csrf", "")
        return client, token


@pytest.fixture
def ui(app: Tickwork) -> Iterator[Ui]:
    """The UI of a fresh app with local auth (tasks from ``tests/ui/ui_app.py``)."""
    register_tasks(app)
    web = create_app(
        app, Settings(auth="local", database_url=app.database_url), passwords=FAST_PASSWORDS
    )
    return Ui(app, web, web.state.tickwork.auth)


def form_data(**values: Any) -> dict[str, str]:
    """A schedule form submission with sensible defaults."""
    data = {
        "name": "report",
        "task": "greet",
        "trigger": "cron",
        "cron": "0 9 * * 1-5",
        "timezone": "Europe/London",
        "misfire_policy": "run_once",
        "overlap_policy": "allow",
        "config.name": "ada",
        "config.times": "2",
        "config.style": "plain",
        "config.loud": "false",
    }
    data.update({k: str(v) for k, v in values.items()})
    return data


ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def tickwork_run(database_url: str, log_path: Path, **env: str) -> Iterator[str]:
    """``tickwork run --app tests.ui.ui_app:app`` (scheduler, worker, web; local auth) on
    ``database_url``, its output in ``log_path``; yields its base URL and stops it after."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "tickwork"), "run",
                "--app", "tests.ui.ui_app:app", "--db", database_url,
                "--port", str(port), "--auth", "local",
            ],
            cwd=ROOT,
            env={**os.environ, "TICKWORK_POLL_INTERVAL": "0.2", "PYTHONPATH": str(ROOT), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
