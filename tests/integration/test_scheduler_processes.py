"""Several real ``tickwork scheduler`` processes on one database: exactly once per fire time.

Dozens of schedules fire every second while three schedulers (two on SQLite) share the
work; one is killed with SIGKILL midway. Per schedule, the fire times that got a run must be
exactly the contiguous one-second grid between its first and last: no duplicate, no gap.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.databases import fresh_sqlite_database
from tests.support.nodes import node_pids
from tests.support.schedules import every_schedule_fired_after, fire_times_by_schedule
from tests.support.servers import TickworkProcess
from tests.support.waiting import wait_for
from tickwork import Tickwork

pytestmark = pytest.mark.slow

APP = "tests.apps.scheduler_app:app"
STEP = timedelta(seconds=1)


@contextmanager
def schedulers(url: str, count: int, logs: Path) -> Iterator[list[TickworkProcess]]:
    """Start ``count`` scheduler processes; stop whatever is left at the end."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                TickworkProcess(
                    "scheduler",
                    "--log-level",
                    "WARNING",
                    log=logs / f"scheduler-{index}.log",
                    database_url=url,
                    app=APP,
                    poll_interval="0.2",
                    heartbeat_interval="0.5",
                )
            )
            for index in range(count)
        ]


def logs_of(folder: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()}" for p in sorted(folder.glob("*.log")))


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
            wait_for(lambda: len(node_pids(app.db, "scheduler")) == processes, what="schedulers up")
            # A few seconds of shared firing before the kill.
            first_seen = app.db.now()
            wait_for(
                lambda: every_schedule_fired_after(app.db, ids, first_seen + 3 * STEP),
                what="every schedule firing under all schedulers",
            )
            victim = started[0]
            victim.kill()
            killed_at = app.db.now()
            # The survivors take over every schedule, including those the victim had locked.
            wait_for(
                lambda: every_schedule_fired_after(app.db, ids, killed_at + 4 * STEP),
                what="every schedule firing again after the kill",
            )
            for process in started[1:]:
                assert process.running(), logs_of(logs)
            # Stop firing before counting, so every schedule ends on a committed fire time.
            for process in started[1:]:
                assert process.stop(signal.SIGTERM) == 0, logs_of(logs)
        found = fire_times_by_schedule(app.db)
        assert set(found) == set(ids)
        for schedule_id in ids:
            times = found[schedule_id]
            first, last = times[0], times[-1]
            expected = [first + STEP * k for k in range((last - first) // STEP + 1)]
            assert times == expected, f"schedule {schedule_id}: gaps or extras"
            assert last > killed_at + 4 * STEP
    finally:
        app.close()


def test_three_schedulers_on_postgresql_fire_each_time_once_through_a_sigkill(
    pg_database_url: str, tmp_path: Path
) -> None:
    run_and_check(pg_database_url, processes=3, schedule_count=40, logs=tmp_path)


def test_two_schedulers_on_sqlite_fire_each_time_once_through_a_sigkill(tmp_path: Path) -> None:
    url = fresh_sqlite_database(tmp_path)
    run_and_check(url, processes=2, schedule_count=20, logs=tmp_path)
