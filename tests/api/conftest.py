"""Fixtures for the REST API tests: a web app on the per-test database, and clients
authenticated as each role (API tokens), as a browser session, or not at all."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

with warnings.catch_warnings():
    # Starlette asks for httpx2; the test client works the same with httpx.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from tickwork import Context, Tickwork
from tickwork.auth.passwords import Passwords
from tickwork.auth.service import AuthService
from tickwork.domain.actor import Actor
from tickwork.settings import Settings
from tickwork.web import create_app, web_state

# Cheap argon2 parameters: the tests exercise the logic, not the hash's cost.
FAST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
ADMIN_ACTOR = Actor(name="test-admin", source="test")
PASSWORD = "correct horse battery"


class GreetConfig(BaseModel):
    """What ``greet`` takes."""

    name: str = Field(default="world", max_length=50)
    times: int = Field(default=1, ge=1, le=10)


def register_tasks(app: Tickwork) -> None:
    """The tasks the API tests schedule."""

    @app.task("greet", config=GreetConfig, description="Say hello", max_attempts=2)
    def greet(ctx: Context, config: GreetConfig) -> dict[str, Any]:
        ctx.log.info("hello %s", config.name)
        return {"greeting": f"hello {config.name}" * config.times}

    @app.task("boom")
    def boom(ctx: Context) -> None:
        ctx.log.warning("about to fail")
        raise RuntimeError("kaboom")

    @app.task("danger", admin_only=True)
    def danger(ctx: Context, payload: dict[str, Any]) -> None:
        return None


def make_web(app: Tickwork, **settings: Any) -> FastAPI:
    """A web app for ``app`` with test settings."""
    values: dict[str, Any] = {"auth": "local", "database_url": app.database_url}
    values.update(settings)
    return create_app(app, Settings(**values), passwords=FAST_PASSWORDS)


@dataclass
class Api:
    """The web app under test and ways to call it."""

    app: Tickwork
    web: FastAPI
    _tokens: dict[tuple[str, str | None], str] = field(default_factory=dict)

    @property
    def auth(self) -> AuthService:
        return web_state_of(self.web).auth

    def anonymous(self) -> TestClient:
        """A client without credentials."""
        return TestClient(self.web, raise_server_exceptions=False)

    def token(self, role: str, tenant: str | None = None) -> str:
        """An API token secret for ``role`` (bound to ``tenant``), made once per test."""
        key = (role, tenant)
        if key not in self._tokens:
            _, secret = self.auth.create_token(
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
        user, _ = self.auth.create_user(
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


def web_state_of(web: FastAPI) -> Any:
    return web.state.tickwork


@pytest.fixture
def api(app: Tickwork) -> Api:
    """The API of a fresh app (tasks ``greet``, ``boom`` and admin-only ``danger``)."""
    register_tasks(app)
    return Api(app, make_web(app))


Maker = Callable[..., dict[str, Any]]


@pytest.fixture
def schedule_body() -> Maker:
    """A valid schedule body with overrides."""

    def make(**overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": "hello",
            "task": "greet",
            "cron": "*/5 * * * *",
            "payload": {"name": "ada"},
        }
        body.update(overrides)
        return {k: v for k, v in body.items() if v is not ...}

    return make


__all__ = ["web_state"]
