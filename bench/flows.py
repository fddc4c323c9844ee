"""Flows benchmark: how soon a step starts once its last dependency finished, and how many
flows of 5 steps tickwork runs per second.

1. **Release latency** (PostgreSQL by default, the target: p99 under 20 ms). One idle worker
   process runs flows one at a time: extract, then transform and enrich side by side, then
   load, then report (no-op handlers). For every step with dependencies the gap is its
   ``started_at`` minus the latest ``finished_at`` of its dependencies; both are stamped by
   the worker on the database clock, so the gap is the time from the dependency's handler
   returning, through recording its success (which releases the step in the same
   transaction) to the claim of the step.
2. **Throughput**: 1,000 flows of 5 steps are started (their creation is timed too), then
   worker processes run them all; flows per second and runs per second until the last
   flow ended.

Usage::

    .venv/bin/python bench/flows.py                      # PostgreSQL
    .venv/bin/python bench/flows.py --db sqlite          # a SQLite file
    .venv/bin/python bench/flows.py --latency-flows 300 --flows 1000 --workers 2
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py would shadow the standard library's queue module that psycopg imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import contextlib
import os
import platform
import signal
import subprocess
import tempfile
import time
from datetime import datetime

import psycopg
import sqlalchemy as sa

from tickwork import Tickwork
from tickwork.storage import migrate
from tickwork.storage.database import Database
from tickwork.storage.tables import flows, run_dependencies, runs

PG_ADMIN_URL = os.environ.get("TICKWORK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_BENCH_DB = "tickwork_bench_flows"
BIN = Path(sys.executable).parent
TARGET_P99_MS = 20.0
GROUP = "bench-etl"

# The app the worker processes load (written to a temporary module).
APP_SOURCE = """
from tickwork import Tickwork

app = Tickwork()
DEPENDENCIES = {
    "etl.extract": [],
    "etl.transform": ["etl.extract"],
    "etl.enrich": ["etl.extract"],
    "etl.load": ["etl.transform", "etl.enrich"],
    "etl.report": ["etl.load"],
}
for name, deps in DEPENDENCIES.items():
    app.task(name, group="bench-etl", depends_on=deps)(lambda ctx: None)
"""


def build_app(url: str) -> Tickwork:
    """The benchmark's app in this process (the same tasks as the workers')."""
    namespace: dict[str, object] = {}
    exec(APP_SOURCE, namespace)
    app = namespace["app"]
    assert isinstance(app, Tickwork)
    app.configure(database_url=url)
    return app


def fresh_database(kind: str, folder: Path) -> str:
    """A new, migrated database of ``kind``; its URL."""
    if kind == "sqlite":
        for old in folder.glob("bench.db*"):
            old.unlink()
        url = f"sqlite:///{folder / 'bench.db'}"
    else:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
        url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{PG_BENCH_DB}"
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    return url


def start_workers(
    url: str, folder: Path, count: int, concurrency: int
) -> list[subprocess.Popen[bytes]]:
    """``count`` ``tickwork worker`` processes on the benchmark app; waits until each
    heartbeats."""
    (folder / "flowbench_app.py").write_text(APP_SOURCE)
    env = {
        **os.environ,
        "PYTHONPATH": str(folder),
        "TICKWORK_DATABASE_URL": url,
        "TICKWORK_APP": "flowbench_app:app",
        "TICKWORK_LOG_LEVEL": "WARNING",
    }
    started = [
        subprocess.Popen(
            [str(BIN / "tickwork"), "worker", "--concurrency", str(concurrency)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(folder / f"worker-{index}.log").open("wb"),
        )
        for index in range(count)
    ]
    db = Database(url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.read() as conn:
                alive = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM nodes WHERE kind = 'worker' AND stopped_at IS NULL"
                    )
                ).scalar_one()
            if alive >= count:
                return started
            # Polling for the workers' first heartbeat, not a measured wait.
            time.sleep(0.05)
        raise RuntimeError("workers did not start")
    finally:
        db.dispose()


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def release_gaps(app: Tickwork) -> list[float]:
    """Milliseconds from each dependent step's last dependency finishing to its start."""
    upstream = runs.alias("upstream")
    query = (
        sa.select(runs.c.started_at, sa.func.max(upstream.c.finished_at))
        .select_from(run_dependencies)
        .join(runs, runs.c.id == run_dependencies.c.run_id)
        .join(upstream, upstream.c.id == run_dependencies.c.depends_on)
        .group_by(runs.c.id, runs.c.started_at)
    )
    with app.db.read() as conn:
        return [
            (started - finished).total_seconds() * 1000
            for started, finished in conn.execute(query)
            if started is not None and finished is not None
        ]


