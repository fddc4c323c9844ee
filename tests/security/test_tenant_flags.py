"""Flags have tenants: a tenant reads the installation's flags and its own, changes only its
own, and never switches another tenant's schedules; the installation's switch binds all."""

from __future__ import annotations

import pytest

from tests.support.web import Api
from tickwork import FakeClock, Tickwork
from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import PermissionDeniedError

OPS = Actor(name="ops", source="test", role=Role.ADMIN)
ACME = Actor(name="acme-ops", source="test", role=Role.OPERATOR, tenant_id="acme")
GLOBEX = Actor(name="globex-ops", source="test", role=Role.OPERATOR, tenant_id="globex")


def test_each_tenant_sees_the_installations_flags_and_its_own(api: Api) -> None:
    api.app.flags.set(OPS, "maintenance", True, description="installation-wide")
    api.app.flags.set(ACME, "reports", False, description="acme's reports")
    api.app.flags.set(GLOBEX, "reports", True, description="globex's reports")
    listed = api.as_role("viewer", "globex").get("/api/v1/flags").json()["items"]
    assert [(f["name"], f["tenant_id"], f["enabled"]) for f in listed] == [
        ("maintenance", None, True),
        ("reports", "globex", True),
    ]
    everyone = api.as_role("viewer").get("/api/v1/flags").json()["items"]
    assert {(f["name"], f["tenant_id"]) for f in everyone} == {
        ("maintenance", None),
        ("reports", "acme"),
        ("reports", "globex"),
    }
    mine = api.as_role("viewer", "globex").get("/api/v1/flags/reports").json()
    assert (mine["tenant_id"], mine["description"]) == ("globex", "globex's reports")
    shared = api.as_role("viewer", "globex").get("/api/v1/flags/maintenance").json()
    assert shared["tenant_id"] is None
    assert api.as_role("viewer").get("/api/v1/flags/reports").status_code == 404
    acme = api.as_role("viewer").get("/api/v1/flags/reports", params={"tenant_id": "acme"})
    assert acme.json()["enabled"] is False


def test_a_tenant_changes_only_its_own_flags(api: Api) -> None:
    api.app.flags.set(OPS, "maintenance", True)
    api.app.flags.set(ACME, "reports", True)
    globex = api.as_role("admin", "globex")
    # Setting a name the installation or another tenant uses makes globex's own flag.
    made = globex.put("/api/v1/flags/maintenance", json={"enabled": False})
    assert made.json()["tenant_id"] == "globex"
    assert globex.put("/api/v1/flags/reports", json={"enabled": False}).status_code == 200
    assert api.app.flags.get("maintenance").enabled is True
    assert api.app.flags.get("reports", tenant_id="acme").enabled is True
    refused = globex.delete("/api/v1/flags/reports", params={"tenant_id": "acme"})
    assert refused.status_code == 403
    assert globex.delete("/api/v1/flags/reports").status_code == 204
    assert api.app.flags.get("reports", tenant_id="acme").enabled is True
    with pytest.raises(PermissionDeniedError):
        api.app.flags.set(GLOBEX, "reports", True, tenant_id="acme")
    audit = api.as_role("viewer", "acme").get("/api/v1/audit", params={"target_type": "flag"})
    assert {e["actor"] for e in audit.json()["items"]} == {"acme-ops"}


def test_a_schedule_needs_every_flag_it_sees_to_be_on(app: Tickwork, clock: FakeClock) -> None:
    @app.task("noop")
    def noop(ctx: object) -> None:
        return None

    acme = app.schedules.create(
        name="gated", task="noop", interval=60, condition="reports", actor=ACME
    )
    globex = app.schedules.create(
        name="gated", task="noop", interval=60, condition="reports", actor=GLOBEX
    )
    scheduler = app.scheduler()

    def tick() -> dict[str, str | None]:
        clock.advance(60)
        scheduler.tick()
        return {
            tenant: app.runs.list(schedule_id=s.id)[0].skip_reason
            for tenant, s in (("acme", acme), ("globex", globex))
        }

    app.flags.set(ACME, "reports", True)
    # Globex has no flag of that name, and the installation has none: globex skips.
    assert tick() == {"acme": None, "globex": "condition"}
    app.flags.set(GLOBEX, "reports", False)
    app.flags.set(ACME, "reports", True)
    assert tick() == {"acme": None, "globex": "condition"}
    # The installation's switch, off, stops every tenant whatever its own flag says.
    app.flags.set(OPS, "reports", False)
    app.flags.set(GLOBEX, "reports", True)
    assert tick() == {"acme": "condition", "globex": "condition"}
    app.flags.set(OPS, "reports", True)
    assert tick() == {"acme": None, "globex": None}
