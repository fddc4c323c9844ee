"""Queue benchmark: tickwork (PostgreSQL and SQLite) beside procrastinate, pgqueuer and a bare
``SKIP LOCKED`` loop, measured in one run on this machine.

For each system, on a fresh database:

- enqueue throughput: single enqueues (one transaction each) and batches of 1,000;
- processing throughput of no-op jobs with 1 and 2 worker processes (the queue is filled
  first, the workers are started and told to go together, the clock stops when no job is
  left);
- enqueue-to-start latency with an idle worker (p50/p99 over one job at a time, measured
  from the moment the enqueue call returned to the moment the handler began);
- the ceiling: a bare psycopg loop claiming and completing 100 rows per transaction
  with ``FOR UPDATE SKIP LOCKED``.

tickwork's workers are real ``tickwork worker -c 200`` processes (every other setting its
default) running ``bench/tickwork_bench_app.py``. They cannot be told to start together, so
for throughput the queue is filled with runs due a moment later, once every worker is up,
and the clock starts when they fall due.

Every system is measured ``--rounds`` times, interleaved (round 1 of every system, then
round 2, ...), and the table gives each figure's median; the load average at the start of
each measurement is printed beside it, since the machine may be shared.

procrastinate and pgqueuer are installed with pinned versions into a virtualenv of their own
(``--peers-venv``, default ``./.bench-venv``, kept apart from tickwork's environment) and
their parts run there as subprocesses of this file.

Usage::

    .venv/bin/python bench/queue.py [--jobs 10000] [--rounds 3] [--peers-venv PATH]
                                    [--pg postgresql://postgres@127.0.0.1:5432/test]
                                    [--only tickwork-pg,tickwork-sqlite,bare,procrastinate,pgqueuer]
"""

# ruff: noqa: E402
from __future__ import annotations

import os
import sys

# This file is named like the standard library's ``queue`` module, which psycopg and
# concurrent.futures import: keep its own folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse
import asyncio
import contextlib
import datetime
import json
import platform
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_VENV = Path(os.environ.get("TICKWORK_BENCH_PEERS_VENV", ROOT / ".bench-venv"))
PINS = ["procrastinate==3.10.0", "pgqueuer==1.6.0", "psycopg[binary]==3.3.9", "asyncpg==0.32.0"]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 1000
SINGLE = 1000
LATENCY_SAMPLES = 300
LATENCY_GAP = 0.01
# tickwork's workers as the comparison runs them: defaults but for the concurrency.
TICKWORK_CONCURRENCY = 200
# How far ahead the runs of a throughput measurement are due (filling the queue must end first).
TICKWORK_START_DELAY = 2.0

# -- helpers shared by every system --------------------------------------------------------


def pg_url(admin: str, database: str) -> str:
    return f"{admin.rsplit('/', 1)[0]}/{database}"


@contextlib.contextmanager
def fresh_pg_database(admin: str, name: str) -> Iterator[str]:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield pg_url(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def record_start(i: int) -> None:
    """A handler's first act in latency runs: note when job ``i`` began."""
    path = os.environ.get("BENCH_LATENCY_FILE")
    if path:
        with open(path, "a") as handle:
            handle.write(f"{i} {time.time()}\n")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class WorkerSet:
    """Worker subprocesses that load, say ``ready``, and start together on ``go``."""

    def __init__(self, argv: list[str], count: int, env: dict[str, str] | None = None) -> None:
        self.processes = [
            subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, **(env or {})},
                cwd=ROOT,
            )
            for _ in range(count)
        ]
        for process in self.processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"worker failed to start: {line!r}")

    def go(self) -> None:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()

    def check(self) -> None:
        """Fail if a worker exited on its own."""
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"a worker exited with code {process.returncode}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class CliWorkerSet(WorkerSet):
    """``tickwork worker`` processes, started as a user starts them; ready once each has
    logged that its worker started (they start on their own: there is no ``go``)."""

    def __init__(self, argv: list[str], count: int, env: dict[str, str] | None = None) -> None:
        self._logs = [tempfile.NamedTemporaryFile("w+", suffix=".log") for _ in range(count)]  # noqa: SIM115 (closed in stop)
        self.processes = [
            subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                env={**os.environ, **(env or {})},
                cwd=ROOT,
            )
            for log in self._logs
        ]
        deadline = time.monotonic() + 60
        for process, log in zip(self.processes, self._logs, strict=True):
            while " started (concurrency" not in Path(log.name).read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker failed to start: {Path(log.name).read_text()}")
                time.sleep(0.05)

    def go(self) -> None:
        """Nothing to say: the workers run already."""

    def stop(self) -> None:
        super().stop()
        for log in self._logs:
            log.close()


