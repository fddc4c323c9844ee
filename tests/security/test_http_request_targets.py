"""Finding 3: ``http.request`` is not an SSRF tool.

It called any address: the server itself with forged ``X-Forwarded-User`` and
``X-Forwarded-Role`` headers (in proxy mode a tenant admin became a global admin and got
another tenant's schedules back in the run result), and link-local metadata addresses. Now
non-public targets are refused after DNS resolution and on every redirect unless
``TICKWORK_HTTP_ALLOW`` permits them, the connection goes to the address that was checked,
identity headers are never sent and credentials do not follow a redirect to another origin.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.accounts import ACME_ADMIN_ACTOR, ADMIN_ACTOR
from tests.support.local_servers import LocalHttpServer, ReceivedRequest, local_http_server
from tests.support.servers import serve_asgi
from tests.support.waiting import SLACK, wait_for
from tests.support.web import make_web
from tickwork import Run, Tickwork
from tickwork.builtin_tasks import register_builtin_tasks
from tickwork.builtin_tasks.http import HttpRequestConfig, HttpRequester
from tickwork.builtin_tasks.http_targets import TargetPolicy, TargetRefusedError, refusal
from tickwork.context import Context
from tickwork.control import Cancel
from tickwork.demo import build_demo_app
from tickwork.domain.actor import Actor
from tickwork.domain.errors import InvalidInputError
from tickwork.settings import Settings

REFUSED = [
    "127.0.0.1",
    "127.9.9.9",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",
    "2002:7f00:1::",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.fixture
def requester() -> HttpRequester:
    """``http.request``'s handler with the default policy (public addresses only)."""
    return HttpRequester(TargetPolicy(), ["X-Auth-User"])


@pytest.fixture
def target() -> Iterator[LocalHttpServer]:
    """A local HTTP server, on loopback: refused unless allowed."""
    with local_http_server() as server:
        yield server


def context(run_id: int = 1) -> Context:
    return Context(
        run_id=run_id, task="http.request", attempt=1, max_attempts=1, payload={},
        trigger="api", queue="default",
    )  # fmt: skip


def call(requester: HttpRequester, **payload: Any) -> dict[str, Any]:
    return requester(context(), HttpRequestConfig.model_validate(payload))


def allowing(*entries: str) -> HttpRequester:
    return HttpRequester(TargetPolicy.from_entries(entries), ["X-Auth-User"])


# -- which addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused_by_default(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_not(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "[::1]", "0.0.0.0", "169.254.169.254", "10.0.0.1"]
)
def test_the_task_refuses_them_before_connecting(requester: HttpRequester, host: str) -> None:
    with pytest.raises(TargetRefusedError) as refused:
        call(requester, url=f"http://{host}:9/latest/meta-data/", timeout=2)
    assert "TICKWORK_HTTP_ALLOW" in str(refused.value)


def test_a_local_server_is_never_reached(requester: HttpRequester, target: LocalHttpServer) -> None:
    with pytest.raises(TargetRefusedError, match=r"127\.0\.0\.1 is a loopback address"):
        call(requester, url=f"{target.url}/")
    assert target.requests == []


def test_the_allow_list_permits_exactly_what_it_names(target: LocalHttpServer) -> None:
    for entries in ([f"127.0.0.1:{target.port}"], ["127.0.0.0/8"], ["localhost"]):
        host = "localhost" if entries == ["localhost"] else "127.0.0.1"
        result = call(allowing(*entries), url=f"http://{host}:{target.port}/ok")
        assert result["status"] == 200
    with pytest.raises(TargetRefusedError):
        call(allowing(f"127.0.0.1:{target.port + 1}"), url=f"{target.url}/")
    with pytest.raises(TargetRefusedError):
        call(allowing("10.0.0.0/8", "example.com"), url=f"{target.url}/")
    assert len(target.requests) == 3


def test_allow_entries_are_parsed_and_checked() -> None:
    policy = TargetPolicy.from_entries(
        ["127.0.0.1:8787", " 10.0.0.0/8 ", "[::1]:9000", "fd00::/8", "Hooks.Internal.", "*.corp"]
    )
    assert [(e.network, e.host, e.port) for e in policy.allow] == [
        (ipaddress.ip_network("127.0.0.1/32"), None, 8787),
        (ipaddress.ip_network("10.0.0.0/8"), None, None),
        (ipaddress.ip_network("::1/128"), None, 9000),
        (ipaddress.ip_network("fd00::/8"), None, None),
        (None, "hooks.internal", None),
        (None, "*.corp", None),
    ]
    assert policy.allow[5].allows_host("a.b.corp", 443)
    assert not policy.allow[5].allows_host("corp", 443)
    for bad in ("127.0.0.1:99999", "http://x/", "a b", "[::1]x", "10.0.0.0/33:x"):
        with pytest.raises(InvalidInputError) as refused:
            TargetPolicy.from_entries([bad])
        assert refused.value.field == "http_allow"


