"""REST API benchmark: requests/s and latency of ``GET /api/v1/runs`` with 1,000,000 runs in
the table, at several page depths, and of ``POST /api/v1/schedules/{id}/run``.

A real ``tickwork web`` server runs in a process of its own on loopback; this process
drives it with closed-loop httpx clients (threads, keep-alive connections) for a bounded
time per scenario and measures each request's latency. Each scenario runs with one client
(latency) and with several (throughput). The target is a p99 under 50 ms for a page of 50
runs at any depth.

Usage::

    .venv/bin/python bench/api.py                          # PostgreSQL, 1,000,000 runs
    .venv/bin/python bench/api.py --only sqlite --runs 200000 --seconds 3
    .venv/bin/python bench/api.py --keep                   # reuse the filled database next time

Runs are bulk-inserted with one ``INSERT ... SELECT`` (``generate_series`` on PostgreSQL, a
recursive CTE on SQLite); everything after that goes through HTTP.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py would shadow the standard library's queue module that psycopg imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import os
import platform
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import psycopg
import sqlalchemy as sa

from tickwork.auth.common import CredentialCache
from tickwork.auth.token_service import TokenService
from tickwork.domain.actor import Actor
from tickwork.storage import migrate
from tickwork.storage.database import Database

PG_ADMIN_URL = os.environ.get("TICKWORK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_BENCH_DB = "tickwork_bench_api"
BIN = Path(sys.executable).parent
PAGE = 50
TARGET_P99_MS = 50.0

INSERT_POSTGRESQL = """
INSERT INTO runs (schedule_id, task, payload, status, trigger, queue, priority, attempt,
                  max_attempts, retry_backoff, retry_backoff_max, run_at, scheduled_for,
                  created_at, started_at, finished_at, created_by)
SELECT CASE WHEN g % 10 = 0 THEN NULL ELSE g % 50 + 1 END,
       'task.' || (g % 20), '{"n": 1}'::jsonb,
       CASE WHEN g % 17 = 0 THEN 'failed' ELSE 'succeeded' END,
       CASE WHEN g % 10 = 0 THEN 'api' ELSE 'cron' END,
       'default', 0, 1, 1, 2, 600, ts, ts, ts, ts + interval '1 second',
       ts + interval '2 seconds', 'bench'
FROM (SELECT g, now() - (:total - g) * interval '3 seconds' AS ts
      FROM generate_series(1, :total) AS g) AS s
"""

INSERT_SQLITE = """
WITH RECURSIVE seq(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM seq WHERE g < :total)
INSERT INTO runs (schedule_id, task, payload, status, trigger, queue, priority, attempt,
                  max_attempts, retry_backoff, retry_backoff_max, run_at, scheduled_for,
                  created_at, started_at, finished_at, created_by)
SELECT CASE WHEN g % 10 = 0 THEN NULL ELSE g % 50 + 1 END,
       'task.' || (g % 20), '{"n": 1}',
       CASE WHEN g % 17 = 0 THEN 'failed' ELSE 'succeeded' END,
       CASE WHEN g % 10 = 0 THEN 'api' ELSE 'cron' END,
       'default', 0, 1, 1, 2, 600, ts, ts, ts,
       strftime('%Y-%m-%d %H:%M:%f000', ts, '+1 second'),
       strftime('%Y-%m-%d %H:%M:%f000', ts, '+2 seconds'), 'bench'
FROM (SELECT g, strftime('%Y-%m-%d %H:%M:%f000', 'now', '-' || ((:total - g) * 3) || ' seconds')
             AS ts FROM seq)
