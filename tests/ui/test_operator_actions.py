"""The operator actions in the UI (server-rendered pages, through the test client): bulk
actions with a confirmation stating the count, backfill previewed before it is confirmed,
"run the missed fire times", simulated next fire times and preview, run search, queues."""

from __future__ import annotations

import re

from tests.apps.ui_app import PIPELINE, register_ui_flows
from tests.support.schedules import audit_actions
from tests.support.web import Ui
from tickwork import FakeClock


def make(ui: Ui, name: str, **fields: object) -> int:
    values = {"task": "greet", "payload": {"name": "ada"}, "cron": "0 * * * *", **fields}
    return ui.app.schedules.create(name=name, **values).id


def test_bulk_pause_of_ticked_schedules_and_of_all_matching(ui: Ui) -> None:
    ids = [make(ui, f"report-{i}") for i in range(3)]
    other = make(ui, "cleanup")
    client, csrf = ui.login("operator")
    page = client.get("/schedules").text
    assert 'id="bulk-schedules"' in page
    assert page.count("data-bulk-item") == 4
    assert "Select all 4 matching" in page

    ticked = {
        "csrf_token": csrf,
        "action": "pause",
        "scope": "ids",
        "ids": [str(i) for i in ids[:2]],
    }
    confirm = client.post("/schedules/bulk", data=ticked)
    assert confirm.status_code == 200
    assert "Pause 2 schedules?" in confirm.text
    assert ui.app.schedules.get(ids[0]).status.value == "active"
    done = client.post("/schedules/bulk", data={**ticked, "confirm": "yes"})
    assert "Pause: 2 of 2 schedules changed" in done.text
    assert [ui.app.schedules.get(i).status.value for i in ids] == ["paused", "paused", "active"]

    every = {
        "csrf_token": csrf,
        "action": "pause",
        "scope": "all",
        "q": "report",
        "note": "db move",
    }
    confirm = client.post("/schedules/bulk", data=every)
    assert "Pause 3 schedules?" in confirm.text
    assert "db move" in confirm.text
    done = client.post("/schedules/bulk", data={**every, "confirm": "yes"})
    assert "Pause: 1 of 3 schedules changed" in done.text
    assert ui.app.schedules.get(ids[2]).pause_note == "db move"
    assert ui.app.schedules.get(other).status.value == "active"
    assert audit_actions(ui.app).count("schedule.pause") == 3

    nothing = client.post("/schedules/bulk", data={"csrf_token": csrf, "action": "pause"})
    assert nothing.status_code == 422
    assert "tick the schedules" in nothing.text
    refused = client.post("/schedules/bulk", data={**ticked, "action": "delete", "confirm": "yes"})
    assert refused.status_code == 403
    viewer, viewer_csrf = ui.login("viewer")
    assert 'id="bulk-schedules"' not in viewer.get("/schedules").text
    assert (
        viewer.post("/schedules/bulk", data={**ticked, "csrf_token": viewer_csrf}).status_code
        == 403
    )
    no_csrf = {k: v for k, v in ticked.items() if k != "csrf_token"}
    assert client.post("/schedules/bulk", data=no_csrf).status_code == 403


def test_bulk_retry_of_runs_matching_a_search(ui: Ui) -> None:
    failed = [ui.app.enqueue("boom") for _ in range(2)]
    ok = ui.app.enqueue("greet", {"name": "zoë"})
    ui.app.worker(concurrency=2).run_until_idle(10)
    client, csrf = ui.login("operator")
    found = client.get("/runs", params={"payload": "ZOë"}).text
    assert f"/runs/{ok.id}" in found
    assert f"/runs/{failed[0].id}" not in found
    by_error = client.get("/runs", params={"error": "KABOOM"}).text
    assert f"/runs/{failed[0].id}" in by_error
    assert f"/runs/{ok.id}" not in by_error

    every = {"csrf_token": csrf, "action": "retry", "scope": "all", "status": "failed"}
    confirm = client.post("/runs/bulk", data=every)
    assert "Retry 2 runs?" in confirm.text
    done = client.post("/runs/bulk", data={**every, "confirm": "yes"})
    assert "Retry: 2 of 2 runs changed" in done.text
    assert {ui.app.runs.get(r.id).status.value for r in failed} == {"queued"}
    mixed = {"csrf_token": csrf, "action": "cancel", "scope": "ids", "ids": [str(ok.id)]}
    result = client.post("/runs/bulk", data={**mixed, "confirm": "yes"}).text
    assert "0 of 1 runs changed" in result
    assert "succeeded" in result


