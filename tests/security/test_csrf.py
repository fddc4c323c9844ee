"""Finding 6: a browser's state-changing request must carry a CSRF token or come from this
site, in every auth mode; under ``--auth none`` only loopback host names are served."""

from __future__ import annotations

import re
import warnings

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tests.support.accounts import ADMIN_ACTOR
from tests.support.web import make_web, register_api_tasks
from tickwork import Tickwork

LOCAL = "http://127.0.0.1:8787"
CROSS_SITE = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
SAME_SITE_OTHER_ORIGIN = {"Origin": "https://other.127.0.0.1.nip.io", "Sec-Fetch-Site": "same-site"}
SAME_ORIGIN = {"Origin": LOCAL, "Sec-Fetch-Site": "same-origin"}
PAGE_TOKEN = re.compile(r'"X-CSRF-Token": "([^"]+)"')
PROXY_USER = {"X-Forwarded-User": "sso-admin", "X-Forwarded-Role": "admin"}


def _proxy_web(app: Tickwork) -> FastAPI:
    return make_web(
        app,
        auth="proxy",
        trusted_proxies=["127.0.0.0/8"],
        proxy_role_header="X-Forwarded-Role",
        proxy_default_role="viewer",
    )


def _client(web: FastAPI, **headers: str) -> TestClient:
    client = TestClient(web, base_url=LOCAL, client=("127.0.0.1", 5000), follow_redirects=False)
    client.headers.update(headers)
    return client


def _schedule(app: Tickwork, name: str = "victim") -> int:
    return app.schedules.create(name=name, task="greet", cron="0 * * * *", actor=ADMIN_ACTOR).id


def _exists(app: Tickwork, schedule_id: int) -> bool:
    return any(s.id == schedule_id for s in app.schedules.list(actor=ADMIN_ACTOR))


@pytest.fixture(params=["proxy", "none"])
def browser_web(request: pytest.FixtureRequest, app: Tickwork) -> tuple[FastAPI, dict[str, str]]:
    """The web app in a mode without session cookies, and the headers its principal sends."""
    register_api_tasks(app)
    if request.param == "proxy":
        return _proxy_web(app), PROXY_USER
    return make_web(app, auth="none", host="127.0.0.1"), {}


def test_a_cross_site_form_cannot_change_anything(
    app: Tickwork, browser_web: tuple[FastAPI, dict[str, str]]
) -> None:
    web, identity = browser_web
    victim = _schedule(app)
    client = _client(web, **identity)
    form = client.post(f"/schedules/{victim}/delete", data={}, headers=CROSS_SITE)
    assert form.status_code == 403, form.text
    assert _exists(app, victim)
    for headers in (
        CROSS_SITE,
        SAME_SITE_OTHER_ORIGIN,
        {"Origin": "null"},
        {"Origin": "http://[::1"},
    ):
        api = client.delete(f"/api/v1/schedules/{victim}", headers=headers)
        assert api.status_code == 403, (headers, api.text)
        assert api.json()["error"]["code"] == "csrf_failed"
        assert _exists(app, victim)
        paused = client.post(f"/api/v1/schedules/{victim}/pause", json={}, headers=headers)
        assert paused.status_code == 403
    # Only the Origin header (a browser without Fetch Metadata) is checked as well.
    origin_only = client.post(
        "/api/v1/runs", json={"task": "greet"}, headers={"Origin": "https://evil.example"}
    )
    assert origin_only.status_code == 403
    assert app.runs.list() == []


def test_the_same_site_and_programs_still_work(
    app: Tickwork, browser_web: tuple[FastAPI, dict[str, str]]
) -> None:
    web, identity = browser_web
    client = _client(web, **identity)
    # The UI's own pages carry a token that htmx and their forms send back.
    page = client.get("/schedules")
    assert page.status_code == 200
    token = PAGE_TOKEN.search(page.text)
    assert token is not None
    victim = _schedule(app)
    with_token = client.post(
        f"/schedules/{victim}/pause",
        data={"csrf_token": token.group(1)},
        headers=CROSS_SITE,  # the token is proof enough
    )
    assert with_token.status_code in (200, 303), with_token.text
    wrong_token = client.post(
        f"/schedules/{victim}/resume", data={"csrf_token": "forged"}, headers=CROSS_SITE
    )
    assert wrong_token.status_code == 403
    # A same-origin request from the browser, by its Fetch Metadata or its Origin.
    assert (
        client.post("/api/v1/runs", json={"task": "greet"}, headers=SAME_ORIGIN).status_code == 201
    )
    assert (
        client.post("/api/v1/runs", json={"task": "greet"}, headers={"Origin": LOCAL}).status_code
        == 201
    )
    # A program without browser headers (curl, scripts).
    assert client.post("/api/v1/runs", json={"task": "greet"}).status_code == 201
    assert len(app.runs.list()) == 3


def test_bearer_tokens_need_no_csrf(app: Tickwork) -> None:
    register_api_tasks(app)
    web = _proxy_web(app)
    _, secret = app.tokens.create_token(ADMIN_ACTOR, "ci", role="admin")
    client = _client(web, Authorization=f"Bearer {secret}")
    made = client.post("/api/v1/runs", json={"task": "greet"}, headers=CROSS_SITE)
    assert made.status_code == 201, made.text


def test_sessions_still_need_their_token_even_from_the_same_site(app: Tickwork) -> None:
    register_api_tasks(app)
    web = make_web(app)
    app.users.create_user(ADMIN_ACTOR, "ada", role="admin", password="correct horse battery")
    client = _client(web)
    login = client.post(
        "/api/v1/auth/login", json={"username": "ada", "password": "correct horse battery"}
    )
    assert login.status_code == 200
    refused = client.post("/api/v1/runs", json={"task": "greet"}, headers=SAME_ORIGIN)
    assert refused.status_code == 403
    allowed = client.post(
        "/api/v1/runs",
        json={"task": "greet"},
        headers={**SAME_ORIGIN, "X-CSRF-Token": login.json()["csrf_token"]},
    )
    assert allowed.status_code == 201


REBINDING_HOSTS = (
    "evil.example",
    "evil.example:8787",
    "127.0.0.1.evil.example",
    "localhost.evil.example",
    "10.0.0.5:8787",
    "[::1]x",
    "",
)
LOOPBACK_HOSTS = ("127.0.0.1:8787", "localhost", "localhost:8787", "[::1]:8787", "app.localhost:1")


def test_auth_none_serves_only_loopback_host_names(app: Tickwork) -> None:
    register_api_tasks(app)
    victim = _schedule(app)
    client = TestClient(make_web(app, auth="none", host="127.0.0.1"), base_url=LOCAL)
    for host in REBINDING_HOSTS:
        for method, path in (
            ("GET", "/api/v1/schedules"),
            ("GET", "/healthz"),
            ("GET", "/schedules"),
            ("DELETE", f"/api/v1/schedules/{victim}"),
        ):
            response = client.request(method, path, headers={"Host": host})
            assert response.status_code == 403, (host, path, response.text)
            assert response.json()["error"]["code"] == "host_not_allowed"
    assert _exists(app, victim)
    for host in LOOPBACK_HOSTS:
        assert client.get("/api/v1/schedules", headers={"Host": host}).status_code == 200, host
