"""The web app under test, in this process through the ASGI test client: the REST API
(:class:`Api`: clients holding a token of each role, or a browser session) and the UI
(:class:`Ui`: browser-like clients logged in through the login form)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

with warnings.catch_warnings():
    # Starlette asks for httpx2; the test client works the same with httpx.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tests.support.accounts import ADMIN_ACTOR, FAST_PASSWORDS, PASSWORD
from tickwork import Context, Tickwork
from tickwork.auth.token_service import TokenService
from tickwork.auth.user_service import UserService
from tickwork.settings import Settings
from tickwork.web import create_app

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')
# A function making a valid schedule body with some fields overridden (``...`` drops one).
Maker = Callable[..., dict[str, Any]]


class GreetConfig(BaseModel):
    """What the API tests' ``greet`` takes."""

    name: str = Field(default="world", max_length=50)
    times: int = Field(default=1, ge=1, le=10)


def register_api_tasks(app: Tickwork) -> None:
    """The tasks the API tests schedule: ``greet``, ``boom`` (fails) and admin-only
    ``danger``; groups ``hello`` (greet) and ``pair`` (greet, then boom)."""

    @app.task(
        "greet",
        config=GreetConfig,
        description="Say hello",
        max_attempts=2,
        group=["hello", "pair"],
    )
    def greet(ctx: Context, config: GreetConfig) -> dict[str, Any]:
        ctx.log.info("hello %s", config.name)
        return {"greeting": f"hello {config.name}" * config.times}

    @app.task("boom", group="pair", depends_on=["greet"])
    def boom(ctx: Context) -> None:
        ctx.log.warning("about to fail")
        raise RuntimeError("kaboom")

    @app.task("danger", admin_only=True)
    def danger(ctx: Context, payload: dict[str, Any]) -> None:
        return None


def make_web(app: Tickwork, **settings: Any) -> FastAPI:
    """A web app for ``app`` with local auth and test settings."""
    values: dict[str, Any] = {"auth": "local", "database_url": app.database_url}
    values.update(settings)
    return create_app(app, Settings(**values), passwords=FAST_PASSWORDS)


@dataclass
class Api:
    """The web app under test and ways to call its REST API."""

    app: Tickwork
    web: FastAPI
    _tokens: dict[tuple[str, str | None], str] = field(default_factory=dict)

    @property
    def users(self) -> UserService:
        return self.app.users

    @property
    def tokens(self) -> TokenService:
        return self.app.tokens

    def anonymous(self) -> TestClient:
        """A client without credentials."""
        return TestClient(self.web, raise_server_exceptions=False)

    def token(self, role: str, tenant: str | None = None) -> str:
        """An API token secret for ``role`` (bound to ``tenant``), made once per test."""
        key = (role, tenant)
        if key not in self._tokens:
            _, secret = self.tokens.create_token(
                ADMIN_ACTOR, f"{role}-{tenant or 'all'}", role=role, tenant_id=tenant
            )
            self._tokens[key] = secret
        return self._tokens[key]

    def as_role(self, role: str, tenant: str | None = None) -> TestClient:
        """A client sending a Bearer token of ``role``."""
        client = self.anonymous()
        client.headers["Authorization"] = f"Bearer {self.token(role, tenant)}"
        return client

    def admin(self) -> TestClient:
        return self.as_role("admin")

    def user(self, username: str, role: str = "admin", tenant: str | None = None) -> int:
        """Create a user with :data:`PASSWORD`; return its id."""
        user, _ = self.users.create_user(
            ADMIN_ACTOR, username, role=role, tenant_id=tenant, password=PASSWORD
        )
        return user.id

    def browser(self, username: str, password: str = PASSWORD) -> tuple[TestClient, str]:
        """A client logged in through ``/api/v1/auth/login``, and its CSRF token."""
        client = self.anonymous()
        response = client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return client, response.json()["csrf_token"]

    def audit(self, action: str) -> list[dict[str, Any]]:
        """Audit entries with ``action``, newest first."""
        response = self.admin().get("/api/v1/audit", params={"action": action, "limit": 500})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@dataclass
class Ui:
    """The UI under test, with users of each role."""

    app: Tickwork
    web: FastAPI
    _users: set[str] = field(default_factory=set)

    @property
    def users(self) -> UserService:
        return self.app.users

    @property
    def tokens(self) -> TokenService:
        return self.app.tokens

    def client(self) -> TestClient:
        """A browser-like client with no session (HTML accepted, redirects not followed)."""
        client = TestClient(self.web, raise_server_exceptions=True, follow_redirects=False)
        client.headers["Accept"] = "text/html"
        return client

    def username(self, role: str, tenant: str | None = None) -> str:
        """The name of the test user of ``role`` (bound to ``tenant``)."""
        return f"{role}-{tenant or 'all'}"

    def login(self, role: str, tenant: str | None = None) -> tuple[TestClient, str]:
        """A client logged in as a user of ``role`` through the login form, and its CSRF."""
        username = self.username(role, tenant)
        if username not in self._users:
            self.users.create_user(
                ADMIN_ACTOR, username, role=role, tenant_id=tenant, password=PASSWORD
            )
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