"""


# -- the database --------------------------------------------------------------------------


@contextmanager
def bench_database(kind: str, keep: bool) -> Iterator[str]:
    """The benchmark's database (created, or reused with ``--keep``)."""
    if kind == "sqlite":
        folder = Path(tempfile.gettempdir()) / "tickwork-bench-api"
        folder.mkdir(exist_ok=True)
        path = folder / "bench.db"
        if not keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        try:
            yield f"sqlite:///{path}"
        finally:
            if not keep:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (PG_BENCH_DB,)
        ).fetchone()
        if exists and not keep:
            conn.execute(f'DROP DATABASE "{PG_BENCH_DB}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
    try:
        yield f"{base}/{PG_BENCH_DB}"
    finally:
        if not keep:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')


def fill(url: str, total: int) -> tuple[int, int, str]:
    """Migrate, insert ``total`` runs unless they are there; return the id range and a
    schedule id to run now, and an admin token."""
    db = Database(url)
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM runs")).scalar_one()
    if count < total:
        started = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM runs"))
            sql = INSERT_POSTGRESQL if db.dialect.is_postgresql else INSERT_SQLITE
            conn.execute(sa.text(sql), {"total": total})
        with db.engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
            conn.commit()
        print(f"  inserted {total:,} runs in {time.perf_counter() - started:.1f} s", flush=True)
    with db.engine.connect() as conn:
        low, high = conn.execute(sa.text("SELECT min(id), max(id) FROM runs")).one()
    admin = Actor(name="bench", source="bench")
    tokens = TokenService(db, cache=CredentialCache())
    _, secret = tokens.create_token(admin, "bench", role="admin", expires_in="1d")
    db.dispose()
    return int(low), int(high), secret


# -- the server ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(url: str) -> Iterator[tuple[str, int]]:
    """``tickwork web`` on loopback, in a process of its own."""
    port = _free_port()
    env = {**os.environ, "TICKWORK_DATABASE_URL": url, "TICKWORK_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [str(BIN / "tickwork"), "web", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("tickwork web did not start")
            time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the load ------------------------------------------------------------------------------


@dataclass
class Result:
    """What one scenario measured."""

    name: str
    clients: int
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu: float = float("nan")

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        index = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    def line(self) -> str:
        rate = self.requests / self.seconds if self.seconds else 0.0
        mean = statistics.fmean(self.latencies) * 1000 if self.latencies else float("nan")
        p99 = self.percentile(99)
        mark = "ok" if p99 < TARGET_P99_MS or self.clients > 1 else "SLOW"
        return (
            f"  {self.name:<44} {self.clients:>2} client{'s' if self.clients > 1 else ' '} "
            f"{rate:>7.0f} req/s  mean {mean:6.1f} ms  p50 {self.percentile(50):6.1f}  "
            f"p99 {p99:6.1f}  max {self.percentile(100):6.1f} ms"
            f"  server CPU {self.server_cpu / max(1, self.requests) * 1000:5.2f} ms/req"
            f"  errors {self.errors}" + (f"  [{mark}]" if self.clients == 1 else "")
        )


def load(
    name: str,
    base: str,
    secret: str,
    request: Callable[[httpx.Client, int], httpx.Response],
    *,
    clients: int,
    seconds: float,
    expect: int,
    server_pid: int,
) -> Result:
    """Drive ``request`` from ``clients`` threads for ``seconds`` (after a short warm-up)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = threading.Event()
    measuring = threading.Event()

    def client_loop(index: int) -> None:
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            n = 0
            while not stop.is_set():
                started = time.perf_counter()
                response = request(client, index * 1_000_003 + n)
                took = time.perf_counter() - started
                n += 1
                if measuring.is_set():
                    if response.status_code != expect:
                        errors[index] += 1
                    latencies[index].append(took)

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(min(1.0, seconds / 4))
    cpu_before = cpu_seconds(server_pid)
    measuring.set()
    started = time.perf_counter()
    time.sleep(seconds)
    measuring.clear()
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(server_pid) - cpu_before
    stop.set()
    for thread in threads:
        thread.join()
    merged = [x for part in latencies for x in part]
    return Result(name, clients, len(merged), sum(errors), elapsed, merged, cpu)


def scenarios(
    low: int, high: int
) -> list[tuple[str, Callable[[httpx.Client, int], httpx.Response], int]]:
    """The requests to measure: pages at several depths, filters, and run-now."""
    span = high - low

    def page_at(
        fraction: float | None, **params: object
    ) -> Callable[[httpx.Client, int], httpx.Response]:
        def call(client: httpx.Client, n: int) -> httpx.Response:
            query: dict[str, object] = {"limit": PAGE, **params}
            if fraction is not None:
                # Wander around the depth so the database does not serve one cached page.
                jitter = (n * 7919) % max(1, span // 100)
                query["before_id"] = max(low + PAGE + 1, int(high - span * fraction) - jitter)
            return client.get("/api/v1/runs", params=query)

        return call

    def run_now(client: httpx.Client, n: int) -> httpx.Response:
        return client.post("/api/v1/schedules/1/run")

    return [
        ("GET /runs first page", page_at(None), 200),
        ("GET /runs page at 10% depth", page_at(0.10), 200),
        ("GET /runs page at 50% depth", page_at(0.50), 200),
        ("GET /runs page at 99.9% depth", page_at(0.999), 200),
        ("GET /runs?status=failed at 50% depth", page_at(0.50, status="failed"), 200),
        ("GET /runs?schedule_id=7 at 50% depth", page_at(0.50, schedule_id=7), 200),
        (
            "GET /runs?task=task.3&status=failed, deep",
            page_at(0.90, task="task.3", status="failed"),
            200,
        ),
        ("POST /schedules/{id}/run", run_now, 201),
    ]


def bench(kind: str, total: int, seconds: float, clients: int, keep: bool) -> None:
    print(f"\n{kind}: {total:,} runs, {seconds:g} s per scenario", flush=True)
    with bench_database(kind, keep) as url:
        low, high, secret = fill(url, total)
        with server(url) as (base, pid):
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}) as c:
                existing = c.get("/api/v1/schedules", params={"limit": 1}).json()["items"]
                if not existing:
                    made = c.post(
                        "/api/v1/schedules",
                        json={
                            "name": "bench-manual",
                            "task": "http.request",
                            "trigger": "manual",
                            "payload": {"url": "http://127.0.0.1:9/"},
                        },
                    )
                    assert made.status_code == 201, made.text
                schedule_id = c.get("/api/v1/schedules", params={"limit": 1}).json()["items"][0][
                    "id"
                ]
            for name, request, expect in scenarios(low, high):
                if "run" in name and "POST" in name:
                    path = f"/api/v1/schedules/{schedule_id}/run"

                    def request(client: httpx.Client, n: int, path: str = path) -> httpx.Response:
                        return client.post(path)

                for n_clients in (1, clients):
                    result = load(
                        name,
                        base,
                        secret,
                        request,
                        clients=n_clients,
                        seconds=seconds,
                        expect=expect,
                        server_pid=pid,
                    )
                    print(result.line(), flush=True)
    print(f"  (load average now {os.getloadavg()[0]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["postgresql", "sqlite"], action="append")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per scenario")
    parser.add_argument("--clients", type=int, default=8, help="clients for the throughput runs")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the filled database")
    args = parser.parse_args()
    print(
        f"tickwork API benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.node()}: {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, page size {PAGE}, "
        f"load average {os.getloadavg()[0]:.1f} (other processes share these CPUs)"
    )
    for kind in args.only or ["postgresql"]:
        bench(kind, args.runs, args.seconds, args.clients, args.keep)


if __name__ == "__main__":
    main()
