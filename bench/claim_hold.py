"""Claim hold benchmark: what holding a paused schedule's runs costs a worker's claim.

A claim skips runs of paused schedules (issue 11) with ``schedule_id NOT IN (SELECT id FROM
schedules WHERE status = 'paused')``, found through the partial index of paused schedules.
This prints, on a fresh PostgreSQL database with ``--runs`` runnable runs of an active
schedule and ``--paused`` paused schedules, the best time of the claim statement of 10 runs
with and without the hold (each claim rolled back, on a worker's hot-path connection), and
the plan of the claim with it.

Usage::

    .venv/bin/python bench/claim_hold.py [--pg postgresql://postgres@127.0.0.1:5432/test]
                                         [--runs 20000] [--paused 200] [--repeat 200]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import uuid

# Run as a script, this folder comes first on sys.path, and its queue.py would shadow the
# standard library's queue module.
if sys.path and sys.path[0].rstrip("/").endswith("bench"):
    sys.path.pop(0)

import psycopg

from tickwork import Context, Tickwork
from tickwork.storage import queue_sql

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _seed(app: Tickwork, runs: int, paused: int) -> None:
    @app.task("noop")
    def noop(ctx: Context) -> None:
        return None

    active = app.schedules.create(name="active", task="noop", trigger="manual")
    for index in range(paused):
        schedule = app.schedules.create(name=f"paused-{index}", task="noop", trigger="manual")
        app.schedules.pause(schedule.id)
    with app.db.write() as conn:
        conn.exec_driver_sql(
            "INSERT INTO runs (schedule_id, task, payload, status, trigger, queue, priority, "
            "attempt, max_attempts, retry_backoff, retry_backoff_max, run_at, created_at) "
            f"SELECT {active.id}, 'noop', '{{}}', 'queued', 'cron', 'default', 0, 1, 1, 2, 600, "
            f"now() - interval '1 minute', now() FROM generate_series(1, {runs})"
        )
        conn.exec_driver_sql("ANALYZE runs")
        conn.exec_driver_sql("ANALYZE schedules")


def _best(app: Tickwork, sql: str, repeat: int) -> float:
    params = {"now": app.db.now(), "limit": 10, "worker_id": "w", "token": "t"}
    best = float("inf")
    with app.db.write(queue=True) as conn:
        for _ in range(repeat):
            conn.exec_driver_sql("SAVEPOINT claim")
            started = time.perf_counter()
            conn.exec_driver_sql(sql, params).all()
            best = min(best, time.perf_counter() - started)
            conn.exec_driver_sql("ROLLBACK TO SAVEPOINT claim")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=DEFAULT_PG)
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--paused", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    name = f"tw_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = args.pg.rsplit("/", 1)[0] + f"/{name}"
    app = Tickwork(url)
    try:
        app.migrate()
        _seed(app, args.runs, args.paused)
        with_hold = queue_sql._CLAIM_POSTGRESQL_ALL
        without = with_hold.replace(f"AND {queue_sql.NOT_HELD}", "")
        print(f"{platform.node()} {platform.machine()} python {platform.python_version()}")
        print(f"{args.runs} runnable runs, {args.paused} paused schedules, claims of 10")
        for label, sql in (("with the hold", with_hold), ("without it", without)):
            print(
                f"  {label:14} best of {args.repeat}: {_best(app, sql, args.repeat) * 1000:.3f} ms"
            )
        params = {"now": app.db.now(), "limit": 10, "worker_id": "w", "token": "t"}
        with app.db.write(queue=True) as conn:
            plan = conn.exec_driver_sql("EXPLAIN ANALYZE " + with_hold, params).all()
            conn.rollback()
        print("\n".join(row[0] for row in plan))
    finally:
        app.close()
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
