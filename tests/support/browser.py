"""What the browser tests share: Debian's Chromium as Playwright launches it, and the server
they drive, ``tickwork run`` of the UI test app (``tests/apps/ui_app.py``) with local auth.

Importing this module needs nothing outside Python; a test asks for Chromium and Playwright
with :func:`tests.support.requirements.require` before it launches a browser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.accounts import PASSWORD
from tests.support.servers import TickworkServer
from tickwork import Tickwork

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

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
# How long a browser step may take before it fails: generous, for a loaded machine.
TIMEOUT_MS = 20_000


def launch_chromium(playwright: Playwright, chromium: str) -> Browser:
    """Chromium at ``chromium`` (never a downloaded browser), headless."""
    return playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)


def ui_app_server(database_url: str, log: Path, **settings: str) -> TickworkServer:
    """``tickwork run --app tests.apps.ui_app:app --auth local`` (scheduler, worker and web
    in one process, polling every 0.2 s) on ``database_url``, its output in ``log``;
    ``settings`` become ``TICKWORK_*`` variables. The caller enters it and waits until it
    serves."""
    return TickworkServer(
        "run",
        "--app",
        "tests.apps.ui_app:app",
        "--auth",
        "local",
        log=log,
        database_url=database_url,
        poll_interval="0.2",
        **settings,
    )


@dataclass(frozen=True)
class BrowserServer:
    """A running ``tickwork run`` and the app object pointing at its database."""

    url: str
    app: Tickwork


def login_page(
    browser: Browser,
    server: BrowserServer,
    username: str,
    *,
    timezone: str = "UTC",
    bypass_csp: bool = False,
) -> Page:
    """A new browser context in ``timezone``, logged in as ``username`` through the login
    form (asked for by ``/schedules``), on the schedules list."""
    from playwright.sync_api import expect

    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, timezone_id=timezone, bypass_csp=bypass_csp
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{server.url}/schedules")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{server.url}/schedules")
    return page


AXE_SCRIPT = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
"""axe-core 4.14.1 (MPL-2.0, from the npm registry), kept here so no test downloads it."""


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of ``impacts`` on the page as it is, one line each (rule, what
    it says, the first few elements). The page's context must bypass the CSP (the script is
    added inline)."""
    page.add_script_tag(path=str(AXE_SCRIPT))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    lines = []
    for violation in found:
        if violation.get("impact") in impacts:
            targets = [" ".join(map(str, n.get("target", []))) for n in violation["nodes"][:3]]
            lines.append(f"{violation['id']}: {violation['help']} at {targets}")
    return lines
