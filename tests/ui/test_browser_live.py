"""Issue 12's defects 8, 10, 12 and 16 in Chromium against a real ``tickwork run`` on
PostgreSQL: a run's every attempt and its log streaming while it runs, the toast's link to
the run it queued, the users page's confirmation and last-admin message, and the schedules
list refreshing live without touching history, ticks or focus."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.accounts import ADMIN_ACTOR
from tests.support.browser import TIMEOUT_MS, BrowserServer, login_page
from tests.support.requirements import require
from tests.support.waiting import wait_for

require("playwright")
from playwright.sync_api import Browser, Dialog, Locator, Page, expect  # noqa: E402

pytestmark = [pytest.mark.ui, pytest.mark.slow, pytest.mark.xdist_group("ui-browser")]

expect.set_options(timeout=TIMEOUT_MS)

DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
LIVE = "/ui/partials/schedules/live"


def _status(server: BrowserServer, run_id: int) -> str:
    return server.app.runs.get(run_id).status.value


def test_a_run_shows_each_attempt_with_its_worker_times_error_and_log(
    browser: Browser, server: BrowserServer
) -> None:
    """Defect 8: an earlier attempt had no worker and no log of its own."""
    run = server.app.enqueue("flaky")
    wait_for(lambda: _status(server, run.id) == "succeeded", what="flaky to succeed")
    earlier = server.app.runs.attempts(run.id)
    final = server.app.runs.get(run.id)
    assert [a.attempt for a in earlier] == [1]
    assert earlier[0].worker_id
    assert final.worker_id
    page = login_page(browser, server, "ada")
    page.goto(f"{server.url}/runs/{run.id}")
    rows = page.locator("section[aria-labelledby='attempts-title'] tbody tr")
    expect(rows).to_have_count(2)
    first, latest = rows.nth(0), rows.nth(1)
    for row, number, worker in ((first, 1, earlier[0].worker_id), (latest, 2, final.worker_id)):
        expect(row.locator("[data-label='Attempt']")).to_contain_text(str(number))
        expect(row.locator("[data-label='Worker']")).to_have_text(worker)
        expect(row.locator("[data-label='Started']")).to_have_text(DATE_TIME)
        expect(row.locator("[data-label='Finished']")).to_have_text(DATE_TIME)
    expect(first.locator("[data-label='Outcome']")).not_to_contain_text("succeeded")
    expect(first.locator("[data-label='Error']")).to_contain_text(
        "RuntimeError: flaky on attempt 1"
    )
    first.locator("[data-label='Log']").get_by_text("1 line").click()
    expect(first.locator("[data-label='Log'] ol.log")).to_contain_text("attempt 1 starting")
    expect(latest.locator("[data-label='Outcome']")).to_contain_text("succeeded")
    expect(latest.locator("[data-label='Error']")).not_to_contain_text("flaky")
    latest.locator("[data-label='Log']").get_by_role("link", name="1 line").click()
    log = page.locator("section[aria-labelledby='logs-title']")
    expect(log.get_by_role("heading")).to_have_text("Log of attempt 2")
    expect(log.locator("ol.log")).to_contain_text("attempt 2 starting")
    expect(log.locator("ol.log")).not_to_contain_text("attempt 1 starting")
    page.context.close()


def test_a_running_runs_log_lines_appear_without_a_reload(
    browser: Browser, server: BrowserServer, tmp_path: Path
) -> None:
    """Defect 8: nothing streamed while a run ran. The page refreshes itself while the run
    runs, keeping the viewer's focus and the attempt details they opened."""
    gate = tmp_path / "stream-gate"
    run = server.app.enqueue("stream", payload={"gate": str(gate), "fail_first": True})
    page = login_page(browser, server, "ada")
    page.goto(f"{server.url}/runs/{run.id}")
    page.evaluate("window.twSameDocument = true")
    log = page.locator("section[aria-labelledby='logs-title']")
    expect(log.locator("ol.log")).to_contain_text("first line, before the gate")
    expect(page.locator("#run-status")).to_contain_text("running")
    expect(log).not_to_contain_text("second line")
    # The failed first attempt's log, opened, and the focus on Cancel: both survive polls.
    first = page.locator("section[aria-labelledby='attempts-title'] tbody tr").first
    expect(first.locator("[data-label='Error']")).to_contain_text("stream attempt 1 failed")
    first.locator("[data-label='Log'] summary").click()
    page.get_by_role("button", name="Cancel run").focus()
    for _ in range(2):
        with page.expect_response(lambda r: f"/ui/partials/runs/{run.id}" in r.url):
            pass
    expect(first.locator("[data-label='Log'] details")).to_have_attribute("open", "")
    expect(first.locator("[data-label='Log'] ol.log")).to_be_visible()
    expect(first.locator("[data-label='Log'] ol.log")).to_contain_text("attempt 1 gives up")
    expect(page.get_by_role("button", name="Cancel run")).to_be_focused()
    gate.touch()
    expect(log.locator("ol.log")).to_contain_text("second line, after the gate")
    expect(page.locator("#run-status")).to_contain_text("succeeded")
    assert page.evaluate("window.twSameDocument") is True
    assert page.url == f"{server.url}/runs/{run.id}"
    page.context.close()


