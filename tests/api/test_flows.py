"""``/api/v1/groups`` and ``/api/v1/flows``: groups with edges and waves, starting flows,
keyset pages, detail with steps, cancel, retry, roles and bad input; and group schedules
through ``/api/v1/schedules``."""

from __future__ import annotations

from tests.support.web import Api, Maker


def test_groups_show_tasks_edges_and_waves(api: Api) -> None:
    client = api.as_role("viewer")
    listed = client.get("/api/v1/groups")
    assert listed.status_code == 200, listed.text
    assert [g["name"] for g in listed.json()["items"]] == ["hello", "pair"]
    pair = client.get("/api/v1/groups/pair").json()
    assert pair["tasks"] == ["boom", "greet"]
    assert pair["edges"] == [["greet", "boom"]]
    assert pair["waves"] == [["greet"], ["boom"]]
    assert pair["run_count"] == 2
    missing = client.get("/api/v1/groups/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["field"] == "name"
    assert client.get("/api/v1/groups/" + "x" * 300).status_code == 422


def test_a_flow_is_started_read_retried_and_listed(api: Api) -> None:
    client = api.as_role("operator")
    started = client.post("/api/v1/flows", json={"group": "pair"})
    assert started.status_code == 201, started.text
    flow = started.json()
    assert flow["status"] == "running"
    assert [(s["task"], s["status"], s["depends_on"]) for s in flow["steps"]] == [
        ("greet", "queued", []),
        ("boom", "waiting", ["greet"]),
    ]
    api.app.worker().run_until_idle(30)
    done = client.get(f"/api/v1/flows/{flow['id']}").json()
    assert done["status"] == "failed"
    assert [s["status"] for s in done["steps"]] == ["succeeded", "failed"]
    assert done["duration"] is not None
    retried = client.post(f"/api/v1/flows/{flow['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert [s["status"] for s in retried.json()["steps"]] == ["succeeded", "queued"]
    second = client.post("/api/v1/flows", json={"tasks": ["boom"]}).json()
    assert [s["task"] for s in second["steps"]] == ["greet", "boom"]
    cancelled = client.post(f"/api/v1/flows/{second['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/flows/{second['id']}/cancel").status_code == 409
    page = client.get("/api/v1/flows", params={"limit": 1}).json()
    assert [f["id"] for f in page["items"]] == [second["id"]]
    rest = client.get("/api/v1/flows", params={"before_id": page["next_before_id"]}).json()
    assert [f["id"] for f in rest["items"]] == [flow["id"]]
    assert rest["next_before_id"] is None
    only = client.get("/api/v1/flows", params={"status": "cancelled"}).json()["items"]
    assert [f["id"] for f in only] == [second["id"]]
    assert client.get("/api/v1/flows", params={"status": "bogus"}).status_code == 422
    assert client.get("/api/v1/flows/424242").status_code == 404


def test_flows_need_an_operator_and_payloads_an_admin(api: Api) -> None:
    viewer = api.as_role("viewer")
    assert viewer.post("/api/v1/flows", json={"group": "hello"}).status_code == 403
    operator = api.as_role("operator")
    body = {"group": "hello", "payload": {"greet": {"name": "bo"}}}
    refused = operator.post("/api/v1/flows", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["field"] == "payload"
    admin = api.admin()
    started = admin.post("/api/v1/flows", json=body)
    assert started.status_code == 201, started.text
    run_id = started.json()["steps"][0]["run_id"]
    assert admin.get(f"/api/v1/runs/{run_id}").json()["payload"] == {"name": "bo"}


def test_bad_flow_requests_name_the_field(api: Api) -> None:
    client = api.admin()
    cases = [
        ({}, "group"),
        ({"group": "hello", "tasks": ["greet"]}, "group"),
        ({"group": "nope"}, "group"),
        ({"tasks": []}, "tasks"),
        ({"tasks": ["nope"]}, "tasks"),
        ({"group": "hello", "payload": {"greet": {"times": 99}}}, "payload.greet.times"),
        ({"group": "hello", "payload": {"boom": {}}}, "payload.boom"),
        ({"group": "hello", "extra": 1}, "extra"),
        ({"group": "x" * 10_000}, "group"),
    ]
    for body, field in cases:
        answer = client.post("/api/v1/flows", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"]["field"] == field, (body, answer.json())
    assert client.get("/api/v1/flows").json()["items"] == []


def test_a_key_returns_the_running_flow(api: Api) -> None:
    client = api.as_role("operator")
    first = client.post("/api/v1/flows", json={"group": "hello", "key": "k1"}).json()
    again = client.post("/api/v1/flows", json={"group": "hello", "key": "k1"}).json()
    assert again["id"] == first["id"]


def test_a_group_schedule_through_the_api(api: Api, schedule_body: Maker) -> None:
    client = api.admin()
    body = schedule_body(
        task=..., group="pair", payload={"greet": {"name": "cy"}}, overlap_policy="skip"
    )
    created = client.post("/api/v1/schedules", json=body)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert (schedule["task"], schedule["group"]) == (None, "pair")
    ran = client.post(f"/api/v1/schedules/{schedule['id']}/run")
    assert ran.status_code == 201, ran.text
    assert ran.json()["schedule_id"] == schedule["id"]
    assert [s["task"] for s in ran.json()["steps"]] == ["greet", "boom"]
    listed = client.get("/api/v1/flows", params={"schedule_id": schedule["id"]}).json()
    assert [f["id"] for f in listed["items"]] == [ran.json()["id"]]
    bad = client.post(
        "/api/v1/schedules",
        json=schedule_body(name="b", task=..., group="pair", payload={"greet": {"times": 0}}),
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "payload.greet.times"
    both = client.post("/api/v1/schedules", json=schedule_body(name="c", group="pair"))
    assert both.status_code == 422
    assert both.json()["error"]["field"] == "group"
