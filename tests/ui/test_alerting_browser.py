"""Alerting in a real browser (Chromium through Playwright) against ``tickwork run`` on
PostgreSQL: an admin adds a webhook channel on the Channels page and sends it a test, gives
a failing schedule alert settings in the form, runs it, and sees the open alert on the
dashboard and on the schedule's page, where an operator acknowledges it. The receiver is a
real local HTTP server. Screenshots go to ``TICKWORK_TEST_SCREENSHOTS`` when it is set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps.ui_app import register_ui_tasks
from tests.support.accounts import ADMIN_ACTOR, PASSWORD
from tests.support.browser import TIMEOUT_MS, BrowserServer, login_page, ui_app_server
from tests.support.databases import fresh_pg_database
from tests.support.local_servers import LocalHttpServer, local_http_server
from tests.support.requirements import require
from tests.support.waiting import wait_for
from tickwork import Tickwork

require("playwright")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = [pytest.mark.ui, pytest.mark.slow, pytest.mark.xdist_group("ui-browser")]

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def alert_server(
    chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserServer]:
    """``tickwork run`` evaluating alert rules every 0.3 s, with the admin ``ada`` and the
    operator ``olga``."""
    database_url, drop = fresh_pg_database()
    workdir = tmp_path_factory.mktemp("alert-ui")
    app = Tickwork(database_url)
    register_ui_tasks(app)
    auth = app.users
    for name, role in (("ada", "admin"), ("olga", "operator")):
        auth.create_user(ADMIN_ACTOR, name, role=role, password=PASSWORD)
    try:
        with ui_app_server(
            database_url,
            workdir / "server.log",
            secret_key="alert-browser-tests-secret-key-0123456789",
            alert_interval="0.3",
        ) as process:
            process.wait_until_serving()
            yield BrowserServer(process.url, app)
    finally:
        app.close()
        drop()


@pytest.fixture
def receiver() -> Iterator[LocalHttpServer]:
    with local_http_server() as server:
        yield server


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("TICKWORK_TEST_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_channels_alert_settings_and_open_alerts_in_a_browser(
    browser: Browser, alert_server: BrowserServer, receiver: LocalHttpServer
) -> None:
    page = login_page(browser, alert_server, "ada")
    page.get_by_role("link", name="Channels").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Channels")

    # A refused URL is shown in red beside its field; a good one creates the channel.
    page.get_by_label("Name").fill("ops")
    page.get_by_label("URL").fill("ftp://example.com/x")
    page.get_by_role("button", name="Create channel").click()
    expect(page.locator("#channel-url-error")).to_contain_text("is not an http(s) URL")
    page.get_by_label("URL").fill(f"{receiver.url}/hook")
    page.get_by_label("Signing secret").fill("browser-secret")
    page.get_by_role("button", name="Create channel").click()
    expect(page.locator(".banner.ok")).to_contain_text("Channel “ops” created")
    page.get_by_role("button", name="Send a test to ops").click()
    expect(page.locator(".banner.ok")).to_contain_text("Test notification")
    assert receiver.requests[-1].json()["event"] == "test"
    assert receiver.requests[-1].headers["X-Tickwork-Signature"].startswith("sha256=")
    _shot(page, "channels")

    # A failing schedule with alert settings, made through the form.
    page.get_by_role("link", name="Schedules").click()
    page.get_by_role("link", name="New schedule").click()
    page.get_by_label("Task").select_option("boom")
    page.locator("#field-name").fill("browser-alerts")
    page.get_by_label("Cron expression").fill("0 3 * * *")
    page.get_by_label("Time zone").fill("UTC")
    page.locator("#field-alert_after").fill("1")
    page.locator("#field-alert_channels").fill("ops")
    _shot(page, "schedule-form-alerts")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("browser-alerts")
    expect(page.locator("#alerts-title")).to_be_visible()
    page.get_by_role("button", name="Run now").first.click()

    failing = wait_for(
        lambda: [r.json() for r in receiver.requests if r.json()["event"] == "schedule.failing"],
        what="schedule.failing at the receiver",
    )
    assert failing[0]["schedule"]["name"] == "browser-alerts"

    operator = login_page(browser, alert_server, "olga")
    operator.goto(f"{alert_server.url}/")
    expect(operator.locator("#incidents-title")).to_have_text("Open alerts")
    expect(operator.locator("#dashboard")).to_contain_text("browser-alerts")
    _shot(operator, "dashboard-open-alerts")
    operator.get_by_role("link", name="schedule #").first.click()
    expect(operator.get_by_role("heading", level=1)).to_contain_text("browser-alerts")
    operator.get_by_role("button", name="Acknowledge").first.click()
    expect(operator.locator("main")).to_contain_text("acknowledged by olga")
    _shot(operator, "schedule-alerts")