def wait_for_go() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


class Driver:
    """One system under test (each runs in its own virtualenv's process)."""

    name = ""
    single_enqueue = True
    # Jobs per second enqueued in batches, once measured.
    batch_rate = 0.0

    def __init__(self, url: str) -> None:
        self.url = url

    def setup(self) -> None: ...
    def reset(self) -> None: ...
    def enqueue_one(self, i: int) -> None: ...
    def enqueue_batch(self, start: int, count: int) -> None: ...
    def pending(self) -> bool:
        """Whether any job is still waiting or running (a cheap probe: it runs every 20 ms
        while the workers work, so it must not compete with them)."""
        ...

    def analyze(self) -> None: ...
    def worker_argv(self) -> list[str]: ...
    def close(self) -> None: ...

    def workers(self, count: int, env: dict[str, str] | None = None) -> WorkerSet:
        """``count`` worker processes, loaded and ready."""
        return WorkerSet(self.worker_argv(), count, env)

    def fill(self, jobs: int) -> None:
        """Queue ``jobs`` no-op jobs in batches."""
        for start in range(0, jobs, BATCH):
            self.enqueue_batch(start, min(BATCH, jobs - start))

    def process(self, jobs: int, processes: int) -> float:
        """Fill the queue, start ``processes`` workers together; jobs per second until none
        is left."""
        self.reset()
        self.fill(jobs)
        self.analyze()
        workers = self.workers(processes)
        try:
            started = time.perf_counter()
            workers.go()
            return jobs / (self.drained(workers) - started)
        finally:
            workers.stop()

    def drained(self, workers: WorkerSet) -> float:
        """Wait until no job is left; return ``time.perf_counter()`` then."""
        while self.pending():
            workers.check()
            time.sleep(0.02)
        return time.perf_counter()


def run_suite(driver: Driver, jobs: int, latency: bool = True) -> dict[str, float]:
    """Every measurement for one system; returns figures by name."""
    result: dict[str, float] = {}
    driver.setup()
    if driver.single_enqueue:
        driver.reset()
        started = time.perf_counter()
        for i in range(SINGLE):
            driver.enqueue_one(i)
        result["enqueue_single"] = SINGLE / (time.perf_counter() - started)
    driver.reset()
    started = time.perf_counter()
    for start in range(0, jobs, BATCH):
        driver.enqueue_batch(start, min(BATCH, jobs - start))
    result["enqueue_batch"] = jobs / (time.perf_counter() - started)
    driver.batch_rate = result["enqueue_batch"]
    for processes in (1, 2):
        result[f"process_{processes}"] = driver.process(jobs, processes)
    if latency:
        driver.reset()
        with tempfile.TemporaryDirectory() as folder:
            starts = Path(folder) / "starts"
            workers = driver.workers(1, {"BENCH_LATENCY_FILE": str(starts)})
            try:
                workers.go()
                time.sleep(1.0)
                enqueued: dict[int, float] = {}
                for i in range(LATENCY_SAMPLES):
                    driver.enqueue_one(i)
                    enqueued[i] = time.time()
                    time.sleep(LATENCY_GAP)
                deadline = time.monotonic() + 30
                seen: dict[int, float] = {}
                while len(seen) < LATENCY_SAMPLES and time.monotonic() < deadline:
                    time.sleep(0.05)
                    if starts.exists():
                        seen = {
                            int(a): float(b)
                            for a, b in (line.split() for line in starts.read_text().splitlines())
                        }
            finally:
                workers.stop()
        delays = [(seen[i] - enqueued[i]) * 1000 for i in seen if i in enqueued]
        if delays:
            result["latency_p50"] = percentile(delays, 0.50)
            result["latency_p99"] = percentile(delays, 0.99)
            result["latency_samples"] = len(delays)
    driver.close()
    return result


