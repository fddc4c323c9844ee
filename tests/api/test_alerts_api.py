"""``/api/v1/channels`` and ``/api/v1/alerts`` on SQLite and PostgreSQL: who may do what,
bad input naming its field, a test notification reaching a real receiver, incidents listed
per tenant and acknowledged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.local_servers import LocalHttpServer, local_http_server
from tests.support.web import Api
from tickwork.storage.alert_store import AlertStore


@pytest.fixture
def receiver() -> Iterator[LocalHttpServer]:
    with local_http_server() as server:
        yield server


def test_channel_crud_is_for_unbound_admins_and_hides_targets_from_others(
    api: Api, receiver: LocalHttpServer
) -> None:
    body = {"name": "ops", "kind": "webhook", "url": f"{receiver.url}/hook", "secret": "s3"}
    for role, tenant in [("viewer", None), ("operator", None), ("admin", "acme")]:
        assert api.as_role(role, tenant).post("/api/v1/channels", json=body).status_code == 403
    created = api.admin().post("/api/v1/channels", json=body)
    assert created.status_code == 201, created.text
    channel = created.json()
    assert channel["url"] == f"{receiver.url}/hook"
    assert channel["has_secret"] is True
    assert "secret" not in channel
    assert api.admin().post("/api/v1/channels", json=body).status_code == 409
    seen = api.as_role("viewer").get("/api/v1/channels").json()["items"]
    assert seen == [{**seen[0], "name": "ops", "kind": "webhook", "url": None, "to": None}]
    tenant_admin = api.as_role("admin", "acme")
    assert tenant_admin.get(f"/api/v1/channels/{channel['id']}").json()["url"] is None
    for method in ("patch", "delete"):
        kwargs = {"json": {"url": "https://evil.example/x"}} if method == "patch" else {}
        answer = getattr(tenant_admin, method)(f"/api/v1/channels/{channel['id']}", **kwargs)
        assert answer.status_code == 403
    assert tenant_admin.post(f"/api/v1/channels/{channel['id']}/test").status_code == 403
    sent = api.admin().post(f"/api/v1/channels/{channel['id']}/test")
    assert sent.status_code == 200, sent.text
    assert receiver.requests[-1].json()["id"] == sent.json()["id"]
    assert receiver.requests[-1].headers["X-Tickwork-Signature"].startswith("sha256=")
    changed = api.admin().patch(
        f"/api/v1/channels/{channel['id']}", json={"url": f"{receiver.url}/status/500"}
    )
    assert changed.json()["has_secret"] is True  # left out, so kept
    failed = api.admin().post(f"/api/v1/channels/{channel['id']}/test")
    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "delivery_failed"
    assert api.admin().delete(f"/api/v1/channels/{channel['id']}").status_code == 204
    assert api.admin().get("/api/v1/channels").json() == {"items": []}
    assert [e["action"] for e in api.audit("channel.create")] == ["channel.create"]
    assert "s3" not in str(api.audit("channel.create"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "ops", "kind": "pager", "url": "https://h/x"}, "kind"),
        ({"name": "bad name", "url": "https://h/x"}, "name"),
        ({"name": "ops", "url": "javascript:alert(1)"}, "url"),
        ({"name": "ops", "kind": "email", "to": ["nobody"]}, "to"),
        ({"name": "ops", "kind": "email", "to": ["a@b.c"], "url": "https://h/x"}, "url"),
        ({"name": "ops", "url": "https://h/" + "x" * 10_000}, "url"),
        ({"name": "ops", "url": "https://h/x", "colour": "red"}, "colour"),
    ],
)
def test_bad_channels_are_refused_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    response = api.admin().post("/api/v1/channels", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"].get("field", "")
    assert api.admin().get("/api/v1/channels").json() == {"items": []}


def test_schedules_carry_alert_settings(api: Api, schedule_body: object) -> None:
    api.admin().post(
        "/api/v1/channels", json={"name": "ops", "kind": "email", "to": ["a@example.com"]}
    )
    body = schedule_body(alert_after=3, auto_pause_after=10, alert_channels=["ops"])  # type: ignore[operator]
    created = api.admin().post("/api/v1/schedules", json=body)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert (schedule["alert_after"], schedule["auto_pause_after"]) == (3, 10)
    assert schedule["alert_channels"] == ["ops"]
    assert schedule["consecutive_failures"] == 0
    refused = api.admin().patch(
        f"/api/v1/schedules/{schedule['id']}", json={"alert_channels": ["nope"]}
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "alert_channels"
    refused = api.admin().patch(f"/api/v1/schedules/{schedule['id']}", json={"alert_after": 0})
    assert refused.status_code == 422
    assert "alert_after" in refused.json()["error"]["field"]


def test_alerts_are_listed_per_tenant_and_acknowledged_by_operators(api: Api) -> None:
    app = api.app
    mine = app.schedules.create(name="a", task="greet", interval=60, tenant_id="acme")
    theirs = app.schedules.create(name="b", task="greet", interval=60, tenant_id="globex")
    store = AlertStore(app.db.dialect)
    with app.db.write() as conn:
        now = app.db.now()
        for schedule in (mine, theirs):
            store.open_alert(
                conn,
                event="schedule.failing",
                subject=f"schedule:{schedule.id}",
                text=f"{schedule.name} failing",
                now=now,
                schedule_id=schedule.id,
                tenant_id=schedule.tenant_id,
            )
        store.open_alert(conn, event="process.down", subject="scheduler", text="down", now=now)
    everything = api.as_role("viewer").get("/api/v1/alerts").json()
    assert [a["event"] for a in everything["items"]] == [
        "process.down",
        "schedule.failing",
        "schedule.failing",
    ]
    acme = api.as_role("operator", "acme")
    listed = acme.get("/api/v1/alerts", params={"open": "true"}).json()["items"]
    assert [a["text"] for a in listed] == ["a failing"]
    other = next(a for a in everything["items"] if a["text"] == "b failing")
    assert acme.post(f"/api/v1/alerts/{other['id']}/ack").status_code == 404
    assert api.as_role("viewer").post(f"/api/v1/alerts/{listed[0]['id']}/ack").status_code == 403
    acked = acme.post(f"/api/v1/alerts/{listed[0]['id']}/ack")
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"].startswith("token:")
    assert acked.json()["open"] is True
    detail = acme.get(f"/api/v1/alerts/{listed[0]['id']}").json()
    assert detail["notifications"] == []
    page = api.as_role("viewer").get("/api/v1/alerts", params={"limit": 2}).json()
    assert len(page["items"]) == 2
    assert page["next_before_id"] == page["items"][-1]["id"]
    assert len(api.audit("alert.ack")) == 1
