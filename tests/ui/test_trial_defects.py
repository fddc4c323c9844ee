"""What a trial of the UI found, checked through the ASGI client on SQLite and PostgreSQL
(the browser's side of the same defects is in ``test_browser_trial.py``): list fragments
name their page's URL, the viewer's time zone from its cookie, sub-minute seconds."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from tests.support.web import Ui
from tickwork import FakeClock

DASH = "\u2013"
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


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_last_fire_and_last_success_are_shown_apart(ui: Ui, clock: FakeClock) -> None:
    """A manual-only schedule said "Last run succeeded" with no time: it never fires, and its
    success has a time of its own."""
    schedule = ui.app.schedules.create(
        name="by-hand", task="greet", trigger="manual", payload={"name": "a"}
    )
    ui.app.schedules.run_now(schedule.id)
    ui.app.worker().run_until_idle()
    client, _ = ui.login("viewer")
    detail = _text(client.get(f"/schedules/{schedule.id}").text)
    assert "Last fire none: manual only" in detail
    assert "Last outcome succeeded" in detail
    assert "Last success 2030-01-01 00:00" in detail
    listed = _text(client.get("/schedules").text)
    assert "succeeded manual only succeeded just now" in listed


def test_metadata_is_edited_in_the_form_and_shown(ui: Ui) -> None:
    from tests.support.web import form_data

    client, csrf = ui.login("admin")
    bad = client.post(
        "/schedules/new", data=form_data(csrf_token=csrf, name="tagged", metadata="[1, 2]")
    )
    assert bad.status_code == 422
    assert 'id="field-metadata-error">Metadata must be a JSON object' in bad.text
    good = client.post(
        "/schedules/new",
        data=form_data(csrf_token=csrf, name="tagged", metadata='{"team": "payments"}'),
    )
    assert good.status_code == 303, good.text
    schedule = ui.app.schedules.get("tagged")
    assert schedule.metadata == {"team": "payments"}
    assert 'Metadata { "team": "payments" }' in _text(client.get(f"/schedules/{schedule.id}").text)
    edit = client.get(f"/schedules/{schedule.id}/edit").text
    assert '"team": "payments"' in edit.replace("&#34;", '"')


def test_the_run_once_note_says_what_was_done(ui: Ui, clock: FakeClock) -> None:
    """After downtime, ``run_once`` queues one catch-up run only when no newer fire time ran
    within the grace; the note said a catch-up run was queued either way."""
    start = datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
    made = {
        name: ui.app.schedules.create(
            name=name, task="greet", interval=60, start_at=start, misfire_grace=30,
            misfire_policy="run_once", payload={"name": "a"},
        )
        for name in ("caught-up", "newer-ran")
    }  # fmt: skip
    client, _ = ui.login("viewer")
    clock.set(datetime(2030, 1, 1, 0, 10, 40, tzinfo=UTC))  # 00:10 is 40 s late: missed
    ui.app.scheduler().tick()
    caught = _text(client.get(f"/schedules/{made['caught-up'].id}").text)
    assert "one catch-up run was queued for 2030-01-01 00:10:00" in caught
    # The other schedule's scheduler comes back 10 s after a fire time: that one runs.
    ui.app.schedules.pause(made["newer-ran"].id)
    ui.app.schedules.resume(made["newer-ran"].id, misfire="policy")
    clock.set(datetime(2030, 1, 1, 0, 20, 10, tzinfo=UTC))
    ui.app.scheduler().tick()
    newer = _text(client.get(f"/schedules/{made['newer-ran'].id}").text)
    assert "no catch-up run was needed, as a newer fire time within the grace ran" in newer
    assert "catch-up run was queued" not in newer


def test_a_run_page_shows_every_attempt_and_no_stale_start_on_a_queued_retry(
    ui: Ui, clock: FakeClock
) -> None:
    """A queued retry showed the previous attempt's start and error as its own, and earlier
    attempts had no worker and no log."""
    from tickwork import Context

    @ui.app.task("twice", max_attempts=2, retry_backoff=60)
    def twice(ctx: Context) -> None:
        ctx.log.warning("attempt %d going down", ctx.attempt)
        raise RuntimeError(f"broken {ctx.attempt}")

    run = ui.app.enqueue("twice")
    worker = ui.app.worker()
    worker.run_until_idle()
    client, _ = ui.login("viewer")
    page = client.get(f"/runs/{run.id}").text
    text = _text(page)
    assert re.search(r"Attempt 2 of 2 is queued for 2030-01-01 00:0\d:\d\d", text), text
    assert f"Waited in queue {DASH}" in text
    assert "Attempt 1 ended: RuntimeError: broken 1" in text
    latest = _text(page.split("(latest)")[1].split("</tr>")[0])
    assert latest.endswith(f"retrying {DASH} not yet {DASH} {DASH} {DASH} none"), latest
    # The previous attempt's traceback is in its row, not shown as the run's.
    assert 'id="tb-title"' not in page
    first_row = _text(page.split('data-label="Attempt">1</td>')[1].split("</tr>")[0])
    assert worker.worker_id in first_row
    assert re.search(r"1 line [0-9:.]+ warning attempt 1 going down$", first_row), first_row
    assert "Started" not in _text(page.split('id="timing-title"')[1].split("</dl>")[0])

    clock.advance(120)
    worker.run_until_idle()
    final = _text(client.get(f"/runs/{run.id}").text)
    assert "broken 2 (attempt 2 of 2; no attempts left)" in final
    assert "Log of attempt 2" in final


def test_the_dashboard_lists_what_runs_now_and_its_cards_link_to_their_lists(ui: Ui) -> None:
    import threading

    from tests.support.waiting import SLACK, wait_for
    from tickwork import Context
    from tickwork.duties.worker import WorkerConfig

    release = threading.Event()

    @ui.app.task("hold")
    def hold(ctx: Context) -> None:
        release.wait(SLACK)

    schedule = ui.app.schedules.create(name="holder", task="hold", trigger="manual")
    run = ui.app.schedules.run_now(schedule.id)
    worker = ui.app.worker(WorkerConfig(poll_interval=0.05, heartbeat_interval=0.1))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: ui.app.runs.get(run.id).status.value == "running")
        client, _ = ui.login("viewer")
        page = client.get("/").text
        running = page.split('id="running-title"')[1].split("</section>")[0]
        assert f'href="/runs/{run.id}">#{run.id}</a>' in running
        assert worker.worker_id in running
        assert 'href="/schedules/1">holder</a>' in running
        for link in (
            'href="/schedules?status=active"',
            'href="/schedules?status=paused"',
            'href="/runs?status=queued"',
            'href="#running-title"',
            'href="/runs?status=failed&amp;range=24h"',
            'href="#nodes-title"',
        ):
            assert link in page, link  # fmt: skip
    finally:
        release.set()
        stop.set()
        worker.wakeup.set()
        thread.join(SLACK)
    assert "Nothing is running." in client.get("/").text


def test_a_run_toast_links_to_the_run_and_the_runs_list_takes_part_of_a_name(ui: Ui) -> None:
    import json

    nightly = ui.app.schedules.create(name="Nightly export", task="greet", trigger="manual",
                                      payload={"name": "a"})  # fmt: skip
    other = ui.app.schedules.create(name="hourly", task="greet", trigger="manual",
                                    payload={"name": "b"})  # fmt: skip
    client, csrf = ui.login("operator")
    answer = client.post(
        f"/schedules/{nightly.id}/run",
        data={"from": "list", "csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200
    toast = json.loads(answer.headers["HX-Trigger"])["showToast"]
    run_id = ui.app.runs.list(schedule_id=nightly.id)[0].id
    assert toast == {"message": f"Run #{run_id} queued", "tone": "ok", "href": f"/runs/{run_id}"}
    ui.app.schedules.run_now(other.id)

    def listed(schedule: str) -> list[str]:
        page = client.get("/runs", params={"schedule": schedule}).text
        return re.findall(r'<tr id="run-(\d+)"', page)

    assert listed("night") == [str(run_id)]
    assert listed("EXPORT") == [str(run_id)]
    assert len(listed("ly")) == 2
    missing = client.get("/runs", params={"schedule": "weekly"}).text
    assert "no schedule named &#39;weekly&#39; or like it" in missing
    assert re.findall(r'<tr id="run-(\d+)"', missing) == []


def test_form_errors_name_the_field_by_label_with_the_valid_range(ui: Ui) -> None:
    from tests.support.web import form_data

    client, csrf = ui.login("admin")
    refused = client.post(
        "/schedules/new",
        data=form_data(csrf_token=csrf, cron="0 25 * * *", priority="5000",
                       misfire_cap="0", **{"config.times": "9"}),
    )  # fmt: skip
    assert refused.status_code == 422
    errors = [
        html.unescape(e) for e in re.findall(r'class="field-error"[^>]*>([^<]*)<', refused.text)
    ]
    assert errors == [
        "Times must be from 1 to 5",
        "Cron expression: invalid cron expression '0 25 * * *': hour must be 0\u201323 "
        "(it is '25')",
        "Catch-up cap must be from 1 to 1000",
        "Priority must be from -1000 to 1000",
    ]
    banner = _text(refused.text.split('id="form-errors"')[1].split("</div>")[0])
    assert banner.endswith(
        "Fix the fields marked below: Catch-up cap , Priority , Cron expression , Times ."
    ), banner
    # Timing errors are marked, so the live preview's message replaces them (said once).
    assert 'id="field-cron-error" data-timing-error>' in refused.text


def test_config_labels_are_words_and_numbers_are_plain(ui: Ui) -> None:
    """pydantic's automatic titles ("Url", "Json Body") and "1e+06" reached the form."""
    from pydantic import BaseModel, Field

    from tickwork import Context

    class CallConfig(BaseModel):
        url: str
        json_body: dict[str, int] | None = None
        max_bytes: int = Field(default=10, ge=1, le=1_000_000)
        name: str = Field(default="x", title="Display name")

    @ui.app.task("call", config=CallConfig)
    def call(ctx: Context, config: CallConfig) -> None:
        return None

    client, _ = ui.login("admin")
    fields = client.get("/ui/partials/config-fields", params={"task": "call"},
                        headers={"HX-Request": "true"}).text  # fmt: skip
    labels = [_text(label) for label in re.findall(r"<label[^>]*>(.*?)</label>", fields, re.S)]
    assert labels == [
        "Config: URL *",
        "Config: JSON body",
        "Config: Max bytes",
        "Config: Display name",
    ]
    assert 'max="1000000"' in fields
    assert "at most 1000000" in fields
    assert "e+06" not in fields