# -- tickwork ------------------------------------------------------------------------------


def tickwork_app(url: str) -> Any:
    """The producer's app (the workers run ``bench/tickwork_bench_app.py``)."""
    sys.path.insert(0, str(ROOT / "src"))
    from tickwork import Context, Tickwork

    app = Tickwork(url)

    @app.task("noop")
    def noop(ctx: Context, payload: dict[str, Any]) -> None:
        """Executed by the workers, never here."""

    return app


class TickworkDriver(Driver):
    name = "tickwork"

    def setup(self) -> None:
        from tickwork.services.run_service import RunRequest

        self.app = tickwork_app(self.url)
        self.app.migrate()
        self.request = RunRequest
        self.is_sqlite = self.url.startswith("sqlite")

    def _sql(self, sql: str) -> Any:
        import sqlalchemy as sa

        with self.app.db.write() as conn:
            result = conn.execute(sa.text(sql))
            return result.scalar() if result.returns_rows else None

    def _query(self, sql: str) -> Any:
        import sqlalchemy as sa

        # A read transaction: on SQLite a writer's would take the lock the workers need.
        with self.app.db.read() as conn:
            return conn.execute(sa.text(sql)).scalar()

    def reset(self) -> None:
        for table in ("runs", "run_attempts", "audit_log", "nodes"):
            self._sql(f"DELETE FROM {table}" if self.is_sqlite else f"TRUNCATE {table}")

    def analyze(self) -> None:
        if not self.is_sqlite:
            self._sql("ANALYZE runs")

    def enqueue_one(self, i: int) -> None:
        self.app.enqueue("noop", {"i": i})

    def enqueue_batch(self, start: int, count: int) -> None:
        self.app.enqueue_many([self.request("noop", {"n": start + k}) for k in range(count)])

    def pending(self) -> bool:
        return bool(
            self._query(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE status IN ('queued', 'retrying')) "
                "OR EXISTS (SELECT 1 FROM runs WHERE status = 'running')"
            )
        )

    def worker_argv(self) -> list[str]:
        return [
            str(Path(sys.executable).parent / "tickwork"),
            "worker",
            "--app",
            "bench.tickwork_bench_app:app",
            "--db",
            self.url,
            "-c",
            str(TICKWORK_CONCURRENCY),
        ]

    def workers(self, count: int, env: dict[str, str] | None = None) -> WorkerSet:
        return CliWorkerSet(self.worker_argv(), count, env)

    def process(self, jobs: int, processes: int) -> float:
        """Start the workers on an empty queue, then fill it with runs that fall due
        together a moment later; jobs per second from then until none is left."""
        self.reset()
        workers = self.workers(processes)
        # Long enough to fill the queue, however loaded the machine is.
        delay = max(TICKWORK_START_DELAY, 2 * jobs / self.batch_rate if self.batch_rate else 0)
        try:
            due = self.app.db.now() + datetime.timedelta(seconds=delay)
            started = time.perf_counter() + delay
            for start in range(0, jobs, BATCH):
                count = min(BATCH, jobs - start)
                self.app.enqueue_many(
                    [self.request("noop", {"n": start + k}, run_at=due) for k in range(count)]
                )
            self.analyze()
            if time.perf_counter() > started:
                raise RuntimeError("filling the queue took longer than the start delay")
            return jobs / (self.drained(workers) - started)
        finally:
            workers.stop()

    def close(self) -> None:
        self.app.close()


# -- the bare SKIP LOCKED loop ---------------------------------------------------------------