def wait_until_all_ended(app: Tickwork, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    query = sa.select(sa.func.count()).where(flows.c.status == "running")
    while True:
        with app.db.read() as conn:
            if conn.execute(query).scalar_one() == 0:
                return
        if time.monotonic() > deadline:
            raise RuntimeError("flows did not end in time")
        # A cheap probe every 20 ms while the workers work.
        time.sleep(0.02)


def measure_latency(url: str, folder: Path, count: int) -> dict[str, float]:
    app = build_app(url)
    workers = start_workers(url, folder, 1, 10)
    try:
        for _ in range(count):
            flow = app.flows.start(group=GROUP)
            ended = app.flows.wait(flow.id, timeout=60)
            if ended.status.value != "succeeded":
                raise RuntimeError(f"flow {flow.id} ended {ended.status.value}")
        gaps = release_gaps(app)
    finally:
        stop(workers)
        app.close()
    return {
        "steps": len(gaps),
        "p50": percentile(gaps, 0.5),
        "p90": percentile(gaps, 0.9),
        "p99": percentile(gaps, 0.99),
        "max": max(gaps),
    }


def measure_throughput(
    url: str, folder: Path, count: int, workers: int, concurrency: int
) -> dict[str, float]:
    app = build_app(url)
    try:
        started = time.perf_counter()
        for _ in range(count):
            app.flows.start(group=GROUP)
        created = time.perf_counter() - started
        processes = start_workers(url, folder, workers, concurrency)
        try:
            started = time.perf_counter()
            wait_until_all_ended(app, timeout=600)
            took = time.perf_counter() - started
        finally:
            stop(processes)
        with app.db.read() as conn:
            statuses = dict(
                conn.execute(
                    sa.select(flows.c.status, sa.func.count()).group_by(flows.c.status)
                ).all()
            )
    finally:
        app.close()
    if statuses != {"succeeded": count}:
        raise RuntimeError(f"flows ended {statuses}")
    return {
        "create_per_s": count / created,
        "flows_per_s": count / took,
        "runs_per_s": count * 5 / took,
        "seconds": took,
    }


def machine(url: str) -> list[str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    lines = [
        f"date: {datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {platform.node()}, {os.cpu_count()} cores ({cpu}), "
        f"{platform.system()} {platform.release()}; load average {os.getloadavg()[0]:.2f}",
        f"python: {platform.python_version()}",
    ]
    if url.startswith("postgresql"):
        with psycopg.connect(PG_ADMIN_URL) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            commit = conn.execute("SHOW synchronous_commit").fetchone()
        lines.append(
            f"PostgreSQL {version[0] if version else '?'} "
            f"(synchronous_commit={commit[0] if commit else '?'})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--latency-flows", type=int, default=300)
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        url = fresh_database(args.db, folder)
        for line in machine(url):
            print(line)
        latency = measure_latency(url, folder, args.latency_flows)
        print(
            f"release latency, {args.db}, idle worker, {latency['steps']:.0f} steps of "
            f"{args.latency_flows} flows: p50 {latency['p50']:.2f} ms, "
            f"p90 {latency['p90']:.2f} ms, p99 {latency['p99']:.2f} ms, "
            f"max {latency['max']:.2f} ms "
            f"(target p99 < {TARGET_P99_MS:g} ms: "
            f"{'met' if latency['p99'] < TARGET_P99_MS else 'NOT met'})"
        )
        url = fresh_database(args.db, folder)
        figures = measure_throughput(url, folder, args.flows, args.workers, args.concurrency)
        print(
            f"throughput, {args.db}, {args.flows} flows of 5 steps, {args.workers} worker "
            f"processes x {args.concurrency}: {figures['flows_per_s']:.0f} flows/s, "
            f"{figures['runs_per_s']:.0f} runs/s ({figures['seconds']:.1f} s); flows created "
            f"at {figures['create_per_s']:.0f}/s"
        )


if __name__ == "__main__":
    main()
