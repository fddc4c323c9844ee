"""Fixtures for the REST API tests: a web app on the per-test database, and clients
authenticated as each role (API tokens), as a browser session, or not at all."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.web import Api, Maker, make_web, register_api_tasks
from tickwork import Tickwork


@pytest.fixture
def api(app: Tickwork) -> Api:
    """The API of a fresh app (tasks ``greet``, ``boom`` and admin-only ``danger``)."""
    register_api_tasks(app)
    return Api(app, make_web(app))


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