class BareDriver(Driver):
    name = "bare"

    def setup(self) -> None:
        import psycopg

        self.conn = psycopg.connect(self.url, autocommit=True)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_jobs (id bigserial PRIMARY KEY, "
            "status text NOT NULL DEFAULT 'queued', payload jsonb NOT NULL)"
        )
        self.conn.execute(
            "CREATE INDEX IF NOT EXISTS bench_jobs_queued ON bench_jobs (id) "
            "WHERE status = 'queued'"
        )

    def reset(self) -> None:
        self.conn.execute("TRUNCATE bench_jobs")

    def analyze(self) -> None:
        self.conn.execute("ANALYZE bench_jobs")

    def enqueue_one(self, i: int) -> None:
        self.conn.execute(
            "INSERT INTO bench_jobs (payload) VALUES (%s::jsonb)", (json.dumps({"i": i}),)
        )

    def enqueue_batch(self, start: int, count: int) -> None:
        payloads = [json.dumps({"n": start + k}) for k in range(count)]
        self.conn.execute(
            "INSERT INTO bench_jobs (payload) SELECT unnest(%s::jsonb[])", (payloads,)
        )

    def pending(self) -> bool:
        row = self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM bench_jobs WHERE status = 'queued') "
            "OR EXISTS (SELECT 1 FROM bench_jobs WHERE status = 'running')"
        ).fetchone()
        return bool(row[0]) if row else False

    def worker_argv(self) -> list[str]:
        return [sys.executable, __file__, "_worker", "bare", self.url]

    def close(self) -> None:
        self.conn.close()


def bare_worker(url: str) -> None:
    import psycopg

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    conn = psycopg.connect(url)
    wait_for_go()
    while not stop.is_set():
        with conn.transaction():
            rows = conn.execute(
                "WITH picked AS (SELECT id FROM bench_jobs WHERE status = 'queued' "
                "ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED) "
                "UPDATE bench_jobs AS j SET status = 'running' FROM picked "
                "WHERE j.id = picked.id RETURNING j.id, j.payload"
            ).fetchall()
            if rows:
                conn.execute(
                    "UPDATE bench_jobs SET status = 'done' WHERE id = ANY(%s)",
                    ([r[0] for r in rows],),
                )
        if not rows:
            stop.wait(0.01)
    conn.close()


# -- procrastinate (in .bench-venv) ------------------------------------------------------------


def procrastinate_app(url: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop")
    async def noop(i: int | None = None, n: int | None = None) -> None:
        if i is not None:
            record_start(i)

    return app, noop


class ProcrastinateDriver(Driver):
    name = "procrastinate"

    def setup(self) -> None:
        import psycopg

        self.app, self.noop = procrastinate_app(self.url)
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.app.open_async())
        self.loop.run_until_complete(self.app.schema_manager.apply_schema_async())
        self.conn = psycopg.connect(self.url, autocommit=True)

    def reset(self) -> None:
        self.conn.execute("TRUNCATE procrastinate_jobs CASCADE")

    def analyze(self) -> None:
        self.conn.execute("ANALYZE procrastinate_jobs")

    def enqueue_one(self, i: int) -> None:
        self.loop.run_until_complete(self.noop.defer_async(i=i))

    def enqueue_batch(self, start: int, count: int) -> None:
        self.loop.run_until_complete(
            self.noop.batch_defer_async(*[{"n": start + k} for k in range(count)])
        )

    def pending(self) -> bool:
        row = self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE status IN ('todo', 'doing'))"
        ).fetchone()
        return bool(row[0]) if row else False

    def worker_argv(self) -> list[str]:
        return [sys.executable, __file__, "_worker", "procrastinate", self.url]

    def close(self) -> None:
        self.loop.run_until_complete(self.app.close_async())
        self.conn.close()


def procrastinate_worker(url: str) -> None:
    app, _ = procrastinate_app(url)
    concurrency = int(os.environ.get("BENCH_CONCURRENCY", "10"))

    async def main() -> None:
        async with app.open_async():
            wait_for_go()
            worker = asyncio.ensure_future(
                app.run_worker_async(
                    concurrency=concurrency, wait=True, install_signal_handlers=False
                )
            )
            stop = asyncio.Event()
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()
            worker.cancel()
            with contextlib.suppress(BaseException):
                await worker

    asyncio.run(main())


# -- pgqueuer (in .bench-venv) -------------------------------------------------------------------


