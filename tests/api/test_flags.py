"""Flags through the API, the CLI and the scheduler, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.web import Api
from tickwork import FakeClock, Tickwork
from tickwork.domain.actor import Actor

OPS = Actor(name="ops", source="python")


def test_set_list_get_delete_with_roles_and_audit(api: Api) -> None:
    assert api.as_role("viewer").get("/api/v1/flags").json() == {"items": []}
    refused = api.as_role("viewer").put("/api/v1/flags/reports", json={"enabled": True})
    assert refused.status_code == 403
    created = api.as_role("operator").put(
        "/api/v1/flags/reports", json={"enabled": True, "description": "nightly reports"}
    )
    assert created.status_code == 200, created.text
    assert created.json()["enabled"] is True
    assert created.json()["updated_by"].startswith("token:")
    off = api.as_role("operator").put("/api/v1/flags/reports", json={"enabled": False})
    assert off.json() == {**off.json(), "enabled": False, "description": "nightly reports"}
    listed = api.as_role("viewer").get("/api/v1/flags").json()["items"]
    assert [(f["name"], f["enabled"]) for f in listed] == [("reports", False)]
    assert api.as_role("viewer").get("/api/v1/flags/reports").json()["enabled"] is False
    assert api.as_role("operator").delete("/api/v1/flags/reports").status_code == 403
    assert api.admin().delete("/api/v1/flags/reports").status_code == 204
    assert api.admin().get("/api/v1/flags/reports").status_code == 404
    assert [e["action"] for e in api.audit("flag.set")] == ["flag.set", "flag.set"]
    assert len(api.audit("flag.delete")) == 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/flags/reports", {"enabled": "yes"}, "enabled"),
        ("/api/v1/flags/reports", {}, "enabled"),
        ("/api/v1/flags/reports", {"enabled": True, "colour": "red"}, "colour"),
        ("/api/v1/flags/bad%20name", {"enabled": True}, "name"),
    ],
)
def test_bad_input_names_the_field(
    api: Api, path: str, body: dict[str, object], field: str
) -> None:
    response = api.admin().put(path, json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"].get("field", "")
    assert api.admin().get("/api/v1/flags").json() == {"items": []}


def test_tenant_bound_principals_change_only_their_tenants_flags(api: Api) -> None:
    acme = api.as_role("admin", tenant="acme")
    response = acme.put("/api/v1/flags/x", json={"enabled": True})
    assert response.status_code == 200
    assert response.json()["tenant_id"] == "acme"
    shared = acme.put("/api/v1/flags/x", params={"tenant_id": "globex"}, json={"enabled": True})
    assert shared.status_code == 403
    assert shared.json()["error"]["field"] == "tenant_id"
    assert api.as_role("viewer", tenant="acme").get("/api/v1/flags").status_code == 200


def test_a_flag_gates_its_schedules(app: Tickwork, clock: FakeClock) -> None:
    @app.task("noop")
    def noop(ctx: object) -> None:
        return None

    schedule = app.schedules.create(name="gated", task="noop", interval=60, condition="reports")
    scheduler = app.scheduler()
    clock.advance(60)
    scheduler.tick()
    [first] = app.runs.list(schedule_id=schedule.id)
    assert (first.status.value, first.skip_reason) == ("skipped", "condition")
    app.flags.set(OPS, "reports", True)
    clock.advance(60)
    scheduler.tick()
    assert app.runs.list(schedule_id=schedule.id)[0].status.value == "queued"
    app.flags.set(OPS, "reports", False)
    clock.advance(timedelta(minutes=1).total_seconds())
    scheduler.tick()
    assert app.runs.list(schedule_id=schedule.id)[0].skip_reason == "condition"