def test_backfill_is_previewed_then_created(ui: Ui, clock: FakeClock) -> None:
    schedule = make(ui, "hourly")
    client, csrf = ui.login("operator")
    span = {"start": "2029-12-31T21:00:00", "end": "2030-01-01T00:00:00"}
    form = client.get(f"/schedules/{schedule}/backfill").text
    assert 'name="start"' in form
    preview = client.get(f"/schedules/{schedule}/backfill", params=span).text
    assert "3 fire times: 3 without a run" in preview
    assert "Create 3 runs" in preview
    assert ui.app.runs.list(schedule_id=schedule) == []
    created = client.post(f"/schedules/{schedule}/backfill", data={**span, "csrf_token": csrf})
    assert created.status_code == 303
    assert created.headers["location"].endswith("notice=backfilled")
    assert len(ui.app.runs.list(schedule_id=schedule, trigger="backfill")) == 3
    again = client.get(f"/schedules/{schedule}/backfill", params=span).text
    assert "nothing to create" in again
    bad = client.get(
        f"/schedules/{schedule}/backfill", params={"start": span["end"], "end": span["start"]}
    )
    assert 'class="field-error"' in bad.text
    assert "end must be after start" in bad.text
    viewer, _ = ui.login("viewer")
    assert viewer.get(f"/schedules/{schedule}/backfill").status_code == 403


def test_a_missed_entry_offers_to_run_its_fire_times(ui: Ui, clock: FakeClock) -> None:
    schedule = make(ui, "every-ten", cron="*/10 * * * *", misfire_policy="skip")
    scheduler = ui.app.scheduler()
    clock.advance(600)
    scheduler.tick()
    clock.advance(45 * 60)
    scheduler.tick()
    (missed,) = ui.app.runs.list(schedule_id=schedule, status="skipped")
    client, _ = ui.login("operator")
    page = client.get(f"/runs/{missed.id}").text
    match = re.search(r'href="(/schedules/\d+/backfill\?[^"]+)"', page)
    assert match, "no link to run the missed fire times"
    assert "Run the missed fire times" in page
    preview = client.get(match.group(1).replace("&amp;", "&")).text
    assert "4 fire times: 4 without a run" in preview
    viewer, _ = ui.login("viewer")
    assert "Run the missed fire times" not in viewer.get(f"/runs/{missed.id}").text


def test_next_fire_times_and_the_preview_show_skipped_times_with_why(ui: Ui) -> None:
    schedule = make(ui, "noon", cron="0 12 * * *", blackout_dates=["2030-01-02"])
    client, _ = ui.login("viewer")
    page = client.get(f"/schedules/{schedule}").text
    assert "skipped: blackout" in page
    preview = client.get(
        "/ui/partials/timing-preview",
        params={
            "trigger": "cron",
            "cron": "0 12 * * *",
            "timezone": "UTC",
            "blackout_dates": "2030-01-02",
            "max_runs": "3",
            "preview_from": "2030-01-01T00:00",
        },
    ).text
    assert preview.count("<li") == 4
    assert "skipped: blackout" in preview
    assert "max_runs" in preview
    later = client.get(
        "/ui/partials/timing-preview",
        params={"trigger": "cron", "cron": "0 12 * * *", "preview_from": "2031-06-01T00:00"},
    ).text
    assert "2031" in later
    bad = client.get(
        "/ui/partials/timing-preview",
        params={"trigger": "cron", "cron": "0 12 * * *", "preview_from": "soon"},
    ).text
    assert "Preview from:" in bad


def test_queues_page_pauses_and_resumes(ui: Ui) -> None:
    ui.app.enqueue("greet", {"name": "ada"}, queue="slow")
    client, csrf = ui.login("operator")
    page = client.get("/queues").text
    assert "<code>slow</code>" in page
    assert "Pause queue slow" in page
    paused = client.post("/queues/slow/pause", data={"csrf_token": csrf, "note": "upstream down"})
    assert paused.status_code == 303
    page = client.get(paused.headers["location"]).text
    assert "upstream down" in page
    assert "Queue paused" in page
    assert [q.paused for q in ui.app.queues.list()] == [True]
    tenant, tenant_csrf = ui.login("operator", "acme")
    assert "Pause queue" not in tenant.get("/queues").text
    refused = tenant.post("/queues/slow/resume", data={"csrf_token": tenant_csrf})
    assert refused.status_code == 403
    client.post("/queues/slow/resume", data={"csrf_token": csrf})
    assert [q.paused for q in ui.app.queues.list()] == [False]