class PgqueuerDriver(Driver):
    name = "pgqueuer"

    def setup(self) -> None:
        import asyncpg
        import psycopg
        from pgqueuer.db import AsyncpgDriver
        from pgqueuer.queries import Queries

        self.loop = asyncio.new_event_loop()
        self.apg = self.loop.run_until_complete(asyncpg.connect(self.url))
        self.queries = Queries(AsyncpgDriver(self.apg))
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(self.queries.install())
        self.conn = psycopg.connect(self.url, autocommit=True)

    def reset(self) -> None:
        self.conn.execute("TRUNCATE pgqueuer, pgqueuer_log")

    def analyze(self) -> None:
        self.conn.execute("ANALYZE pgqueuer")

    def enqueue_one(self, i: int) -> None:
        self.loop.run_until_complete(self.queries.enqueue("noop", str(i).encode()))

    def enqueue_batch(self, start: int, count: int) -> None:
        self.loop.run_until_complete(
            self.queries.enqueue(
                ["noop"] * count, [str(start + k).encode() for k in range(count)], [0] * count
            )
        )

    def pending(self) -> bool:
        row = self.conn.execute("SELECT EXISTS (SELECT 1 FROM pgqueuer)").fetchone()
        return bool(row[0]) if row else False

    def worker_argv(self) -> list[str]:
        return [sys.executable, __file__, "_worker", "pgqueuer", self.url]

    def close(self) -> None:
        self.loop.run_until_complete(self.apg.close())
        self.conn.close()


def pgqueuer_worker(url: str) -> None:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.qm import QueueManager
    from pgqueuer.queries import Queries

    batch = int(os.environ.get("BENCH_BATCH", "10"))

    async def main() -> None:
        connection = await asyncpg.connect(url)
        manager = QueueManager(Queries(AsyncpgDriver(connection)))

        @manager.entrypoint("noop")
        async def noop(job: Any) -> None:
            if os.environ.get("BENCH_LATENCY_FILE") and job.payload:
                record_start(int(job.payload.decode()))

        wait_for_go()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, manager.shutdown.set)
        await manager.run(batch_size=batch, dequeue_timeout=datetime.timedelta(seconds=1))
        await connection.close()

    asyncio.run(main())


# -- orchestration ---------------------------------------------------------------------------

DRIVERS: dict[str, Callable[[str], Driver]] = {
    "tickwork": TickworkDriver,
    "bare": BareDriver,
    "procrastinate": ProcrastinateDriver,
    "pgqueuer": PgqueuerDriver,
}
WORKERS: dict[str, Callable[[str], None]] = {
    "bare": bare_worker,
    "procrastinate": procrastinate_worker,
    "pgqueuer": pgqueuer_worker,
}


def ensure_bench_venv(venv: Path) -> Path:
    """The peers' virtualenv at ``venv``, created and given the pinned packages if needed."""
    python = venv / "bin" / "python"
    stamp = venv / ".pins"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not stamp.exists() or stamp.read_text() != "\n".join(PINS):
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PINS], check=True)
        stamp.write_text("\n".join(PINS))
    return python


