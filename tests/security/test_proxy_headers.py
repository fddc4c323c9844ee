"""Finding 7: behind an SSO proxy only the user header is trusted, unless role and tenant
headers are configured."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tests.support.web import make_web, register_api_tasks
from tickwork import Tickwork
from tickwork.settings import Settings

FORGED = {
    "X-Forwarded-User": "mallory",
    "X-Forwarded-Role": "admin",
    "X-Forwarded-Tenant": "acme",
}


def _me(client: TestClient, headers: dict[str, str]) -> dict[str, object]:
    response = client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_role_and_tenant_headers_are_ignored_unless_configured(app: Tickwork) -> None:
    register_api_tasks(app)
    web = make_web(app, auth="proxy", trusted_proxies=["127.0.0.1"])
    client = TestClient(web, client=("127.0.0.1", 5000), raise_server_exceptions=False)
    me = _me(client, FORGED)
    assert (me["name"], me["role"], me["tenant_id"]) == ("mallory", "viewer", None)
    refused = client.post("/api/v1/runs", json={"task": "greet"}, headers=FORGED)
    assert refused.status_code == 403
    assert app.runs.list() == []


def test_configured_headers_are_read(app: Tickwork) -> None:
    register_api_tasks(app)
    web = make_web(
        app,
        auth="proxy",
        trusted_proxies=["127.0.0.1"],
        proxy_role_header="X-Auth-Role",
        proxy_tenant_header="X-Auth-Tenant",
        proxy_default_role="operator",
    )
    client = TestClient(web, client=("127.0.0.1", 5000), raise_server_exceptions=False)
    # The conventional names mean nothing here; the configured ones do.
    assert _me(client, FORGED)["role"] == "operator"
    me = _me(
        client, {"X-Forwarded-User": "bob", "X-Auth-Role": "viewer", "X-Auth-Tenant": "globex"}
    )
    assert (me["role"], me["tenant_id"]) == ("viewer", "globex")


def test_settings_read_the_header_names_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (Settings().proxy_role_header, Settings().proxy_tenant_header) == (None, None)
    monkeypatch.setenv("TICKWORK_PROXY_ROLE_HEADER", "X-Forwarded-Role")
    monkeypatch.setenv("TICKWORK_PROXY_TENANT_HEADER", "X-Forwarded-Tenant")
    settings = Settings()
    assert (settings.proxy_role_header, settings.proxy_tenant_header) == (
        "X-Forwarded-Role",
        "X-Forwarded-Tenant",
    )
