"""Authentication: sessions with CSRF, API tokens (revocation, expiry, users), proxy
headers, ``--auth none``, login throttling."""

from __future__ import annotations

import pytest

from tests.support.accounts import ADMIN_ACTOR, PASSWORD
from tests.support.web import Api, Maker, make_web
from tickwork import FakeClock, Tickwork
from tickwork.auth.sessions import CSRF_COOKIE, SESSION_COOKIE
from tickwork.domain.errors import InvalidInputError
from tickwork.settings import Settings
from tickwork.web.security import Authenticator


def test_session_login_csrf_and_logout(api: Api, schedule_body: Maker) -> None:
    api.user("ada", role="admin")
    client = api.anonymous()
    assert client.get("/api/v1/auth/me").status_code == 401
    login = client.post("/api/v1/auth/login", json={"username": "ada", "password": PASSWORD})
    assert login.status_code == 200, login.text
    body = login.json()
    assert (body["name"], body["role"], body["kind"]) == ("ada", "admin", "user")
    csrf = body["csrf_token"]
    assert client.cookies[CSRF_COOKIE] == csrf
    cookie_header = ",".join(login.headers.get_list("set-cookie"))
    assert "HttpOnly" in cookie_header.split(f"{CSRF_COOKIE}=")[0]
    assert "SameSite=lax" in cookie_header

    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["csrf_token"] == csrf
    assert client.get("/api/v1/schedules").status_code == 200

    missing = client.post("/api/v1/schedules", json=schedule_body())
    assert missing.status_code == 403
    assert missing.json()["error"]["code"] == "csrf_failed"
    wrong = client.post(
        "/api/v1/schedules", json=schedule_body(), headers={"X-CSRF-Token": "x" + csrf}
    )
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "csrf_failed"
    assert api.admin().get("/api/v1/schedules").json()["items"] == []
    right = client.post("/api/v1/schedules", json=schedule_body(), headers={"X-CSRF-Token": csrf})
    assert right.status_code == 201, right.text
    assert right.json()["created_by"] == "ada"

    # A forged or tampered cookie is no session.
    forged = api.anonymous()
    forged.cookies[SESSION_COOKIE] = client.cookies[SESSION_COOKIE][:-2] + "xx"
    assert forged.get("/api/v1/auth/me").status_code == 401

    refused = client.post("/api/v1/auth/logout")
    assert refused.status_code == 403
    out = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/api/v1/auth/me").status_code == 401
    assert [e["action"] for e in api.audit("auth.login")] == ["auth.login"]
    assert api.audit("auth.logout")[0]["actor"] == "ada"


