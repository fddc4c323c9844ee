"""A PostgreSQL restart while a worker process is running: nothing lost, nothing repeated,
pickup (LISTEN included) resumes on its own.

The test starts its own throwaway cluster with ``initdb`` and ``pg_ctl`` on a free port,
never the machine's shared service.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.apps.worker_app import app as worker_app
from tests.integration.workers import WorkerProcess, assert_all_succeeded_once, started_runs
from tests.support.network import free_port
from tests.support.requirements import require
from tests.support.servers import TickworkProcess
from tests.support.waiting import wait_for
from tickwork import Tickwork
from tickwork.services.run_service import RunRequest
from tickwork.storage import migrate
from tickwork.storage.database import Database
from tickwork.storage.tables import runs

pytestmark = pytest.mark.slow


class Cluster:
    """A PostgreSQL cluster in a temporary folder (as the ``postgres`` user when root)."""

    def __init__(self) -> None:
        self.initdb = require("initdb")
        self.pg_ctl = require("pg_ctl")
        self.folder = Path(tempfile.mkdtemp(prefix="tickwork-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, *command: str) -> None:
        subprocess.run(
            [*self.prefix, *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.folder,
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
        self._run(
            self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"),
            "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new migrated database on this cluster; its URL."""
        name = f"tickwork_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        db = Database(self.url(name))
        migrate.upgrade(db)
        db.dispose()
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A throwaway cluster for this module's tests (never the machine's shared service)."""
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


def _listening_backends(cluster: Cluster, database_url: str) -> int:
    database = database_url.rsplit("/", 1)[1]
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE 'LISTEN%%'",
            (database,),
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_worker_survives_a_postgresql_restart_mid_run_losing_and_repeating_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    events = tmp_path / "events.log"
    app = Tickwork(cluster.new_database())
    app.registry = worker_app.registry
    try:
        before = app.enqueue_many([RunRequest("test.sleep", {"seconds": 0.5}) for _ in range(24)])
        # Polling once an hour: after the restart, only a notification on a LISTEN the
        # worker re-established on its own can wake it for new runs.
        with WorkerProcess(
            app.database_url, events, concurrency=4, stall_timeout=10, poll_interval=3600
        ) as worker:
            wait_for(lambda: len(started_runs(events)) >= 4, what="the first runs to start")
            wait_for(lambda: _listening_backends(cluster, app.database_url) == 1)
            cluster.restart()
            app.db.dispose()
            wait_for(
                lambda: _listening_backends(cluster, app.database_url) == 1,
                what="the worker to LISTEN again",
            )
            wait_for(lambda: all(app.runs.get(r).status.is_final for r in before))
            after = app.enqueue_many(
                [RunRequest("test.sleep_async", {"seconds": 0}) for _ in range(3)]
            )
            every = before + after
            wait_for(lambda: all(app.runs.get(r).status.is_final for r in every))
            assert worker.stop(signal.SIGTERM) == 0
            output = worker.output()
        assert_all_succeeded_once(app, every, events)
        assert "lost its connection" in output
    finally:
        app.close()


def _fire_times(db: Database, schedule_id: int) -> list[datetime]:
    with db.read() as conn:
        return list(
            conn.execute(
                sa.select(runs.c.scheduled_for)
                .where(runs.c.schedule_id == schedule_id)
                .order_by(runs.c.scheduled_for)
            ).scalars()
        )


def test_a_scheduler_survives_a_postgresql_restart_and_keeps_every_fire_time_once(
    cluster: Cluster, tmp_path: Path
) -> None:
    app = Tickwork(cluster.new_database())

    @app.task("noop")
    def noop() -> None:  # pragma: no cover - never executed here
        return None

    try:
        # run_all with a generous grace: the fire times due while the database was down are
        # caught up, so the grid has no hole.
        schedule = app.schedules.create(
            name="every-second", task="noop", interval=1, misfire_policy="run_all",
            misfire_grace=3600,
        )  # fmt: skip
        with TickworkProcess(
            "scheduler",
            log=tmp_path / "scheduler.log",
            database_url=app.database_url,
            app="tests.apps.scheduler_app:app",
            poll_interval="0.2",
            heartbeat_interval="0.5",
        ) as scheduler:
            wait_for(lambda: len(_fire_times(app.db, schedule.id)) >= 2, what="first fires")
            cluster.restart()
            app.db.dispose()
            restarted_at = app.db.now()
            wait_for(
                lambda: (times := _fire_times(app.db, schedule.id)) and times[-1] > restarted_at,
                what="a fire time after the restart",
            )
            assert scheduler.running(), scheduler.output()
            assert scheduler.stop(signal.SIGTERM) == 0, scheduler.output()
            assert "notification listener lost its connection" in scheduler.output()
        times = _fire_times(app.db, schedule.id)
        steps = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
        assert steps == {1.0}, times
    finally:
        app.close()
