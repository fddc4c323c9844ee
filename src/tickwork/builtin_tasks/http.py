"""``http.request``: call a URL (the "call this webhook every 5 minutes" case).

Every connection goes through :mod:`tickwork.builtin_tasks.http_targets`: loopback,
link-local, private and other non-public addresses are refused unless
``TICKWORK_HTTP_ALLOW`` permits them, on the first request and on every redirect. Headers
that claim an identity to a proxy-authenticated server (``X-Forwarded-User``,
``Forwarded``, the configured proxy headers, ...) are never sent, and credentials
(``Authorization``, ``Cookie``) are not carried to another origin by a redirect.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import AnyHttpUrl, BaseModel, Field, field_validator

from tickwork.builtin_tasks.http_targets import (
    CREDENTIAL_HEADERS,
    GuardedTransport,
    TargetPolicy,
    identity_headers,
    is_identity_header,
)
from tickwork.context import Context
from tickwork.control import Cancel
from tickwork.domain.inputs import echo

if TYPE_CHECKING:
    from tickwork.app import Tickwork
    from tickwork.settings import Settings

TASK = "http.request"
MAX_BODY_KEPT = 2000
MAX_BODY_READ = 1024 * 1024  # a larger answer is cut here rather than read into memory
MAX_REDIRECTS = 10
MAX_HEADERS = 100
CANCEL_CHECK_INTERVAL = 0.1  # seconds between looks at ctx.cancelled while waiting
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}")
_NOT_IN_HEADER_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class HttpRequestConfig(BaseModel):
    """One HTTP request and the status that counts as success."""

    url: AnyHttpUrl = Field(description="The URL to call")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = Field(
        default="GET", description="HTTP method"
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Request headers (identity headers such as X-Forwarded-User are dropped)",
    )
    body: str | None = Field(default=None, description="Raw request body")
    json_body: dict[str, Any] | list[Any] | None = Field(
        default=None, description="JSON request body (instead of body)"
    )
    expected_status: list[int] = Field(
        default_factory=list, description="Statuses that count as success (empty: any 2xx)"
    )
    timeout: float = Field(default=30.0, gt=0, le=3600, description="Seconds before giving up")
    follow_redirects: bool = Field(default=True, description="Follow redirects")

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        if len(headers) > MAX_HEADERS:
            raise ValueError(f"at most {MAX_HEADERS} headers")
        for name, value in headers.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{echo(name)} is not a header name")
            if _NOT_IN_HEADER_VALUE.search(value):
                raise ValueError(f"the {name} header must not contain control characters")
        return headers


class UnexpectedStatusError(Exception):
    """The server answered with a status that does not count as success."""


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


class HttpRequester:
    """Sends one configured request through the guarded transport, following redirects
    itself so that each hop's headers are decided here."""

    def __init__(self, policy: TargetPolicy, proxy_headers: Sequence[str] = ()) -> None:
        self.policy = policy
        self.dropped = identity_headers(proxy_headers)

    def outgoing_headers(self, ctx: Context, headers: dict[str, str]) -> dict[str, str]:
        """The configured headers without identity headers (each drop is logged)."""
        kept = {}
        for name, value in headers.items():
            if is_identity_header(name, self.dropped):
                ctx.log.warning("dropped the %s header: http.request never sends it", name)
            else:
                kept[name] = value
        return kept

    def __call__(self, ctx: Context, config: HttpRequestConfig) -> dict[str, Any]:
        """Send the request and fail unless the status is expected; a cancellation stops
        waiting for the answer at once (the connection is closed)."""
        ctx.log.info("%s %s", config.method, config.url)
        started = time.perf_counter()
        with httpx.Client(
            transport=GuardedTransport(self.policy),
            timeout=config.timeout,
            follow_redirects=False,
            trust_env=False,
        ) as client:
            status, text = _until_cancelled(
                ctx, client, lambda: self._exchange(ctx, client, config), config
            )
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        ctx.log.info("%s in %sms", status, elapsed_ms)
        ok = status in config.expected_status if config.expected_status else 200 <= status < 300
        if not ok:
            raise UnexpectedStatusError(
                f"{config.method} {config.url} answered {status}: {text[:300]}"
            )
        return {"status": status, "elapsed_ms": elapsed_ms, "body": text}

    def _exchange(
        self, ctx: Context, client: httpx.Client, config: HttpRequestConfig
    ) -> tuple[int, str]:
        """Send the request, following redirects; the final status and (cut) body."""
        request = client.build_request(
            config.method,
            str(config.url),
            headers=self.outgoing_headers(ctx, config.headers),
            content=config.body,
            json=config.json_body,
        )
        for _ in range(MAX_REDIRECTS + 1):
            if ctx.cancelled:
                raise Cancel("cancelled before the request was sent")
            response = client.send(request, stream=True)
            try:
                following = response.next_request if config.follow_redirects else None
                if following is None:
                    return response.status_code, _read(response)
            finally:
                response.close()
            ctx.log.info("%s: redirected to %s", response.status_code, following.url)
            if _origin(following.url) != _origin(request.url):
                for name in CREDENTIAL_HEADERS:
                    following.headers.pop(name, None)
            request = following
        raise UnexpectedStatusError(f"more than {MAX_REDIRECTS} redirects")


def _until_cancelled(
    ctx: Context,
    client: httpx.Client,
    exchange: Callable[[], tuple[int, str]],
    config: HttpRequestConfig,
) -> tuple[int, str]:
    """Run ``exchange`` on its own thread and wait for it, giving up when the run is
    cancelled: the client is closed (which ends the connection) and :class:`Cancel` raised.
    The thread itself ends with the closed connection, or at the request's timeout."""
    if ctx.cancelled:
        raise Cancel("cancelled before the request was sent")
    done = threading.Event()
    outcome: list[tuple[int, str] | BaseException] = []

    def send() -> None:
        try:
            outcome.append(exchange())
        except BaseException as exc:  # handed to the handler's thread below
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=send, name=f"http.request-{ctx.run_id}", daemon=True).start()
    while not done.wait(CANCEL_CHECK_INTERVAL):
        if ctx.cancelled:
            ctx.log.warning("cancelled while waiting for %s %s", config.method, config.url)
            client.close()
            raise Cancel(f"cancelled while waiting for {config.method} {config.url}")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    if ctx.cancelled:
        raise Cancel("cancelled while the request was running")
    return result


def _read(response: httpx.Response) -> str:
    """At most :data:`MAX_BODY_KEPT` characters of the body, reading no more than
    :data:`MAX_BODY_READ` bytes of it."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY_READ:
            break
    body = b"".join(chunks)[:MAX_BODY_READ]
    try:
        text = body.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = body.decode("utf-8", errors="replace")
    return text[:MAX_BODY_KEPT]


def register(app: Tickwork, settings: Settings) -> None:
    """Register ``http.request`` unless the app already has a task of that name: it reaches
    public addresses and what ``settings.http_allow`` permits, and never sends the
    installation's proxy identity headers."""
    if TASK in app.registry:
        return
    proxy_headers = (
        settings.proxy_header,
        settings.proxy_role_header,
        settings.proxy_tenant_header,
    )
    requester = HttpRequester(
        TargetPolicy.from_entries(settings.http_allow), [name for name in proxy_headers if name]
    )
    app.task(
        TASK,
        config=HttpRequestConfig,
        max_attempts=3,
        retry_backoff=5.0,
        description="Call a URL and check its status",
    )(requester)
