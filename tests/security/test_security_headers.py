"""Finding 11: security headers on every response, and a script policy the UI works under.

No response carried ``X-Content-Type-Options``, ``Content-Security-Policy``,
``Referrer-Policy`` or ``X-Frame-Options``. Every response now does (API, UI, static files,
errors, even the 500 Starlette's outermost layer writes), and the policy allows scripts from
this server only. The browser test opens every page of the UI and the API docs in Chromium
under that policy, uses what runs scripts there (htmx partials, the live preview, charts,
Swagger UI), and asserts that no policy violation and no console error happened.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.apps.ui_app import register_ui_tasks
from tests.support.accounts import ADMIN_ACTOR, FAST_PASSWORDS, PASSWORD
from tests.support.browser import TIMEOUT_MS, launch_chromium, ui_app_server
from tests.support.databases import fresh_pg_database
from tests.support.requirements import require
from tests.support.waiting import wait_for
from tests.support.web import make_web
from tickwork import Tickwork

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette asks for httpx2; httpx works the same
    from fastapi.testclient import TestClient

EXPECTED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def assert_secure(response: Any, what: str) -> None:
    """The four headers, and a policy that forbids framing and foreign or inline script."""
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (what, name, dict(response.headers))
    policy = response.headers.get("content-security-policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives.get("frame-ancestors") == ["'none'"], (what, policy)
    assert directives.get("script-src") == ["'self'"], (what, policy)
    assert directives.get("object-src") == ["'none'"], (what, policy)
    assert directives.get("default-src") == ["'self'"], (what, policy)


def test_every_kind_of_response_carries_the_headers(
    app: Tickwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = make_web(app, max_request_bytes=4096)
    client = TestClient(web, raise_server_exceptions=False, follow_redirects=False)
    _, token = app.tokens.create_token(ADMIN_ACTOR, "reader", role="viewer")
    bearer = {"Authorization": f"Bearer {token}"}
    static = re.search(r'href="(/ui/static/app\.css[^"]*)"', client.get("/login").text)
    assert static is not None
    cases = {
        "login page": client.get("/login"),
        "page redirecting to login": client.get("/schedules"),
        "api 200": client.get("/api/v1/schedules", headers=bearer),
        "api 401": client.get("/api/v1/schedules"),
        "api 404": client.get("/api/v1/nothing", headers=bearer),
        "api 405": client.delete("/api/v1/stats", headers=bearer),
        "api 413": client.post("/api/v1/runs", headers=bearer, content=b"x" * 10_000),
        "api 422": client.get("/api/v1/runs?limit=-1", headers=bearer),
        "ui static": client.get(static.group(1)),
        "docs": client.get("/api/docs"),
        "docs static": client.get("/api/docs/static/swagger-ui-bundle.js"),
        "openapi": client.get("/api/openapi.json"),
        "healthz": client.get("/healthz"),
        "metrics": client.get("/metrics"),
        "unknown page": client.get("/nothing", headers={"Accept": "text/html"}),
    }
    for what, response in cases.items():
        assert_secure(response, what)
    assert cases["ui static"].headers["content-type"].startswith("text/css")

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(web.state.tickwork.tickwork.reads.stats, "stats", explode)
    failed = client.get("/api/v1/stats", headers=bearer)
    assert failed.status_code == 500
    assert_secure(failed, "500")


def test_the_docs_page_has_no_inline_script(app: Tickwork) -> None:
    page = TestClient(make_web(app)).get("/api/docs").text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.DOTALL)
    assert scripts
    assert all("src=" in attrs and not body.strip() for attrs, body in scripts)


# -- in a real browser ----------------------------------------------------------------------------


@dataclass
class Browsed:
    """What the browser reported while the pages were used."""

    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium (never a downloaded browser)."""
    return require("chromium")


