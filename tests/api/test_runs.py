"""``/api/v1/runs``: filtered keyset-paginated history, detail, enqueue, retry, cancel."""

from __future__ import annotations

from tests.support.web import Api, Maker
from tickwork import FakeClock
from tickwork.services.run_service import RunRequest


def test_run_detail_retry_and_cancel_through_the_api(api: Api, clock: FakeClock) -> None:
    client = api.admin()
    ok = client.post("/api/v1/runs", json={"task": "greet", "payload": {"name": "bo"}})
    assert ok.status_code == 201, ok.text
    assert ok.json()["trigger"] == "api"
    bad = client.post("/api/v1/runs", json={"task": "boom"})
    assert bad.status_code == 201
    api.app.worker(concurrency=2).run_until_idle(10)

    detail = client.get(f"/api/v1/runs/{ok.json()['id']}")
    assert detail.status_code == 200
    body = detail.json()
    assert body["status"] == "succeeded"
    assert body["result"] == {"greeting": "hello bo"}
    assert body["payload"] == {"name": "bo"}
    assert any("hello bo" in line["message"] for line in body["logs"])
    assert body["duration"] is not None
    assert body["attempts"] == []
    assert "token" not in body

    failed = client.get(f"/api/v1/runs/{bad.json()['id']}").json()
    assert failed["status"] == "failed"
    assert "RuntimeError: kaboom" in failed["traceback"]
    assert "kaboom" in failed["error"]

    retried = client.post(f"/api/v1/runs/{failed['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "queued"
    assert retried.json()["attempt"] == 2
    again = client.post(f"/api/v1/runs/{failed['id']}/retry")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_transition"
    cancelled = client.post(f"/api/v1/runs/{failed['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    history = client.get(f"/api/v1/runs/{failed['id']}").json()["attempts"]
    assert [(a["attempt"], a["status"]) for a in history] == [(1, "failed")]
    assert "kaboom" in history[0]["traceback"]
    done = client.post(f"/api/v1/runs/{ok.json()['id']}/cancel")
    assert done.status_code == 409
    assert client.get("/api/v1/runs/424242").status_code == 404
    assert client.post("/api/v1/runs/424242/retry").status_code == 404


def test_enqueue_options_and_validation(api: Api) -> None:
    client = api.admin()
    first = client.post(
        "/api/v1/runs",
        json={
            "task": "greet",
            "key": "nightly",
            "run_at": "2030-01-01T06:00:00Z",
            "queue": "slow",
            "priority": 7,
            "max_attempts": 3,
            "timeout": "30s",
        },
    )
    assert first.status_code == 201, first.text
    run = first.json()
    assert (run["queue"], run["priority"], run["max_attempts"], run["timeout"]) == (
        "slow",
        7,
        3,
        30.0,
    )
    assert run["run_at"] == "2030-01-01T06:00:00Z"
    same = client.post("/api/v1/runs", json={"task": "greet", "key": "nightly"})
    assert same.status_code == 201
    assert same.json()["id"] == run["id"]
    for body, field in [
        ({"task": "nope"}, "task"),
        ({"task": "greet", "payload": {"times": 0}}, "payload.times"),
        ({"task": "greet", "payload": []}, "payload"),
        ({"task": "greet", "priority": 5000}, "priority"),
        ({"task": "greet", "timeout": "forever"}, "timeout"),
        ({"task": "greet", "run_at": "tomorrow"}, "run_at"),
        ({"payload": {}}, "task"),
    ]:
        response = client.post("/api/v1/runs", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["field"] == field, response.json()


def test_filters(api: Api, schedule_body: Maker, clock: FakeClock) -> None:
    client = api.admin()
    schedule = client.post(
        "/api/v1/schedules", json=schedule_body(interval=60, cron=..., misfire_grace=3600)
    )
    schedule_id = schedule.json()["id"]
    clock.advance(125)
    api.app.scheduler().tick()
    clock.advance(60)
    api.app.enqueue("boom", tenant_id="acme")
    api.app.enqueue("greet", {"name": "z"}, tenant_id="acme")
    clock.advance(1)
    api.app.worker(concurrency=2).run_until_idle(10)

    def ids(**params: object) -> list[int]:
        response = client.get("/api/v1/runs", params=params)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["items"]]

    everything = ids()
    assert len(everything) == 4
    assert everything == sorted(everything, reverse=True)
    assert len(ids(schedule_id=schedule_id)) == 2
    assert len(ids(task="boom")) == 1
    assert len(ids(status="failed")) == 1
    assert len(ids(status="failed,succeeded")) == 4
    assert len(ids(status=["failed", "succeeded"])) == 4
    assert len(ids(trigger="interval")) == 2
    assert len(ids(trigger="api")) == 2
    assert len(ids(tenant_id="acme")) == 2
    assert ids(since="2030-01-01T00:03:00Z") == everything[:2]
    assert ids(until="2030-01-01T00:03:00Z") == everything[2:]
    assert ids(since="2030-01-01T01:03:00+01:00") == everything[:2]
    assert ids(since="2030-01-01T00:03:00") == everything[:2]
    assert ids(schedule_id=schedule_id, status="succeeded", trigger="interval", limit=1) == [
        everything[2]
    ]
    for params, field in [
        ({"status": "exploded"}, "status"),
        ({"trigger": "cosmic"}, "trigger"),
        ({"since": "yesterday"}, "since"),
        ({"before_id": 0}, "before_id"),
        ({"schedule_id": -1}, "schedule_id"),
        ({"limit": 10_000}, "limit"),
    ]:
        response = client.get("/api/v1/runs", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["field"] == field


def test_pagination_is_stable_while_runs_arrive(api: Api) -> None:
    client = api.as_role("viewer")
    api.app.enqueue_many([RunRequest(task="greet") for _ in range(25)])
    seen: list[int] = []
    before = None
    pages = 0
    while True:
        params: dict[str, object] = {"limit": 10}
        if before is not None:
            params["before_id"] = before
        page = client.get("/api/v1/runs", params=params).json()
        seen += [r["id"] for r in page["items"]]
        pages += 1
        # New runs arrive between pages (and are newer than every page already served).
        api.app.enqueue_many([RunRequest(task="greet") for _ in range(7)])
        before = page["next_before_id"]
        if before is None:
            break
    assert pages == 3
    assert len(seen) == 25
    assert len(set(seen)) == 25
    assert seen == sorted(seen, reverse=True)
    assert seen[-1] == 1
    newest = client.get("/api/v1/runs", params={"limit": 500}).json()
    assert len(newest["items"]) == 25 + 3 * 7
    assert newest["next_before_id"] is None