def test_a_group_schedule_backfill_previews_flows_and_their_runs(ui: Ui, clock: FakeClock) -> None:
    register_ui_flows(ui.app)
    schedule = ui.app.schedules.create(name="pipe", group=PIPELINE, cron="0 * * * *").id
    client, csrf = ui.login("operator")
    page = client.get(f"/schedules/{schedule}").text
    assert f'href="/schedules/{schedule}/backfill"' in page
    span = {"start": "2029-12-31T21:00:00", "end": "2030-01-01T00:00:00"}
    preview = client.get(f"/schedules/{schedule}/backfill", params=span).text
    assert "One flow of group" in preview
    assert "3 fire times: 3 without a flow, so 3 flows (12 runs) to create" in preview
    assert "no: a flow of 4 runs is created" in preview
    assert "Create 3 flows (12 runs)" in preview
    assert ui.app.flows.list(schedule_id=schedule) == []
    created = client.post(f"/schedules/{schedule}/backfill", data={**span, "csrf_token": csrf})
    assert created.status_code == 303
    assert created.headers["location"].endswith("notice=backfilled-flows")
    assert "its flows started" in client.get(created.headers["location"]).text
    flows = ui.app.flows.list(schedule_id=schedule)
    assert [f.trigger for f in flows] == ["backfill"] * 3
    listed = client.get("/flows", params={"trigger": "backfill"}).text
    assert '<option value="backfill" selected' in listed
    assert all(f'href="/flows/{f.id}"' in listed for f in flows)
    again = client.get(f"/schedules/{schedule}/backfill", params=span).text
    assert "Every fire time of the span already has a flow: nothing to create." in again
    refused = client.post(f"/schedules/{schedule}/backfill", data={**span})
    assert refused.status_code == 403
    bad = client.post(
        f"/schedules/{schedule}/backfill",
        data={"start": span["start"], "end": "nonsense", "csrf_token": csrf},
    )
    assert bad.status_code == 422
    assert 'id="backfill-end-error"' in bad.text
    assert len(ui.app.flows.list(schedule_id=schedule)) == 3
    viewer, _ = ui.login("viewer")
    assert viewer.get(f"/schedules/{schedule}/backfill").status_code == 403
    other, _ = ui.login("operator", tenant="globex")
    assert other.get(f"/schedules/{schedule}/backfill", params=span).status_code == 404


def test_a_missed_flow_offers_to_run_its_fire_times(ui: Ui, clock: FakeClock) -> None:
    register_ui_flows(ui.app)
    schedule = ui.app.schedules.create(
        name="pipe", group=PIPELINE, cron="*/10 * * * *", misfire_policy="skip"
    ).id
    scheduler = ui.app.scheduler()
    clock.advance(600)
    scheduler.tick()
    clock.advance(45 * 60)
    scheduler.tick()
    (missed,) = ui.app.flows.list(schedule_id=schedule, status=["skipped"])
    client, csrf = ui.login("operator")
    page = client.get(f"/flows/{missed.id}").text
    assert "4 fire times from" in page
    match = re.search(r'href="(/schedules/\d+/backfill\?[^"]+)"', page)
    assert match, "no link to run the missed fire times"
    assert "Run the missed fire times" in page
    link = match.group(1).replace("&amp;", "&")
    preview = client.get(link).text
    assert "4 fire times: 4 without a flow, so 4 flows (16 runs) to create" in preview
    span = dict(part.split("=", 1) for part in link.split("?", 1)[1].split("&"))
    done = client.post(f"/schedules/{schedule}/backfill", data={**span, "csrf_token": csrf})
    assert done.status_code == 303
    revived = ui.app.flows.get(missed.id)
    assert (revived.status.value, revived.trigger, len(revived.steps)) == ("running", "backfill", 4)
    assert "Run the missed fire times" not in client.get(f"/flows/{missed.id}").text
    viewer, _ = ui.login("viewer")
    assert "Run the missed fire times" not in viewer.get(f"/flows/{missed.id}").text
