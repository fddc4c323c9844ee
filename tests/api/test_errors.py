"""Bad requests of every kind get a 4xx ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from collections.abc import Iterator

from tests.support.web import Api, Maker, make_web

JSON = {"content-type": "application/json"}


def test_malformed_bodies(api: Api) -> None:
    client = api.admin()
    cases = [
        (b'{"name": "x",', JSON, 400, "invalid_json", "body"),
        (b"\xff\xfe\x00", JSON, 400, "invalid_json", "body"),
        (b"[1, 2]", JSON, 422, "invalid_input", "body"),
        (b"null", JSON, 422, "invalid_input", "body"),
        (b"", JSON, 422, "invalid_input", "body"),
        (b'{"name": "x"}', {"content-type": "text/plain"}, 415, "unsupported_media_type", "body"),
        (b"name=x", {"content-type": "application/x-www-form-urlencoded"}, 415, None, "body"),
        (b'{"name": "x"}', {}, 415, "unsupported_media_type", "body"),
        (
            b'{"name":"x","task":"greet","interval":NaN}',
            JSON,
            422,
            "invalid_input",
            "interval",
        ),
        (
            b'{"name":"x","task":"greet","cron":"* * * * *","payload":'
            + b"[" * 3000
            + b"]" * 3000
            + b"}",
            JSON,
            400,
            None,
            None,
        ),
    ]
    for body, headers, status, code, field in cases:
        response = client.post("/api/v1/schedules", content=body, headers=headers)
        assert response.status_code == status, (body[:40], response.text)
        error = response.json()["error"]
        assert error["message"]
        if code:
            assert error["code"] == code, (body[:40], error)
        if field:
            assert error.get("field") == field, (body[:40], error)
    assert client.get("/api/v1/schedules").json()["items"] == []


def test_path_and_query_parameters(api: Api) -> None:
    client = api.admin()
    for path, field in [
        ("/api/v1/schedules/abc", "schedule_id"),
        ("/api/v1/schedules/0", "schedule_id"),
        ("/api/v1/schedules/99999999999999999999999", "schedule_id"),
        ("/api/v1/runs/1.5", "run_id"),
        ("/api/v1/runs/-3", "run_id"),
        ("/api/v1/users/x", "user_id"),
        ("/api/v1/runs?limit=abc", "limit"),
        ("/api/v1/runs?task=%00", "task"),
        ("/api/v1/runs?since=2030-13-45", "since"),
        ("/api/v1/runs?since=0001-01-01T00:00:00", "since"),
        ("/api/v1/nodes?include_stopped=maybe", "include_stopped"),
    ]:
        response = client.get(path)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["field"] == field, path
    unknown = client.get("/api/v1/nothing-here")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    wrong_method = client.put("/api/v1/runs")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert "allow" in wrong_method.headers


def test_request_body_limit(api: Api, schedule_body: Maker) -> None:
    small = make_web(api.app, max_request_bytes=4096)
    from fastapi.testclient import TestClient

    client = TestClient(small, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {api.token('admin')}"
    big = schedule_body(description="x" * 5000)
    declared = client.post("/api/v1/schedules", json=big)
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "request_too_large"

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "x", "description": "'
        for _ in range(10):
            yield b"y" * 1000
        yield b'"}'

    streamed = client.post("/api/v1/schedules", content=chunks(), headers=JSON)
    assert streamed.status_code == 413
    fine = client.post("/api/v1/schedules", json=schedule_body())
    assert fine.status_code == 201
    huge_payload = client.post(
        "/api/v1/runs", json={"task": "greet", "payload": {"name": "é" * 3000}}
    )
    assert huge_payload.status_code == 413


def test_errors_on_ui_paths_and_request_ids(api: Api) -> None:
    client = api.anonymous()
    missing = client.get("/no-such-page", headers={"X-Request-ID": "abc-123"})
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "abc-123"
    assert missing.json()["error"]["code"] == "not_found"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 32
