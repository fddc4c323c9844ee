"""Starting real ``tickwork worker`` processes for the crash, shutdown and restart tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import IO, Any

from tests.apps.worker_app import read_log
from tickwork import Tickwork
from tickwork.domain.models import RunStatus

ROOT = Path(__file__).resolve().parents[2]
TICKWORK = str(Path(sys.executable).parent / "tickwork")
STALL_TIMEOUT = 2.0
HEARTBEAT = 0.5


class WorkerProcess:
    """A ``tickwork worker`` subprocess on the test app, logging to a file."""

    def __init__(
        self,
        database_url: str,
        events: Path,
        *,
        concurrency: int = 4,
        grace: float = 30.0,
        stall_timeout: float = STALL_TIMEOUT,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        self.log_path = events.with_name(f"{events.stem}-worker-{os.urandom(4).hex()}.log")
        env = {
            **os.environ,
            "TICKWORK_DATABASE_URL": database_url,
            "TICKWORK_APP": "tests.apps.worker_app:app",
            "TICKWORK_TEST_LOG": str(events),
            "TICKWORK_STALL_TIMEOUT": str(stall_timeout),
            "TICKWORK_HEARTBEAT_INTERVAL": str(heartbeat),
            "TICKWORK_POLL_INTERVAL": "0.2",
            "TICKWORK_SHUTDOWN_GRACE": str(grace),
        }
        self._output: IO[bytes] = open(self.log_path, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [TICKWORK, "worker", "--concurrency", str(concurrency), "--log-level", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self._output.close()

    def wait(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        self._output.close()
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.kill()


def starts(events: Path) -> list[tuple[int, int]]:
    """``(run_id, attempt)`` of every attempt a handler began."""
    return [(run, attempt) for event, run, attempt, _ in read_log(str(events)) if event == "start"]


def started_runs(events: Path) -> set[int]:
    return {run for run, _ in starts(events)}


def assert_each_attempt_ran_at_most_once(events: Path) -> None:
    repeated = [key for key, n in Counter(starts(events)).items() if n > 1]
    assert repeated == [], f"attempts executed twice: {repeated}"


def assert_all_succeeded_once(app: Tickwork, run_ids: list[int], events: Path) -> None:
    """Every run succeeded; its recorded attempt is the last one begun; none ran twice."""
    assert_each_attempt_ran_at_most_once(events)
    last_attempt: dict[int, int] = {}
    for run, attempt in starts(events):
        last_attempt[run] = max(attempt, last_attempt.get(run, 0))
    for run_id in run_ids:
        run = app.runs.get(run_id)
        assert run.status is RunStatus.SUCCEEDED, (run_id, run.status, run.error)
        assert run.result == {"run_id": run_id, "attempt": run.attempt}
        assert last_attempt[run_id] == run.attempt
