"""``http.request``: call a URL (the "call this webhook every 5 minutes" case)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import AnyHttpUrl, BaseModel, Field

from tickwork.context import Context

if TYPE_CHECKING:
    from tickwork.app import Tickwork

TASK = "http.request"
MAX_BODY_KEPT = 2000


class HttpRequestConfig(BaseModel):
    """One HTTP request and the status that counts as success."""

    url: AnyHttpUrl = Field(description="The URL to call")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = Field(
        default="GET", description="HTTP method"
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers")
    body: str | None = Field(default=None, description="Raw request body")
    json_body: dict[str, Any] | list[Any] | None = Field(
        default=None, description="JSON request body (instead of body)"
    )
    expected_status: list[int] = Field(
        default_factory=list, description="Statuses that count as success (empty: any 2xx)"
    )
    timeout: float = Field(default=30.0, gt=0, le=3600, description="Seconds before giving up")
    follow_redirects: bool = Field(default=True, description="Follow redirects")


class UnexpectedStatusError(Exception):
    """The server answered with a status that does not count as success."""


def request(ctx: Context, config: HttpRequestConfig) -> dict[str, Any]:
    """Send an HTTP request and fail unless the status is expected."""
    ctx.log.info("%s %s", config.method, config.url)
    with httpx.Client(timeout=config.timeout, follow_redirects=config.follow_redirects) as client:
        response = client.request(
            config.method,
            str(config.url),
            headers=config.headers,
            content=config.body,
            json=config.json_body,
        )
    elapsed_ms = round(response.elapsed.total_seconds() * 1000, 1)
    ctx.log.info("%s in %sms", response.status_code, elapsed_ms)
    ok = (
        response.status_code in config.expected_status
        if config.expected_status
        else 200 <= response.status_code < 300
    )
    text = response.text[:MAX_BODY_KEPT]
    if not ok:
        raise UnexpectedStatusError(
            f"{config.method} {config.url} answered {response.status_code}: {text[:300]}"
        )
    return {"status": response.status_code, "elapsed_ms": elapsed_ms, "body": text}


def register(app: Tickwork) -> None:
    """Register ``http.request`` unless the app already has a task of that name."""
    if TASK not in app.registry:
        app.task(
            TASK,
            config=HttpRequestConfig,
            max_attempts=3,
            retry_backoff=5.0,
            description="Call a URL and check its status",
        )(request)
