"""The schedule form in Chromium against a real ``tickwork run`` on PostgreSQL (issue 12):
switching tasks shows the new task's defaults and labels (defect 7), a refused save names
the field once and focuses it, as does a refused login (defect 11), and allowed times,
blackout dates and a condition are set, previewed, saved and shown again (defect 15)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.support.accounts import ADMIN_ACTOR
from tests.support.browser import TIMEOUT_MS, BrowserServer, axe_violations, login_page
from tests.support.requirements import require

require("playwright")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = [pytest.mark.ui, pytest.mark.slow, pytest.mark.xdist_group("ui-browser")]

expect.set_options(timeout=TIMEOUT_MS)

Journey = Callable[[Browser, BrowserServer], None]
DASH = "\u2013"


def test_the_schedule_form_in_a_browser(
    browser: Browser, server: BrowserServer, subtests: pytest.Subtests
) -> None:
    """One server for every journey (each a subtest, so one failing hides no other)."""
    journeys: list[Journey] = [
        switching_tasks_shows_the_new_tasks_defaults_and_labels,
        a_refused_save_names_the_field_once_and_focuses_it,
        a_refused_login_says_so_once,
        allowed_times_blackouts_and_a_condition_are_previewed_saved_and_shown,
        windows_are_added_and_removed_by_keyboard_and_a_refused_one_takes_focus,
    ]
    for journey in journeys:
        with subtests.test(msg=journey.__name__):
            journey(browser, server)


def _visible_count(page: Page, text: str) -> int:
    """How many times ``text`` is on screen (hidden elements have no rendered text)."""
    return int(page.evaluate("t => document.body.innerText.split(t).length - 1", text))


def _new_greet_schedule(
    browser: Browser, server: BrowserServer, name: str, cron: str, *, bypass_csp: bool = False
) -> Page:
    """ada's new-schedule form, filled in for a cron schedule of ``greet`` (not saved)."""
    page = login_page(browser, server, "ada", bypass_csp=bypass_csp)
    page.goto(f"{server.url}/schedules/new")
    page.locator("#field-name").fill(name)
    page.locator("#field-task").select_option("greet")
    page.locator("#cfg-name").fill("ada")
    page.get_by_label("Cron expression").fill(cron)
    return page


def _preview_loaded(page: Page) -> None:
    expect(page.locator("#timing-preview")).not_to_contain_text("Loading preview")


def switching_tasks_shows_the_new_tasks_defaults_and_labels(
    browser: Browser, server: BrowserServer
) -> None:
    page = login_page(browser, server, "ada")
    page.goto(f"{server.url}/schedules/new")
    task = page.locator("#field-task")
    task.select_option("greet")
    expect(page.get_by_label("Config: Times")).to_be_visible()
    expect(page.locator("#field-max_attempts")).to_have_attribute("placeholder", "task default: 2")

    task.select_option("http.request")
    expect(page.get_by_label("Config: URL")).to_be_visible()
    expect(page.locator("#field-max_attempts")).to_have_attribute("placeholder", "task default: 3")
    expect(page.get_by_label("Config: JSON body")).to_be_visible()
    # Task A's fields are gone, and no label is pydantic's automatic title.
    expect(page.get_by_label("Config: Times")).to_have_count(0)
    labels = page.locator("#config-fields label").all_inner_texts()
    assert not [t for t in labels if re.search(r"\b(Url|Json Body)\b", t)], labels

    task.select_option("data.export")
    expect(page.get_by_label("Config: Max rows")).to_have_attribute("max", "1000000")
    expect(page.get_by_label(re.compile(r"^Config: Name"))).to_be_visible()
    expect(page.get_by_label(re.compile(r"^Config: Task"))).to_be_visible()
    assert "e+06" not in page.locator("#config-fields").inner_html()
    assert "e+06" not in page.evaluate("document.body.innerText")
    page.context.close()


def a_refused_save_names_the_field_once_and_focuses_it(
    browser: Browser, server: BrowserServer
) -> None:
    page = _new_greet_schedule(browser, server, "bad-hour", "0 24 * * *")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.get_by_role("alert").first).to_contain_text("The schedule was not saved")
    _preview_loaded(page)
    expect(page.locator("#field-cron")).to_be_focused()
    message = f"Cron expression: invalid cron expression '0 24 * * *': hour must be 0{DASH}23"
    # The message stays by its field (the preview's copy of it is hidden).
    expect(page.locator("#field-cron-error")).to_have_text(message + " (it is '24')")
    expect(page.locator("#field-cron-error")).to_be_visible()
    assert _visible_count(page, f"hour must be 0{DASH}23") == 1
    # After a fix, the stale message goes and the live preview says the new one, once.
    page.locator("#field-cron").fill("0 25 * * *")
    expect(page.locator("#timing-preview")).to_contain_text("(it is '25')")
    assert _visible_count(page, f"hour must be 0{DASH}23") == 1
    assert server.app.schedules.list(text="bad-hour") == []
    page.context.close()