def run_part(
    python: str, system: str, url: str, jobs: int, env: dict[str, str]
) -> dict[str, float]:
    """Run one system's suite in a subprocess of ``python``; return its figures."""
    out = subprocess.run(
        [python, __file__, "_suite", system, url, str(jobs)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
    ).stdout
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


def machine_info(admin: str) -> list[str]:
    import psycopg

    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    with psycopg.connect(admin) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        fsync = conn.execute("SHOW fsync").fetchone()
        commit = conn.execute("SHOW synchronous_commit").fetchone()
    return [
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {platform.node()}, {os.cpu_count()} cores ({cpu}){memory}, "
        f"{platform.system()} {platform.release()}",
        f"python: {platform.python_version()}; PostgreSQL {version[0] if version else '?'} "
        f"(fsync={fsync[0] if fsync else '?'}, synchronous_commit={commit[0] if commit else '?'})",
        f"load average at start: {os.getloadavg()[0]:.2f}",
    ]


ROWS = [
    ("enqueue_single", "enqueue, single (jobs/s)", "{:,.0f}"),
    ("enqueue_batch", f"enqueue, batches of {BATCH:,} (jobs/s)", "{:,.0f}"),
    ("process_1", "no-op processing, 1 process (jobs/s)", "{:,.0f}"),
    ("process_2", "no-op processing, 2 processes (jobs/s)", "{:,.0f}"),
    ("latency_p50", "enqueue-to-start p50 (ms)", "{:.2f}"),
    ("latency_p99", "enqueue-to-start p99 (ms)", "{:.2f}"),
    ("load", "load average at the start", "{:.2f}"),
]


def print_table(columns: dict[str, dict[str, float]]) -> None:
    names = list(columns)
    label_width = max(len(label) for _, label, _ in ROWS)
    widths = [max(len(n), 10) for n in names]
    header = "  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))
    print(" " * label_width + "  " + header)
    for key, label, fmt in ROWS:
        cells = []
        for name, width in zip(names, widths, strict=True):
            value = columns[name].get(key)
            cells.append(("-" if value is None else fmt.format(value)).rjust(width))
        print(label.ljust(label_width) + "  " + "  ".join(cells))


def medians(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the rounds that measured it."""
    keys = {key for figures in rounds for key in figures}
    return {
        key: statistics.median(figures[key] for figures in rounds if key in figures) for key in keys
    }


def plan_of(wanted: set[str]) -> list[tuple[str, str, str, dict[str, str]]]:
    """(column, system, database, environment) of each measurement asked for."""
    plan: list[tuple[str, str, str, dict[str, str]]] = []
    if "procrastinate" in wanted:
        plan.append(("procrastinate", "procrastinate", "pg", {}))
    if "pgqueuer" in wanted:
        plan.append(("pgqueuer b10", "pgqueuer", "pg", {"BENCH_BATCH": "10"}))
        plan.append(("pgqueuer b100", "pgqueuer", "pg", {"BENCH_BATCH": "100"}))
    if "tickwork-pg" in wanted:
        plan.append(("tickwork pg", "tickwork", "pg", {}))
    if "tickwork-sqlite" in wanted:
        plan.append(("tickwork sqlite", "tickwork", "sqlite", {}))
    if "bare" in wanted:
        plan.append(("bare loop", "bare", "pg", {}))
    return plan


def measure(
    python: str, system: str, backend: str, admin: str, jobs: int, env: dict[str, str]
) -> dict[str, float]:
    """One round of one system, on a database of its own."""
    load = os.getloadavg()[0]
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            figures = run_part(python, system, f"sqlite:///{folder}/bench.db", jobs, env)
    else:
        name = f"bench_{system}_{uuid.uuid4().hex[:6]}"
        with fresh_pg_database(admin, name) as url:
            figures = run_part(python, system, url, jobs, env)
    return {**figures, "load": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("TICKWORK_BENCH_PG", DEFAULT_PG))
    parser.add_argument("--peers-venv", type=Path, default=BENCH_VENV)
    parser.add_argument("--only", default="tickwork-pg,tickwork-sqlite,procrastinate,pgqueuer,bare")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    for line in machine_info(args.pg):
        print(line)
    print(
        f"jobs per measurement: {args.jobs:,}; latency: {LATENCY_SAMPLES} jobs, one at a time; "
        f"{args.rounds} interleaved rounds, medians shown"
    )
    print(flush=True)
    others = None
    if wanted & {"procrastinate", "pgqueuer"}:
        others = str(ensure_bench_venv(args.peers_venv))
    plan = plan_of(wanted)
    rounds: dict[str, list[dict[str, float]]] = {column: [] for column, *_ in plan}
    for number in range(1, args.rounds + 1):
        for column, system, backend, env in plan:
            python = others if system in ("procrastinate", "pgqueuer") else sys.executable
            assert python is not None
            print(f"round {number}: measuring {column} ...", file=sys.stderr, flush=True)
            rounds[column].append(measure(python, system, backend, args.pg, args.jobs, env))
        print(f"-- round {number}")
        print_table({column: figures[-1] for column, figures in rounds.items()})
        print(flush=True)
    print(f"-- medians of {args.rounds} rounds")
    print_table({column: medians(figures) for column, figures in rounds.items()})
    print()
    print(
        "pgqueuer b10/b100: its worker's batch size; tickwork: `tickwork worker -c "
        f"{TICKWORK_CONCURRENCY}`, every other setting its default; procrastinate: "
        "concurrency 10; bare loop: no notifications, so no latency."
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def entry() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_suite":
        system, url, jobs = sys.argv[2], sys.argv[3], int(sys.argv[4])
        figures = run_suite(DRIVERS[system](url), jobs, latency=system != "bare")
        print(json.dumps(figures))
    elif len(sys.argv) > 1 and sys.argv[1] == "_worker":
        WORKERS[sys.argv[2]](sys.argv[3])
    else:
        main()


if __name__ == "__main__":
    entry()
