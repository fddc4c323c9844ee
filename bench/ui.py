"""UI benchmark: server-side render time of every page with 10,000 schedules and 1,000,000
runs in PostgreSQL.

The data is generated inside PostgreSQL (``INSERT ... SELECT generate_series``), so loading
takes about a minute: 10,000 schedules of every trigger type and status (some tenant-bound),
and 1,000,000 runs spread over 30 days (94% succeeded, 4% failed, 1% skipped, 1% cancelled,
a few hundred queued and running), about 100 per schedule. Then ``VACUUM ANALYZE``.

Each page is requested through the ASGI app in this process (no network, so the figure is the
server's: routing, auth, queries, rendering), once to warm up and then ``--repeat`` times;
the median and the slowest are printed, with pages over the 200 ms budget marked.

Usage::

    .venv/bin/python bench/ui.py [--pg postgresql://postgres@127.0.0.1:5432/test]
                                 [--repeat 7] [--keep] [--reuse]

``--keep`` leaves the database (``tickwork_bench_ui``) in place; ``--reuse`` skips loading
when it is already there.
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

# bench/queue.py is named like the standard library's ``queue``, which psycopg imports:
# keep this folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse
import datetime
import platform
import statistics
import time
import warnings
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tickwork import Context, Tickwork
from tickwork.settings import Settings
from tickwork.storage import migrate
from tickwork.web import create_app

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
DATABASE = "tickwork_bench_ui"
SCHEDULES = 10_000
RUNS = 1_000_000
BUDGET_MS = 200.0
TASKS = [f"bench.task{i}" for i in range(10)]

LOAD_SCHEDULES = f"""
INSERT INTO schedules (
    name, tenant_id, task, payload, "trigger", cron, "interval", run_at, timezone, description,
    anchor_at, jitter, misfire_policy, misfire_grace, misfire_cap, overlap_policy, run_count,
    status, next_run_at, last_run_at, last_status, pause_note, paused_by, paused_at, source,
    orphaned, created_by, created_at, updated_at, version
)
SELECT
    'schedule-' || lpad(i::text, 5, '0'),
    CASE WHEN i % 5 = 0 THEN 'tenant-' || (i % 20) END,
    'bench.task' || (i % 10),
    '{{"n": 1}}'::jsonb,
    CASE WHEN i % 20 < 14 THEN 'cron' WHEN i % 20 < 18 THEN 'interval'
         WHEN i % 20 = 18 THEN 'once' ELSE 'manual' END,
    CASE WHEN i % 20 < 14 THEN (i % 60) || ' */' || (1 + i % 6) || ' * * *' END,
    CASE WHEN i % 20 BETWEEN 14 AND 17 THEN 60 * (1 + i % 30) END,
    CASE WHEN i % 20 = 18 THEN now() + make_interval(hours => i % 500) END,
    CASE WHEN i % 3 = 0 THEN 'Europe/London' WHEN i % 3 = 1 THEN 'UTC'
         ELSE 'America/New_York' END,
    CASE WHEN i % 4 = 0 THEN 'Benchmark schedule number ' || i END,
    now() - interval '30 days',
    0, 'run_once', 60, 10, 'allow', 100,
    CASE WHEN i % 50 = 0 THEN 'completed' WHEN i % 12 = 0 THEN 'paused' ELSE 'active' END,
    CASE WHEN i % 50 <> 0 AND i % 12 <> 0 AND i % 20 <> 19
         THEN now() + make_interval(secs => (i * 37) % 86400) END,
    now() - make_interval(secs => (i * 13) % 3600),
    CASE WHEN i % 25 = 0 THEN 'failed' ELSE 'succeeded' END,
    CASE WHEN i % 12 = 0 AND i % 50 <> 0 THEN 'paused for the benchmark' END,
    CASE WHEN i % 12 = 0 AND i % 50 <> 0 THEN 'bench' END,
    CASE WHEN i % 12 = 0 AND i % 50 <> 0 THEN now() - interval '1 day' END,
    'api', false, 'bench', now() - interval '31 days', now() - interval '31 days', 1
