"""The UI in a real browser (Debian's Chromium through Playwright) against a real
``tickwork run`` server on PostgreSQL: log in, create a schedule through the form, the live
cron preview, Run now, a run's page, pause and resume, edit, delete, and a viewer's view.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.browser import TIMEOUT_MS, BrowserServer, login_page
from tests.support.requirements import require

require("playwright")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = [pytest.mark.ui, pytest.mark.slow, pytest.mark.xdist_group("ui-browser")]

expect.set_options(timeout=TIMEOUT_MS)


def _first_fire_time(page: Page) -> str:
    return page.locator("ol.fire-times li time").first.inner_text()


def test_the_ui_in_a_browser(
    browser: Browser, server: BrowserServer, subtests: pytest.Subtests
) -> None:
    """Both journeys share one server (pytest-xdist's loadgroup does not keep separate tests
    on one worker with pytest 9, and a second server would cost the whole test's time
    again); each is its own subtest, so one failing does not hide the other."""
    for journey in (
        an_admin_creates_runs_pauses_edits_and_deletes_a_schedule,
        a_viewer_sees_no_mutating_buttons_and_the_server_refuses_them,
    ):
        with subtests.test(msg=journey.__name__):
            journey(browser, server)


def an_admin_creates_runs_pauses_edits_and_deletes_a_schedule(
    browser: Browser, server: BrowserServer
) -> None:
    page = login_page(browser, server, "ada")

    # Create a cron schedule through the form, with a config field from the task's schema.
    page.get_by_role("link", name="New schedule").click()
    page.get_by_label("Task").select_option("greet")
    expect(page.locator("#cfg-name")).to_be_visible()
    page.locator("#field-name").fill("browser-made")
    page.locator("#cfg-name").fill("ada")
    page.locator("#cfg-style").select_option("loud")
    page.get_by_label("Time zone").fill("UTC")

    # The live preview: a red inline error for an invalid expression, then the description
    # and the next ten fire times for a valid one.
    cron = page.get_by_label("Cron expression")
    cron.fill("0 9 * * 8")
    error = page.locator("#timing-preview .field-error")
    expect(error).to_contain_text("cron")
    expect(error).to_contain_text("day-of-week")
    cron.fill("0 9 * * 1-5")
    expect(page.locator("#timing-preview .description")).to_contain_text("Monday through Friday")
    expect(page.locator("#timing-preview ol li")).to_have_count(10)
    # An end three days ahead leaves fewer than ten (at least one weekday 09:00 falls in any
    # three days), and the preview says why; clearing it brings the ten back.
    end_at = page.locator("#field-end_at")
    end_at.fill((datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("#timing-preview .truncated")).to_contain_text("the schedule ends at")
    end_at.fill("")
    expect(page.locator("#timing-preview ol li")).to_have_count(10)
    expect(page.locator("#timing-preview .truncated")).to_have_count(0)
    page.get_by_role("button", name="Create schedule").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("browser-made")
    expect(page.locator(".banner.ok")).to_contain_text("Schedule created")
    detail_url = page.url
    assert " 09:00" in _first_fire_time(page)

    # Run now, and watch the run reach "succeeded" without reloading.
    page.get_by_role("button", name="Run now").click()
    first_row = page.locator("#history tbody tr").first
    expect(first_row.locator(".badge")).to_have_text("succeeded")

    # Its page: status, trigger, the handler's log line.
    first_row.locator("a.name").click()
    expect(page.locator("#run-status")).to_contain_text("succeeded")
    expect(page.locator(".log")).to_contain_text("greeting ada")
    expect(page.locator("#run-detail")).to_contain_text("manual")

    # Pause and resume with the list's toggle.
    page.goto(f"{server.url}/schedules?q=browser-made")
    toggle = page.get_by_role("switch", name=re.compile("browser-made"))
    expect(toggle).to_have_attribute("aria-checked", "true")
    toggle.click()
    row = page.locator("tbody", has=page.get_by_role("link", name="browser-made"))
    expect(row.locator(".badge", has_text="paused")).to_be_visible()
    expect(row).to_contain_text("Resuming here skips")
    page.get_by_role("switch", name=re.compile("browser-made")).click()
    expect(row.locator(".badge", has_text="active")).to_be_visible()

    # Edit the cron expression: the next run changes.
    page.goto(detail_url)
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Cron expression").fill("30 14 * * *")
    expect(page.locator("#timing-preview .description")).to_contain_text("14:30")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".banner.ok")).to_contain_text("Changes saved")
    assert " 14:30" in _first_fire_time(page)

    # Delete it, confirming in the dialog.
    page.goto(f"{server.url}/schedules?q=browser-made")
    page.get_by_role("button", name="Delete browser-made").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("cannot be undone")
    dialog.get_by_role("button", name="Delete schedule").click()
    expect(page.get_by_role("link", name="browser-made")).to_have_count(0)
    page.goto(f"{server.url}/schedules?q=browser-made")
    expect(page.locator("#schedule-table")).to_contain_text("No schedule matches")
    page.context.close()


def a_viewer_sees_no_mutating_buttons_and_the_server_refuses_them(
    browser: Browser, server: BrowserServer
) -> None:
    schedule = server.app.schedules.create(
        name="viewer-visible", task="greet", cron="0 6 * * *", payload={"name": "vic"}
    )
    page = login_page(browser, server, "vic")
    expect(page.get_by_role("link", name="viewer-visible")).to_be_visible()
    for name in ("New schedule", "Edit"):
        expect(page.get_by_role("link", name=name)).to_have_count(0)
    for name in ("Run now", "Delete"):
        expect(page.get_by_role("button", name=re.compile(name))).to_have_count(0)
    expect(page.get_by_role("switch")).to_have_count(0)
    expect(page.get_by_role("link", name="Users")).to_have_count(0)

    page.get_by_role("link", name="viewer-visible").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("viewer-visible")
    for name in ("Run now", "Pause…", "Delete…"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)

    # The theme toggle pins light, then dark, and the choice survives a reload.
    toggle = page.get_by_role("button", name=re.compile("Theme"))
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")

    # Even with the page's own CSRF token, the server refuses what the role may not do.
    token = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']")
    response = page.request.post(
        f"{server.url}/schedules/{schedule.id}/run",
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert response.status == 403
    assert server.app.runs.list(schedule_id=schedule.id) == []
    page.context.close()
