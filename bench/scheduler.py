"""Scheduler benchmark: how late do runs get committed, and what does a tick cost?

Prints, for PostgreSQL and SQLite (each on a fresh database it creates and drops):

- p50/p99/max lateness, from a schedule's intended fire time to its run row being
  committed, measured by a real scheduler service on the real clock, for
  (a) 1,000 schedules every 10 s with spread-out fire times,
  (b) the same 1,000 all due at the same instant,
  (c) 10,000 schedules every minute (6-field cron, spread over the seconds);
- the cost of one tick with 100 schedules due among 1,000 and among 100,000.

Usage::

    .venv/bin/python bench/scheduler.py                  # both databases, full length
    .venv/bin/python bench/scheduler.py --only postgresql --seconds 20

Schedules are bulk-inserted with direct SQL (they are what ``app.schedules.create``
would write); everything after that goes through the scheduler service.
"""

from __future__ import annotations

import sys

# Run as a script, this folder comes first on sys.path, and its queue.py would shadow the
# standard library's queue module (which psycopg imports).
if sys.path and sys.path[0].rstrip("/").endswith("bench"):
    sys.path.pop(0)

import argparse
import os
import platform
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa

from tickwork import Tickwork
from tickwork.domain import cron
from tickwork.duties.scheduler import Scheduler, SchedulerConfig, TickReport
from tickwork.storage import migrate
from tickwork.storage.dialect import SCHEDULES_CHANNEL
from tickwork.storage.tables import schedules

