"""Retention at scale: prune millions of finished runs on PostgreSQL while claims go on.

On a fresh database it writes ``--runs`` finished runs older than the retention period
(plus ``--recent`` newer ones the prune must keep), then measures the claim statement a
worker runs (one run enqueued and claimed every ``--probe-interval`` seconds, the claim
timed) for ``--baseline`` seconds with nothing else going on, and again while
``tickwork.prune``'s own function deletes the old runs. It prints the prune's time and
rate, claim p50/p99/max without and during the prune, and the table's size.

Usage::

    .venv/bin/python bench/retention.py [--runs 10000000] [--recent 100000]
                                        [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import sys

# Run as a script, this folder comes first on sys.path, and its queue.py would shadow the
# standard library's queue module (which psycopg imports).
if sys.path and sys.path[0].rstrip("/").endswith("bench"):
    sys.path.pop(0)

import argparse
import os
import statistics
import threading
import time
import uuid
from typing import Any

import psycopg

from tickwork import Context, Tickwork
from tickwork.builtin_tasks.prune import prune
from tickwork.storage.run_store import RunStore

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
CHUNK = 1_000_000

SEED_SQL = """
    INSERT INTO runs (task, payload, status, trigger, queue, priority, attempt, max_attempts,
                      run_at, created_at, started_at, finished_at, worker_id, token, error)
    SELECT 'noop', '{"n": 1}'::jsonb,
           CASE WHEN i %% 100 = 0 THEN 'failed' ELSE 'succeeded' END, 'api', 'default', 0, 1, 1,
           t, t, t, t + interval '2 ms', 'worker-seed', md5(i::text),
           CASE WHEN i %% 100 = 0 THEN 'boom' END
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i,
         LATERAL (SELECT %(base)s::timestamptz + i * interval '1 ms' AS t) AS at
"""


def create_database(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return f"{admin.rsplit('/', 1)[0]}/{name}"


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def seed(url: str, old: int, recent: int) -> None:
    """``old`` finished runs 40 days old and ``recent`` ones an hour old."""
    with psycopg.connect(url, autocommit=True) as conn:
        for first in range(0, old, CHUNK):
            last = min(old, first + CHUNK) - 1
            base = "now() - interval '40 days'"
            conn.execute(
                SEED_SQL.replace("%(base)s::timestamptz", base),  # type: ignore[arg-type]
                {"first": first, "last": last},
            )
            print(f"  {last + 1:,} old runs written", flush=True)
        conn.execute(
            SEED_SQL.replace("%(base)s::timestamptz", "now() - interval '1 hour'"),  # type: ignore[arg-type]
            {"first": 0, "last": recent - 1},
        )
        conn.execute("VACUUM ANALYZE runs")


def size(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), pg_size_pretty(pg_relation_size('runs')), "
            "pg_size_pretty(pg_indexes_size('runs')) FROM runs"
        ).fetchone()
    assert row is not None
    return f"{row[0]:,} rows, heap {row[1]}, indexes {row[2]}"


class ClaimProbe(threading.Thread):
    """Enqueue one run and claim it, every ``interval`` seconds; time each claim."""

    def __init__(self, app: Tickwork, interval: float) -> None:
        super().__init__(daemon=True)
        self.app = app
        self.interval = interval
        self.store = RunStore(app.db.dialect)
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        db = self.app.db
        while not self.stop.wait(self.interval):
            self.app.enqueue("noop", {})
            started = time.perf_counter()
            with db.write_statement(queue=True) as conn:
                claimed = self.store.claim(
                    conn, worker_id="probe", token=uuid.uuid4().hex, now=db.now(), limit=10
                )
            self.samples.append((time.monotonic(), (time.perf_counter() - started) * 1000))
            with db.write() as conn:
                conn.exec_driver_sql(
                    "UPDATE runs SET status = 'succeeded', finished_at = now() "
                    "WHERE id = ANY(%(ids)s)",
                    {"ids": [run.id for run in claimed]},
                )

    def between(self, start: float, end: float) -> list[float]:
        return [ms for at, ms in self.samples if start <= at < end]


def describe(label: str, values: list[float]) -> str:
    if not values:
        return f"{label}: no claims"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"{label}: {len(values)} claims, p50 {statistics.median(values):.2f} ms, "
        f"p99 {p99:.2f} ms, max {ordered[-1]:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000_000)
    parser.add_argument("--recent", type=int, default=100_000)
    parser.add_argument("--baseline", type=float, default=60)
    parser.add_argument("--probe-interval", type=float, default=0.02)
    parser.add_argument("--pg", default=os.environ.get("TICKWORK_BENCH_PG", DEFAULT_PG))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    name = f"retention_{uuid.uuid4().hex[:6]}"
    url = create_database(args.pg, name)
    print(f"database {name}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; load {os.getloadavg()}")
    app = Tickwork(url)

    @app.task("noop")
    def noop(ctx: Context, payload: dict[str, Any]) -> None:
        """Claimed by the probe, never executed."""

    try:
        app.migrate()
        started = time.perf_counter()
        seed(url, args.runs, args.recent)
        print(f"seeded in {time.perf_counter() - started:.0f} s: {size(url)}", flush=True)
        probe = ClaimProbe(app, args.probe_interval)
        probe.start()
        baseline_start = time.monotonic()
        time.sleep(args.baseline)
        prune_start = time.monotonic()
        load_before = os.getloadavg()[0]
        result = prune(app, 30)
        prune_end = time.monotonic()
        time.sleep(min(args.baseline, 30))
        probe.stop.set()
        probe.join()
        took = prune_end - prune_start
        print(
            f"prune: {result['runs']:,} runs deleted in {took:.1f} s "
            f"({result['runs'] / took:,.0f} runs/s); load {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after"
        )
        print(describe("claims without the prune", probe.between(baseline_start, prune_start)))
        print(describe("claims during the prune ", probe.between(prune_start, prune_end)))
        print(describe("claims after the prune  ", probe.between(prune_end, time.monotonic())))
        print(f"after: {size(url)}")
    finally:
        app.close()
        if not args.keep:
            drop_database(args.pg, name)


if __name__ == "__main__":
    main()
