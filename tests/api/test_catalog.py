"""``/api/v1/tasks``, ``cron/preview``, ``nodes``, ``stats`` and ``audit``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.support.web import Api, Maker
from tickwork import FakeClock
from tickwork.domain import cron
from tickwork.duties.node_heartbeat import NodeHeartbeat


def test_tasks_list_each_registered_task_with_its_config_schema(api: Api) -> None:
    client = api.as_role("viewer")
    items = client.get("/api/v1/tasks").json()["items"]
    assert [t["name"] for t in items] == ["boom", "danger", "greet"]
    greet = client.get("/api/v1/tasks/greet").json()
    assert greet["description"] == "Say hello"
    assert greet["defaults"]["max_attempts"] == 2
    assert greet["config_schema"]["properties"]["times"]["maximum"] == 10
    assert greet["admin_only"] is False
    assert client.get("/api/v1/tasks/danger").json()["admin_only"] is True
    missing = client.get("/api/v1/tasks/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["field"] == "name"


def test_cron_preview(api: Api) -> None:
    client = api.as_role("viewer")
    preview = client.get(
        "/api/v1/cron/preview",
        params={
            "expr": "30 1 * * *",
            "timezone": "Europe/London",
            "count": 3,
            "from": "2030-10-25T12:00:00Z",
        },
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["expression"] == "30 1 * * *"
    assert body["description"]
    assert body["next"] == [
        "2030-10-26T01:30:00+01:00",
        "2030-10-27T01:30:00+01:00",
        "2030-10-28T01:30:00+00:00",
    ]
    assert body["dst"][0] is None
    assert body["dst"][1]
    assert body["fire_times"][1]["at"] == "2030-10-27T00:30:00Z"
    assert body["fire_times"][1]["dst"] == body["dst"][1]
    assert body["truncated"] is False
    assert body["truncated_reason"] is None
    default = client.get("/api/v1/cron/preview", params={"expr": "@daily"}).json()
    assert len(default["next"]) == 10
    assert default["next"][0] == "2030-01-02T00:00:00+00:00"
    for params, field, code in [
        ({"expr": "61 * * * *"}, "expr", "invalid_cron"),
        ({"expr": "0 0 31 2 *"}, "expr", "invalid_cron"),
        ({"expr": "* * *"}, "expr", "invalid_cron"),
        ({"expr": "* * * * *", "timezone": "Nowhere/City"}, "timezone", "unknown_timezone"),
        ({"expr": "* * * * *", "count": 0}, "count", "invalid_input"),
        ({"expr": "* * * * *", "count": 101}, "count", "invalid_input"),
        ({"expr": "* * * * *", "from": "soon"}, "from", "invalid_input"),
        ({}, "expr", "invalid_input"),
    ]:
        response = client.get("/api/v1/cron/preview", params=params)
        assert response.status_code == 422, (params, response.text)
        error = response.json()["error"]
        assert (error["field"], error["code"]) == (field, code), params


def test_cron_preview_per_second_across_a_skipped_day(api: Api) -> None:
    # Samoa skipped 2011-12-30. Every second of it maps to the jump, which fires once.
    body = (
        api.as_role("viewer")
        .get(
            "/api/v1/cron/preview",
            params={
                "expr": "* 0-59 0-23 * * *",
                "timezone": "Pacific/Apia",
                "count": 20,
                "from": "2011-12-30T09:59:50Z",
            },
        )
        .json()
    )
    assert body["truncated"] is False
    assert [f["at"] for f in body["fire_times"]] == [
        *(f"2011-12-30T09:59:{s}Z" for s in range(51, 60)),
        *(f"2011-12-30T10:00:{s:02d}Z" for s in range(11)),
    ]
    assert body["next"][9] == "2011-12-31T00:00:00+14:00"


def test_cron_preview_says_why_it_has_fewer(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every valid expression keeps firing within the years ``from`` allows; a walk that
    # stops advancing (the guard against a bug) stands in for one that runs out.
    def stalls(text: str, tz: object, start: datetime, reverse: bool) -> Iterator[datetime]:
        while True:
            yield datetime(2030, 1, 1, tzinfo=UTC)

    monkeypatch.setattr(cron, "_wall_clock", stalls)
    response = api.as_role("viewer").get(
        "/api/v1/cron/preview",
        params={"expr": "* * * * *", "timezone": "Europe/Paris", "from": "2029-12-31T23:00:00Z"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next"] == ["2030-01-01T01:00:00+01:00"]
    assert body["truncated"] is True
    assert "stopped advancing" in body["truncated_reason"]


def test_cron_preview_schema_names_truncation(api: Api) -> None:
    schema = api.anonymous().get("/api/openapi.json").json()
    preview = schema["components"]["schemas"]["CronPreviewOut"]
    assert {"truncated", "truncated_reason"} <= set(preview["required"])
    assert preview["properties"]["truncated"]["type"] == "boolean"


def test_nodes_list_each_process_with_its_heartbeat_age(api: Api, clock: FakeClock) -> None:
    worker = NodeHeartbeat(api.app.db, "worker", node_id="worker:host:1")
    worker.beat()
    web = NodeHeartbeat(api.app.db, "web", node_id="web:host:2")
    web.beat()
    clock.advance(10)
    worker.beat()
    clock.advance(50)
    client = api.as_role("viewer")
    nodes = client.get("/api/v1/nodes").json()["items"]
    assert [(n["id"], n["kind"]) for n in nodes] == [
        ("worker:host:1", "worker"),
        ("web:host:2", "web"),
    ]
    assert nodes[0]["heartbeat_age"] == 50
    assert nodes[1]["heartbeat_age"] == 60
    assert [n["alive"] for n in nodes] == [False, False]
    worker.beat()
    assert client.get("/api/v1/nodes").json()["items"][0]["alive"] is True
    web.stop()
    running = client.get("/api/v1/nodes", params={"include_stopped": False}).json()["items"]
    assert [n["id"] for n in running] == ["worker:host:1"]


def test_stats(api: Api, schedule_body: Maker, clock: FakeClock) -> None:
    client = api.admin()
    schedule = client.post(
        "/api/v1/schedules",
        json=schedule_body(interval=60, cron=..., misfire_grace=3600, misfire_policy="run_all"),
    ).json()
    clock.advance(185)
    api.app.scheduler().tick()
    api.app.enqueue("boom")
    api.app.enqueue("greet", run_at="2030-01-01T05:00:00Z")
    clock.advance(2)
    api.app.worker(concurrency=2).run_until_idle(10)
    stats = client.get("/api/v1/stats", params={"hours": 1})
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["runs_by_status"]["succeeded"] == 3
    assert body["runs_by_status"]["failed"] == 1
    assert body["runs_by_status"]["queued"] == 1
    assert body["success_rate"] == 0.75
    assert body["schedules_by_status"] == {"active": 1}
    assert body["queue"]["runnable"] == 0
    assert body["queue"]["scheduled"] == 1
    by_task = {t["task"]: t for t in body["tasks"]}
    assert by_task["greet"]["total"] == 3
    assert by_task["greet"]["success_rate"] == 1.0
    assert by_task["greet"]["duration"]["count"] == 3
    assert by_task["greet"]["duration"]["p50"] is not None
    assert by_task["boom"]["failed"] == 1
    assert by_task["boom"]["success_rate"] == 0.0
    assert body["schedules"][0]["schedule_id"] == schedule["id"]
    assert body["schedules"][0]["name"] == "hello"
    assert body["schedules"][0]["total"] == 3
    lateness = body["fire_lateness"]
    assert lateness["count"] == 3
    assert lateness["max"] == 125.0
    assert lateness["p50"] == 65.0
    assert body["start_delay"]["count"] == 4
    assert sum(h["total"] for h in body["runs_per_hour"]) == 4
    assert body["runs_per_hour"][0]["hour"] == "2030-01-01T00:00:00Z"
    narrowed = client.get("/api/v1/stats", params={"task": "boom"}).json()
    assert [t["task"] for t in narrowed["tasks"]] == ["boom"]
    by_schedule = client.get("/api/v1/stats", params={"schedule_id": schedule["id"]}).json()
    assert by_schedule["runs_by_status"]["failed"] == 0
    for params, field in [
        ({"hours": 0}, "hours"),
        ({"hours": 10**6}, "hours"),
        ({"top": 0}, "top"),
    ]:
        response = client.get("/api/v1/stats", params=params)
        assert response.status_code == 422
        assert response.json()["error"]["field"] == field


def test_audit_filters_and_pages(api: Api, schedule_body: Maker) -> None:
    client = api.admin()
    first = client.post("/api/v1/schedules", json=schedule_body(name="a")).json()
    client.post("/api/v1/schedules", json=schedule_body(name="b"))
    client.post(f"/api/v1/schedules/{first['id']}/pause", json={"note": "n"})
    everything = client.get("/api/v1/audit").json()["items"]
    actions = [e["action"] for e in everything]
    assert actions[:3] == ["schedule.pause", "schedule.create", "schedule.create"]
    pause = everything[0]
    assert pause["before"]["status"] == "active"
    assert pause["after"]["status"] == "paused"
    assert pause["target_type"] == "schedule"
    assert pause["target_id"] == str(first["id"])
    targeted = client.get(
        "/api/v1/audit", params={"target_type": "schedule", "target_id": str(first["id"])}
    ).json()["items"]
    assert [e["action"] for e in targeted] == ["schedule.pause", "schedule.create"]
    page = client.get("/api/v1/audit", params={"limit": 1, "action": "schedule.create"}).json()
    assert len(page["items"]) == 1
    following = client.get(
        "/api/v1/audit",
        params={"limit": 1, "action": "schedule.create", "before_id": page["next_before_id"]},
    ).json()
    assert following["items"][0]["id"] < page["items"][0]["id"]
    assert following["next_before_id"] is None
    assert client.get("/api/v1/audit", params={"actor": "nobody"}).json()["items"] == []
    viewer = api.as_role("viewer").get("/api/v1/audit")
    assert viewer.status_code == 200