PG_ADMIN_URL = os.environ.get("TICKWORK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
INSERT_CHUNK = 5_000


# -- databases ---------------------------------------------------------------------------


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """A new, migrated, empty database of ``kind``; dropped (or deleted) afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tickwork-bench-") as folder:
            url = f"sqlite:///{folder}/bench.db"
            _migrate(url)
            yield url
        return
    name = f"tw_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        _migrate(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _migrate(url: str) -> None:
    app = Tickwork(url)
    migrate.upgrade(app.db)
    app.close()


def new_app(url: str) -> Tickwork:
    app = Tickwork(url, pool_size=4)

    @app.task("noop")
    def noop() -> None:  # never executed: only the scheduler runs here
        return None

    return app


def bulk_insert(app: Tickwork, rows: list[dict[str, Any]]) -> None:
    """Insert schedule rows as ``app.schedules.create`` would write them, then analyze."""
    for start in range(0, len(rows), INSERT_CHUNK):
        with app.db.write() as conn:
            conn.execute(schedules.insert(), rows[start : start + INSERT_CHUNK])
    with app.db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


def schedule_row(index: int, now: datetime, **timing: Any) -> dict[str, Any]:
    """One active schedule of task ``noop``; ``timing`` sets trigger fields and next_run_at."""
    return {
        "name": f"bench-{index}",
        "task": "noop",
        "payload": {},
        "trigger": "interval",
        "cron": None,
        "interval": None,
        "timezone": "UTC",
        "anchor_at": None,
        "jitter": 0.0,
        "misfire_policy": "run_once",
        "misfire_grace": 60.0,
        "misfire_cap": 10,
        "overlap_policy": "allow",
        "status": "active",
        "source": "api",
        "created_by": "bench",
        "created_at": now,
        "updated_at": now,
        "version": 1,
        "run_count": 0,
        **timing,
    }


def interval_rows(count: int, every: float, start: datetime, spread: float) -> list[dict[str, Any]]:
    """``count`` interval schedules whose first fire times are spread over ``spread`` seconds."""
    rows = []
    for index in range(count):
        anchor = start + timedelta(seconds=spread * index / count)
        rows.append(
            schedule_row(index, start, interval=every, anchor_at=anchor, next_run_at=anchor)
        )
    return rows


def cron_rows(count: int, start: datetime) -> list[dict[str, Any]]:
    """``count`` schedules ``S * * * * *`` (every minute), S spread over the seconds."""
    rows = []
    for index in range(count):
        expression = f"{index % 60} * * * * *"
        rows.append(
            schedule_row(
                index,
                start,
                trigger="cron",
                cron=expression,
                next_run_at=cron.next_fire(expression, "UTC", start),
            )
        )
    return rows


# -- measuring ---------------------------------------------------------------------------


@dataclass
class Lateness:
    samples: list[float]

    def row(self) -> str:
        if not self.samples:
            return "no runs"
        ordered = sorted(self.samples)
        p50 = statistics.median(ordered)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"p50 {p50 * 1000:8.1f} ms   p99 {p99 * 1000:8.1f} ms   "
            f"max {ordered[-1] * 1000:8.1f} ms   ({len(ordered)} runs)"
        )


def lateness_of(app: Tickwork, seconds: float, warmup: float, lookahead: float) -> Lateness:
    """Run a scheduler service for ``seconds`` and collect the lateness of every run."""
    samples: list[float] = []
    measuring = threading.Event()

    def collect(report: TickReport) -> None:
        if measuring.is_set():
            samples.extend(report.lateness)

    service = Scheduler(
        app.db,
        app.firing,
        app.schedule_service,
        app.hub.subscribe(SCHEDULES_CHANNEL),
        SchedulerConfig(poll_interval=1.0, lookahead=lookahead),
        on_tick=collect,
    )
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(warmup)
    measuring.set()
    time.sleep(seconds)
    measuring.clear()
    stop.set()
    service.wakeup.set()
    thread.join()
    return Lateness(samples)


def tick_cost(app: Tickwork, due_ids: list[int], repeats: int) -> list[float]:
    """Seconds per tick when exactly ``due_ids`` are due (their due time is reset each time)."""
    service = Scheduler(
        app.db,
        app.firing,
        app.schedule_service,
        app.hub.subscribe(SCHEDULES_CHANNEL),
        SchedulerConfig(),
    )
    costs = []
    reset = (
        schedules.update()
        .where(schedules.c.id.in_(due_ids))
        .values(next_run_at=sa.bindparam("due"))
    )
    for _ in range(repeats):
        with app.db.write() as conn:
            conn.execute(reset, {"due": app.db.now() - timedelta(seconds=1)})
        started = time.perf_counter()
        report = service.tick(maintenance=False)
        costs.append(time.perf_counter() - started)
        assert report.runs == len(due_ids), report
    return costs


def scenario(
    kind: str,
    build: Callable[[datetime], list[dict[str, Any]]],
    seconds: float,
    warmup: float,
    lookahead: float,
) -> Lateness:
    with fresh_database(kind) as url:
        app = new_app(url)
        try:
            start = app.db.now() + timedelta(seconds=2)
            bulk_insert(app, build(start))
            return lateness_of(app, seconds, warmup + 2, lookahead)
        finally:
            app.close()


def tick_scenario(kind: str, total: int, due: int, repeats: int) -> list[float]:
    with fresh_database(kind) as url:
        app = new_app(url)
        try:
            now = app.db.now()
            far = now + timedelta(days=1)
            rows = []
            for index in range(total):
                rows.append(
                    schedule_row(index, now, interval=86400 * 7, anchor_at=far, next_run_at=far)
                )
            bulk_insert(app, rows)
            with app.db.read() as conn:
                ids = [r[0] for r in conn.execute(sa.select(schedules.c.id).limit(due))]
            tick_cost(app, ids, 5)  # warm caches and the connection pool
            return tick_cost(app, ids, repeats)
        finally:
            app.close()


# Lateness scenarios: label, schedules to insert, length (times --seconds), warm-up.
SCENARIOS: dict[str, tuple[str, Callable[[datetime], list[dict[str, Any]]], float, float]] = {
    "a": (
        "(a) 1,000 every 10 s, spread",
        lambda start: interval_rows(1000, 10, start, spread=10),
        1,
        3,
    ),
    "b": (
        "(b) 1,000 every 10 s, same instant",
        lambda start: interval_rows(1000, 10, start, spread=0),
        1,
        0,
    ),
    "c": ("(c) 10,000 every minute", lambda start: cron_rows(10_000, start), 2, 3),
}


# -- reporting ---------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as info:
            kib = int(info.readline().split()[1])
            memory = f", {kib / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    try:
        with psycopg.connect(PG_ADMIN_URL) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            pg = f"PostgreSQL {row[0] if row else '?'}"
    except psycopg.Error:
        pg = "PostgreSQL unreachable"
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M UTC} | {cpu}, {os.cpu_count()} cores{memory} | "
        f"{platform.system()} {platform.release()} | Python {platform.python_version()} | "
        f"{pg} (local) | SQLite {sqlite3.sqlite_version}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["postgresql", "sqlite"], help="one database only")
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="measuring time of (a) and (b); (c) takes 2x"
    )
    parser.add_argument("--repeats", type=int, default=30, help="ticks measured per tick cost")
    parser.add_argument(
        "--scenarios", default="abct", help="which to run: a, b, c and/or t (tick cost)"
    )
    parser.add_argument(
        "--lookahead",
        type=float,
        nargs="+",
        default=[1.0, 0.0],
        help="scheduler lookahead(s) to measure, seconds (default: 1 and 0)",
    )
    args = parser.parse_args()
    kinds = [args.only] if args.only else ["postgresql", "sqlite"]
    print(machine())
    print(
        "lateness = intended fire time -> run row committed (real clock, one scheduler);\n"
        "negative = committed ahead of the fire time (the scheduler's lookahead, default 1 s;\n"
        "such runs wait in the queue until their run_at, the fire time)"
    )
    for kind in kinds:
        print(f"\n== {kind} ==")
        for lookahead in args.lookahead:
            print(f"-- lookahead {lookahead:g} s")
            for key, (label, build, length, warmup) in SCENARIOS.items():
                if key in args.scenarios:
                    lateness = scenario(kind, build, args.seconds * length, warmup, lookahead)
                    print(f"{label:38} {lateness.row()}", flush=True)
        for total in (1_000, 100_000) if "t" in args.scenarios else ():
            costs = tick_scenario(kind, total, 100, args.repeats)
            print(
                f"tick, 100 due of {total:>7,}:              "
                f"median {statistics.median(costs) * 1000:7.2f} ms   "
                f"p90 {sorted(costs)[int(len(costs) * 0.9)] * 1000:7.2f} ms",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
