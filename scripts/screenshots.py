"""Screenshots of every page of the admin UI, at 1280x800 and at a phone's 390x844.

Usage: ``.venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--only NAME...]``

Starts ``tickwork run`` on a throwaway SQLite database seeded with realistic data
(``scripts/ui_seed.py``), logs in with Debian's Chromium through Playwright and writes
``<page>-desktop.png`` and ``<page>-phone.png`` (full-page) for each page, plus dark-theme
variants of a few. Never downloads a browser.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from ui_seed import (  # noqa: E402
    PASSWORD,
    seed_history,
    seed_schedules,
    seed_tokens,
    seed_users,
)

from tickwork.builtin_tasks import register_builtin_tasks  # noqa: E402
from tickwork.demo import PIPELINE, build_demo_app  # noqa: E402
from tickwork.settings import Settings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
ZONE = "Europe/London"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def login(page: Page, base: str, username: str) -> None:
    """Log in through the form."""
    page.goto(f"{base}/login")
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def settle(page: Page) -> None:
    """Let htmx requests and charts finish."""
    page.wait_for_load_state("networkidle")
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(250)


Shot = tuple[str, Callable[[Page, str], None]]


def visit(path: str) -> Callable[[Page, str], None]:
    def go(page: Page, base: str) -> None:
        page.goto(base + path)
        settle(page)

    return go


def new_form(page: Page, base: str) -> None:
    page.goto(f"{base}/schedules/new")
    page.select_option("#field-task", "http.request")
    page.wait_for_selector("#cfg-url")
    page.fill("#field-name", "Status page check")
    page.fill("#cfg-url", "https://status.example.com/health")
    page.fill("#field-cron", "*/10 8-18 * * 1-5")
    page.wait_for_selector("#timing-preview .description")
    # Allowed times: the default window (Mon-Fri 09:00-17:00) skips the 08:xx fire times.
    page.click("button[data-add-window]")
    # From next Monday 08:30, so the preview shows skipped and running fire times.
    today = datetime.date.today()
    monday = today + datetime.timedelta(days=7 - today.weekday())
    page.fill("#field-preview_from", f"{monday.isoformat()}T08:30")
    page.wait_for_selector("#timing-preview .badge.warn")
    settle(page)


def new_form_errors(page: Page, base: str) -> None:
    page.goto(f"{base}/schedules/new")
    page.select_option("#field-task", "http.request")
    page.wait_for_selector("#cfg-url")
    page.fill("#cfg-url", "not a url")
    page.fill("#field-cron", "0 9 * * 8")
    page.wait_for_selector("#timing-preview .field-error")
    page.click("form[data-schedule-form] button[type=submit]")
    page.wait_for_selector("#form-errors")
    page.fill("#field-cron", "0 9 * * 8")
    page.wait_for_selector("#timing-preview .field-error")
    settle(page)


def schedule_by_name(name: str, suffix: str = "") -> Callable[[Page, str], None]:
    def go(page: Page, base: str) -> None:
        page.goto(f"{base}/schedules?q={name.replace(' ', '+')}")
        page.click(f"a.name:text-is('{name}')")
        page.wait_for_selector("h1")
        if suffix:
            page.goto(page.url.split("?")[0] + suffix)
        settle(page)

    return go


def failed_run(page: Page, base: str) -> None:
    page.goto(f"{base}/runs?status=failed&schedule=Inventory+sync")
    page.click("#run-list a.name >> nth=0")
    page.wait_for_selector("#run-detail")
    settle(page)


def tokens_created(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/tokens")
    size = page.viewport_size or {"width": 0}
    page.fill("#token-name", "deploy pipeline" if size["width"] > 600 else "release bot")
    page.select_option("#token-role", "operator")
    page.click("text=Create token")
    page.wait_for_selector("#new-secret")
    settle(page)


def latest_flow(page: Page, base: str) -> None:
    """The newest flow's page once it has ended (the seeded flow runs when the server
    starts)."""
    page.goto(f"{base}/flows")
    page.click("#flow-list tbody a >> nth=0")
    page.wait_for_selector("#flow-detail:not([hx-get])", timeout=60_000)
    settle(page)


ADMIN_SHOTS: list[Shot] = [
    ("dashboard", visit("/")),
    ("schedules", visit("/schedules")),
    ("schedule-new", new_form),
    ("schedule-new-errors", new_form_errors),
    ("schedule-detail", schedule_by_name("Inventory sync")),
    ("schedule-detail-paused", schedule_by_name("Quarterly audit reminder")),
    ("schedule-edit", schedule_by_name("Weekly report email", "/edit")),
    ("schedule-detail-limits", schedule_by_name("Weekly report email")),
    ("runs", visit("/runs")),
    ("run-detail", failed_run),
    ("groups", visit("/groups")),
    ("flows", visit("/flows")),
    ("flow-detail", latest_flow),
    ("audit", visit("/audit")),
    ("users", visit("/admin/users")),
    ("tokens", tokens_created),
]
VIEWER_SHOTS: list[Shot] = [("viewer-schedules", visit("/schedules"))]
DARK_SHOTS: list[Shot] = [
    ("dark-dashboard", visit("/")),
    ("dark-schedules", visit("/schedules")),
    ("dark-schedule-detail", schedule_by_name("Inventory sync")),
]


def capture(
    browser: Browser,
    base: str,
    out: Path,
    user: str | None,
    shots: list[Shot],
    *,
    dark: bool = False,
    only: set[str] | None = None,
) -> list[Path]:
    written = []
    for size, (width, height) in SIZES.items():
        context = browser.new_context(
            viewport={"width": width, "height": height},
            device_scale_factor=1,
            timezone_id=ZONE,
            color_scheme="dark" if dark else "light",
            locale="en-GB",
        )
        context.add_cookies([{"name": "tw_tz", "value": ZONE, "url": base}])
        page = context.new_page()
        if user is None:
            if only is None or "login" in only:
                page.goto(f"{base}/login")
                settle(page)
                path = out / f"login-{size}.png"
                page.screenshot(path=str(path), full_page=True)
                written.append(path)
            context.close()
            continue
        login(page, base, user)
        for name, go in shots:
            if only is not None and name not in only:
                continue
            go(page, base)
            path = out / f"{name}-{size}.png"
            page.screenshot(path=str(path), full_page=True)
            written.append(path)
        context.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--only", nargs="*", help="page names to capture (default: all)")
    options = parser.parse_args()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    only = set(options.only) if options.only else None

    workdir = Path(tempfile.mkdtemp(prefix="tickwork-shots-"))
    port = free_port()
    database_url = f"sqlite:///{workdir / 'tickwork.db'}"
    env = {
        **os.environ,
        "TICKWORK_SECRET_KEY": "screenshots-only-secret-key-0123456789",
        "TICKWORK_OUTBOX_DIR": str(workdir / "outbox"),
        "TICKWORK_EXPORT_DIR": str(workdir / "exports"),
        "TICKWORK_PORT": str(port),
    }
    settings = Settings(
        database_url=database_url,
        port=port,
        outbox_dir=env["TICKWORK_OUTBOX_DIR"],
        export_dir=env["TICKWORK_EXPORT_DIR"],
    )
    app = build_demo_app(settings)
    register_builtin_tasks(app, settings)
    app.migrate()
    seed_users(app)
    seed_tokens(app)
    schedules = seed_schedules(app, port)
    seed_history(app, schedules, random.Random(7))
    # A flow of the demo pipeline with its schedule's payloads: the server's worker runs it.
    app.flows.start(group=PIPELINE, payload=app.code_schedules[PIPELINE].fields["payload"])
    app.close()

    tickwork = str(Path(sys.executable).parent / "tickwork")
    server = subprocess.Popen(
        [tickwork, "run", "--db", database_url, "--port", str(port), "--auth", "local"],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz")
        time.sleep(2)  # let the demo schedules fire once
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            written = capture(browser, base, out, None, [], only=only)
            written += capture(browser, base, out, "ada", ADMIN_SHOTS, only=only)
            written += capture(browser, base, out, "vic", VIEWER_SHOTS, only=only)
            written += capture(browser, base, out, "ada", DARK_SHOTS, dark=True, only=only)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
