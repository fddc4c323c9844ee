"""The operator actions through the REST API: bulk, backfill, run missed, simulation, search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.web import Api, Maker
from tickwork import FakeClock

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_bulk_schedules_by_filter_and_ids(api: Api, schedule_body: Maker) -> None:
    admin = api.admin()
    ids = [
        admin.post("/api/v1/schedules", json=schedule_body(name=f"s{i}")).json()["id"]
        for i in range(3)
    ]
    operator = api.as_role("operator")
    paused = operator.post(
        "/api/v1/schedules/bulk",
        json={"action": "pause", "filter": {"task": "greet"}, "note": "db migration"},
    )
    assert paused.status_code == 200, paused.text
    assert paused.json() == {
        "matched": 3, "changed": 3, "failed": [], "changed_ids": ids, "run_ids": [], "flow_ids": []
    }  # fmt: skip
    assert len(api.audit("schedule.pause")) == 3
    listed = admin.get("/api/v1/schedules", params={"status": "paused"}).json()["items"]
    assert {s["pause_note"] for s in listed} == {"db migration"}

    resumed = operator.post(
        "/api/v1/schedules/bulk",
        json={"action": "resume", "ids": [ids[0], 424242], "misfire": "skip"},
    ).json()
    assert resumed["matched"] == 1
    assert resumed["failed"] == [{"id": 424242, "error": "schedule 424242 not found"}]

    ran = operator.post("/api/v1/schedules/bulk", json={"action": "run", "ids": ids[:2]})
    assert ran.json()["changed"] == 2
    assert (
        operator.post("/api/v1/schedules/bulk", json={"action": "delete", "ids": ids}).status_code
        == 403
    )
    gone = admin.post("/api/v1/schedules/bulk", json={"action": "delete", "filter": {}})
    assert gone.json()["changed"] == 3
    assert len(api.audit("schedule.delete")) == 3


def test_bulk_requests_are_checked_and_viewers_refused(api: Api) -> None:
    operator = api.as_role("operator")
    for body, field in [
        ({"action": "nap", "ids": [1]}, "action"),
        ({"action": "pause"}, "ids"),
        ({"action": "pause", "ids": [1], "filter": {}}, "ids"),
        ({"action": "pause", "ids": list(range(1, 1_002))}, "ids"),
        ({"action": "pause", "filter": {"colour": "red"}}, "colour"),
        ({"action": "pause", "filter": {"text": "x" * 10_000}}, "text"),
        ({"action": "pause", "filter": {"status": "sleepy"}}, "filter.status"),
    ]:
        response = operator.post("/api/v1/schedules/bulk", json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in response.json()["error"]["field"], (body, response.text)
    bad_run = operator.post("/api/v1/runs/bulk", json={"action": "retry", "filter": {"since": 6}})
    assert bad_run.status_code == 422
    viewer = api.as_role("viewer")
    for path, body in [
        ("/api/v1/schedules/bulk", {"action": "pause", "filter": {}}),
        ("/api/v1/runs/bulk", {"action": "retry", "filter": {}}),
    ]:
        assert viewer.post(path, json=body).status_code == 403


def test_bulk_retry_of_failed_runs_since_a_time_and_search(api: Api, clock: FakeClock) -> None:
    admin = api.admin()
    admin.post("/api/v1/runs", json={"task": "boom"})
    api.app.worker(concurrency=2).run_until_idle(10)
    since = clock.now() + timedelta(seconds=1)
    clock.advance(60)
    recent = [admin.post("/api/v1/runs", json={"task": "boom"}).json()["id"] for _ in range(2)]
    greeted = admin.post("/api/v1/runs", json={"task": "greet", "payload": {"name": "Zoë"}})
    api.app.worker(concurrency=2).run_until_idle(10)

    found = admin.get("/api/v1/runs", params={"error": "KABOOM"}).json()["items"]
    assert len(found) == 3
    by_payload = admin.get("/api/v1/runs", params={"payload": "zoë"}).json()["items"]
    assert [r["id"] for r in by_payload] == [greeted.json()["id"]]
    assert admin.get("/api/v1/runs", params={"error": "100%_"}).json()["items"] == []
    assert admin.get("/api/v1/runs", params={"error": "x" * 201}).status_code == 422

    retried = api.as_role("operator").post(
        "/api/v1/runs/bulk",
        json={
            "action": "retry",
            "filter": {"status": "failed", "task": "boom", "since": iso(since)},
        },
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["changed_ids"] == recent
    assert len(api.audit("run.retry")) == 2


def test_backfill_dry_run_then_for_real(api: Api, schedule_body: Maker, clock: FakeClock) -> None:
    admin = api.admin()
    schedule = admin.post("/api/v1/schedules", json=schedule_body(cron="0 * * * *")).json()
    path = f"/api/v1/schedules/{schedule['id']}/backfill"
    span = {"start": "2029-12-31T20:00:00Z", "end": "2030-01-01T00:00:00Z"}
    operator = api.as_role("operator")
    preview = operator.post(path, json={**span, "dry_run": True})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["fire_times"] == [f"2029-12-31T{h}:00:00Z" for h in (20, 21, 22, 23)]
    assert (body["existing"], body["created"], body["missing"], body["capped"]) == (
        4 - 4,
        0,
        4,
        False,
    )
    done = operator.post(path, json=span).json()
    assert done["created"] == 4
    runs = admin.get("/api/v1/runs", params={"trigger": "backfill"}).json()["items"]
    assert len(runs) == 4
    again = operator.post(path, json=span).json()
    assert (again["existing"], again["created"]) == (4, 0)
    for bad, field in [
        ({"start": span["end"], "end": span["start"]}, "end"),
        ({"start": "soon", "end": span["end"]}, "start"),
        ({"start": span["start"]}, "end"),
        ({**span, "extra": 1}, "extra"),
    ]:
        response = operator.post(path, json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert field in response.json()["error"]["field"]
    assert api.as_role("viewer").post(path, json=span).status_code == 403
    assert operator.post("/api/v1/schedules/424242/backfill", json=span).status_code == 404


def test_simulation_of_a_saved_schedule_and_of_a_draft(api: Api, schedule_body: Maker) -> None:
    admin = api.admin()
    schedule = admin.post(
        "/api/v1/schedules",
        json=schedule_body(
            cron="0 12 * * *",
            blackout_dates=["2030-01-03"],
            condition="reports_on",
            max_runs=4,
        ),
    ).json()
    viewer = api.as_role("viewer")
    path = f"/api/v1/schedules/{schedule['id']}/simulate"
    found = viewer.get(path)
    assert found.status_code == 200, found.text
    assert found.json()[0] == {
        "fire_time": "2030-01-01T12:00:00Z",
        "outcome": "skipped",
        "reason": "condition",
        "note": "no condition or flag named 'reports_on'",
    }
    admin.put("/api/v1/flags/reports_on", json={"enabled": True})
    found = viewer.get(path, params={"from": "2030-01-01T00:00:00Z", "limit": 10})
    assert [(f["fire_time"][:10], f["outcome"], f.get("reason")) for f in found.json()] == [
        ("2030-01-01", "run", None),
        ("2030-01-02", "run", None),
        ("2030-01-03", "skipped", "blackout"),
        ("2030-01-04", "run", None),
        ("2030-01-05", "run", None),
    ]
    assert found.headers["X-Tickwork-Truncated"] == "true"
    assert "max_runs" in found.headers["X-Tickwork-Truncated-Reason"]
    spanned = viewer.get(
        path, params={"from": "2030-01-01T00:00:00Z", "to": "2030-01-02T00:00:00Z"}
    )
    assert len(spanned.json()) == 1
    assert spanned.headers["X-Tickwork-Truncated"] == "false"
    assert (
        viewer.get(
            path, params={"from": "2030-01-02T00:00:00Z", "to": "2030-01-01T00:00:00Z"}
        ).status_code
        == 422
    )
    assert viewer.get(path, params={"limit": 100_000}).status_code == 422

    draft = viewer.post(
        "/api/v1/schedules/simulate",
        params={"from": "2030-01-01T00:00:00Z", "limit": 3},
        json={
            "task": "greet",
            "interval": "30m",
            "start_at": "2030-01-01T08:00:00Z",
            "windows": [{"start": "09:00", "end": "17:00"}],
        },
    )
    assert draft.status_code == 200, draft.text
    assert [(f["fire_time"], f["outcome"]) for f in draft.json()] == [
        ("2030-01-01T08:00:00Z", "skipped"),
        ("2030-01-01T08:30:00Z", "skipped"),
        ("2030-01-01T09:00:00Z", "run"),
    ]
    bad = viewer.post("/api/v1/schedules/simulate", json={"task": "greet", "cron": "61 * * * *"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "cron"
    assert admin.get("/api/v1/schedules").json()["items"][0]["id"] == schedule["id"]
    assert len(admin.get("/api/v1/schedules").json()["items"]) == 1


def test_run_missed_through_the_api(api: Api, schedule_body: Maker, clock: FakeClock) -> None:
    admin = api.admin()
    schedule = admin.post(
        "/api/v1/schedules",
        json=schedule_body(cron="*/10 * * * *", misfire_policy="skip"),
    ).json()
    scheduler = api.app.scheduler()
    clock.set(T0 + timedelta(minutes=10))
    scheduler.tick()
    clock.set(T0 + timedelta(minutes=45))
    scheduler.tick()
    (missed,) = admin.get(
        "/api/v1/runs", params={"schedule_id": schedule["id"], "status": "skipped"}
    ).json()["items"]
    operator = api.as_role("operator")
    preview = operator.post(f"/api/v1/runs/{missed['id']}/run-missed", params={"dry_run": True})
    assert preview.status_code == 200, preview.text
    assert preview.json()["fire_times"] == [
        "2030-01-01T00:20:00Z",
        "2030-01-01T00:30:00Z",
        "2030-01-01T00:40:00Z",
    ]
    done = operator.post(f"/api/v1/runs/{missed['id']}/run-missed").json()
    assert done["created"] == 3
    first = admin.get("/api/v1/runs", params={"schedule_id": schedule["id"]}).json()["items"]
    assert all(r["status"] != "skipped" for r in first)
    queued = [r for r in first if r["trigger"] == "backfill"]
    assert len(queued) == 3
    not_missed = operator.post(f"/api/v1/runs/{queued[0]['id']}/run-missed")
    assert not_missed.status_code == 422


def test_queues_are_listed_paused_and_resumed(api: Api) -> None:
    admin = api.admin()
    admin.post("/api/v1/runs", json={"task": "greet", "queue": "slow"})
    admin.post("/api/v1/runs", json={"task": "greet", "queue": "slow", "tenant_id": "acme"})
    operator = api.as_role("operator")
    paused = operator.post("/api/v1/queues/slow/pause", json={"note": "upstream down"})
    assert paused.status_code == 200, paused.text
    body = paused.json()
    assert (body["paused"], body["pending"], body["note"]) == (True, 2, "upstream down")
    api.app.worker(concurrency=2).run_until_idle(10)
    listed = api.as_role("viewer").get("/api/v1/queues").json()["items"]
    assert [(q["name"], q["pending"], q["paused"]) for q in listed] == [("slow", 2, True)]
    tenant = api.as_role("viewer", "acme").get("/api/v1/queues").json()["items"]
    assert [(q["name"], q["pending"], q["paused"], q["note"]) for q in tenant] == [
        ("slow", 1, True, None)
    ]
    assert api.as_role("operator", "acme").post("/api/v1/queues/slow/resume").status_code == 403
    assert api.as_role("viewer").post("/api/v1/queues/slow/resume").status_code == 403
    assert operator.post("/api/v1/queues/" + "x" * 101 + "/pause").status_code == 422
    resumed = operator.post("/api/v1/queues/slow/resume")
    assert resumed.json()["paused"] is False
    api.app.worker(concurrency=2).run_until_idle(10)
    assert admin.get("/api/v1/queues").json()["items"] == []
    assert len(api.audit("queue.pause")) == 1


def test_backfill_of_a_group_schedule_creates_flows_and_counts_them(
    api: Api, clock: FakeClock
) -> None:
    admin = api.admin()
    created = admin.post(
        "/api/v1/schedules",
        json={"name": "pairs", "group": "pair", "cron": "0 * * * *", "tenant_id": "acme"},
    )
    assert created.status_code == 201, created.text
    path = f"/api/v1/schedules/{created.json()['id']}/backfill"
    span = {"start": "2029-12-31T20:00:00Z", "end": "2030-01-01T00:00:00Z"}
    operator = api.as_role("operator", "acme")
    preview = operator.post(path, json={**span, "dry_run": True}).json()
    assert (preview["group"], preview["missing"], preview["runs_per_fire_time"]) == ("pair", 4, 2)
    assert (preview["created"], preview["runs_created"], preview["flow_ids"]) == (0, 0, [])
    assert admin.get("/api/v1/flows").json()["items"] == []
    done = operator.post(path, json=span)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["existing"], body["created"], body["runs_created"]) == (0, 4, 8)
    listed = admin.get("/api/v1/flows", params={"trigger": "backfill"}).json()["items"]
    assert sorted(f["id"] for f in listed) == body["flow_ids"]
    assert {f["tenant_id"] for f in listed} == {"acme"}
    again = operator.post(path, json=span).json()
    assert (again["existing"], again["created"], again["runs_created"]) == (4, 0, 0)
    assert len(api.audit("schedule.backfill")) == 2
    # Another tenant's operator does not see the schedule; a viewer may not backfill.
    assert api.as_role("operator", "globex").post(path, json=span).status_code == 404
    assert api.as_role("viewer", "acme").post(path, json=span).status_code == 403
    for bad, field in [
        ({"start": span["end"], "end": span["start"]}, "end"),
        ({"start": span["start"], "end": "later"}, "end"),
        ({"end": span["end"]}, "start"),
        ({**span, "dry_run": "perhaps"}, "dry_run"),
    ]:
        response = operator.post(path, json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert field in response.json()["error"]["field"]


def test_run_missed_of_a_skipped_missed_flow(api: Api, clock: FakeClock) -> None:
    admin = api.admin()
    schedule = admin.post(
        "/api/v1/schedules",
        json={"name": "p", "group": "pair", "cron": "*/10 * * * *", "misfire_policy": "skip"},
    ).json()
    scheduler = api.app.scheduler()
    clock.advance(600)
    scheduler.tick()
    clock.advance(45 * 60)  # 00:20 .. 00:50 missed
    scheduler.tick()
    flows = admin.get("/api/v1/flows", params={"status": "skipped"}).json()["items"]
    (missed,) = [f for f in flows if f["skip_reason"] == "missed"]
    path = f"/api/v1/flows/{missed['id']}/run-missed"
    operator = api.as_role("operator")
    preview = operator.post(path, params={"dry_run": "true"}).json()
    assert (preview["missing"], preview["created"], preview["runs_per_fire_time"]) == (4, 0, 2)
    done = operator.post(path).json()
    assert (done["created"], done["runs_created"]) == (4, 8)
    assert missed["id"] in done["flow_ids"]
    assert operator.post(path).json()["existing"] == 4
    assert api.as_role("viewer").post(path).status_code == 403
    assert operator.post("/api/v1/flows/424242/run-missed").status_code == 404
    other = admin.get("/api/v1/flows", params={"trigger": "cron"}).json()["items"][0]
    refused = operator.post(f"/api/v1/flows/{other['id']}/run-missed")
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "id"
    assert schedule["group"] == "pair"
