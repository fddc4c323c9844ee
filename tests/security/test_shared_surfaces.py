"""What every tenant shares (health, processes, lookups by name) tells none of them about
another: found while looking for the holes of the findings elsewhere."""

from __future__ import annotations

import pytest

from tests.support.accounts import ADMIN_ACTOR
from tests.support.web import Api
from tickwork import FakeClock
from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import ConflictError, NotFoundError
from tickwork.duties.node_heartbeat import NodeHeartbeat

ACME = Actor(name="acme-admin", source="test", role=Role.ADMIN, tenant_id="acme")
GLOBEX = Actor(name="globex-admin", source="test", role=Role.ADMIN, tenant_id="globex")


def test_readyz_counts_overdue_schedules_without_naming_them(api: Api, clock: FakeClock) -> None:
    api.app.schedules.create(name="acme-payroll-export", task="greet", interval=60, actor=ACME)
    clock.advance(3600)
    body = api.anonymous().get("/readyz").json()
    [overdue] = [c for c in body["checks"] if c["name"] == "overdue"]
    assert overdue == {"name": "overdue", "ok": False, "detail": "1 overdue schedules"}
    assert "acme-payroll-export" not in str(body)


def test_worker_counters_are_for_principals_bound_to_no_tenant(api: Api) -> None:
    NodeHeartbeat(api.app.db, "worker", node_id="worker:a", info=lambda: {"succeeded": 1234}).beat()
    [bound] = api.as_role("viewer", "acme").get("/api/v1/nodes").json()["items"]
    assert (bound["id"], bound["info"]) == ("worker:a", {})
    [unbound] = api.as_role("viewer").get("/api/v1/nodes").json()["items"]
    assert unbound["info"] == {"succeeded": 1234}


def test_lookups_by_name_stay_in_the_callers_tenant(api: Api) -> None:
    api.users.create_user(
        ADMIN_ACTOR, "globex-carol", tenant_id="globex", password="long enough pw"
    )
    api.tokens.create_token(ADMIN_ACTOR, "deploy", tenant_id="globex")
    with pytest.raises(NotFoundError):
        api.users.find_user(ACME, "globex-carol")
    with pytest.raises(NotFoundError):
        api.tokens.find_token(ACME, "deploy")
    assert api.users.find_user(GLOBEX, "globex-carol").tenant_id == "globex"
    api.tokens.create_token(ADMIN_ACTOR, "deploy", tenant_id="acme")
    assert api.tokens.find_token(ACME, "deploy").tenant_id == "acme"
    with pytest.raises(ConflictError):
        api.tokens.find_token(ADMIN_ACTOR, "deploy")
    # Schedule names too: a name several tenants use needs an id from who sees them all.
    for actor in (ACME, GLOBEX):
        api.app.schedules.create(name="report", task="greet", interval=60, actor=actor)
    assert api.app.reads.schedules.find(ACME, "report").tenant_id == "acme"
    with pytest.raises(ConflictError):
        api.app.reads.schedules.find(ADMIN_ACTOR, "report")
