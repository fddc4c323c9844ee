"""ASGI middleware: request body limits and content types, access logs and request metrics,
and the security headers of every response."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tickwork.escaping import escape_control
from tickwork.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("tickwork.web.access")

JSON_TYPES = frozenset({"application/json"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
QUIET_PATHS = ("/healthz", "/readyz", "/metrics", "/static/")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "field": "body"}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _route_template(scope: Scope) -> str:
    """The matched route's full path template, such as ``/api/v1/runs/{run_id}``.

    Routes of included routers know only their own part (``/runs/{run_id}``), so the
    prefix is recovered from the request path.
    """
    route = scope.get("route")
    template = getattr(route, "path", None)
    regex = getattr(route, "path_regex", None)
    if not template:
        return "unmatched"
    path: str = scope.get("path", "")
    if regex is None or regex.match(path):
        return str(template)
    for index, char in enumerate(path):
        if char == "/" and regex.match(path[index:]):
            return path[:index] + str(template)
    return str(template)


class RequestBodyMiddleware:
    """Refuses bodies over ``max_bytes`` (413) and API bodies that are not JSON (415).

    The body is read here (bounded) and replayed to the app, so an oversized body is
    refused before any handler sees a byte of it, chunked uploads included. API paths in
    ``form_paths`` (the login form) may also send form data.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        api_prefix: str = "/api/",
        form_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.api_prefix = api_prefix
        self.form_paths = form_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is larger than {self.max_bytes} bytes"
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _send_error(send, 400, "bad_request", "Content-Length is not a number")
                return
            if size > self.max_bytes:
                await _send_error(send, 413, "request_too_large", too_large)
                return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await _send_error(send, 413, "request_too_large", too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        path: str = scope.get("path", "")
        if body and path.startswith(self.api_prefix):
            content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
            allowed = JSON_TYPES | (FORM_TYPES if path in self.form_paths else frozenset())
            if content_type not in allowed and not content_type.endswith("+json"):
                await _send_error(
                    send,
                    415,
                    "unsupported_media_type",
                    f"send the body as application/json (got {content_type or 'no type'})",
                )
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class AccessLogMiddleware:
    """Logs one line per request and times it for ``/metrics``; tags it with a request id.

    The line goes to the ``tickwork.web.access`` logger (with ``--log-format json``, one
    JSON object with method, path, route, status, duration_ms, client, principal and
    request_id). Control characters of the request's text are escaped in the line, so a
    path with ``%0A`` cannot forge another. Health checks, metrics scrapes and static files
    log at DEBUG.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._log(scope, status, time.perf_counter() - started, request_id)

    def _log(self, scope: Scope, status: int, seconds: float, request_id: str) -> None:
        path: str = scope.get("path", "")
        route = _route_template(scope)
        method: str = scope.get("method", "")
        if self.metrics is not None:
            self.metrics.observe_request(method, route, status, seconds)
        principal = (scope.get("state") or {}).get("tickwork_principal")
        client = scope.get("client")
        client_host = str(client[0]) if client else None
        principal_name = getattr(principal, "name", None)
        fields = {
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": client_host,
            "principal": principal_name,
            "request_id": request_id,
        }
        if status >= 500:
            level = logging.ERROR
        elif path.startswith(QUIET_PATHS):
            level = logging.DEBUG
        else:
            level = logging.INFO
        if access_log.isEnabledFor(level):
            # Everything here but the status and the timing came from the request.
            access_log.log(
                level,
                '%s "%s %s" %d %.1fms %s',
                escape_control(client_host or "-"),
                escape_control(method),
                escape_control(path),
                status,
                seconds * 1000,
                escape_control(principal_name or "-"),
                extra={"fields": fields},
            )


# The admin UI and the API docs load only their own scripts (htmx, uPlot, Swagger UI and
# ours are served from this server; no page has an inline script or handler). Styles may be
# inline: templates use style attributes, and htmx and Swagger UI add <style> elements.
# Swagger UI shows its icons as data: images.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` to every response (API, UI, static files, errors),
    keeping any a route set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
