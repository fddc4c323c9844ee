"""A PostgreSQL restart while a worker process is running: nothing lost, nothing repeated,
pickup (LISTEN included) resumes on its own.

The test starts its own throwaway cluster with ``initdb`` and ``pg_ctl`` on a free port,
never the machine's shared service.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.apps.worker_app import app as worker_app
from tests.conftest import wait_for
from tests.integration.workers import WorkerProcess, assert_all_succeeded_once, started_runs
from tickwork import Tickwork
from tickwork.services.run_service import RunRequest
from tickwork.storage import migrate
from tickwork.storage.database import Database

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster in a temporary folder (as the ``postgres`` user when root)."""

    def __init__(self) -> None:
        if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
            pytest.skip("initdb and pg_ctl are needed for a throwaway cluster")
        self.folder = Path(tempfile.mkdtemp(prefix="tickwork-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

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
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        cluster.start()
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE tickwork")
        db = Database(cluster.url("tickwork"))
        migrate.upgrade(db)
        db.dispose()
        yield cluster
    finally:
        cluster.destroy()


def _listening_backends(cluster: Cluster) -> int:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = 'tickwork' AND query LIKE 'LISTEN%%'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_postgresql_restart_mid_run_loses_and_repeats_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    events = tmp_path / "events.log"
    app = Tickwork(cluster.url("tickwork"))
    app.registry = worker_app.registry
    try:
        before = app.enqueue_many([RunRequest("test.sleep", {"seconds": 0.5}) for _ in range(24)])
        with WorkerProcess(
            app.database_url, events, concurrency=4, stall_timeout=10, heartbeat=0.5
        ) as worker:
            wait_for(lambda: len(started_runs(events)) >= 4, timeout=30)
            wait_for(lambda: _listening_backends(cluster) == 1, timeout=30)
            cluster.stop()
            cluster.start()
            restarted = time.monotonic()
            app.db.dispose()
            # Within 10 s the listener is back (LISTEN included) and the worker picks up
            # new runs again.
            wait_for(lambda: _listening_backends(cluster) == 1, timeout=10)
            after = app.enqueue_many(
                [RunRequest("test.sleep_async", {"seconds": 0}) for _ in range(3)]
            )
            left = max(0.5, 10 - (time.monotonic() - restarted))
            wait_for(lambda: set(after) <= started_runs(events), timeout=left)
            every = before + after
            wait_for(lambda: all(app.runs.get(r).status.is_final for r in every), timeout=60)
            worker.signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0
            output = worker.output()
        assert_all_succeeded_once(app, every, events)
        assert "lost its connection" in output
    finally:
        app.close()
