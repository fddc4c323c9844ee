"""Finding 12: logins in the audit log (failed ones carry the name typed and the address)
are for admins bound to no tenant; changes to users and tokens are for admins."""

from __future__ import annotations

from tests.support.accounts import PASSWORD
from tests.support.web import Api, Ui

ROLES = ("viewer", "operator", "admin")


def _actions(api: Api, role: str, tenant: str | None) -> set[str]:
    response = api.as_role(role, tenant).get("/api/v1/audit", params={"limit": 500})
    assert response.status_code == 200, response.text
    return {e["action"] for e in response.json()["items"]}


def _seed(api: Api) -> None:
    api.user("acme-ops", role="operator", tenant="acme")
    client = api.anonymous()
    typed = {"username": "acme-ops", "password": "hunter2-is-my-password"}
    assert client.post("/api/v1/auth/login", json=typed).status_code == 401
    ok = {"username": "acme-ops", "password": PASSWORD}
    assert client.post("/api/v1/auth/login", json=ok).status_code == 200
    api.as_role("admin", "acme").post(
        "/api/v1/schedules", json={"name": "job", "task": "greet", "interval": 60}
    )


def test_the_api_shows_logins_only_to_unbound_admins(api: Api) -> None:
    _seed(api)
    everything = _actions(api, "admin", None)
    assert {"auth.login_failed", "auth.login", "user.create", "schedule.create"} <= everything
    for role in ROLES:
        for tenant in ("acme", None):
            seen = _actions(api, role, tenant)
            if role == "admin" and tenant is None:
                continue
            assert not {a for a in seen if a.startswith("auth.")}, (role, tenant, seen)
            assert "schedule.create" in seen
            if role != "admin":
                assert not {a for a in seen if a.startswith(("user.", "token."))}, (role, tenant)
    assert "user.create" in _actions(api, "admin", "acme")
    # Asking for them by name does not help.
    asked = api.as_role("admin", "acme").get(
        "/api/v1/audit", params={"action": "auth.login_failed"}
    )
    assert asked.json()["items"] == []


def test_the_ui_shows_logins_only_to_unbound_admins(ui: Ui) -> None:
    client = ui.client()
    ui.login("viewer", tenant="acme")  # creates the user
    failed = client.post(
        "/login",
        data={"username": "viewer-acme", "password": "typed-secret-xyz", "next": "/"},
        headers={"Origin": "http://testserver"},
    )
    assert failed.status_code == 401
    for role, tenant in (("viewer", "acme"), ("admin", "acme"), ("operator", None)):
        page, _ = ui.login(role, tenant=tenant)
        html = page.get("/audit").text
        assert "typed-secret" not in html
        assert "auth.login_failed" not in html, (role, tenant)
    admin, _ = ui.login("admin")
    assert "auth.login_failed" in admin.get("/audit").text