FROM generate_series(1, {SCHEDULES}) AS i
"""

# Runs are spread over the last 30 days in id order (as they are created in real life);
# statuses come from random() so they do not follow the schedule they belong to.
LOAD_RUNS = f"""
INSERT INTO runs (
    schedule_id, task, payload, status, "trigger", tenant_id, queue, priority, attempt,
    max_attempts, retry_backoff, retry_backoff_max, run_at, scheduled_for, created_at,
    started_at, finished_at, worker_id, error, skip_reason, created_by, cancel_requested
)
SELECT
    s.id, s.task, '{{}}'::jsonb, v.status,
    CASE WHEN v.manual THEN 'manual' ELSE s."trigger" END,
    s.tenant_id, 'default', 0, 1, 1, 2, 600,
    v.at, CASE WHEN v.manual THEN NULL ELSE v.at END, v.at,
    CASE WHEN v.status <> 'skipped' THEN v.at + interval '50 milliseconds' END,
    CASE WHEN v.status <> 'skipped'
         THEN v.at + interval '50 milliseconds' + make_interval(secs => v.took) END,
    CASE WHEN v.status <> 'skipped' THEN 'worker@bench-' || (g % 4) END,
    CASE WHEN v.status = 'failed' THEN 'RuntimeError: benchmark failure ' || g END,
    CASE WHEN v.status = 'skipped' THEN 'overlap' END,
    'scheduler', false
FROM generate_series(1, {RUNS}) AS g
JOIN schedules AS s ON s.id = 1 + (g % {SCHEDULES})
CROSS JOIN LATERAL (
    SELECT
        now() - interval '30 days' + make_interval(secs => g * 2.592) AS at,
        CASE WHEN r < 0.94 THEN 'succeeded' WHEN r < 0.98 THEN 'failed'
             WHEN r < 0.99 THEN 'skipped' ELSE 'cancelled' END AS status,
        random() < 0.05 AS manual,
        round((random() * random() * 30)::numeric, 3)::float8 AS took
    FROM (SELECT random() AS r) AS x
) AS v
"""

LOAD_PENDING = """
INSERT INTO runs (
    schedule_id, task, payload, status, "trigger", queue, priority, attempt, max_attempts,
    retry_backoff, retry_backoff_max, run_at, created_at, started_at, heartbeat_at, worker_id,
    token, created_by, cancel_requested
)
SELECT
    1 + (g * 7) % 10000, 'bench.task' || (g % 10), '{}'::jsonb,
    CASE WHEN g <= 20 THEN 'running' ELSE 'queued' END, 'manual', 'default', 0, 1, 1, 2, 600,
    now() + make_interval(secs => g - 100), now(),
    CASE WHEN g <= 20 THEN now() END, CASE WHEN g <= 20 THEN now() END,
    CASE WHEN g <= 20 THEN 'worker@bench-1' END, CASE WHEN g <= 20 THEN md5(g::text) END,
    'bench', false
