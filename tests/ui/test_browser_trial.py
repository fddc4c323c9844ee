"""What a trial of the UI in headless Chromium found, checked in Chromium against a real
``tickwork run`` on PostgreSQL: filters and pages live in the page's own URL (reload, Back,
a copied link), the viewer's time zone is applied without a reload loop and follows a
switch, and the other defects of issue 12 that are browser behaviour."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.support.browser import TIMEOUT_MS, BrowserServer, axe_violations, login_page
from tests.support.requirements import require

require("playwright")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = [pytest.mark.ui, pytest.mark.slow, pytest.mark.xdist_group("ui-browser")]

expect.set_options(timeout=TIMEOUT_MS)

Journey = Callable[[Browser, BrowserServer], None]


def test_the_trials_defects_in_a_browser(
    browser: Browser, server: BrowserServer, subtests: pytest.Subtests
) -> None:
    """One server for every journey (each a subtest, so one failing hides no other)."""
    journeys: list[Journey] = [
        filters_and_pages_live_in_the_pages_own_url,
        the_viewers_zone_is_applied_once_and_follows_a_switch,
        every_page_has_no_serious_or_critical_accessibility_violation,
    ]
    for journey in journeys:
        with subtests.test(msg=journey.__name__):
            journey(browser, server)


def _styled(page: Page) -> None:
    """The whole page, not an unstyled fragment: the navigation and the stylesheet."""
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"


def filters_and_pages_live_in_the_pages_own_url(browser: Browser, server: BrowserServer) -> None:
    app = server.app
    for name in ("url-alpha", "url-beta"):
        app.schedules.create(name=name, task="greet", cron="0 3 * * *", payload={"name": "a"})
    paused = app.schedules.create(
        name="url-gamma", task="greet", cron="0 4 * * *", payload={"name": "a"}
    )
    app.schedules.pause(paused.id)
    page = login_page(browser, server, "ada")

    # The schedules list: a filter goes to the address bar as the page's own URL.
    page.get_by_label("Status").select_option("paused")
    expect(page).to_have_url(f"{server.url}/schedules?status=paused")
    expect(page.get_by_role("link", name="url-gamma", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="url-alpha", exact=True)).to_have_count(0)
    page.reload()
    _styled(page)
    expect(page.get_by_label("Status")).to_have_value("paused")
    expect(page.get_by_role("link", name="url-alpha", exact=True)).to_have_count(0)
    page.get_by_label("Search").fill("beta")
    expect(page).to_have_url(f"{server.url}/schedules?status=paused&q=beta")
    page.go_back()
    expect(page).to_have_url(f"{server.url}/schedules?status=paused")
    expect(page.get_by_label("Search")).to_have_value("")
    expect(page.get_by_role("link", name="url-gamma", exact=True)).to_be_visible()
    page.go_back()
    expect(page).to_have_url(f"{server.url}/schedules")
    _styled(page)
    expect(page.get_by_label("Status")).to_have_value("")
    expect(page.get_by_role("link", name="url-alpha", exact=True)).to_be_visible()
    # Per page, from the pager.
    page.get_by_label("Schedules per page").select_option("50")
    expect(page).to_have_url(re.compile(r"/schedules\?(sort=name&)?per_page=50$"))
    expect(page.get_by_label("Schedules per page")).to_have_value("50")

    # The runs list.
    page.goto(f"{server.url}/runs")
    page.get_by_label("Status").select_option("failed")
    expect(page).to_have_url(f"{server.url}/runs?status=failed")
    page.reload()
    _styled(page)
    expect(page.get_by_label("Status")).to_have_value("failed")
    page.go_back()
    expect(page).to_have_url(f"{server.url}/runs")

    # A schedule's history: status and per page.
    page.goto(f"{server.url}/schedules/{paused.id}")
    page.get_by_label("Per page").select_option("25")
    expect(page).to_have_url(f"{server.url}/schedules/{paused.id}?per_page=25")
    page.reload()
    _styled(page)
    expect(page.get_by_label("Per page")).to_have_value("25")
    assert "/ui/partials" not in page.url
    page.context.close()


def the_viewers_zone_is_applied_once_and_follows_a_switch(
    browser: Browser, server: BrowserServer
) -> None:
    schedule = server.app.schedules.create(
        name="zone-check", task="greet", cron="0 9 * * *", timezone="UTC", payload={"name": "z"}
    )
    page = login_page(browser, server, "ada", timezone="Asia/Tokyo")
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))
    page.goto(f"{server.url}/schedules/{schedule.id}")
    expect(page.locator("body")).to_have_attribute("data-zone", "Asia/Tokyo")
    first = page.locator("ol.fire-times li").first
    expect(first).to_contain_text("18:00")
    expect(first).to_contain_text("09:00 UTC")
    page.goto(f"{server.url}/runs")
    expect(page.locator(".page-head .sub")).to_contain_text("Asia/Tokyo")
    page.reload()
    expect(page.locator(".page-head .sub")).to_contain_text("Asia/Tokyo")
    # Three pages asked for, three loads: no page reloaded itself.
    assert len(loads) == 3, loads

    # The same session in another zone (a laptop that travelled): one reload, then the new zone.
    travelled = browser.new_context(
        storage_state=page.context.storage_state(), timezone_id="America/New_York"
    )
    travelled.set_default_timeout(TIMEOUT_MS)
    moved = travelled.new_page()
    moved.goto(f"{server.url}/schedules/{schedule.id}")
    expect(moved.locator("body")).to_have_attribute("data-zone", "America/New_York")
    expect(moved.locator("ol.fire-times li").first).to_contain_text("04:00")
    travelled.close()
    page.context.close()


def every_page_has_no_serious_or_critical_accessibility_violation(
    browser: Browser, server: BrowserServer
) -> None:
    """axe-core (vendored, run offline) on every page, light and dark."""
    app = server.app
    schedule = app.schedules.create(
        name="axe-check", task="greet", cron="*/5 * * * *", payload={"name": "a"}
    )
    run = app.schedules.run_now(schedule.id)
    page = login_page(browser, server, "ada", bypass_csp=True)
    paths = ["/", "/schedules", f"/schedules/{schedule.id}", "/schedules/new",
             f"/schedules/{schedule.id}/edit", "/runs", f"/runs/{run.id}", "/audit",
             "/admin/users", "/admin/tokens"]  # fmt: skip
    found: dict[str, list[str]] = {}
    for theme in ("light", "dark"):
        page.evaluate(f"localStorage.setItem('tw-theme', '{theme}')")
        for path in paths:
            # A page's pending htmx request would interrupt the next navigation.
            page.goto("about:blank")
            page.goto(f"{server.url}{path}")
            page.wait_for_load_state("networkidle")
            if problems := axe_violations(page):
                found[f"{theme} {path}"] = problems
    page.context.close()
    anonymous = browser.new_context(bypass_csp=True)
    login = anonymous.new_page()
    login.goto(f"{server.url}/login")
    if problems := axe_violations(login):
        found["/login"] = problems
    anonymous.close()
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())
