"""``http.request`` against a real HTTP server on loopback: method, headers and body sent,
statuses that count as success, a timeout, and a payload refused before anything runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.local_servers import LocalHttpServer, local_http_server
from tickwork import PayloadError, Run, Tickwork
from tickwork.builtin_tasks import register_builtin_tasks
from tickwork.domain.models import RunStatus
from tickwork.settings import Settings


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    with local_http_server() as running:
        yield running


@pytest.fixture
def builtin_app(app: Tickwork, tmp_path: Path) -> Tickwork:
    # The test server is on loopback, which http.request refuses unless TICKWORK_HTTP_ALLOW
    # (here the setting behind it) names it.
    register_builtin_tasks(
        app,
        Settings(
            outbox_dir=str(tmp_path / "outbox"),
            export_dir=str(tmp_path / "exports"),
            http_allow=["127.0.0.1"],
        ),
    )
    return app


def _run(app: Tickwork, payload: dict[str, object], **options: object) -> Run:
    run = app.enqueue("http.request", payload, **options)  # type: ignore[arg-type]
    app.worker(concurrency=2).run_until_idle(60)
    return app.runs.get(run.id)


def test_a_get_succeeds_on_2xx_and_keeps_status_and_body(
    builtin_app: Tickwork, server: LocalHttpServer
) -> None:
    done = _run(builtin_app, {"url": f"{server.url}/ping"})
    assert done.status is RunStatus.SUCCEEDED
    assert done.result["status"] == 200
    assert done.result["body"] == '{"path": "/ping"}'
    (request,) = server.requests
    assert (request.method, request.path) == ("GET", "/ping")


def test_a_post_sends_its_headers_and_json_body(
    builtin_app: Tickwork, server: LocalHttpServer
) -> None:
    done = _run(
        builtin_app,
        {
            "url": f"{server.url}/status/201",
            "method": "POST",
            "headers": {"X-Api-Key": "k-123", "User-Agent": "tickwork-test"},
            "json_body": {"a": 1, "b": [1, 2]},
            "expected_status": [201],
        },
    )
    assert done.status is RunStatus.SUCCEEDED, done.error
    (request,) = server.requests
    assert request.method == "POST"
    assert request.headers["X-Api-Key"] == "k-123"
    assert request.headers["User-Agent"] == "tickwork-test"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {"a": 1, "b": [1, 2]}


def test_a_raw_body_is_sent_as_given(builtin_app: Tickwork, server: LocalHttpServer) -> None:
    done = _run(
        builtin_app,
        {
            "url": f"{server.url}/hook",
            "method": "PUT",
            "body": "line one\nline two",
            "headers": {"Content-Type": "text/plain"},
        },
    )
    assert done.status is RunStatus.SUCCEEDED, done.error
    (request,) = server.requests
    assert (request.method, request.body) == ("PUT", b"line one\nline two")


def test_an_unexpected_status_fails_the_run_naming_it(
    builtin_app: Tickwork, server: LocalHttpServer
) -> None:
    down = _run(builtin_app, {"url": f"{server.url}/status/503"}, max_attempts=1)
    assert down.status is RunStatus.FAILED
    assert down.error is not None
    assert f"GET {server.url}/status/503 answered 503" in down.error
    # A 200 that is not among the expected statuses fails too.
    strict = _run(
        builtin_app, {"url": f"{server.url}/ok", "expected_status": [204]}, max_attempts=1
    )
    assert strict.status is RunStatus.FAILED
    assert strict.error is not None
    assert "answered 200" in strict.error


def test_a_server_slower_than_the_timeout_fails_the_attempt(
    builtin_app: Tickwork, server: LocalHttpServer
) -> None:
    slow = _run(builtin_app, {"url": f"{server.url}/slow", "timeout": 0.3}, max_attempts=1)
    assert slow.status is RunStatus.FAILED
    assert slow.error is not None
    assert "Timeout" in slow.error
    assert [r.path for r in server.requests] == ["/slow"]


def test_the_payload_is_validated_when_the_run_is_made(builtin_app: Tickwork) -> None:
    with pytest.raises(PayloadError) as error:
        builtin_app.enqueue("http.request", {"url": "not a url"})
    assert error.value.field == "payload.url"
    with pytest.raises(PayloadError) as error:
        builtin_app.enqueue("http.request", {"url": "http://x/", "method": "BREW"})
    assert error.value.field == "payload.method"
    with pytest.raises(PayloadError) as error:
        builtin_app.enqueue("http.request", {"url": "http://x/", "timeout": 0})
    assert error.value.field == "payload.timeout"
    assert builtin_app.runs.list() == []
