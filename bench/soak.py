"""Soak: tickwork on PostgreSQL under steady load for a long time (not part of the suite).

Two ``tickwork worker -c 200`` processes (``--concurrency``; every other setting their
default, as ``bench/queue.py`` runs them) and one ``tickwork scheduler`` (defaults) run
``bench/tickwork_bench_app.py`` on a fresh database, while this process enqueues ``--rate``
no-op jobs a second (``app.enqueue_many``, ``--batches-per-second`` batches) and
``--schedules`` interval schedules fire once a minute each.
Every ``--retention-minutes`` old finished runs are pruned by ``tickwork.prune``'s own
function (the task refuses less than a day of retention, which an hour would never reach),
once a minute.

Each minute it prints and appends to ``--out`` (JSON lines): runs finished, start latency
of enqueued and scheduled runs (p50/p99, from ``run_at`` to ``started_at``), the queue's
backlog, each process's RSS, the size of ``runs`` (heap and indexes) and of the other
tables, live and dead tuples, autovacuum counts, the prune's time, and the load average.
At the end it compares the first ten minutes with the last ten.

Usage::

    .venv/bin/python bench/soak.py [--minutes 60] [--rate 1000] [--schedules 1000]
                                   [--pg postgresql://postgres@127.0.0.1:5432/test]
                                   [--out soak.jsonl] [--keep]
"""

from __future__ import annotations

import sys

# Run as a script, this folder comes first on sys.path, and its queue.py would shadow the
# standard library's queue module (which psycopg imports).
if sys.path and sys.path[0].rstrip("/").endswith("bench"):
    sys.path.pop(0)

import argparse
import json
import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from tickwork.builtin_tasks.prune import prune

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
TABLES = ("runs", "run_attempts", "schedules", "audit_log", "nodes")
WINDOW_MINUTES = 10


def pg_url(admin: str, database: str) -> str:
    return f"{admin.rsplit('/', 1)[0]}/{database}"


def create_database(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return pg_url(admin, name)


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


class Processes:
    """The ``tickwork`` processes of the soak, with their logs in a temporary folder."""

    def __init__(self, url: str, workers: int, concurrency: int, folder: Path) -> None:
        tickwork = str(Path(sys.executable).parent / "tickwork")
        common = ["--app", "bench.tickwork_bench_app:app", "--db", url]
        self.named: dict[str, subprocess.Popen[bytes]] = {}
        commands = {
            f"worker{i + 1}": [tickwork, "worker", *common, "-c", str(concurrency)]
            for i in range(workers)
        }
        commands["scheduler"] = [tickwork, "scheduler", *common]
        for name, argv in commands.items():
            log = open(folder / f"{name}.log", "wb")  # noqa: SIM115 (the child keeps it)
            self.named[name] = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT
            )
            log.close()
        self.folder = folder

    def wait_started(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for name, process in self.named.items():
            marker = " started (" if name.startswith("worker") else "scheduler"
            while marker not in (self.folder / f"{name}.log").read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start; see {self.folder / name}.log")
                time.sleep(0.1)

    def rss_mib(self) -> dict[str, float]:
        sizes: dict[str, float] = {}
        for name, process in self.named.items():
            try:
                for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes[name] = int(line.split()[1]) / 1024
            except OSError:
                sizes[name] = float("nan")
        return sizes

    def check(self) -> None:
        for name, process in self.named.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}")

    def stop(self) -> None:
        for process in self.named.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.named.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def producer_app(url: str) -> Any:
    from tickwork import Context, Tickwork

    app = Tickwork(url)

    @app.task("noop")
    def noop(ctx: Context, payload: dict[str, Any]) -> None:
        """Executed by the workers, never here."""

    return app


def create_schedules(app: Any, count: int) -> None:
    """``count`` interval schedules, once a minute each, their fire times spread over the
    minute."""
    start = app.db.now().replace(microsecond=0) + timedelta(seconds=5)
    for i in range(count):
        app.schedules.create(
            name=f"soak-{i}",
            task="noop",
            payload={"s": i},
            interval=60,
            start_at=(start + timedelta(seconds=60 * i / count)).isoformat(),
        )