def test_the_setting_reads_a_comma_separated_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TICKWORK_HTTP_ALLOW", "127.0.0.1:8787, 10.0.0.0/8,")
    assert Settings().http_allow == ["127.0.0.1:8787", "10.0.0.0/8"]
    monkeypatch.setenv("TICKWORK_HTTP_ALLOW", "")
    assert Settings().http_allow == []


# -- DNS: checked after resolution, connected to what was checked ------------------------------


def test_a_name_is_checked_by_what_it_resolves_to(
    requester: HttpRequester, target: LocalHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "innocent.example":
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(TargetRefusedError, match=r"innocent\.example \(127\.0\.0\.1\)"):
        call(requester, url=f"http://innocent.example:{target.port}/")
    assert target.requests == []


def test_dns_rebinding_cannot_switch_the_address_after_the_check(
    target: LocalHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name first resolves to the allowed address, then to one that is not. The
    connection goes to the address that was checked (the server, which listens on
    127.0.0.1 only, answers), and the name is resolved once."""
    real = socket.getaddrinfo
    answers = ["127.0.0.1", "127.0.0.2"]
    asked: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example":
            asked.append(host)
            return real(answers[min(len(asked), 2) - 1], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    result = call(allowing(f"127.0.0.1:{target.port}"), url=f"http://rebind.example:{target.port}/")
    assert result["status"] == 200
    assert asked == ["rebind.example"]
    assert target.requests[0].headers["host"] == f"rebind.example:{target.port}"


# -- redirects ------------------------------------------------------------------------------------


def _redirect_to(location: str, status: int = 302) -> Any:
    def route(seen: ReceivedRequest) -> tuple[int, dict[str, str], bytes]:
        return status, {"location": location, "set-cookie": "sid=1; Path=/"}, b""

    return route


def test_every_redirect_is_checked(target: LocalHttpServer) -> None:
    with local_http_server() as inner:
        target.routes["/hop"] = _redirect_to(f"{inner.url}/secret")
        with pytest.raises(TargetRefusedError, match="loopback"):
            call(allowing(f"127.0.0.1:{target.port}"), url=f"{target.url}/hop")
        assert inner.requests == []
        target.routes["/meta"] = _redirect_to("http://169.254.169.254/latest/meta-data/")
        with pytest.raises(TargetRefusedError, match="link-local"):
            call(allowing(f"127.0.0.1:{target.port}"), url=f"{target.url}/meta")


def test_credentials_do_not_follow_a_redirect_to_another_origin(target: LocalHttpServer) -> None:
    with local_http_server() as other:
        target.routes["/hop"] = _redirect_to(f"{other.url}/landing", 307)
        target.routes["/same"] = _redirect_to("/landing")
        requester = allowing("127.0.0.1")
        headers = {"Authorization": "Bearer secret", "Cookie": "a=b", "X-Custom": "kept"}
        result = call(requester, url=f"{target.url}/hop", headers=headers)
        assert result["status"] == 200
        landed = other.requests[-1].headers
        assert "authorization" not in landed
        assert "cookie" not in landed
        assert landed["x-custom"] == "kept"
        call(requester, url=f"{target.url}/same", headers=headers)
        assert target.requests[-1].path == "/landing"
        assert target.requests[-1].headers["authorization"] == "Bearer secret"


def test_redirects_are_not_followed_when_turned_off(target: LocalHttpServer) -> None:
    target.routes["/hop"] = _redirect_to("/landing")
    result = call(
        allowing("127.0.0.1"), url=f"{target.url}/hop", follow_redirects=False,
        expected_status=[302],
    )  # fmt: skip
    assert result["status"] == 302
    assert [r.path for r in target.requests] == ["/hop"]


# -- headers, body size, cancellation --------------------------------------------------------------


def test_identity_headers_are_never_sent(target: LocalHttpServer) -> None:
    forged = {
        "X-Forwarded-User": "admin",
        "X-Forwarded-Role": "admin",
        "x-forwarded-tenant": "other",
        "X-Forwarded-For": "1.2.3.4",
        "Forwarded": "for=1.2.3.4",
        "X-Real-IP": "1.2.3.4",
        "X-Auth-User": "admin",  # the installation's configured proxy header
        "X-Request-Source": "kept",
    }
    ctx = context()
    result = allowing("127.0.0.1")(
        ctx, HttpRequestConfig.model_validate({"url": f"{target.url}/", "headers": forged})
    )
    sent = target.requests[0].headers
    assert result["status"] == 200
    assert sent["x-request-source"] == "kept"
    for name in forged:
        if name != "X-Request-Source":
            assert name.lower() not in sent, name
    logged = " ".join(line["message"] for line in ctx.log_lines() or [])
    assert "dropped the X-Forwarded-User header" in logged


def test_a_huge_answer_is_not_read_into_memory(target: LocalHttpServer) -> None:
    target.routes["/huge"] = lambda seen: (200, {}, b"x" * (8 * 1024 * 1024))
    result = call(allowing("127.0.0.1"), url=f"{target.url}/huge")
    assert result["body"] == "x" * 2000


def test_a_cancelled_run_sends_nothing(target: LocalHttpServer) -> None:
    ctx = context()
    ctx.cancel()
    with pytest.raises(Cancel):
        allowing("127.0.0.1")(ctx, HttpRequestConfig.model_validate({"url": f"{target.url}/"}))
    assert target.requests == []


def test_a_cancel_stops_waiting_for_the_answer(target: LocalHttpServer) -> None:
    """The answer of ``/slow`` comes only once the test releases it: the handler can end
    before that only because the cancellation stopped it waiting."""
    ctx = context()
    outcome: list[BaseException | dict[str, Any]] = []

    def call_slow() -> None:
        config = HttpRequestConfig.model_validate({"url": f"{target.url}/slow", "timeout": 600})
        try:
            outcome.append(allowing("127.0.0.1")(ctx, config))
        except BaseException as exc:  # the test inspects it
            outcome.append(exc)

    thread = threading.Thread(target=call_slow)
    thread.start()
    try:
        wait_for(lambda: target.requests, what="the request to arrive")
        ctx.cancel()
        thread.join(SLACK)
        assert not thread.is_alive()
        assert isinstance(outcome[0], Cancel), outcome
        assert "cancelled while waiting for GET" in str(outcome[0])
        logged = [line["message"] for line in ctx.log_lines() or []]
        assert logged[0] == f"GET {target.url}/slow"
        assert any("cancelled while waiting" in line for line in logged)
    finally:
        target.release.set()
        thread.join(SLACK)


# -- the attack, end to end ---------------------------------------------------------------


def _run(app: Tickwork, payload: dict[str, Any], actor: Actor) -> Run:
    run = app.enqueue("http.request", payload, max_attempts=1, actor=actor)
    app.worker(concurrency=1).run_until_idle(30)
    return app.runs.get(run.id)


def test_a_tenant_admin_cannot_borrow_the_servers_proxy_trust(
    app: Tickwork, tmp_path: Path
) -> None:
    """In proxy mode, a tenant admin's http.request to the server itself with forged proxy
    headers made it a global admin. It is refused by default; allowed explicitly (as the
    demo allows its self-check), it arrives without the headers and gets a 401."""
    app.task("noop")(lambda ctx: None)
    app.schedules.create(
        name="other-secret", task="noop", cron="0 0 1 1 *", tenant_id="other", actor=ADMIN_ACTOR
    )
    web = make_web(app, auth="proxy", trusted_proxies=["127.0.0.1"])
    attack = {
        "headers": {
            "X-Forwarded-User": "root",
            "X-Forwarded-Role": "admin",
            "X-Forwarded-Tenant": "",
        },
        "expected_status": [200],
    }
    with serve_asgi(web) as base:
        # The attack works against the server when the headers arrive (a proxy's view).
        direct = httpx.get(f"{base}/api/v1/schedules", headers=attack["headers"])
        assert "other-secret" in direct.text
        for allow in ([], [base.removeprefix("http://")]):
            register_builtin_tasks(
                fresh := Tickwork(app.database_url),
                Settings(http_allow=allow, export_dir=str(tmp_path), outbox_dir=str(tmp_path)),
            )
            try:
                run = _run(fresh, {"url": f"{base}/api/v1/schedules", **attack}, ACME_ADMIN_ACTOR)
            finally:
                fresh.close()
            assert run.status.value == "failed"
            assert "other-secret" not in str(run.result or "") + str(run.error)
            if allow:
                assert "401" in str(run.error)
            else:
                assert "loopback" in str(run.error)


def test_the_demo_allows_its_own_self_check_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TICKWORK_PORT", raising=False)
    with local_http_server() as server, local_http_server() as neighbour:
        app = build_demo_app(
            Settings(
                database_url=f"sqlite:///{tmp_path / 'demo.db'}",
                port=server.port,
                export_dir=str(tmp_path),
                outbox_dir=str(tmp_path),
            )
        )
        try:
            app.migrate()
            app.sync_schedules()
            check = app.schedules.get("demo.self-check")
            assert f"127.0.0.1:{server.port}" in (check.description or "")
            assert check.payload["url"] == f"http://127.0.0.1:{server.port}/healthz"
            run = app.schedules.run_now(check.id)
            app.worker(concurrency=1).run_until_idle(30)
            assert app.runs.get(run.id).status.value == "succeeded"
            assert [r.path for r in server.requests] == ["/healthz"]
            other = app.enqueue("http.request", {"url": f"{neighbour.url}/"}, max_attempts=1)
            app.worker(concurrency=1).run_until_idle(30)
            assert "loopback" in (app.runs.get(other.id).error or "")
            assert neighbour.requests == []
        finally:
            app.close()