@pytest.fixture(scope="module")
def server(
    chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Tickwork]]:
    """``tickwork run`` on PostgreSQL with an admin, and a schedule with finished runs."""
    database_url, drop = fresh_pg_database()
    app = Tickwork(database_url, passwords=FAST_PASSWORDS)
    register_ui_tasks(app)
    app.users.create_user(ADMIN_ACTOR, "ada", role="admin", password=PASSWORD)
    try:
        with ui_app_server(
            database_url, tmp_path_factory.mktemp("csp-server") / "server.log"
        ) as process:
            process.wait_until_serving()
            schedule = app.schedules.create(
                name="charted", task="greet", cron="*/5 * * * *", payload={"name": "ada"}
            )
            for _ in range(3):
                app.schedules.run_now(schedule.id)
            app.enqueue("boom")
            wait_for(
                lambda: len([r for r in app.runs.list() if r.finished_at is not None]) >= 4,
                what="the three Run now runs and the failing one to finish",
            )
            yield process.url, app
    finally:
        app.close()
        drop()


RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " +
                    (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


@pytest.mark.slow
@pytest.mark.ui
@pytest.mark.xdist_group("ui-browser")
def test_every_page_works_under_the_policy(chromium: str, server: tuple[str, Tickwork]) -> None:
    require("playwright")
    from playwright.sync_api import expect, sync_playwright

    url, app = server
    schedule = app.schedules.get("charted")
    run = app.runs.list(task="greet")[0]
    browsed = Browsed()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, chromium)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC")
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(RECORD_VIOLATIONS)
        page = context.new_page()

        def on_console(message: Any) -> None:
            text = message.text
            if "Content Security Policy" in text:
                browsed.violations.append(text)
            elif message.type == "error":
                browsed.errors.append(text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: browsed.errors.append(str(error)))

        def settle(what: str) -> None:
            page.wait_for_load_state("networkidle")
            found = page.evaluate("window.__csp || []")
            browsed.violations.extend(f"{what}: {v}" for v in found)
            assert page.evaluate("typeof window.__csp") == "object", what

        page.goto(f"{url}/login")
        settle("login")
        page.get_by_label("Username").fill("ada")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{url}/")
        expect(page.locator("[data-chart] canvas").first).to_be_visible()
        assert page.evaluate("typeof htmx") == "object"
        settle("dashboard")

        page.goto(f"{url}/schedules")
        page.locator("input[name=q]").fill("chart")
        expect(page.get_by_role("link", name="charted", exact=True)).to_be_visible()
        page.locator("input[name=q]").fill("nothing-matches")
        expect(page.locator("#schedule-table")).to_contain_text("No schedule matches")
        settle("schedules with filters")

        page.goto(f"{url}/schedules/new")
        page.get_by_label("Cron expression").fill("0 9 * * 1-5")
        expect(page.locator("#timing-preview .description")).to_contain_text("Monday through")
        page.get_by_label("Cron expression").fill("0 9 * * 8")
        expect(page.locator("#timing-preview .field-error")).to_be_visible()
        page.get_by_label("Task").select_option("greet")
        expect(page.locator("#cfg-name")).to_be_visible()
        settle("new schedule form with live preview")

        page.goto(f"{url}/schedules/{schedule.id}")
        expect(page.locator("[data-chart] canvas").first).to_be_visible()
        page.get_by_role("button", name="Run now").click()
        expect(page.locator("#history tbody tr").first.locator(".badge")).to_be_visible()
        settle("schedule detail with charts")

        for path, what in (
            ("/runs", "runs"),
            (f"/runs/{run.id}", "run detail"),
            ("/audit", "audit"),
            ("/admin/users", "users"),
            ("/admin/tokens", "tokens"),
        ):
            page.goto(f"{url}{path}")
            expect(page.locator("main h1").first).to_be_visible()
            settle(what)
        page.locator("#theme-toggle").click()
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        settle("theme toggle")

        page.goto(f"{url}/api/docs")
        expect(page.locator(".opblock").first).to_be_visible()
        page.locator(".opblock-summary").first.click()
        expect(page.locator(".opblock-body").first).to_be_visible()
        settle("api docs")
        browser.close()
    assert browsed.violations == []
    assert browsed.errors == []
