"""Real servers for the security tests: the ASGI app under uvicorn on a free loopback port,
and a small HTTP server whose answers a test chooses."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn

from tests.ui.conftest import free_port


@contextmanager
def serve_asgi(asgi_app: Any, **options: Any) -> Iterator[str]:
    """Serve ``asgi_app`` with uvicorn on a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(asgi_app, host="127.0.0.1", port=port, log_config=None, **options)
    )
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    try:
        ready = threading.Event()
        while not server.started and thread.is_alive():
            ready.wait(0.01)
        if not server.started:
            raise RuntimeError("uvicorn did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@dataclass
class Seen:
    """One request the target server received."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Target:
    """A local HTTP server: what it received, and how it answers (``routes`` by path)."""

    host: str
    port: int
    requests: list[Seen] = field(default_factory=list)
    routes: dict[str, Callable[[Seen], tuple[int, dict[str, str], bytes]]] = field(
        default_factory=dict
    )

    @property
    def url(self) -> str:
        """The base URL, such as ``http://127.0.0.1:4567``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def _handler(target: Target) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
            target.requests.append(seen)
            route = target.routes.get(self.path.split("?")[0])
            if route is None:
                status, headers, body = 200, {}, json.dumps(seen.headers).encode()
            else:
                status, headers, body = route(seen)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


@contextmanager
def http_target(host: str = "127.0.0.1") -> Iterator[Target]:
    """A threaded HTTP server on ``host`` (an IPv4 or IPv6 address) and a free port."""
    server_class = _Server6 if ":" in host else _Server
    target = Target(host, 0)
    server = server_class((host, 0), _handler(target))
    target.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="test-target", daemon=True)
    thread.start()
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
