"""Finding 5: run keys are unique per tenant, and a caller is never shown a run of another
tenant because it holds the same key."""

from __future__ import annotations

from tests.support.accounts import ADMIN_ACTOR
from tests.support.web import Api
from tickwork.domain.actor import Actor, Role
from tickwork.storage.run_store import RunStore


def _enqueue(api: Api, role: str, tenant: str | None, key: str, **body: object) -> dict:  # type: ignore[type-arg]
    response = api.as_role(role, tenant).post(
        "/api/v1/runs", json={"task": "greet", "key": key, **body}
    )
    assert response.status_code == 201, response.text
    found: dict = response.json()  # type: ignore[type-arg]
    return found


def test_a_key_another_tenant_holds_is_not_shared(api: Api) -> None:
    acme = _enqueue(api, "admin", "acme", "nightly")
    globex = _enqueue(api, "admin", "globex", "nightly")
    assert globex["id"] != acme["id"]
    assert globex["tenant_id"] == "globex"
    assert globex["created_by"] == "token:admin-globex"
    # Within a tenant the key still dedupes.
    assert _enqueue(api, "admin", "globex", "nightly")["id"] == globex["id"]
    assert _enqueue(api, "admin", "acme", "nightly")["id"] == acme["id"]
    # Runs without a tenant are a scope of their own.
    shared = _enqueue(api, "admin", None, "nightly")
    assert shared["id"] not in (acme["id"], globex["id"])
    assert shared["tenant_id"] is None
    # An admin bound to no tenant addressing a tenant gets that tenant's run.
    assert _enqueue(api, "admin", None, "nightly", tenant_id="acme")["id"] == acme["id"]
    pending = {
        (r["tenant_id"], r["key"])
        for r in api.admin().get("/api/v1/runs", params={"status": "queued"}).json()["items"]
    }
    assert pending == {("acme", "nightly"), ("globex", "nightly"), (None, "nightly")}


def test_python_enqueue_follows_the_actors_tenant(api: Api) -> None:
    acme = api.app.enqueue("greet", key="k", actor=Actor(name="a", tenant_id="acme"))
    globex = api.app.enqueue("greet", key="k", actor=Actor(name="g", tenant_id="globex"))
    assert (acme.tenant_id, globex.tenant_id) == ("acme", "globex")
    assert acme.id != globex.id


def test_retry_is_not_refused_for_a_key_another_tenant_holds(api: Api) -> None:
    globex_run = api.app.enqueue(
        "boom", key="shared-key", actor=Actor(name="g", role=Role.ADMIN, tenant_id="globex")
    )
    api.app.runs.cancel(globex_run.id, actor=ADMIN_ACTOR)
    acme_run = _enqueue(api, "admin", "acme", "shared-key")
    retried = api.as_role("operator", "globex").post(f"/api/v1/runs/{globex_run.id}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["id"], retried.json()["status"]) == (globex_run.id, "queued")
    assert acme_run["tenant_id"] == "acme"
    # In its own tenant the pending holder still wins, and is named.
    again = _enqueue(api, "admin", "globex", "shared-key")
    assert again["id"] == globex_run.id


def test_key_holders_look_only_within_the_tenant(api: Api) -> None:
    mine = api.app.enqueue("greet", key="k", actor=Actor(name="a", tenant_id="acme"))
    other = api.app.enqueue("greet", key="k", actor=Actor(name="g", tenant_id="globex"))
    store = RunStore(api.app.db.dialect)
    with api.app.db.read() as conn:
        assert store.key_holders(conn, [mine.id, other.id]) == {}
