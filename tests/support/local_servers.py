"""Real servers on 127.0.0.1 for the built-in tasks to talk to: an HTTP server that records
every request and answers by path, and an SMTP server (aiosmtpd) that keeps every message.
Each test gets its own, so one test can never pass on another's traffic."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.support.network import free_port
from tests.support.waiting import SLACK


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the HTTP server received (``headers`` look names up in any case)."""

    method: str
    path: str
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


# An answer a test chooses for one path: status, headers and body.
Route = Callable[[ReceivedRequest], tuple[int, dict[str, str], bytes]]


@dataclass
class LocalHttpServer:
    """Answers a path in :attr:`routes` as its route says; otherwise ``/status/<code>`` with
    that status, ``/slow`` only once :attr:`release` is set (or after :data:`SLACK`),
    anything else with 200, the body being ``{"path": ...}``. Every request is kept in
    :attr:`requests`, in arrival order."""

    port: int = 0
    requests: list[ReceivedRequest] = field(default_factory=list)
    routes: dict[str, Route] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        """The base URL, such as ``http://127.0.0.1:4567``."""
        return f"http://127.0.0.1:{self.port}"


def _default_answer(state: LocalHttpServer, request: ReceivedRequest) -> tuple[int, bytes]:
    status = 200
    if request.path.startswith("/status/"):
        status = int(request.path.removeprefix("/status/"))
    elif request.path.startswith("/slow"):
        state.release.wait(SLACK)
    return status, json.dumps({"path": request.path}).encode()


def _handler_for(state: LocalHttpServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = ReceivedRequest(
                self.command, self.path, httpx.Headers(list(self.headers.items())), body
            )
            state.requests.append(request)
            route = state.routes.get(self.path.split("?")[0])
            headers = {"Content-Type": "application/json"}
            if route is None:
                status, payload = _default_answer(state, request)
            else:
                status, headers, payload = route(request)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command == "HEAD":
                return
            # A client may hang up mid-answer (one that reads only the start of it).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

        def log_message(self, *args: object) -> None:
            return None

    return Handler


@contextmanager
def local_http_server() -> Iterator[LocalHttpServer]:
    """A :class:`LocalHttpServer` on a free port, shut down (slow requests released) after."""
    state = LocalHttpServer()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class ReceivedMail:
    """One message the SMTP server accepted."""

    sender: str
    recipients: list[str]
    message: Message
    login: str | None


@dataclass
class LocalSmtpServer:
    """An SMTP server without TLS; with :attr:`credentials` set it requires AUTH LOGIN/PLAIN
    with them. Accepted messages are in :attr:`received`."""

    host: str = "127.0.0.1"
    port: int = 0
    credentials: tuple[str, str] | None = None
    received: list[ReceivedMail] = field(default_factory=list)


class _Collector:
    def __init__(self, state: LocalSmtpServer) -> None:
        self.state = state

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        login = session.auth_data.login.decode() if session.authenticated else None
        content = envelope.original_content or b""
        self.state.received.append(
            ReceivedMail(
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
                message_from_bytes(content),
                login,
            )
        )
        return "250 Message accepted for delivery"


@contextmanager
def local_smtp_server(credentials: tuple[str, str] | None = None) -> Iterator[LocalSmtpServer]:
    """A :class:`LocalSmtpServer` on a free port of 127.0.0.1, stopped afterwards."""
    state = LocalSmtpServer(port=free_port(), credentials=credentials)

    def authenticate(
        server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and (
                data.login.decode(),
                data.password.decode(),
            )
            == credentials
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    options: dict[str, Any] = {}
    if credentials is not None:
        options = {
            "authenticator": authenticate,
            "auth_required": True,
            "auth_require_tls": False,
        }
    controller = Controller(_Collector(state), hostname=state.host, port=state.port, **options)
    controller.start()
    try:
        yield state
    finally:
        controller.stop()
