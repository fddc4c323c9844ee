"""The operator actions in a real browser (Chromium through Playwright) against ``tickwork
run`` on PostgreSQL: ticking a page of schedules and pausing them after a confirmation that
states the count, a backfill previewed before it is confirmed (of a task's schedule, and of
a group schedule in flows and runs), and pausing a queue."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.apps.ui_app import PIPELINE
from tests.support.browser import TIMEOUT_MS, BrowserServer, login_page
from tests.support.requirements import require

require("playwright")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = [pytest.mark.ui, pytest.mark.slow, pytest.mark.xdist_group("ui-browser")]

expect.set_options(timeout=TIMEOUT_MS)
# Set to docs/screenshots to refresh the documentation's pictures; a test run leaves them be.
SHOTS = os.environ.get("TICKWORK_SCREENSHOTS")


def shot(page: Page, name: str) -> None:
    """Save a screenshot of the page as ``name`` when pictures are being refreshed."""
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / name))


def test_operator_actions_in_a_browser(browser: Browser, server: BrowserServer) -> None:
    app = server.app
    ids = [
        app.schedules.create(
            name=f"bulk-{i}", task="greet", payload={"name": "ada"}, cron="0 * * * *"
        ).id
        for i in range(3)
    ]
    page = login_page(browser, server, "ada")
    page.goto(f"{server.url}/schedules?q=bulk-")

    # Ticking the page's box ticks every row and the button counts them.
    page.get_by_label("Select every schedule on this page").check()
    expect(page.get_by_role("button", name="Apply to 3 selected")).to_be_enabled()
    page.get_by_label("Select bulk-2").uncheck()
    expect(page.get_by_role("button", name="Apply to 2 selected")).to_be_enabled()
    page.get_by_label("Select bulk-2").check()
    page.locator("#bulk-schedules-action").select_option("pause")
    page.get_by_label("Note (for a pause)").fill("moving the database")
    page.get_by_role("button", name="Apply to 3 selected").click()

    # The confirmation states the count; nothing changed yet.
    expect(page.get_by_role("heading", level=1)).to_have_text("Pause 3 schedules?")
    assert {app.schedules.get(i).status.value for i in ids} == {"active"}
    shot(page, "bulk-confirm.png")
    page.get_by_role("button", name="Pause 3 schedules").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("3 of 3 schedules changed")
    assert {app.schedules.get(i).pause_note for i in ids} == {"moving the database"}

    # "Select all N matching" acts on the filter's matches, after a confirmation.
    page.goto(f"{server.url}/schedules?q=bulk-")
    page.locator("#bulk-schedules-action").select_option("resume")
    page.get_by_role("button", name="Select all 3 matching…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Resume 3 schedules?")
    page.get_by_role("button", name="Resume 3 schedules").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("3 of 3 schedules changed")

    # A backfill: the span, the previewed list, then the confirmation.
    page.goto(f"{server.url}/schedules/{ids[0]}")
    page.get_by_role("link", name="Backfill…").click()
    day = (datetime.now(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0)
    page.get_by_label("From (included)").fill(day.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_label("To (excluded)").fill(day.replace(hour=3).strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#backfill-preview h2")).to_have_text("3 fire times: 3 without a run")
    shot(page, "backfill-preview.png")
    page.get_by_role("button", name="Create 3 runs").click()
    expect(page.locator(".banner.ok")).to_contain_text("Backfill done")
    assert len(app.runs.list(schedule_id=ids[0], trigger="backfill")) == 3

    # Pausing a queue from its page.
    later = datetime.now(UTC) + timedelta(hours=1)  # waits in the queue, unclaimed
    app.enqueue("greet", {"name": "ada"}, queue="browser-slow", run_at=later)
    page.get_by_role("link", name="Queues").click()
    page.get_by_label("Why pause browser-slow").fill("upstream down")
    page.get_by_role("button", name="Pause queue browser-slow").click()
    expect(page.locator(".banner.ok")).to_contain_text("Queue paused")
    expect(page.get_by_role("button", name="Resume queue browser-slow")).to_be_visible()
    shot(page, "queues.png")
    page.get_by_role("button", name="Resume queue browser-slow").click()
    expect(page.get_by_role("button", name="Pause queue browser-slow")).to_be_visible()
    page.context.close()


def test_a_group_schedule_backfill_in_a_browser(browser: Browser, server: BrowserServer) -> None:
    """The preview and the confirmation count flows and their runs; the flows it starts
    are listed with trigger backfill and run to the end."""
    app = server.app
    schedule = app.schedules.create(name="pipeline hourly", group=PIPELINE, cron="0 * * * *")
    page = login_page(browser, server, "ada")
    page.goto(f"{server.url}/schedules/{schedule.id}")
    page.get_by_role("link", name="Backfill…").click()
    day = (datetime.now(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0)
    page.get_by_label("From (included)").fill(day.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_label("To (excluded)").fill(day.replace(hour=3).strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#backfill-preview h2")).to_have_text(
        "3 fire times: 3 without a flow, so 3 flows (12 runs) to create"
    )
    shot(page, "backfill-group-preview.png")
    assert app.flows.list(schedule_id=schedule.id) == []
    page.get_by_role("button", name="Create 3 flows (12 runs)").click()
    expect(page.locator(".banner.ok")).to_contain_text("its flows started")
    page.goto(f"{server.url}/flows?schedule={schedule.id}&trigger=backfill")
    expect(page.locator("#flow-list tbody tr")).to_have_count(3)
    rows = page.locator("#flow-list tbody tr")
    expect(rows.filter(has_text="4/4 succeeded")).to_have_count(3)
    expect(rows.first.locator("td[data-label=Trigger]")).to_contain_text("fire time")
    assert {f.trigger for f in app.flows.list(schedule_id=schedule.id)} == {"backfill"}
