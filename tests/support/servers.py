"""Long-running ``tickwork`` processes (``run``, ``web``, ``scheduler``, ``worker``): start
one, wait until it serves, read its log, stop it with a signal. And, for a test that needs a
real HTTP server but not a process, the web app served by uvicorn on a thread."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx
import uvicorn

from tests.support.cli import ROOT, TICKWORK, tickwork_env
from tests.support.network import free_port
from tests.support.waiting import SLACK, wait_for


class TickworkProcess:
    """``tickwork <command> ...`` in the background, its output in a log file.

    Used as a context manager it is stopped (SIGTERM, then SIGKILL after :data:`SLACK`)
    when the block ends, whatever happened inside.
    """

    def __init__(
        self,
        command: str,
        *args: str,
        log: Path,
        database_url: str | None = None,
        cwd: Path = ROOT,
        extra_env: dict[str, str] | None = None,
        **settings: str,
    ) -> None:
        self.log_path = log
        env = tickwork_env(database_url, **settings)
        env.update(extra_env or {})
        self._output: IO[bytes] = log.open("wb")
        self.process = subprocess.Popen(
            [TICKWORK, command, *args],
            cwd=cwd,
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(errors="replace")

    def send(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = SLACK) -> int:
        """Wait for the process to exit; its exit code."""
        code = self.process.wait(timeout=timeout)
        self._output.close()
        return code

    def stop(self, signum: signal.Signals = signal.SIGTERM) -> int:
        """Ask the process to stop with ``signum``; its exit code (SIGKILL if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.wait()
        except subprocess.TimeoutExpired as timeout:
            self.kill()
            raise AssertionError(
                f"{self.process.args} ignored {signum.name}:\n{self.output()}"
            ) from timeout

    def kill(self) -> None:
        """SIGKILL (if still running) and reap."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=SLACK)
        self._output.close()

    def __enter__(self) -> TickworkProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            try:
                self.stop()
            except AssertionError:
                if kind is None:
                    raise
        else:
            self._output.close()


class TickworkServer(TickworkProcess):
    """``tickwork run`` or ``tickwork web`` on a free port of 127.0.0.1."""

    def __init__(
        self,
        command: str,
        *args: str,
        log: Path,
        database_url: str | None = None,
        port: int | None = None,
        cwd: Path = ROOT,
        extra_env: dict[str, str] | None = None,
        **settings: str,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            command,
            *args,
            "--port",
            str(self.port),
            log=log,
            database_url=database_url,
            cwd=cwd,
            extra_env=extra_env,
            **settings,
        )

    def wait_until_serving(self, path: str = "/healthz", timeout: float = SLACK) -> None:
        """Wait until ``path`` answers 200 (failing at once if the process exits)."""

        def serving() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"tickwork exited with {self.process.returncode}:\n{self.output()}"
                )
            try:
                return httpx.get(f"{self.url}{path}", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(serving, timeout=timeout, what=f"{self.url}{path} to answer 200")

    def __enter__(self) -> TickworkServer:
        return self


@contextmanager
def serve_asgi(asgi_app: Any, **options: Any) -> Iterator[str]:
    """Serve ``asgi_app`` with uvicorn on a thread and a free port of 127.0.0.1; yield its
    base URL, and stop the server after."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(asgi_app, host="127.0.0.1", port=port, log_config=None, **options)
    )
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    try:

        def started() -> bool:
            if not thread.is_alive():
                raise AssertionError("uvicorn stopped before it served")
            return bool(server.started)

        wait_for(started, what="uvicorn to serve")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(SLACK)