def test_form_login_and_logout(api: Api) -> None:
    api.user("ada", role="viewer")
    client = api.anonymous()
    bad = client.post(
        "/api/v1/auth/login",
        data={"username": "ada", "password": "nope-nope", "next": "/runs"},
        follow_redirects=False,
    )
    assert bad.status_code == 303
    assert bad.headers["location"].startswith("/login?error=")
    assert "next=%2Fruns" in bad.headers["location"]
    good = client.post(
        "/api/v1/auth/login",
        data={"username": "ada", "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert good.status_code == 303
    assert good.headers["location"] == "/"
    cross_site = api.anonymous().post(
        "/api/v1/auth/login",
        data={"username": "ada", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert cross_site.status_code == 403
    csrf = client.cookies[CSRF_COOKIE]
    no_token = client.post("/api/v1/auth/logout", data={}, follow_redirects=False)
    assert no_token.status_code == 403
    out = client.post("/api/v1/auth/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/login"


def test_login_failures_are_uniform_audited_and_throttled(api: Api) -> None:
    user_id = api.user("ada", role="viewer")
    client = api.anonymous()
    unknown = client.post("/api/v1/auth/login", json={"username": "bob", "password": "whatever1"})
    wrong = client.post("/api/v1/auth/login", json={"username": "ada", "password": "whatever1"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    api.users.disable_user(ADMIN_ACTOR, user_id)
    disabled = client.post("/api/v1/auth/login", json={"username": "ada", "password": PASSWORD})
    assert disabled.status_code == 401
    reasons = sorted(e["after"]["reason"] for e in api.audit("auth.login_failed"))
    assert reasons == ["unknown user", "user disabled", "wrong password"]
    invalid = client.post("/api/v1/auth/login", json={"username": "ada"})
    assert invalid.status_code == 422
    assert invalid.json()["error"]["field"] == "password"
    for _ in range(10):
        client.post("/api/v1/auth/login", json={"username": "eve", "password": "guess-guess"})
    throttled = client.post(
        "/api/v1/auth/login", json={"username": "eve", "password": "guess-guess"}
    )
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "too_many_attempts"
    assert int(throttled.headers["retry-after"]) > 0


def test_sessions_end_when_user_disabled_or_password_changed(api: Api) -> None:
    user_id = api.user("ada", role="operator")
    first, csrf = api.browser("ada")
    second, _ = api.browser("ada")
    changed = first.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a much better one"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 204, changed.text
    assert first.get("/api/v1/auth/me").status_code == 200
    assert second.get("/api/v1/auth/me").status_code == 401
    wrong = first.post(
        "/api/v1/auth/password",
        json={"current_password": "nope-nope", "new_password": "another one!"},
        headers={"X-CSRF-Token": first.cookies[CSRF_COOKIE]},
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["field"] == "current_password"
    short = first.post(
        "/api/v1/auth/password",
        json={"current_password": "a much better one", "new_password": "short"},
        headers={"X-CSRF-Token": first.cookies[CSRF_COOKIE]},
    )
    assert short.status_code == 422
    assert short.json()["error"]["field"] == "new_password"
    api.users.disable_user(ADMIN_ACTOR, user_id)
    assert first.get("/api/v1/auth/me").status_code == 401


def test_token_revocation_expiry_and_users(api: Api, clock: FakeClock) -> None:
    admin = api.admin()
    created = admin.post(
        "/api/v1/tokens", json={"name": "ci", "role": "operator", "expires_in": "1h"}
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    token_id = created.json()["token"]["id"]
    assert secret.startswith("tw_")
    assert created.json()["token"]["prefix"] == secret[:11]
    assert created.json()["token"]["expires_at"] == "2030-01-01T01:00:00Z"
    client = api.anonymous()
    client.headers["Authorization"] = f"Bearer {secret}"
    me = client.get("/api/v1/auth/me").json()
    assert (me["name"], me["role"], me["kind"], me["token_id"]) == (
        "token:ci",
        "operator",
        "token",
        token_id,
    )
    assert admin.get(f"/api/v1/tokens/{token_id}").json()["last_used_at"] is not None
    listed = admin.get("/api/v1/tokens").json()["items"]
    assert all("secret" not in t and "token_hash" not in t for t in listed)

    clock.advance(3601)
    expired = client.get("/api/v1/auth/me")
    assert expired.status_code == 401
    assert expired.headers["www-authenticate"].startswith("Bearer")

    second = admin.post("/api/v1/tokens", json={"name": "ci2", "role": "viewer"}).json()
    client.headers["Authorization"] = f"Bearer {second['secret']}"
    assert client.get("/api/v1/runs").status_code == 200
    revoked = admin.post(f"/api/v1/tokens/{second['token']['id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/runs").status_code == 401
    assert admin.post(f"/api/v1/tokens/{second['token']['id']}/revoke").status_code == 200
    assert len(api.audit("token.revoke")) == 1
    active = admin.get("/api/v1/tokens", params={"include_revoked": "false"}).json()["items"]
    assert second["token"]["id"] not in [t["id"] for t in active]

    for header in ("Bearer nonsense", "Bearer tw_" + "x" * 40, "Basic abc", "Bearer "):
        response = api.anonymous().get("/api/v1/runs", headers={"Authorization": header})
        assert response.status_code == 401, header

    user_id = api.user("olga", role="operator", tenant="acme")
    bound = admin.post(
        "/api/v1/tokens", json={"name": "olga-cli", "user_id": user_id, "tenant_id": "globex"}
    )
    assert bound.status_code == 422
    assert bound.json()["error"]["field"] == "tenant_id"
    too_much = admin.post(
        "/api/v1/tokens", json={"name": "olga-cli", "user_id": user_id, "role": "admin"}
    )
    assert too_much.status_code == 422
    assert too_much.json()["error"]["field"] == "role"
    bound = admin.post("/api/v1/tokens", json={"name": "olga-cli", "user_id": user_id})
    assert bound.status_code == 201
    assert bound.json()["token"]["tenant_id"] == "acme"
    client.headers["Authorization"] = f"Bearer {bound.json()['secret']}"
    me = client.get("/api/v1/auth/me").json()
    assert (me["name"], me["role"], me["tenant_id"]) == (
        "olga (token olga-cli)",
        "operator",
        "acme",
    )
    demoted = admin.patch(f"/api/v1/users/{user_id}", json={"role": "viewer"})
    assert demoted.status_code == 200
    assert client.get("/api/v1/auth/me").json()["role"] == "viewer"
    admin.patch(f"/api/v1/users/{user_id}", json={"disabled": True})
    assert client.get("/api/v1/auth/me").status_code == 401
    past = admin.post("/api/v1/tokens", json={"name": "old", "expires_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 422
    assert past.json()["error"]["field"] == "expires_at"


def test_users_are_created_listed_and_updated_through_the_api(api: Api) -> None:
    admin = api.admin()
    created = admin.post("/api/v1/users", json={"username": "ops", "role": "operator"})
    assert created.status_code == 201, created.text
    generated = created.json()["password"]
    assert len(generated) >= 20
    user_id = created.json()["user"]["id"]
    assert "password_hash" not in created.json()["user"]
    api.browser("ops", generated)
    given = admin.post("/api/v1/users", json={"username": "viewer1", "password": "long enough pw"})
    assert given.json()["password"] is None
    assert given.json()["user"]["role"] == "viewer"
    duplicate = admin.post("/api/v1/users", json={"username": "ops"})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["field"] == "username"
    short = admin.post("/api/v1/users", json={"username": "x", "password": "short"})
    assert short.status_code == 422
    assert short.json()["error"]["field"] == "password"
    role = admin.post("/api/v1/users", json={"username": "y", "role": "root"})
    assert role.status_code == 422
    assert role.json()["error"]["field"] == "role"
    assert [u["username"] for u in admin.get("/api/v1/users").json()["items"]] == [
        "ops",
        "viewer1",
    ]
    page = admin.get("/api/v1/users", params={"limit": 1}).json()
    assert page["next_after_id"] == user_id
    updated = admin.patch(f"/api/v1/users/{user_id}", json={"role": "admin", "tenant_id": "acme"})
    assert updated.json()["role"] == "admin"
    assert updated.json()["tenant_id"] == "acme"
    assert admin.patch(f"/api/v1/users/{user_id}", json={}).status_code == 422
    assert admin.patch(f"/api/v1/users/{user_id}", json={"role": None}).status_code == 422
    assert admin.get("/api/v1/users/9999").status_code == 404
    assert [e["action"] for e in api.audit("user.update")] == ["user.update"]


def test_last_admin_cannot_be_demoted_or_disabled(api: Api) -> None:
    only = api.user("root", role="admin")
    admin = api.admin()
    refused = admin.patch(f"/api/v1/users/{only}", json={"disabled": True})
    assert refused.status_code == 409
    assert refused.json()["error"]["field"] == "disabled"
    assert admin.patch(f"/api/v1/users/{only}", json={"role": "viewer"}).status_code == 409
    other = api.user("root2", role="admin")
    assert admin.patch(f"/api/v1/users/{only}", json={"disabled": True}).status_code == 200
    assert admin.patch(f"/api/v1/users/{other}", json={"role": "operator"}).status_code == 409


def test_initial_admin_is_created_once(api: Api) -> None:
    password = api.users.ensure_initial_admin()
    assert password is not None
    assert api.users.ensure_initial_admin() is None
    client, _ = api.browser("admin", password)
    assert client.get("/api/v1/auth/me").json()["role"] == "admin"
    entry = api.audit("user.create")[0]
    assert (entry["actor"], entry["source"], entry["after"]["username"]) == (
        "system",
        "system",
        "admin",
    )


def test_proxy_mode_trusts_the_header_only_from_trusted_proxies(app: Tickwork) -> None:
    from tests.support.web import register_api_tasks

    register_api_tasks(app)
    from fastapi.testclient import TestClient

    with pytest.raises(InvalidInputError):
        make_web(app, auth="proxy", trusted_proxies=["not-an-ip"])
    web = make_web(
        app,
        auth="proxy",
        trusted_proxies=["127.0.0.0/8"],
        proxy_default_role="viewer",
        proxy_role_header="X-Forwarded-Role",
        proxy_tenant_header="X-Forwarded-Tenant",
    )
    trusted = TestClient(web, client=("127.0.0.1", 5000), raise_server_exceptions=False)
    me = trusted.get("/api/v1/auth/me", headers={"X-Forwarded-User": "sso-alice"})
    assert me.status_code == 200
    assert (me.json()["name"], me.json()["role"], me.json()["kind"]) == (
        "sso-alice",
        "viewer",
        "proxy",
    )
    assert me.json()["tenant_id"] is None
    scoped = trusted.get(
        "/api/v1/auth/me",
        headers={
            "X-Forwarded-User": "sso-bob",
            "X-Forwarded-Role": "Operator",
            "X-Forwarded-Tenant": "acme",
        },
    ).json()
    assert (scoped["role"], scoped["tenant_id"]) == ("operator", "acme")
    bad_role = trusted.get(
        "/api/v1/auth/me", headers={"X-Forwarded-User": "x", "X-Forwarded-Role": "root"}
    )
    assert bad_role.status_code == 401
    assert trusted.get("/api/v1/auth/me").status_code == 401
    outsider = TestClient(web, client=("192.0.2.7", 5000), raise_server_exceptions=False)
    spoofed = outsider.get(
        "/api/v1/auth/me", headers={"X-Forwarded-User": "sso-alice", "X-Forwarded-Role": "admin"}
    )
    assert spoofed.status_code == 401
    login = trusted.post("/api/v1/auth/login", json={"username": "a", "password": "b"})
    assert login.status_code == 422
    # A program's change (no browser headers) needs no CSRF token.
    viewer_post = trusted.post(
        "/api/v1/runs", json={"task": "greet"}, headers={"X-Forwarded-User": "sso-alice"}
    )
    assert viewer_post.status_code == 403
    admin_post = trusted.post(
        "/api/v1/runs",
        json={"task": "greet"},
        headers={"X-Forwarded-User": "sso-carol", "X-Forwarded-Role": "admin"},
    )
    assert admin_post.status_code == 201
    assert admin_post.json()["created_by"] == "sso-carol"


def test_auth_none_only_on_loopback(app: Tickwork) -> None:
    from tests.support.web import register_api_tasks

    register_api_tasks(app)
    for host in ("0.0.0.0", "192.168.1.10", "example.com"):
        with pytest.raises(InvalidInputError) as refused:
            Authenticator(Settings(auth="none", host=host), app.users, app.tokens)
        assert refused.value.field == "auth"
    web = make_web(app, auth="none", host="::1")
    from fastapi.testclient import TestClient

    client = TestClient(web, base_url="http://127.0.0.1:8787")
    me = client.get("/api/v1/auth/me").json()
    assert (me["name"], me["role"], me["kind"]) == ("anonymous", "admin", "anonymous")
    made = client.post("/api/v1/runs", json={"task": "greet"})
    assert made.status_code == 201
    assert made.json()["created_by"] == "anonymous"
