"""What the paused-queue check costs a claim: the claim statement with and without its
``NOT EXISTS (SELECT 1 FROM queue_pauses ...)`` clause, on PostgreSQL and SQLite.

For each database, a fresh schema holds ``--runs`` queued runs in three queues. Each variant
then claims them all, ``--batch`` at a time (one claim statement per transaction, as a
worker does), and the time per claim is printed: median and p95 over the claims, for the
statement without the check (as before queues could be paused), with the check and no queue
paused, and with the check and one other queue paused. Variants are interleaved over
``--rounds`` rounds, each round starting with another one, each on a freshly filled table.

Usage::

    .venv/bin/python bench/queue_pause.py [--runs 20000] [--batch 100] [--rounds 3]
                                          [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

# This folder holds queue.py, which would shadow the standard library's queue module.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent / "src"))

from tickwork import Tickwork  # noqa: E402
from tickwork.storage import queue_sql  # noqa: E402
from tickwork.storage.run_store import RunStore  # noqa: E402
from tickwork.storage.tables import queue_pauses, runs  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
CHECK = f"AND {queue_sql._NOT_PAUSED}"
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _fill(app: Tickwork, count: int) -> None:
    with app.db.write() as conn:
        conn.execute(runs.delete())
        conn.execute(queue_pauses.delete())
        rows = [
            {
                "task": "noop",
                "payload": {},
                "status": "queued",
                "trigger": "api",
                "queue": ("default", "slow", "mail")[i % 3],
                "run_at": NOW - timedelta(seconds=count - i),
                "created_at": NOW,
            }
            for i in range(count)
        ]
        for start in range(0, count, 5_000):
            conn.execute(runs.insert(), rows[start : start + 5_000])


def _claim_all(app: Tickwork, batch: int) -> list[float]:
    store = RunStore(app.db.dialect)
    timings = []
    while True:
        started = time.perf_counter()
        with app.db.write(queue=True) as conn:
            claimed = store.claim(
                conn, worker_id="bench", token=uuid.uuid4().hex, now=NOW, limit=batch
            )
        timings.append(time.perf_counter() - started)
        if not claimed:
            return timings


def _variant(with_check: bool) -> Callable[[], None]:
    """Set the claim statements to the variant's (the module's own text, or without the
    check)."""
    originals = {
        name: getattr(queue_sql, name)
        for name in (
            "_CLAIM_POSTGRESQL_ALL",
            "_CLAIM_POSTGRESQL_QUEUES",
            "_CLAIM_SQLITE_ALL",
            "_CLAIM_SQLITE_QUEUES",
        )
    }

    def apply() -> None:
        for name, text in originals.items():
            setattr(queue_sql, name, text if with_check else text.replace(CHECK, ""))

    return apply


def measure(url: str, label: str, args: argparse.Namespace) -> None:
    app = Tickwork(url)
    app.migrate()
    variants = {
        "no check (before)": (_variant(False), False),
        "check, none paused": (_variant(True), False),
        "check, 1 other paused": (_variant(True), True),
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    try:
        names = list(variants)
        for round_number in range(args.rounds):
            # Each round starts with another variant, so none always runs on a cold cache.
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                apply, pause_other = variants[name]
                _fill(app, args.runs)
                if pause_other:
                    with app.db.write() as conn:
                        conn.execute(
                            queue_pauses.insert().values(
                                name="reports", paused_at=NOW, paused_by="bench"
                            )
                        )
                apply()
                results[name].extend(_claim_all(app, args.batch))
    finally:
        _variant(True)()
        with app.db.write() as conn:
            conn.execute(runs.delete())
            conn.execute(queue_pauses.delete())
        app.close()
    print(f"\n{label}: {args.runs} queued runs, claims of {args.batch}, {args.rounds} rounds")
    print(f"  {'variant':<24} {'median ms':>10} {'p95 ms':>8} {'claims':>7}")
    for name, timings in results.items():
        ordered = sorted(timings)
        p95 = ordered[int(len(ordered) * 0.95) - 1]
        median = statistics.median(ordered)
        print(f"  {name:<24} {median * 1000:>10.3f} {p95 * 1000:>8.3f} {len(ordered):>7}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("TICKWORK_BENCH_PG", DEFAULT_PG))
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as folder:
        measure(f"sqlite:///{folder}/bench.db", "SQLite", args)
    pg = sa.make_url(args.pg)
    database = f"bench_queue_pause_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
    try:
        measure(pg.set(database=database).render_as_string(hide_password=False), "PostgreSQL", args)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
