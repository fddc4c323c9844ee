"""Several real ``tickwork scheduler`` processes on one database: exactly once per fire time.

Dozens of schedules fire every second while three schedulers (two on SQLite) share the
work; one is killed with SIGKILL midway. Per schedule, the fire times that got a run must be
exactly the contiguous one-second grid between its first and last: no duplicate, no gap.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import fresh_pg_database, wait_for
from tickwork import Tickwork
from tickwork.storage import migrate
from tickwork.storage.database import Database
from tickwork.storage.tables import nodes, runs

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TICKWORK = str(Path(sys.executable).with_name("tickwork"))
APP = "tests.apps.scheduler_app:app"
STEP = timedelta(seconds=1)


@contextmanager
def schedulers(url: str, count: int, logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start ``count`` scheduler processes; stop (or kill) whatever is left at the end."""
    env = {**os.environ, "TICKWORK_POLL_INTERVAL": "0.2", "TICKWORK_HEARTBEAT_INTERVAL": "0.5"}
    started: list[subprocess.Popen[bytes]] = []
    try:
        for index in range(count):
            log = (logs / f"scheduler-{index}.log").open("wb")
            started.append(
                subprocess.Popen(
                    [TICKWORK, "scheduler", "--app", APP, "--db", url, "--log-level", "WARNING"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def logs_of(folder: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()}" for p in sorted(folder.glob("*.log")))


def scheduler_nodes(db: Database) -> set[int]:
    with db.read() as conn:
        return {
            row.pid
            for row in conn.execute(sa.select(nodes.c.pid).where(nodes.c.kind == "scheduler"))
        }


def fire_times_by_schedule(db: Database) -> dict[int, list[datetime]]:
    with db.read() as conn:
        duplicates = conn.execute(
            sa.select(runs.c.schedule_id, runs.c.scheduled_for)
            .where(runs.c.scheduled_for.is_not(None))
            .group_by(runs.c.schedule_id, runs.c.scheduled_for)
            .having(sa.func.count() > 1)
        ).all()
        assert duplicates == []
        rows = conn.execute(
            sa.select(runs.c.schedule_id, runs.c.scheduled_for, runs.c.status).order_by(
                runs.c.schedule_id, runs.c.scheduled_for
            )
        ).all()
    # Nothing runs these; any other status means a fire time was skipped or missed.
    assert {row.status for row in rows} <= {"queued"}, "a fire time was skipped or missed"
    found: dict[int, list[datetime]] = {}
    for row in rows:
        found.setdefault(row.schedule_id, []).append(row.scheduled_for)
    return found


def run_and_check(url: str, processes: int, schedule_count: int, logs: Path) -> None:
    app = Tickwork(url)
    try:

        @app.task("noop")
        def noop() -> None:  # pragma: no cover - never executed here
            return None

        ids = [
            app.schedules.create(
                name=f"every-second-{index}",
                task="noop",
                **({"cron": "* * * * * *"} if index % 2 else {"interval": 1}),
            ).id
            for index in range(schedule_count)
        ]
        with schedulers(url, processes, logs) as started:
            wait_for(lambda: len(scheduler_nodes(app.db)) == processes, timeout=30)
            wait_for(lambda: all(fire_times_by_schedule(app.db).get(i) for i in ids), timeout=30)
            time.sleep(4)
            victim = started[0]
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=5)
            killed_at = app.db.now()
            time.sleep(5)
            for process in started[1:]:
                assert process.poll() is None, logs_of(logs)
            # Stop firing before counting, so every schedule ends on a committed fire time.
            stopping_at = app.db.now()
            for process in started[1:]:
                process.send_signal(signal.SIGTERM)
            for process in started[1:]:
                assert process.wait(timeout=20) == 0, logs_of(logs)
        found = fire_times_by_schedule(app.db)
        assert set(found) == set(ids)
        for schedule_id in ids:
            times = found[schedule_id]
            first, last = times[0], times[-1]
            expected = [first + STEP * k for k in range((last - first) // STEP + 1)]
            assert times == expected, f"schedule {schedule_id}: gaps or extras"
            # Each kept firing well after the kill, up to about when the schedulers stopped
            # (the slack only absorbs a slow tick on a busy machine).
            assert last > killed_at + timedelta(seconds=2), logs_of(logs)
            assert last > stopping_at - timedelta(seconds=5), logs_of(logs)
            assert len(times) >= 9
    finally:
        app.close()


def test_three_schedulers_on_postgresql(tmp_path: Path) -> None:
    url, drop = fresh_pg_database()
    try:
        run_and_check(url, processes=3, schedule_count=40, logs=tmp_path)
    finally:
        drop()


def test_two_schedulers_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tickwork.db'}"
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    run_and_check(url, processes=2, schedule_count=20, logs=tmp_path)