def test_a_new_schedules_charts_span_their_window_not_years(ui: Ui, clock: FakeClock) -> None:
    """One day of data made uPlot draw its x axis from 2027 to 2029: the specs now carry
    the window (the rate chart's 14 days; at least an hour around lone durations)."""
    import json

    schedule = ui.app.schedules.create(name="fresh", task="greet", trigger="manual",
                                       payload={"name": "a"})  # fmt: skip
    ui.app.schedules.run_now(schedule.id)
    ui.app.worker().run_until_idle()
    client, _ = ui.login("viewer")
    page = client.get(f"/schedules/{schedule.id}").text
    specs = [json.loads(m) for m in
             re.findall(r'<script type="application/json">(.*?)</script>', page, re.S)]  # fmt: skip
    rate, duration = specs[0], specs[1]
    assert rate["x_range"][1] - rate["x_range"][0] == 14 * 86400
    assert len(rate["x"]) == 1
    low, high = duration["x_range"]
    assert high - low == 3600
    assert low < duration["x"][0] < high


def test_a_new_tokens_expiry_offers_a_default(ui: Ui) -> None:
    client, _ = ui.login("admin")
    page = client.get("/admin/tokens").text
    assert '<option value="90d" selected>90 days</option>' in page
    assert '<option value="" selected>' not in page