def a_refused_login_says_so_once(browser: Browser, server: BrowserServer) -> None:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_count(1)
    message = alert.inner_text().strip()
    assert message
    assert _visible_count(page, message) == 1
    context.close()


def allowed_times_blackouts_and_a_condition_are_previewed_saved_and_shown(
    browser: Browser, server: BrowserServer
) -> None:
    server.app.flags.set(ADMIN_ACTOR, "open-hours", True)
    page = _new_greet_schedule(browser, server, "limits-browser", "0 9 * * *", bypass_csp=True)
    page.get_by_label("Time zone").fill("UTC")
    page.get_by_label("Preview from").fill("2030-01-05T00:00")  # a Saturday
    page.get_by_role("button", name="Add window").click()
    window = page.get_by_role("group", name="Window 1")
    expect(window.get_by_label("Mon")).to_be_checked()
    expect(window.get_by_label("Sat")).not_to_be_checked()
    window.get_by_label("From").fill("08:30")
    page.get_by_label("Blackout dates").fill("2030-01-08")
    preview = page.locator("#timing-preview ol.fire-times li")
    expect(preview.nth(0)).to_contain_text("skipped: window")  # Sat 5 Jan
    expect(preview.nth(1)).to_contain_text("skipped: window")  # Sun 6 Jan
    expect(preview.nth(2)).not_to_contain_text("skipped")  # Mon 7 Jan
    expect(preview.nth(3)).to_contain_text("skipped: blackout")  # Tue 8 Jan
    page.get_by_label("Condition").fill("no-such-flag")
    expect(preview.nth(2)).to_contain_text("skipped: condition")
    expect(preview.nth(2)).to_contain_text("no condition or flag named 'no-such-flag'")
    page.get_by_label("Condition").fill("open-hours")
    expect(preview.nth(2)).not_to_contain_text("skipped")
    page.get_by_role("button", name="Create schedule").click()

    expect(page).to_have_url(re.compile(r"/schedules/\d+\?notice=created$"))
    definition = page.locator("section[aria-labelledby='definition-title'] dl")
    expect(definition).to_contain_text(f"Mon{DASH}Fri 08:30{DASH}17:00")
    expect(definition).to_contain_text("Tue 8 Jan 2030")
    expect(definition).to_contain_text("open-hours · on now")
    saved = server.app.schedules.get("limits-browser")
    assert saved.windows == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:30", "end": "17:00"}
    ]
    assert (saved.blackout_dates, saved.condition) == (["2030-01-08"], "open-hours")

    page.goto(f"{server.url}/schedules/{saved.id}/edit")
    window = page.get_by_role("group", name="Window 1")
    expect(window.get_by_label("From")).to_have_value("08:30")
    expect(window.get_by_label("to", exact=True)).to_have_value("17:00")
    expect(window.get_by_label("Fri")).to_be_checked()
    expect(window.get_by_label("Sun")).not_to_be_checked()
    expect(page.get_by_label("Blackout dates")).to_have_value("2030-01-08")
    expect(page.get_by_label("Condition")).to_have_value("open-hours")
    assert axe_violations(page) == []
    page.context.close()


def windows_are_added_and_removed_by_keyboard_and_a_refused_one_takes_focus(
    browser: Browser, server: BrowserServer
) -> None:
    page = _new_greet_schedule(browser, server, "same-times", "0 * * * *")
    expect(page.get_by_text("Any time: no windows.")).to_be_visible()
    add = page.get_by_role("button", name="Add window")
    add.focus()
    page.keyboard.press("Enter")
    first = page.get_by_role("group", name="Window 1")
    expect(first.get_by_label("Mon")).to_be_focused()
    add.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".window-row")).to_have_count(2)
    page.get_by_role("button", name="Remove window 2").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".window-row")).to_have_count(1)
    expect(page.get_by_role("button", name="Remove window 1")).to_be_focused()
    # Tab from Sun reaches From; typing sets it, and the JSON follows the rows.
    first.get_by_label("Sun").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(first.get_by_label("From")).to_be_focused()
    page.keyboard.type("1700")
    expect(first).to_contain_text("from and to are the same")
    expect(page.locator("#field-windows")).to_have_value(
        '[{"days":["mon","tue","wed","thu","fri","sun"],"start":"17:00","end":"17:00"}]'
    )
    message = "Allowed times: window 1, to: from and to are the same time"
    expect(page.locator("#timing-preview")).to_contain_text(message)
    page.get_by_role("button", name="Create schedule").click()
    expect(page.locator("#form-errors")).to_be_visible()
    _preview_loaded(page)
    expect(
        page.get_by_role("group", name="Window 1").get_by_label("to", exact=True)
    ).to_be_focused()
    expect(page.locator("#timing-preview")).to_contain_text("No preview until the marked field")
    assert _visible_count(page, message) == 1
    assert server.app.schedules.list(text="same-times") == []
    page.context.close()