def test_a_run_now_toast_links_to_the_run_it_queued(
    browser: Browser, server: BrowserServer
) -> None:
    """Defect 10: "Run #17 queued" was plain text."""
    schedule = server.app.schedules.create(
        name="toast-target", task="greet", trigger="manual", payload={"name": "t"}
    )
    page = login_page(browser, server, "ada")
    page.goto(f"{server.url}/schedules?q=toast-target")
    for start in ("list", "detail"):
        if start == "detail":
            page.goto(f"{server.url}/schedules/{schedule.id}")
            page.locator(".page-head").get_by_role("button", name="Run now").click()
        else:
            page.get_by_role("button", name="Run now: toast-target").click()
        link = page.locator("#toasts .toast a").last
        expect(link).to_have_text(re.compile(r"^Run #\d+ queued$"))
        run_id = int(re.findall(r"\d+", link.inner_text())[0])
        assert server.app.runs.get(run_id).schedule_id == schedule.id
        expect(link).to_have_attribute("href", f"/runs/{run_id}")
        link.click()
        expect(page).to_have_url(f"{server.url}/runs/{run_id}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"Run #{run_id}")
    page.context.close()


def _polls(page: Page) -> list[str]:
    """The URLs of the schedules list's polls, recorded from now on."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if LIVE in r.url else None)
    return seen


def _next_poll(page: Page) -> None:
    """Wait for the list's next poll to be asked (the one before it was answered and
    swapped in: the poller asks again only after that)."""
    with page.expect_request(lambda r: LIVE in r.url):
        pass


def _row(page: Page, schedule_id: int) -> Locator:
    return page.locator(f"#schedule-{schedule_id}")


def test_the_schedules_list_refreshes_live_and_keeps_ticks_focus_and_history(
    browser: Browser, server: BrowserServer
) -> None:
    """Defect 16: another actor's change shows without a reload; what the operator is doing
    on the page stays as it was."""
    app = server.app
    greet = {"task": "greet", "payload": {"name": "x"}}
    one, two = (
        app.schedules.create(name=f"live-{n}", cron="0 3 * * *", **greet).id for n in ("one", "two")
    )
    far = "2099-01-01T00:00:00Z"
    three = app.schedules.create(name="live-three", trigger="once", run_at=far, **greet).id
    page = login_page(browser, server, "ada")
    page.goto(f"{server.url}/runs")
    page.goto(f"{server.url}/schedules?q=live-&status=active")
    page.evaluate("window.twSameDocument = true")
    history = page.evaluate("history.length")
    polls = _polls(page)
    page.get_by_role("checkbox", name="Select live-one").check()
    expect(page.locator("#bulk-schedules [data-bulk-count]")).to_have_text("1")

    # Another actor pauses live-two: its row says so, with its note, without a reload.
    app.schedules.pause(two, note="by the other operator")
    expect(_row(page, two).locator("[data-label='Status']")).to_contain_text("paused")
    expect(_row(page, two)).to_contain_text("by the other operator")
    # It no longer matches the filter: the list says so rather than dropping the row.
    expect(page.locator("#schedule-poller")).to_contain_text("This list changed since it loaded")
    # The poll asked with the page's filters, and nothing else moved.
    assert all("q=live-" in url and "status=active" in url for url in polls), polls
    expect(page.get_by_role("checkbox", name="Select live-one")).to_be_checked()
    expect(page.locator("#bulk-schedules [data-bulk-count]")).to_have_text("1")
    expect(page).to_have_url(f"{server.url}/schedules?q=live-&status=active")
    assert page.evaluate("history.length") == history
    assert page.evaluate("window.twSameDocument") is True

    # live-three is moved to now by another actor: the scheduler fires it, and its row
    # shows the fire, the success, the status it ends in and no next fire time.
    soon = datetime.now(UTC) + timedelta(seconds=1)
    app.schedules.update(three, run_at=soon.isoformat())
    row = _row(page, three)
    expect(row.locator("[data-label='Status']")).to_contain_text("completed")
    expect(row).to_contain_text(re.compile(r"fired (just now|\d+ s ago)"))
    expect(row).to_contain_text(re.compile(r"succeeded (just now|\d+ s ago)"))
    expect(row.locator("[data-label='Next run']")).not_to_contain_text("2099")

    # The row the operator is on keeps its focus: it is refreshed once they leave it.
    run_now = page.get_by_role("button", name="Run now: live-one")
    run_now.focus()
    app.schedules.pause(one, note="paused under the pointer")
    _next_poll(page)
    _next_poll(page)
    expect(run_now).to_be_focused()
    expect(_row(page, one)).not_to_contain_text("paused under the pointer")
    run_now.blur()
    expect(_row(page, one)).to_contain_text("paused under the pointer")
    expect(page.get_by_role("checkbox", name="Select live-one")).to_be_checked()

    # Back goes to the page before, and forward to this list with its filters.
    assert page.evaluate("history.length") == history
    page.go_back()
    expect(page).to_have_url(f"{server.url}/runs")
    page.go_forward()
    expect(page).to_have_url(f"{server.url}/schedules?q=live-&status=active")
    page.context.close()


def test_the_schedules_list_asks_nothing_while_its_tab_is_hidden(
    browser: Browser, server: BrowserServer
) -> None:
    page = login_page(browser, server, "ada")
    polls = _polls(page)
    _next_poll(page)
    # The tab goes to the background: the poller's timer still fires, but nothing is asked.
    page.evaluate(
        """() => {
          window.twHiddenPolls = 0;
          document.body.addEventListener("htmx:beforeRequest", (e) => {
            if (e.detail.elt.id === "schedule-poller" && document.hidden) window.twHiddenPolls++;
          });
          Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
          document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    asked = len(polls)
    page.wait_for_function("() => window.twHiddenPolls >= 2")
    assert len(polls) == asked
    # Back in view: it asks again.
    with page.expect_request(lambda r: LIVE in r.url):
        page.evaluate(
            """() => {
              Object.defineProperty(document, "hidden", {configurable: true, get: () => false});
              document.dispatchEvent(new Event("visibilitychange"));
            }"""
        )
    page.context.close()


def test_a_demotion_is_confirmed_and_the_last_admin_is_refused_next_to_its_row(
    browser: Browser, server: BrowserServer
) -> None:
    """Defect 12: the role dropdown demoted at once (and an arrow key on it promoted), and the
    last admin's refusal was the full-page 409 error."""
    users = server.app.users
    dora, _ = users.create_user(ADMIN_ACTOR, "dora", role="operator", password="a" * 12)
    ada = next(u for u in users.list_users(ADMIN_ACTOR) if u.username == "ada")
    page = login_page(browser, server, "ada")
    page.goto(f"{server.url}/admin/users")
    asked: list[str] = []

    def answer(accept: bool) -> None:
        def handle(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        page.once("dialog", handle)

    def role_of(name: str) -> str:
        return next(u.role.value for u in users.list_users(ADMIN_ACTOR) if u.username == name)

    def set_role(name: str, role: str) -> None:
        page.get_by_label(f"Role of {name}", exact=True).select_option(role)
        page.get_by_role("button", name=f"Set the role of {name}").click()

    # Choosing a role submits nothing (arrow keys on a closed select choose): Set does.
    setter = page.get_by_role("button", name="Set the role of dora")
    expect(setter).to_be_disabled()
    page.get_by_label("Role of dora", exact=True).focus()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Role of dora", exact=True)).to_have_value("admin")
    expect(setter).to_be_enabled()
    page.keyboard.press("ArrowUp")
    expect(setter).to_be_disabled()
    assert role_of("dora") == "operator"
    # A demotion dismissed: the dropdown shows the role again and nothing changed.
    answer(accept=False)
    set_role("dora", "viewer")
    expect(page.get_by_label("Role of dora", exact=True)).to_have_value("operator")
    expect(setter).to_be_disabled()
    assert asked == ["Demote dora from operator to viewer? They lose what operators may do "
                     "at once."]  # fmt: skip
    assert role_of("dora") == "operator"
    # Accepted: it is saved.
    answer(accept=True)
    with page.expect_navigation():
        set_role("dora", "viewer")
    expect(page.get_by_label("Role of dora", exact=True)).to_have_value("viewer")
    assert role_of("dora") == "viewer"
    # A promotion asks nothing.
    with page.expect_navigation():
        set_role("dora", "admin")
    assert role_of("dora") == "admin"
    assert len(asked) == 2
    users.update_user(ADMIN_ACTOR, dora.id, role="viewer")

    # ada is the last admin: the answer is this page, with the message next to ada's row.
    page.goto(f"{server.url}/admin/users")
    answer(accept=True)
    with page.expect_navigation():
        set_role("ada", "viewer")
    message = page.locator(f"#user-{ada.id}-error")
    expect(message).to_have_text("'ada' is the last admin; create another admin first")
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    expect(page.get_by_label("Role of ada", exact=True)).to_have_value("admin")
    red = page.evaluate(
        """() => { const p = document.createElement("p"); p.style.color = "var(--bad)";
                   document.body.append(p); const c = getComputedStyle(p).color; p.remove();
                   return c; }"""
    )
    assert message.evaluate("e => getComputedStyle(e).color") == red
    row = page.locator("tr", has=page.get_by_label("Role of ada", exact=True))
    expect(row.locator(".field-error")).to_have_count(1)
    assert role_of("ada") == "admin"
    # Disabling the last admin: confirmed, then refused the same way.
    answer(accept=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Disable ada").click()
    expect(page.locator(f"#user-{ada.id}-error")).to_contain_text("is the last admin")
    assert asked[-1].startswith("Disable ada?")
    assert not next(u for u in users.list_users(ADMIN_ACTOR) if u.username == "ada").disabled
    users.update_user(ADMIN_ACTOR, dora.id, disabled=True)
    page.context.close()


def test_a_page_refreshing_itself_keeps_the_focus_and_catches_up_when_shown(
    browser: Browser, server: BrowserServer
) -> None:
    """The dashboard replaces itself every 15 s: a keyboard user on one of its links was
    sent back to the top of the page each time. Shown again after being hidden, it refreshes
    at once."""
    page = login_page(browser, server, "ada")
    page.goto(f"{server.url}/")
    card = page.locator("#dashboard a[href='/schedules?status=active']").first
    card.focus()
    with page.expect_response(lambda r: "/ui/partials/dashboard" in r.url):
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.wait_for_function(
        "() => !document.querySelector('#dashboard').classList.contains('htmx-settling')"
    )
    expect(card).to_be_focused()
    assert page.evaluate("document.activeElement.getAttribute('href')") == (
        "/schedules?status=active"
    )
    page.context.close()