def produce(
    app: Any, rate: int, per_second: int, stop: threading.Event, counts: dict[str, int]
) -> None:
    """Enqueue ``rate`` jobs a second in ``per_second`` batches, on a fixed grid (a late
    batch does not push the next ones back)."""
    from tickwork.services.run_service import RunRequest

    size = max(1, rate // per_second)
    period = 1.0 / per_second
    next_at = time.monotonic()
    while not stop.is_set():
        app.enqueue_many([RunRequest("noop", {"n": k}) for k in range(size)])
        counts["enqueued"] += size
        next_at += period
        delay = next_at - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        elif delay < -1.0:
            counts["late_batches"] += 1
            next_at = time.monotonic()


SAMPLE_SQL = """
    SELECT
        count(*) FILTER (WHERE trigger = 'api'),
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - run_at))
            FILTER (WHERE trigger = 'api'),
        percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - run_at))
            FILTER (WHERE trigger = 'api'),
        count(*) FILTER (WHERE trigger <> 'api'),
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - run_at))
            FILTER (WHERE trigger <> 'api'),
        percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - run_at))
            FILTER (WHERE trigger <> 'api')
    FROM runs
    WHERE finished_at >= %(since)s AND finished_at < %(until)s AND started_at IS NOT NULL
"""

TABLE_SQL = """
    SELECT relname, n_live_tup, n_dead_tup, autovacuum_count, autoanalyze_count,
           pg_relation_size(relid), pg_indexes_size(relid)
    FROM pg_stat_user_tables WHERE relname = ANY(%(tables)s)
"""


def sample(conn: psycopg.Connection[Any], since: Any, until: Any) -> dict[str, Any]:
    row = conn.execute(SAMPLE_SQL, {"since": since, "until": until}).fetchone()
    assert row is not None
    backlog = conn.execute(
        "SELECT count(*) FROM runs WHERE status IN ('queued', 'retrying') AND run_at <= now()"
    ).fetchone()
    tables = {
        r[0]: {
            "live": r[1],
            "dead": r[2],
            "autovacuums": r[3],
            "autoanalyzes": r[4],
            "heap_mib": r[5] / 2**20,
            "index_mib": r[6] / 2**20,
        }
        for r in conn.execute(TABLE_SQL, {"tables": list(TABLES)}).fetchall()
    }

    def ms(value: Any) -> float | None:
        return None if value is None else float(value) * 1000

    return {
        "finished_api": row[0],
        "api_p50_ms": ms(row[1]),
        "api_p99_ms": ms(row[2]),
        "finished_scheduled": row[3],
        "scheduled_p50_ms": ms(row[4]),
        "scheduled_p99_ms": ms(row[5]),
        "backlog": backlog[0] if backlog else None,
        "tables": tables,
    }


def prune_once(app: Any, minutes: float) -> tuple[int, float]:
    started = time.perf_counter()
    result = prune(app, minutes / 1440)
    return result["runs"], time.perf_counter() - started


def print_minute(minute: int, figures: dict[str, Any]) -> None:
    runs = figures["tables"].get("runs", {})
    rss = " ".join(f"{v:.0f}" for v in figures["rss_mib"].values())
    print(
        f"{minute:3d} min  done {figures['finished_api'] + figures['finished_scheduled']:>7,}"
        f"  api p50/p99 {fmt(figures['api_p50_ms'])}/{fmt(figures['api_p99_ms'])} ms"
        f"  sched p50/p99 {fmt(figures['scheduled_p50_ms'])}/{fmt(figures['scheduled_p99_ms'])} ms"
        f"  backlog {figures['backlog']:>6}"
        f"  runs {runs.get('heap_mib', 0):6.0f}+{runs.get('index_mib', 0):.0f} MiB"
        f" live {runs.get('live', 0):>8,} dead {runs.get('dead', 0):>7,}"
        f" av {runs.get('autovacuums', 0)}"
        f"  pruned {figures['pruned']:>7,} in {figures['prune_s']:.1f}s"
        f"  rss {rss} MiB  load {figures['load']:.1f}",
        flush=True,
    )


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def windows(minutes: list[dict[str, Any]]) -> None:
    """Give rows of files written before ``window_s`` was recorded their window's length:
    from the end of the previous minute's prune to this minute's sample."""
    for previous, row in zip([None, *minutes], minutes, strict=False):
        if "window_s" not in row:
            row["window_s"] = (
                60.0 if previous is None else row["at"] - row["prune_s"] - previous["at"]
            )


def summary(minutes: list[dict[str, Any]]) -> None:
    window = WINDOW_MINUTES if len(minutes) >= 2 * WINDOW_MINUTES else max(1, len(minutes) // 3)
    # The first minute fills the pipeline; it is left out of "first".
    first, last = minutes[1 : 1 + window], minutes[-window:]

    def median(rows: list[dict[str, Any]], key: str) -> float:
        values = [r[key] for r in rows if r.get(key) is not None]
        return statistics.median(values) if values else float("nan")

    def per_second(rows: list[dict[str, Any]]) -> float:
        return median(
            [{"v": (r["finished_api"] + r["finished_scheduled"]) / r["window_s"]} for r in rows],
            "v",
        )

    windows(minutes)

    print()
    print(f"first {window} minutes (after the first) vs last {window}: medians of minutes")
    print(f"  runs finished per second   {per_second(first):10,.0f} {per_second(last):10,.0f}")
    for key in ("api_p50_ms", "api_p99_ms", "scheduled_p50_ms", "scheduled_p99_ms", "load"):
        print(f"  {key:<26} {median(first, key):10.1f} {median(last, key):10.1f}")
    for name in minutes[0]["rss_mib"]:
        a = statistics.median(r["rss_mib"][name] for r in first)
        b = statistics.median(r["rss_mib"][name] for r in last)
        print(f"  RSS {name:<22} {a:10.1f} {b:10.1f} MiB  ({(b / a - 1) * 100:+.1f}%)")
    for table in TABLES:
        rows = [m["tables"].get(table) for m in minutes if m["tables"].get(table)]
        if not rows:
            continue
        sizes = [r["heap_mib"] + r["index_mib"] for r in rows]
        half = len(sizes) // 2
        print(
            f"  {table:<14} heap+indexes max first half {max(sizes[:half] or [0]):8.1f} MiB, "
            f"max second half {max(sizes[half:]):8.1f} MiB, end {sizes[-1]:8.1f} MiB; "
            f"dead tuples max {max(r['dead'] for r in rows):,}, end {rows[-1]['dead']:,}; "
            f"autovacuums {rows[-1]['autovacuums']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--batches-per-second", type=int, default=20)
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--retention-minutes", type=float, default=10)
    parser.add_argument("--pg", default=os.environ.get("TICKWORK_BENCH_PG", DEFAULT_PG))
    parser.add_argument("--out", type=Path, default=Path("soak.jsonl"))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--summarize", type=Path, help="only summarise a file written before")
    args = parser.parse_args()
    if args.summarize:
        summary([json.loads(line) for line in args.summarize.read_text().splitlines()])
        return

    name = f"soak_{uuid.uuid4().hex[:6]}"
    url = create_database(args.pg, name)
    print(f"database {name}; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; load {os.getloadavg()}")
    with psycopg.connect(args.pg) as conn:
        settings = conn.execute(
            "SELECT string_agg(name || '=' || setting, ', ') FROM pg_settings WHERE name IN "
            "('server_version', 'autovacuum', 'fsync', 'synchronous_commit', 'shared_buffers')"
        ).fetchone()
    print(f"server: {settings[0] if settings else '?'}")
    app = producer_app(url)
    app.migrate()
    create_schedules(app, args.schedules)
    folder = Path(tempfile.mkdtemp(prefix="tickwork-soak-"))
    processes = Processes(url, args.workers, args.concurrency, folder)
    stop = threading.Event()
    counts = {"enqueued": 0, "late_batches": 0}
    minutes: list[dict[str, Any]] = []
    try:
        processes.wait_started()
        print(f"processes started (logs in {folder}); producing {args.rate}/s", flush=True)
        producer = threading.Thread(
            target=produce, args=(app, args.rate, args.batches_per_second, stop, counts)
        )
        producer.start()
        with psycopg.connect(url, autocommit=True) as conn, args.out.open("w") as out:
            started = time.monotonic()
            window_start = app.db.now()
            for minute in range(1, int(args.minutes) + 1):
                while time.monotonic() < started + 60 * minute:
                    processes.check()
                    if not producer.is_alive():
                        raise RuntimeError("the producer stopped")
                    time.sleep(1)
                window_end = app.db.now()
                # Runs finish a moment after they start: look a few seconds back.
                shift = timedelta(seconds=5)
                figures = sample(conn, window_start - shift, window_end - shift)
                pruned, prune_s = prune_once(app, args.retention_minutes)
                figures.update(
                    minute=minute,
                    window_s=(window_end - window_start).total_seconds(),
                    at=time.time(),
                    pruned=pruned,
                    prune_s=prune_s,
                    rss_mib=processes.rss_mib(),
                    load=os.getloadavg()[0],
                    enqueued=counts["enqueued"],
                    late_batches=counts["late_batches"],
                )
                window_start = window_end
                minutes.append(figures)
                out.write(json.dumps(figures) + "\n")
                out.flush()
                print_minute(minute, figures)
    finally:
        stop.set()
        processes.stop()
        app.close()
        if not args.keep:
            drop_database(args.pg, name)
    if minutes:
        summary(minutes)
    print(f"late producer batches: {counts['late_batches']}; load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
