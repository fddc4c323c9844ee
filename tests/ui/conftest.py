"""Fixtures for the UI tests: the web app in-process (pages through the ASGI test client, on
SQLite and PostgreSQL), and for the browser tests Chromium and a ``tickwork run`` server on
PostgreSQL (one per module)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.apps.ui_app import register_ui_flows, register_ui_tasks
from tests.support.accounts import ADMIN_ACTOR, PASSWORD
from tests.support.browser import BrowserServer, launch_chromium, ui_app_server
from tests.support.databases import fresh_pg_database
from tests.support.requirements import require
from tests.support.web import Ui, make_web
from tickwork import Tickwork

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture
def ui(app: Tickwork) -> Ui:
    """The UI of a fresh app with local auth (tasks from ``tests/apps/ui_app.py``)."""
    register_ui_tasks(app)
    return Ui(app, make_web(app))


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium (never a downloaded browser)."""
    return require("chromium")


@pytest.fixture(scope="module")
def server(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserServer]:
    """``tickwork run`` (scheduler, worker, web) on a fresh PostgreSQL database, with the
    admin ``ada`` and the viewer ``vic``."""
    database_url, drop = fresh_pg_database()
    workdir = tmp_path_factory.mktemp("ui-server")
    app = Tickwork(database_url)
    register_ui_tasks(app)
    register_ui_flows(app)
    auth = app.users
    for name, role in (("ada", "admin"), ("vic", "viewer")):
        auth.create_user(ADMIN_ACTOR, name, role=role, password=PASSWORD)
    try:
        with ui_app_server(
            database_url,
            workdir / "server.log",
            secret_key="browser-tests-secret-key-0123456789abcdef",
        ) as process:
            process.wait_until_serving()
            yield BrowserServer(process.url, app)
    finally:
        app.close()
        drop()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    require("playwright")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = launch_chromium(playwright, chromium)
        yield launched
        launched.close()
