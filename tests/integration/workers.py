"""Starting real ``tickwork worker`` processes for the crash, shutdown and restart tests, and
reading what their handlers did from the shared event log (see ``tests/apps/worker_app.py``)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from tests.apps.worker_app import read_log
from tests.support.servers import TickworkProcess
from tickwork import Tickwork
from tickwork.domain.models import RunStatus
from tickwork.storage.tables import nodes, runs

STALL_TIMEOUT = 2.0
HEARTBEAT = 0.5


class WorkerProcess(TickworkProcess):
    """A ``tickwork worker`` subprocess on the worker test app, logging to a file."""

    def __init__(
        self,
        database_url: str,
        events: Path,
        *,
        concurrency: int = 4,
        grace: float = 30.0,
        stall_timeout: float = STALL_TIMEOUT,
        heartbeat: float = HEARTBEAT,
        poll_interval: float = 0.2,
        queues: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            "worker",
            "--concurrency",
            str(concurrency),
            "--log-level",
            "INFO",
            *(("--queues", queues) if queues is not None else ()),
            log=events.with_name(f"{events.stem}-worker-{os.urandom(4).hex()}.log"),
            database_url=database_url,
            extra_env={"TICKWORK_TEST_LOG": str(events), **(extra_env or {})},
            app="tests.apps.worker_app:app",
            stall_timeout=str(stall_timeout),
            heartbeat_interval=str(heartbeat),
            poll_interval=str(poll_interval),
            shutdown_grace=str(grace),
        )


def runs_held_by(app: Tickwork, pid: int) -> set[int]:
    """Runs the worker process ``pid`` holds (it names itself in its node row)."""
    with app.db.read() as conn:
        worker_ids = [
            info.get("worker_id")
            for (info,) in conn.execute(sa.select(nodes.c.info).where(nodes.c.pid == pid))
        ]
        rows = conn.execute(
            sa.select(runs.c.id).where(
                runs.c.status == "running", runs.c.worker_id.in_([w for w in worker_ids if w])
            )
        )
        return {row.id for row in rows}


def starts(events: Path) -> list[tuple[int, int]]:
    """``(run_id, attempt)`` of every attempt a handler began."""
    return [(run, attempt) for event, run, attempt, _ in read_log(str(events)) if event == "start"]


def ends(events: Path) -> set[tuple[int, int]]:
    """``(run_id, attempt)`` of every attempt whose handler returned."""
    return {(run, attempt) for event, run, attempt, _ in read_log(str(events)) if event == "end"}


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
