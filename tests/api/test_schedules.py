"""``/api/v1/schedules``: every endpoint, filters, keyset pagination, optimistic locking."""

from __future__ import annotations

from tests.support.web import Api, Maker
from tickwork import FakeClock


def test_create_get_list_update_delete(api: Api, schedule_body: Maker) -> None:
    client = api.admin()
    created = client.post(
        "/api/v1/schedules",
        json=schedule_body(timezone="Europe/London", description="daily hello", priority=5),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "hello"
    assert body["trigger"] == "cron"
    assert body["status"] == "active"
    assert body["source"] == "api"
    assert body["payload"] == {"name": "ada"}
    assert body["timezone"] == "Europe/London"
    assert body["version"] == 1
    assert body["next_run_at"] is not None
    assert body["created_by"] == "token:admin-all"
    assert "fifth minute" in body["timing"]
    schedule_id = body["id"]

    fetched = client.get(f"/api/v1/schedules/{schedule_id}")
    assert fetched.status_code == 200
    assert fetched.json() == body

    listed = client.get("/api/v1/schedules")
    assert [s["id"] for s in listed.json()["items"]] == [schedule_id]
    assert listed.json()["next_after_id"] is None

    changed = client.patch(
        f"/api/v1/schedules/{schedule_id}",
        json={"cron": "0 9 * * 1-5", "version": 1, "description": None},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["cron"] == "0 9 * * 1-5"
    assert changed.json()["description"] is None
    assert changed.json()["version"] == 2
    assert changed.json()["next_run_at"] != body["next_run_at"]

    stale = client.patch(f"/api/v1/schedules/{schedule_id}", json={"priority": 1, "version": 1})
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "version_conflict"
    assert stale.json()["error"]["field"] == "version"

    deleted = client.delete(f"/api/v1/schedules/{schedule_id}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = client.get(f"/api/v1/schedules/{schedule_id}")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"


def test_create_variants_and_validation(api: Api, schedule_body: Maker) -> None:
    client = api.admin()
    interval = client.post(
        "/api/v1/schedules", json=schedule_body(name="iv", cron=..., interval="5m")
    )
    assert interval.status_code == 201, interval.text
    assert interval.json()["interval"] == 300.0
    once = client.post(
        "/api/v1/schedules",
        json=schedule_body(name="once", cron=..., run_at="2030-06-01T09:00:00+02:00"),
    )
    assert once.status_code == 201, once.text
    assert once.json()["run_at"] == "2030-06-01T07:00:00Z"
    manual = client.post(
        "/api/v1/schedules", json=schedule_body(name="man", cron=..., trigger="manual")
    )
    assert manual.status_code == 201, manual.text
    assert manual.json()["next_run_at"] is None
    paused = client.post(
        "/api/v1/schedules",
        json=schedule_body(name="p", status="paused", pause_note="not yet"),
    )
    assert paused.status_code == 201, paused.text
    assert paused.json()["status"] == "paused"
    assert paused.json()["pause_note"] == "not yet"
    windows = client.post(
        "/api/v1/schedules",
        json=schedule_body(
            name="w",
            windows=[{"days": ["mon", "tue"], "start": "09:00", "end": "17:00"}],
            blackout_dates=["2030-12-25"],
        ),
    )
    assert windows.status_code == 201, windows.text
    assert windows.json()["blackout_dates"] == ["2030-12-25"]

    cases = [
        (schedule_body(name="x", cron="61 * * * *"), "cron", "invalid_cron"),
        (schedule_body(name="x", timezone="Mars/Base"), "timezone", "unknown_timezone"),
        (schedule_body(name="x", task="nope"), "task", "unknown_task"),
        (schedule_body(name="x", payload={"times": 99}), "payload.times", "invalid_payload"),
        (schedule_body(name="x", payload={"name": "a\u0000b"}), "payload", "invalid_input"),
        (schedule_body(name="x", interval=5), "interval", "invalid_input"),
        (schedule_body(name="x", cron=..., interval="soon"), "interval", "invalid_input"),
        (schedule_body(name="x", misfire_policy="sometimes"), "misfire_policy", "invalid_input"),
        (schedule_body(name="x", max_runs=2**40), "max_runs", "invalid_input"),
        (schedule_body(name="x", colour="red"), "colour", "invalid_input"),
        (schedule_body(name="x", run_at="0001-01-01T00:00:00"), "run_at", "invalid_input"),
        (schedule_body(name="hello", cron="0 0 31 2 *"), "cron", "invalid_cron"),
        (schedule_body(name="x\u0001y"), "name", "invalid_input"),
        (schedule_body(name=..., task="greet"), "name", "invalid_input"),
        (
            schedule_body(name="x", windows=[{"start": "25:00", "end": "26:00"}]),
            "windows[0].start",
            "invalid_input",
        ),
    ]
    for body, field, code in cases:
        response = client.post("/api/v1/schedules", json=body)
        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        assert (error["field"], error["code"]) == (field, code), (body, error)
        assert error["message"]
    taken = client.post("/api/v1/schedules", json=schedule_body(name="iv"))
    assert taken.status_code == 409
    assert taken.json()["error"] == {
        "code": "duplicate_name",
        "message": "a schedule named 'iv' already exists",
        "field": "name",
    }
    assert len(client.get("/api/v1/schedules").json()["items"]) == 5


def test_bad_updates_are_refused_naming_the_field(api: Api, schedule_body: Maker) -> None:
    client = api.admin()
    schedule_id = client.post("/api/v1/schedules", json=schedule_body()).json()["id"]
    empty = client.patch(f"/api/v1/schedules/{schedule_id}", json={})
    assert empty.status_code == 422
    assert empty.json()["error"]["field"] == "body"
    bad = client.patch(f"/api/v1/schedules/{schedule_id}", json={"cron": "nope"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "cron"
    unknown = client.patch(f"/api/v1/schedules/{schedule_id}", json={"status": "paused"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "status"
    missing = client.patch("/api/v1/schedules/999999", json={"priority": 1})
    assert missing.status_code == 404
    switched = client.patch(f"/api/v1/schedules/{schedule_id}", json={"interval": 60})
    assert switched.status_code == 200, switched.text
    assert switched.json()["trigger"] == "interval"
    assert switched.json()["cron"] is None


def test_code_defined_schedules_are_read_only(api: Api) -> None:
    api.app.periodic("from-code", task="greet", cron="0 * * * *", enabled=True)
    api.app.sync_schedules()
    client = api.admin()
    code = client.get("/api/v1/schedules", params={"source": "code"}).json()["items"][0]
    refused = client.patch(f"/api/v1/schedules/{code['id']}", json={"cron": "5 * * * *"})
    assert refused.status_code == 409
    assert refused.json()["error"]["field"] == "source"
    paused = client.post(f"/api/v1/schedules/{code['id']}/pause", json={"note": "maintenance"})
    assert paused.status_code == 200


def test_pause_resume_run_cancel(api: Api, schedule_body: Maker, clock: FakeClock) -> None:
    client = api.admin()
    schedule_id = client.post("/api/v1/schedules", json=schedule_body()).json()["id"]
    paused = client.post(
        f"/api/v1/schedules/{schedule_id}/pause",
        json={"note": "deploying", "until": "2030-01-02T00:00:00Z"},
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    assert paused.json()["pause_note"] == "deploying"
    assert paused.json()["paused_by"] == "token:admin-all"
    assert paused.json()["paused_until"] == "2030-01-02T00:00:00Z"
    past = client.post(
        f"/api/v1/schedules/{schedule_id}/pause", json={"until": "2020-01-01T00:00:00Z"}
    )
    assert past.status_code == 422
    assert past.json()["error"]["field"] == "until"

    clock.advance(3600)
    resumed = client.post(f"/api/v1/schedules/{schedule_id}/resume", json={"misfire": "skip"})
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "active"
    bad = client.post(f"/api/v1/schedules/{schedule_id}/resume", json={"misfire": "all"})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "misfire"
    no_body = client.post(f"/api/v1/schedules/{schedule_id}/pause")
    assert no_body.status_code == 200
    again = client.post(f"/api/v1/schedules/{schedule_id}/resume")
    assert again.status_code == 200

    before = client.get(f"/api/v1/schedules/{schedule_id}").json()["next_run_at"]
    ran = client.post(f"/api/v1/schedules/{schedule_id}/run")
    assert ran.status_code == 201, ran.text
    assert ran.json()["trigger"] == "manual"
    assert ran.json()["schedule_id"] == schedule_id
    assert ran.json()["status"] == "queued"
    assert client.get(f"/api/v1/schedules/{schedule_id}").json()["next_run_at"] == before
    custom = client.post(
        f"/api/v1/schedules/{schedule_id}/run", json={"payload": {"name": "grace"}}
    )
    assert custom.status_code == 201
    detail = client.get(f"/api/v1/runs/{custom.json()['id']}").json()
    assert detail["payload"] == {"name": "grace"}
    invalid = client.post(f"/api/v1/schedules/{schedule_id}/run", json={"payload": {"times": "x"}})
    assert invalid.status_code == 422
    assert invalid.json()["error"]["field"] == "payload.times"

    ended = client.post(f"/api/v1/schedules/{schedule_id}/cancel")
    assert ended.status_code == 200
    assert ended.json()["status"] == "cancelled"
    cancelled_runs = client.get(
        "/api/v1/runs", params={"schedule_id": schedule_id, "status": "cancelled"}
    ).json()["items"]
    assert len(cancelled_runs) == 2
    refused = client.post(f"/api/v1/schedules/{schedule_id}/pause")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "invalid_transition"


def test_filters_and_keyset_pagination(api: Api, schedule_body: Maker) -> None:
    client = api.admin()
    for index in range(7):
        response = client.post(
            "/api/v1/schedules",
            json=schedule_body(
                name=f"s{index}",
                task="boom" if index % 2 else "greet",
                payload={} if index % 2 else {"name": "x"},
                tenant_id="acme" if index < 3 else None,
                status="paused" if index == 6 else None,
                description="nightly export" if index == 5 else None,
            ),
        )
        assert response.status_code == 201, response.text
    seen = []
    after = None
    while True:
        params: dict[str, object] = {"limit": 3}
        if after is not None:
            params["after_id"] = after
        page = client.get("/api/v1/schedules", params=params).json()
        seen += [s["name"] for s in page["items"]]
        after = page["next_after_id"]
        if after is None:
            break
    assert seen == [f"s{i}" for i in range(7)]

    def names(**params: object) -> list[str]:
        response = client.get("/api/v1/schedules", params=params)
        assert response.status_code == 200, response.text
        return [s["name"] for s in response.json()["items"]]

    assert names(task="boom") == ["s1", "s3", "s5"]
    assert names(tenant_id="acme") == ["s0", "s1", "s2"]
    assert names(status="paused") == ["s6"]
    assert names(text="nightly") == ["s5"]
    assert names(text="%") == []
    assert names(source="api", limit=2) == ["s0", "s1"]
    for params, field in [
        ({"status": "sleeping"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"after_id": "x"}, "after_id"),
        ({"after_id": 2**70}, "after_id"),
        ({"task": "a\u0000b"}, "task"),
    ]:
        response = client.get("/api/v1/schedules", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["field"] == field


def test_admin_only_tasks_are_scheduled_and_run_only_by_admins(
    api: Api, schedule_body: Maker
) -> None:
    """Only admins define runs of admin-only tasks (such as shell.command): operators may
    run an admin's schedule of one now, but not with a payload of their own."""
    body = schedule_body(name="d", task="danger", payload={"cmd": "true"})
    created = api.admin().post("/api/v1/schedules", json=body)
    assert created.status_code == 201, created.text
    operator = api.as_role("operator")
    run_now = operator.post(f"/api/v1/schedules/{created.json()['id']}/run")
    assert run_now.status_code == 201
    own_payload = operator.post(
        f"/api/v1/schedules/{created.json()['id']}/run", json={"payload": {"cmd": "rm"}}
    )
    assert own_payload.status_code == 403
    assert own_payload.json()["error"]["field"] == "payload"


def test_metadata_is_stored_edited_filtered_by_key_and_capped(
    api: Api, schedule_body: Maker
) -> None:
    """Free-form metadata: returned, changed by PATCH, filtered by key (and value) in SQL,
    refused with the field named when it is not an object or too big."""
    client = api.admin()
    made = {
        name: client.post("/api/v1/schedules", json=schedule_body(name=name, metadata=meta))
        for name, meta in (
            ("pay", {"team": "payments", "tier": 1}),
            ("ops", {"team": "ops"}),
            ("bare", None),
        )
    }
    assert [m.status_code for m in made.values()] == [201, 201, 201]
    assert made["pay"].json()["metadata"] == {"team": "payments", "tier": 1}
    assert made["bare"].json()["metadata"] == {}

    def names(query: str) -> list[str]:
        listed = client.get(f"/api/v1/schedules?{query}")
        assert listed.status_code == 200, listed.text
        return [s["name"] for s in listed.json()["items"]]

    assert names("metadata=team") == ["pay", "ops"]
    assert names("metadata=team=ops") == ["ops"]
    assert names("metadata=tier=1") == ["pay"]
    assert names("metadata=owner") == []

    pay_id = made["pay"].json()["id"]
    changed = client.patch(f"/api/v1/schedules/{pay_id}", json={"metadata": {"team": "ops"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["metadata"] == {"team": "ops"}
    assert names("metadata=team=ops") == ["pay", "ops"]

    for bad, fragment in (
        ([1, 2], "Input should be a valid dictionary"),
        ({"x": "y" * 9000}, "the limit is 8192"),
        ({"": 1}, "keys are non-empty text"),
    ):
        refused = client.patch(f"/api/v1/schedules/{pay_id}", json={"metadata": bad})
        assert refused.status_code == 422, bad
        error = refused.json()["error"]
        assert "metadata" in (error.get("field") or ""), error
        assert fragment in error["message"], error
    too_long = client.get("/api/v1/schedules", params={"metadata": "k" * 301})
    assert too_long.status_code == 422
    assert client.get(f"/api/v1/schedules/{pay_id}").json()["metadata"] == {"team": "ops"}
