"""Flows in a real browser (Debian's Chromium through Playwright) against a real
``tickwork run`` server on PostgreSQL: an admin creates a group schedule through the form
(a red inline error under a task's payload box first), presses Run now, and watches the
flow's page turn green wave by wave. Each step of ``ui-pipeline`` waits for a gate file its
payload names, so the test opens one wave at a time and waits for the page to show it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.browser import TIMEOUT_MS, BrowserServer, login_page
from tests.support.requirements import require

require("playwright")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

pytestmark = [pytest.mark.ui, pytest.mark.slow, pytest.mark.xdist_group("ui-browser")]

expect.set_options(timeout=TIMEOUT_MS)

STEPS = ("pipe.fetch", "pipe.clean", "pipe.count", "pipe.publish")


def _node(page: Page, task: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#flow-detail li.flow-node[data-task="{task}"]')


def _create_group_schedule(page: Page, gates: Path) -> None:
    page.get_by_role("link", name="New schedule").click()
    page.get_by_label("Group (one flow per fire time)").check()
    expect(page.locator("#field-task")).to_be_hidden()
    page.locator("#field-group").select_option("ui-pipeline")
    expect(page.get_by_label("Payload of pipe.publish")).to_be_visible()
    page.locator("#field-name").fill("browser pipeline")
    page.get_by_label("Manual").check()
    page.get_by_label("Payload of pipe.count").fill("[1, 2]")
    for step in ("pipe.fetch", "pipe.clean", "pipe.publish"):
        page.get_by_label(f"Payload of {step}").fill(json.dumps({"gate": str(gates / step)}))
    page.get_by_role("button", name="Create schedule").click()

    # Refused: the message is red, under the box it names, and the banner links to it.
    error = page.locator("#gp-3-error")
    expect(error).to_contain_text("must be a JSON object")
    expect(page.locator("#form-errors")).to_contain_text("payload of pipe.count")
    expect(page.get_by_label("Payload of pipe.count")).to_have_attribute("aria-invalid", "true")
    assert error.evaluate("e => getComputedStyle(e).color") == "rgb(198, 40, 40)"
    expect(page.get_by_label("Group (one flow per fire time)")).to_be_checked()
    page.get_by_label("Payload of pipe.count").fill(json.dumps({"gate": str(gates / "pipe.count")}))
    page.get_by_role("button", name="Create schedule").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("browser pipeline")
    expect(page.locator("#flows-title")).to_have_text("Flow history")


def test_a_group_schedule_runs_now_and_its_flow_turns_green_wave_by_wave(
    browser: Browser, server: BrowserServer, tmp_path: Path
) -> None:
    page = login_page(browser, server, "ada")
    _create_group_schedule(page, tmp_path)
    schedule_url = page.url

    page.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(re.compile(r"/flows/\d+$"))
    expect(page.locator("#flow-status")).to_contain_text("running")
    expect(_node(page, "pipe.fetch")).to_have_attribute("data-status", "running")
    for task in ("pipe.clean", "pipe.count", "pipe.publish"):
        expect(_node(page, task)).to_have_attribute("data-status", "waiting")

    # Wave 1 ends: fetch turns green, clean and count start, publish still waits.
    (tmp_path / "pipe.fetch").touch()
    expect(_node(page, "pipe.fetch")).to_have_attribute("data-status", "succeeded")
    expect(_node(page, "pipe.fetch")).to_have_class(re.compile(r"\btone-ok\b"))
    expect(_node(page, "pipe.clean")).to_have_attribute("data-status", "running")
    expect(_node(page, "pipe.count")).to_have_attribute("data-status", "running")
    expect(_node(page, "pipe.publish")).to_have_attribute("data-status", "waiting")

    # A reload shows the same state (the URL is the state).
    page.reload()
    expect(_node(page, "pipe.fetch")).to_have_attribute("data-status", "succeeded")
    expect(_node(page, "pipe.publish")).to_have_attribute("data-status", "waiting")

    # Wave 2 ends: both turn green, publish starts.
    (tmp_path / "pipe.clean").touch()
    (tmp_path / "pipe.count").touch()
    for task in ("pipe.clean", "pipe.count"):
        expect(_node(page, task)).to_have_attribute("data-status", "succeeded")
    expect(_node(page, "pipe.publish")).to_have_attribute("data-status", "running")
    expect(page.locator("#flow-status")).to_contain_text("running")

    # Wave 3 ends: the flow succeeded, every box green, and the page stops refreshing.
    (tmp_path / "pipe.publish").touch()
    expect(page.locator("#flow-status")).to_contain_text("succeeded")
    for task in STEPS:
        expect(_node(page, task)).to_have_class(re.compile(r"\btone-ok\b"))
    expect(page.locator("#flow-detail")).not_to_have_attribute("hx-get", re.compile("."))
    expect(page.get_by_role("button", name="Cancel flow…")).to_have_count(0)

    # Each box links to its run; Back returns to the flow.
    flow_url = page.url
    _node(page, "pipe.publish").get_by_role("link", name="pipe.publish").click()
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("succeeded")
    page.go_back()
    expect(page).to_have_url(flow_url)
    expect(page.locator("#flow-status")).to_contain_text("succeeded")

    # The schedule's flow history lists it.
    page.goto(schedule_url)
    flow_id = flow_url.rsplit("/", 1)[1]
    expect(page.locator("#flows").get_by_role("link", name=f"#{flow_id}")).to_be_visible()
