"""``--auth none`` serves loopback only, and only requests that name a loopback host.

Binding to 127.0.0.1 keeps other machines out, but not other web sites: a page can point
its own domain's DNS at 127.0.0.1 (DNS rebinding) and have the visitor's browser read and
change everything an anonymous admin can, with the browser believing it talks to the
attacker's site. Such requests carry the attacker's name in ``Host``; requests from this
machine's browser and tools name ``localhost``, a ``*.localhost`` name or a loopback
address. Everything else is refused before any route runs, health checks included.
"""

from __future__ import annotations

import ipaddress
import json

from tickwork.web.middleware import ASGIApp, Receive, Scope, Send


def is_loopback_host(host: str | None) -> bool:
    """Whether a ``Host`` header (with or without its port) names this machine."""
    if not host:
        return False
    host = host.strip().lower()
    if host.startswith("["):  # an IPv6 address, [::1]:8787
        name, _, rest = host[1:].partition("]")
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return False
    else:
        name, _, port = host.partition(":")
        if port and not port.isdigit():
            return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class LoopbackHostMiddleware:
    """Refuses (403) every request whose ``Host`` is not a loopback name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = None
        for key, value in scope.get("headers", []):
            if key.lower() == b"host":
                host = value.decode("latin-1")
                break
        if is_loopback_host(host):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps(
            {
                "error": {
                    "code": "host_not_allowed",
                    "message": "with --auth none only requests to localhost or a loopback "
                    f"address are served, not to {host!r}",
                    "field": "host",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
