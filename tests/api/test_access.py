"""The role matrix (each role against each mutating endpoint), authentication on every
route, tenant isolation, and an audit entry for every change made through the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.accounts import ADMIN_ACTOR
from tests.support.web import Api
from tickwork import Tickwork
from tickwork.domain.actor import Actor

ROLES = ("viewer", "operator", "admin")
RANK = {role: index for index, role in enumerate(ROLES)}


@dataclass(frozen=True)
class Mutation:
    """A mutating endpoint: the role it needs, how to prepare a target, and the request."""

    needs: str
    method: str
    path: str
    body: Callable[[int], Any] | None
    prepare: Callable[[Api, int], int]
    action: str | None
    ok: int = 200


def _schedule(api: Api, n: int) -> int:
    return api.app.schedules.create(
        name=f"target-{n}", task="greet", cron="0 * * * *", actor=ADMIN_ACTOR
    ).id


def _paused(api: Api, n: int) -> int:
    schedule_id = _schedule(api, n)
    api.app.schedules.pause(schedule_id, actor=ADMIN_ACTOR)
    return schedule_id


def _failed_run(api: Api, n: int) -> int:
    run = api.app.enqueue("boom", actor=ADMIN_ACTOR)
    api.app.runs.cancel(run.id, actor=ADMIN_ACTOR)
    return run.id


def _queued_run(api: Api, n: int) -> int:
    return api.app.enqueue("greet", actor=ADMIN_ACTOR).id


def _user(api: Api, n: int) -> int:
    user, _ = api.users.create_user(ADMIN_ACTOR, f"user-{n}", password="long enough pw")
    return user.id


def _token(api: Api, n: int) -> int:
    token, _ = api.tokens.create_token(ADMIN_ACTOR, f"token-{n}")
    return token.id


def _nothing(api: Api, n: int) -> int:
    return 0


MUTATIONS = [
    Mutation(
        "admin",
        "POST",
        "/api/v1/schedules",
        lambda n: {"name": f"new-{n}", "task": "greet", "interval": 60},
        _nothing,
        "schedule.create",
        201,
    ),
    Mutation(
        "admin",
        "PATCH",
        "/api/v1/schedules/{id}",
        lambda n: {"cron": "5 * * * *"},
        _schedule,
        "schedule.update",
    ),
    Mutation("admin", "DELETE", "/api/v1/schedules/{id}", None, _schedule, "schedule.delete", 204),
    Mutation("admin", "POST", "/api/v1/schedules/{id}/cancel", None, _schedule, "schedule.cancel"),
    Mutation(
        "operator",
        "POST",
        "/api/v1/schedules/{id}/pause",
        lambda n: {"note": "why"},
        _schedule,
        "schedule.pause",
    ),
    Mutation(
        "operator",
        "POST",
        "/api/v1/schedules/{id}/resume",
        lambda n: {"misfire": "skip"},
        _paused,
        "schedule.resume",
    ),
    Mutation(
        "operator", "POST", "/api/v1/schedules/{id}/run", None, _schedule, "schedule.run_now", 201
    ),
    Mutation(
        "admin", "POST", "/api/v1/runs", lambda n: {"task": "greet"}, _nothing, "run.enqueue", 201
    ),
    Mutation("operator", "POST", "/api/v1/runs/{id}/retry", None, _failed_run, "run.retry"),
    Mutation("operator", "POST", "/api/v1/runs/{id}/cancel", None, _queued_run, "run.cancel"),
    Mutation(
        "admin",
        "POST",
        "/api/v1/users",
        lambda n: {"username": f"made-{n}", "role": "viewer"},
        _nothing,
        "user.create",
        201,
    ),
    Mutation(
        "admin",
        "PATCH",
        "/api/v1/users/{id}",
        lambda n: {"role": "operator"},
        _user,
        "user.update",
    ),
    Mutation(
        "admin",
        "POST",
        "/api/v1/tokens",
        lambda n: {"name": f"made-{n}", "role": "viewer"},
        _nothing,
        "token.create",
        201,
    ),
    Mutation("admin", "POST", "/api/v1/tokens/{id}/revoke", None, _token, "token.revoke"),
]


def test_each_role_may_do_only_what_it_is_allowed_and_is_audited(api: Api) -> None:
    """Each role against each mutating endpoint: allowed ones succeed and leave an audit
    entry naming the caller; the others are 403 and change nothing."""
    problems = []
    counter = 0
    for mutation in MUTATIONS:
        for role in ROLES:
            counter += 1
            target = mutation.prepare(api, counter)
            before = len(api.audit(mutation.action)) if mutation.action else 0
            client = api.as_role(role)
            response = client.request(
                mutation.method,
                mutation.path.format(id=target),
                json=None if mutation.body is None else mutation.body(counter),
            )
            allowed = RANK[role] >= RANK[mutation.needs]
            expected = mutation.ok if allowed else 403
            if response.status_code != expected:
                problems.append((role, mutation.method, mutation.path, response.text))
                continue
            entries = api.audit(mutation.action) if mutation.action else []
            if allowed:
                newest = entries[0] if entries else {}
                if len(entries) != before + 1 or newest.get("actor") != f"token:{role}-all":
                    problems.append((role, mutation.path, "no audit entry", entries[:1]))
                elif newest.get("source") != "api":
                    problems.append((role, mutation.path, "audit source", newest))
            else:
                assert response.json()["error"]["code"] == "forbidden"
                if len(entries) != before:
                    problems.append((role, mutation.path, "refused but audited"))
    assert problems == []


def test_every_route_needs_authentication(api: Api) -> None:
    schema = api.anonymous().get("/api/openapi.json")
    assert schema.status_code == 200
    public = {"/healthz", "/readyz", "/metrics", "/api/v1/auth/login", "/api/v1/auth/logout"}
    client = api.anonymous()
    checked = 0
    for path, operations in schema.json()["paths"].items():
        if path in public:
            continue
        concrete = path.replace("{schedule_id}", "1").replace("{run_id}", "1")
        concrete = concrete.replace("{user_id}", "1").replace("{token_id}", "1")
        concrete = concrete.replace("{name}", "greet")
        for method in operations:
            params = {"expr": "* * * * *"} if "cron" in path else None
            response = client.request(method.upper(), concrete, params=params, json={})
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"]["code"] == "unauthenticated"
            checked += 1
    assert checked >= 25
    assert api.anonymous().get("/healthz").status_code == 200
    assert api.anonymous().get("/api/docs").status_code == 200


def _seed_tenants(app: Tickwork) -> dict[str, Any]:
    ids: dict[str, Any] = {}
    for tenant in ("acme", "globex", None):
        name = tenant or "shared"
        schedule = app.schedules.create(
            name=f"{name}-hourly", task="greet", cron="0 * * * *", tenant_id=tenant
        )
        run = app.schedules.run_now(schedule.id)
        ids[name] = (schedule.id, run.id)
    return ids


def test_tenant_bound_tokens_see_and_touch_only_their_tenant(api: Api) -> None:
    ids = _seed_tenants(api.app)
    acme_schedule, acme_run = ids["acme"]
    client = api.as_role("admin", tenant="acme")

    schedules = client.get("/api/v1/schedules").json()["items"]
    assert [s["name"] for s in schedules] == ["acme-hourly"]
    runs = client.get("/api/v1/runs").json()["items"]
    assert [r["id"] for r in runs] == [acme_run]
    assert client.get("/api/v1/runs", params={"tenant_id": "globex"}).json()["items"] == []
    assert client.get(f"/api/v1/schedules/{acme_schedule}").status_code == 200
    assert client.get(f"/api/v1/runs/{acme_run}").status_code == 200

    for other in ("globex", "shared"):
        schedule_id, run_id = ids[other]
        for method, path, body in [
            ("GET", f"/api/v1/schedules/{schedule_id}", None),
            ("PATCH", f"/api/v1/schedules/{schedule_id}", {"cron": "5 * * * *"}),
            ("DELETE", f"/api/v1/schedules/{schedule_id}", None),
            ("POST", f"/api/v1/schedules/{schedule_id}/pause", None),
            ("POST", f"/api/v1/schedules/{schedule_id}/resume", None),
            ("POST", f"/api/v1/schedules/{schedule_id}/run", None),
            ("POST", f"/api/v1/schedules/{schedule_id}/cancel", None),
            ("GET", f"/api/v1/runs/{run_id}", None),
            ("POST", f"/api/v1/runs/{run_id}/retry", None),
            ("POST", f"/api/v1/runs/{run_id}/cancel", None),
        ]:
            response = client.request(method, path, json=body)
            assert response.status_code == 404, (other, method, path, response.text)
            assert response.json()["error"]["code"] == "not_found"

    created = client.post(
        "/api/v1/schedules", json={"name": "acme-new", "task": "greet", "interval": 60}
    )
    assert created.status_code == 201
    assert created.json()["tenant_id"] == "acme"
    foreign = client.post(
        "/api/v1/schedules",
        json={"name": "sneaky", "task": "greet", "interval": 60, "tenant_id": "globex"},
    )
    assert foreign.status_code == 403
    assert foreign.json()["error"]["field"] == "tenant_id"
    moved = client.patch(f"/api/v1/schedules/{acme_schedule}", json={"tenant_id": "globex"})
    assert moved.status_code == 403
    enqueued = client.post("/api/v1/runs", json={"task": "greet"})
    assert enqueued.json()["tenant_id"] == "acme"

    audit = client.get("/api/v1/audit").json()["items"]
    assert audit
    assert {e["tenant_id"] for e in audit} == {"acme"}
    stats = client.get("/api/v1/stats").json()
    assert stats["queue"]["runnable"] == 2
    assert api.admin().get("/api/v1/stats").json()["queue"]["runnable"] == 4

    api.user("acme-ops", role="operator", tenant="acme")
    api.user("globex-ops", role="operator", tenant="globex")
    users = client.get("/api/v1/users").json()["items"]
    assert [u["username"] for u in users] == ["acme-ops"]
    globex_user = api.users.find_user(Actor(), "globex-ops").id
    assert client.get(f"/api/v1/users/{globex_user}").status_code == 404
    made = client.post("/api/v1/users", json={"username": "acme-2"}).json()
    assert made["user"]["tenant_id"] == "acme"
    token = client.post("/api/v1/tokens", json={"name": "acme-ci", "role": "operator"})
    assert token.json()["token"]["tenant_id"] == "acme"

    browser, _ = api.browser("acme-ops")
    assert [s["name"] for s in browser.get("/api/v1/schedules").json()["items"]] == [
        "acme-hourly",
        "acme-new",
    ]
    assert browser.get(f"/api/v1/runs/{ids['globex'][1]}").status_code == 404
