"""What a trial of the UI found, checked through the ASGI client on SQLite and PostgreSQL
(the browser's side of the same defects is in ``test_browser_trial.py``): list fragments
name their page's URL, the viewer's time zone from its cookie, sub-minute seconds."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.support.web import Ui
from tickwork import FakeClock

FIRE_TIME = re.compile(r'<li><time datetime="[^"]+">(?:\w{3} )?([0-9: -]+)</time>')


def test_list_fragments_name_their_pages_url_and_send_a_browser_to_the_page(ui: Ui) -> None:
    schedule = ui.app.schedules.create(name="nightly", task="greet", cron="0 2 * * *",
                                       payload={"name": "ada"})  # fmt: skip
    client, _ = ui.login("viewer")
    htmx = {"HX-Request": "true"}
    pushed = {
        "/ui/partials/schedules?q=night&status=&task=&sort=name&per_page=50":
            "/schedules?q=night&per_page=50",
        "/ui/partials/schedules?page=2": "/schedules?page=2",
        "/ui/partials/runs?status=failed&task=&schedule=": "/runs?status=failed",
        "/ui/partials/runs?before=9": "/runs?before=9",
        f"/ui/partials/schedules/{schedule.id}/history?status=failed&per_page=25":
            f"/schedules/{schedule.id}?status=failed&per_page=25",
        f"/ui/partials/schedules/{schedule.id}/history": f"/schedules/{schedule.id}",
    }  # fmt: skip
    for fragment, page in pushed.items():
        answer = client.get(fragment, headers=htmx)
        assert answer.status_code == 200, fragment
        assert answer.headers["HX-Push-Url"] == page, fragment
        # A browser that lands on the fragment itself (an old link) is sent to the page.
        plain = client.get(fragment)
        assert (plain.status_code, plain.headers["location"]) == (303, page), fragment
    # The live poller keeps the address bar as it is.
    live = client.get("/ui/partials/runs/live?ids=&top=0", headers=htmx)
    assert "HX-Push-Url" not in live.headers


def test_the_viewers_zone_comes_from_its_percent_encoded_cookie(ui: Ui, clock: FakeClock) -> None:
    """The browser writes ``tw_tz`` with ``encodeURIComponent``; every page showed UTC."""
    clock.set(datetime(2030, 1, 7, 8, 0, tzinfo=UTC))
    schedule = ui.app.schedules.create(
        name="morning", task="greet", cron="0 9 * * *", timezone="UTC", payload={"name": "a"}
    )
    client, _ = ui.login("viewer")
    client.cookies.set("tw_tz", "Asia%2FKolkata")
    page = client.get(f"/schedules/{schedule.id}").text
    assert 'data-zone="Asia/Kolkata"' in page
    # The viewer's time first, the schedule's own alongside where the wall clock differs.
    first = re.search(r'<ol class="fire-times".*?<li>(.*?)</li>', page, re.S)
    assert first is not None
    text = " ".join(re.sub(r"<[^>]+>", " ", first.group(1)).split())
    assert text.startswith("Mon 2030-01-07 14:30 (2030-01-07 09:00 UTC)"), text
    # A zone the cookie names raw still works; nonsense and overlong values fall back to UTC.
    for value, zone in (("Europe/Paris", "Europe/Paris"), ("Mars%2FOlympus", "UTC"),
                        ("A" * 500, "UTC")):  # fmt: skip
        client.cookies.set("tw_tz", value)
        assert f'data-zone="{zone}"' in client.get("/schedules").text, value


def test_a_page_without_a_viewer_never_reloads_to_apply_the_zone(ui: Ui) -> None:
    """The login page shows no times: the script sets the cookie there without reloading,
    so the first page after logging in is already in the viewer's zone."""
    login = ui.client().get("/login").text
    assert 'data-reloadable="false"' in login
    client, _ = ui.login("viewer")
    assert 'data-reloadable="true"' in client.get("/schedules").text


def test_sub_minute_fire_times_keep_their_seconds(ui: Ui, clock: FakeClock) -> None:
    """Every 30 seconds from a whole minute: fire times at :00 and :30 used to read alike."""
    clock.set(datetime(2030, 1, 7, 8, 0, 5, tzinfo=UTC))
    start = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
    schedule = ui.app.schedules.create(
        name="often", task="greet", interval=30, start_at=start, payload={"name": "a"}
    )
    client, _ = ui.login("admin")
    client.cookies.set("tw_tz", "Asia%2FKolkata")
    detail = client.get(f"/schedules/{schedule.id}").text
    listed = FIRE_TIME.findall(detail.split('class="fire-times"')[1])
    assert listed[:3] == ["2030-01-07 13:30:30", "2030-01-07 13:31:00", "2030-01-07 13:31:30"]
    assert "(2030-01-07 08:00:30 UTC)" in detail
    preview = client.get(
        "/ui/partials/timing-preview",
        params={"trigger": "interval", "interval": "30s", "timezone": "UTC",
                "start_at": "2030-01-07T08:00"},
    ).text  # fmt: skip
    assert re.findall(r"\(([0-9: -]+)\)", preview)[:2] == [
        "2030-01-07 13:30:30",
        "2030-01-07 13:31:00",
    ]
    # The history's fire time.
    clock.advance(60)
    ui.app.scheduler().tick()
    history = client.get(f"/schedules/{schedule.id}").text
    assert ">2030-01-07 13:30:30</time>" in history