FROM generate_series(1, 300) AS g
"""


def admin_url(pg: str) -> str:
    return pg


def database_url(pg: str) -> str:
    return pg.rsplit("/", 1)[0] + "/" + DATABASE


def load(pg: str, reuse: bool) -> None:
    """Create and fill the benchmark database (or keep the one there when ``reuse``)."""
    with psycopg.connect(pg, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
        ).fetchone()
        if exists and reuse:
            print(f"reusing database {DATABASE}")
            return
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    url = database_url(pg)
    app = Tickwork(url)
    migrate.upgrade(app.db)
    app.close()
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("SELECT setseed(0.42)")
        conn.execute(LOAD_SCHEDULES)
        print(f"loaded {SCHEDULES:,} schedules in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        conn.execute(LOAD_RUNS)
        conn.execute(LOAD_PENDING)
        print(f"loaded {RUNS:,} runs in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        print(f"vacuum analyze in {time.perf_counter() - started:.1f} s")


def build_app(url: str) -> Tickwork:
    app = Tickwork(url)
    for name in TASKS:

        def handler(ctx: Context) -> None:
            return None

        app.task(name, description=f"Benchmark task {name[-1]}")(handler)
    return app


def pages(client: TestClient) -> list[tuple[str, str]]:
    """The pages to time: every page kind, with the filters that are hardest to serve."""
    runs = client.app.state.tickwork.tickwork.runs  # type: ignore[attr-defined]
    busy = 1 + (RUNS // 2) % SCHEDULES
    newest = runs.list(limit=1)[0].id
    failed = runs.list(status="failed", limit=1)[0].id
    deep = newest - RUNS // 2
    past_from = (datetime.datetime.now() - datetime.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M")
    past_until = (datetime.datetime.now() - datetime.timedelta(days=19)).strftime("%Y-%m-%dT%H:%M")
    return [
        ("dashboard", "/"),
        ("schedules", "/schedules"),
        ("schedules, text search", "/schedules?q=number+77"),
        (
            "schedules, status+task+tenant",
            "/schedules?status=active&task=bench.task3&tenant=tenant-5",
        ),
        ("schedules, page 100 of 100", "/schedules?page=100&per_page=100"),
        ("schedules, by next run", "/schedules?sort=next&per_page=100"),
        ("schedule detail", f"/schedules/{busy}"),
        (
            "schedule history page 5 of 50",
            f"/ui/partials/schedules/{busy}/history?page=5&per_page=50",
        ),
        ("schedule history, failed only", f"/ui/partials/schedules/{busy}/history?status=failed"),
        ("schedule edit form", f"/schedules/{busy}/edit"),
        ("new schedule form", "/schedules/new"),
        ("runs", "/runs"),
        ("runs, failed", "/runs?status=failed"),
        ("runs, one task", "/runs?task=bench.task7"),
        ("runs, manual trigger", "/runs?trigger=manual"),
        ("runs, cancelled + one task", "/runs?status=cancelled&task=bench.task2"),
        ("runs, one schedule", f"/runs?schedule={busy}"),
        ("runs, last 24 hours", "/runs?range=24h"),
        (
            "runs, a day three weeks ago",
            f"/runs?range=custom&since={past_from}&until={past_until}",
        ),
        ("runs, half a million deep", f"/runs?before={deep}"),
        ("runs, live poll", f"/ui/partials/runs/live?ids={newest}&top={newest}"),
        ("run detail", f"/runs/{failed}"),
        ("audit log", "/audit"),
        ("cron preview", "/ui/partials/timing-preview?trigger=cron&cron=0+9+*+*+1-5"),
        ("users", "/admin/users"),
        ("tokens", "/admin/tokens"),
    ]


def measure(client: TestClient, path: str, repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU milliseconds of each request (after a warm-up).

    The app runs in this process, so its CPU time is the server's own work (routing, auth,
    rendering) without PostgreSQL's; on a shared machine it varies less than wall time.
    """
    response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        assert response.status_code == 200
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=DEFAULT_PG)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a loaded database")
    options = parser.parse_args()

    load(options.pg, options.reuse)
    url = database_url(options.pg)
    app = build_app(url)
    web = create_app(app, Settings(auth="none", host="127.0.0.1", database_url=url))
    client = TestClient(web, headers={"Accept": "text/html"})
    print(
        f"\n{platform.node()} · {os.cpu_count()} CPUs · {datetime.date.today()} · "
        f"load average {os.getloadavg()[0]:.1f} · PostgreSQL, {SCHEDULES:,} schedules, "
        f"{RUNS:,} runs; median and slowest of {options.repeat}\n"
    )
    print(f"{'page':<36} {'median ms':>10} {'max ms':>8} {'app CPU ms':>11}")
    over = []
    try:
        for name, path in pages(client):
            walls, cpus = measure(client, path, options.repeat)
            median = statistics.median(walls)
            flag = "  over budget" if median > BUDGET_MS else ""
            if flag:
                over.append(name)
            print(
                f"{name:<36} {median:>10.1f} {max(walls):>8.1f} "
                f"{statistics.median(cpus):>11.1f}{flag}"
            )
    finally:
        app.close()
        if not options.keep:
            with psycopg.connect(options.pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(
        f"\n{len(over)} page(s) over {BUDGET_MS:.0f} ms: {', '.join(over)}"
        if over
        else f"\nevery page under {BUDGET_MS:.0f} ms"
    )


if __name__ == "__main__":
    main()
