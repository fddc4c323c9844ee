"""The worker: claims runnable runs in batches, executes them, records outcomes in batches.

Threads of one worker:

- the claim loop (the caller of :meth:`WorkerService.run`) claims up to the number of free
  slots in one statement and hands each run to a handler thread or the event loop;
- the recorder writes finished attempts in batches, each fenced by its claim token, so an
  attempt that was superseded (its worker stalled and the run was rescued) records nothing;
- the heartbeat thread refreshes the heartbeat of running runs, learns of cancellations and
  of runs this worker lost, and rescues runs of dead workers;
- the watchdog fails attempts that exceed their timeout.

No handler runs inside a database transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import heapq
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.context import Context
from tickwork.domain.errors import ConflictError, DatabaseUnavailableError
from tickwork.domain.models import RunStatus
from tickwork.registry import Task, TaskRegistry
from tickwork.services.execution import (
    DaemonThreadPool,
    EventLoopThread,
    Stopped,
    outcome_of,
)
from tickwork.services.rescuer import DEFAULT_STALL_TIMEOUT, StallRescuer
from tickwork.services.wakeup import Wakeup
from tickwork.storage.database import Database
from tickwork.storage.queue_sql import ClaimedRun, FinishedRun, Outcome
from tickwork.storage.run_store import RunStore
from tickwork.storage.schedule_store import ScheduleStore

log = logging.getLogger("tickwork.worker")

DEFAULT_CONCURRENCY = 10
DEFAULT_POLL_INTERVAL = 1.0
DEFAULT_HEARTBEAT_INTERVAL = 5.0
DEFAULT_SHUTDOWN_GRACE = 30.0
RECORD_BATCH = 500
# How long a decided outcome waits for the claim loop to carry it in its next transaction
# before the recorder thread writes it on its own.
RECORD_LINGER = 0.01
# How often an idle worker on SQLite looks for commits of other processes.
SQLITE_WATCH_INTERVAL = 0.005
# While runs are waiting, the claim loop lets free slots add up to half a batch (or for this
# long) before claiming, so a busy worker claims in batches instead of once per finished run.
CLAIM_LINGER = 0.02
# How often a batch refused for a key conflict (a concurrent enqueue) is tried again.
CONFLICT_RETRIES = 5


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How a worker runs."""

    # Handlers running at once (threads for ``def`` handlers; ``async def`` share one loop).
    concurrency: int = DEFAULT_CONCURRENCY
    # Queues to take runs from; ``None`` means all.
    queues: tuple[str, ...] | None = None
    # Longest sleep when idle; a notification or a run becoming due ends it sooner.
    poll_interval: float = DEFAULT_POLL_INTERVAL
    # Most runs claimed in one statement (default: the concurrency).
    claim_batch: int | None = None
    # How often running runs and this worker's node row are heartbeated.
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    # A run whose heartbeat is older than this belonged to a dead worker.
    stall_timeout: float = DEFAULT_STALL_TIMEOUT
    # How long a stopping worker waits for running handlers before releasing their runs.
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.heartbeat_interval <= 0 or self.poll_interval <= 0:
            raise ValueError("heartbeat_interval and poll_interval must be positive")
        if self.stall_timeout <= self.heartbeat_interval:
            raise ValueError("stall_timeout must be longer than heartbeat_interval")
        if self.shutdown_grace < 0:
            raise ValueError("shutdown_grace must not be negative")

    @property
    def batch(self) -> int:
        """Most runs claimed per statement."""
        return max(1, min(self.claim_batch or self.concurrency, self.concurrency))


@dataclass(eq=False, slots=True)
class InFlight:
    """A claimed run on this worker, from claim until its outcome is recorded."""

    run: ClaimedRun
    ctx: Context
    task: Task | None
    # Set once an outcome is decided (handler returned, timed out, released or lost);
    # whatever happens to the run afterwards on this worker is ignored.
    decided: bool = False
    # Set once the handler's thread or coroutine has returned (its slot is then free).
    returned: bool = False
    stopped: Stopped | None = None
    deadline: float | None = None
    async_task: asyncio.Task[Any] | None = None


@dataclass(slots=True)
class WorkerStats:
    """Counters a worker keeps for tests, metrics and the node row."""

    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    cancelled: int = 0
    refused: int = 0
    lost: int = 0
    released: int = 0
    rescued: int = 0
    durations: list[float] = field(default_factory=list)


class WorkerService:
    """One worker process's duties. ``run(stop)`` blocks until ``stop`` is set."""

    def __init__(
        self,
        db: Database,
        registry: TaskRegistry,
        wakeup: Wakeup,
        config: WorkerConfig | None = None,
        *,
        worker_id: str | None = None,
        on_finished: Callable[[Sequence[FinishedRun], Sequence[Outcome]], None] | None = None,
        cancel_wakeup: Wakeup | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.wakeup = wakeup
        self.config = config or WorkerConfig()
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self.store = RunStore(db.dialect)
        self.schedules = ScheduleStore(db.dialect)
        self.rescuer = StallRescuer(db, self.config.stall_timeout)
        self.on_finished = on_finished
        self.stats = WorkerStats()
        self._lock = threading.Condition()
        self._inflight: dict[int, InFlight] = {}
        self._busy = 0
        # Free slots the waiting claim loop needs before it is worth waking (0: not waiting).
        self._claim_need = 0
        # Woken when an operator cancels a running run (PostgreSQL NOTIFY), so the
        # heartbeat thread tells the handler at once instead of at its next beat.
        self._cancel_wakeup = cancel_wakeup or Wakeup()
        # Decided outcomes not yet written. The claim loop writes them in the transaction of
        # its next claim; the recorder writes those that waited RECORD_LINGER (a saturated
        # worker), all of them at once while the claim loop sleeps for want of runs (no claim
        # is coming to carry them), and those a combined write failed on ("difficult" ones).
        self._pending: list[tuple[InFlight, Outcome]] = []
        self._pending_since = 0.0
        self._claim_idle = False
        self._difficult: list[tuple[InFlight, Outcome]] = []
        self._pending_lock = threading.Condition()
        self._recorder_stop = False
        self._deadlines: list[tuple[float, int, InFlight]] = []
        self._deadline_seq = 0
        self._stopping = threading.Event()
        self._pool: DaemonThreadPool | None = None
        self._loop: EventLoopThread | None = None
        self._threads: list[threading.Thread] = []
        # Signals tests and the all-in-one runner wait on.
        self.started = threading.Event()
        self.recorded = threading.Event()
        self._changes: Callable[[], int] | None = None

    # -- public ------------------------------------------------------------------------

    @property
    def running(self) -> int:
        """Handlers currently executing."""
        with self._lock:
            return self._busy

    def info(self) -> dict[str, Any]:
        """What the node row shows about this worker."""
        return {
            "worker_id": self.worker_id,
            "concurrency": self.config.concurrency,
            "queues": list(self.config.queues) if self.config.queues else None,
            "running": self.running,
            "claimed": self.stats.claimed,
            "succeeded": self.stats.succeeded,
            "failed": self.stats.failed,
            "retried": self.stats.retried,
            "cancelled": self.stats.cancelled,
            "refused": self.stats.refused,
            "lost": self.stats.lost,
            "released": self.stats.released,
            "rescued": self.stats.rescued,
        }

    def run(self, stop: threading.Event) -> None:
        """Claim and execute runs until ``stop`` is set, then shut down gracefully."""
        self._start_threads()
        self.started.set()
        log.info(
            "worker %s started (concurrency %d, queues %s)",
            self.worker_id,
            self.config.concurrency,
            ",".join(self.config.queues) if self.config.queues else "all",
        )
        try:
            self._claim_loop(stop)
        finally:
            self._shutdown()

    def run_until_idle(self, timeout: float = 30.0) -> None:
        """Process runnable runs until none is left and nothing is executing (for tests)."""
        stop = threading.Event()
        self._start_threads()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                _, claimed = self._claim_once()
                if not claimed:
                    with self._lock:
                        idle = not self._inflight
                    if idle:
                        break
                    with self._lock:
                        self._lock.wait(0.01)
        finally:
            stop.set()
            self._shutdown()

    # -- threads -----------------------------------------------------------------------

    def _start_threads(self) -> None:
        self._stopping.clear()
        self._recorder_stop = False
        if self._changes is None:
            self._changes = self.db.change_counter()
        self._pool = DaemonThreadPool(self.config.concurrency)
        self._loop = EventLoopThread()
        self._threads = [
            threading.Thread(target=self._record_loop, name="tickwork-recorder", daemon=True),
            threading.Thread(
                target=self._heartbeat_loop, name="tickwork-run-heartbeat", daemon=True
            ),
            threading.Thread(target=self._watchdog_loop, name="tickwork-watchdog", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _claim_loop(self, stop: threading.Event) -> None:
        backoff = 0.25
        backlog = False
        while not stop.is_set():
            self._wait_for_slots(stop, backlog)
            if stop.is_set():
                break
            try:
                asked, claimed = self._claim_once()
                backoff = 0.25
            except DatabaseUnavailableError as exc:
                log.warning(
                    "worker cannot reach the database (%s); retrying in %.1fs", exc, backoff
                )
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            except Exception:
                log.exception("claiming runs failed; retrying")
                stop.wait(self.config.poll_interval)
                continue
            # A full claim means more runs are waiting: claim again as slots free up.
            backlog = claimed > 0 and claimed == asked
            if claimed == 0:
                self._set_claim_idle(True)
                try:
                    self._sleep(self._idle_delay())
                finally:
                    self._set_claim_idle(False)

    def _set_claim_idle(self, idle: bool) -> None:
        with self._pending_lock:
            self._claim_idle = idle
            if idle and self._pending:
                self._pending_lock.notify_all()

    def _sleep(self, delay: float) -> None:
        """Sleep until woken, a change in the database (SQLite), or ``delay`` seconds."""
        if self._changes is None:
            self.wakeup.wait(delay)
            return
        deadline = time.monotonic() + delay
        try:
            version = self._changes()
            while (left := deadline - time.monotonic()) > 0:
                if self.wakeup.wait(min(SQLITE_WATCH_INTERVAL, left)):
                    return
                if self._changes() != version:
                    return
        except Exception as exc:
            log.debug("watching the SQLite file failed (%s); polling instead", exc)
            self.wakeup.wait(max(0.0, deadline - time.monotonic()))

    def _wait_for_slots(self, stop: threading.Event, backlog: bool) -> None:
        """Block until a slot is free; with a backlog, let up to half a batch free up."""
        with self._lock:
            while self.config.concurrency - self._busy < 1 and not stop.is_set():
                self._claim_need = 1
                self._lock.wait(0.5)
            want = max(1, self.config.batch // 2)
            if backlog and self.config.concurrency - self._busy < want:
                deadline = time.monotonic() + CLAIM_LINGER
                while self.config.concurrency - self._busy < want and not stop.is_set():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._claim_need = want
                    self._lock.wait(remaining)
            self._claim_need = 0

    def _idle_delay(self) -> float:
        try:
            with self.db.read() as conn:
                next_at = self.store.next_run_at(conn, self.config.queues)
        except DatabaseUnavailableError:
            return self.config.poll_interval
        if next_at is None:
            return self.config.poll_interval
        delay = (next_at - self.db.now()).total_seconds()
        return max(0.001, min(delay, self.config.poll_interval))

    def _claim_once(self) -> tuple[int, int]:
        """Claim as many runs as there are free slots (up to a batch); dispatch them."""
        with self._lock:
            free = self.config.concurrency - self._busy
        limit = min(free, self.config.batch)
        if limit <= 0:
            return 0, 0
        token = uuid.uuid4().hex
        # Outcomes decided since the last claim ride along in the same transaction: one
        # commit per batch instead of two.
        batch = self._take_outcomes()
        accepted: list[FinishedRun] = []
        try:
            with self.db.write(queue=True) as conn:
                if batch:
                    accepted = self._finish_in(conn, [outcome for _, outcome in batch])
                runs = self.store.claim(
                    conn,
                    worker_id=self.worker_id,
                    token=token,
                    now=self.db.now(),
                    limit=limit,
                    queues=self.config.queues,
                )
        except BaseException:
            if batch:
                # The recorder retries them on its own, with its handling of failures.
                with self._pending_lock:
                    self._difficult.extend(batch)
                    self._pending_lock.notify_all()
            raise
        if batch:
            self._recorded(batch, accepted)
        if runs:
            self._dispatch(runs)
            self.stats.claimed += len(runs)
        return limit, len(runs)

    def _dispatch(self, runs: list[ClaimedRun]) -> None:
        items = [self._in_flight(run) for run in runs]
        with self._lock:
            for item in items:
                self._inflight[item.run.id] = item
            self._busy += len(items)
        assert self._pool is not None
        assert self._loop is not None
        for item in items:
            run, task = item.run, item.task
            if run.cancel_requested:
                self._stop_item(item, Stopped("cancel", "cancelled by an operator"))
            if task is None:
                self._complete(
                    item,
                    error=LookupError(f"unknown task {run.task!r}: not registered in this worker"),
                )
                continue
            if run.timeout:
                item.deadline = time.monotonic() + run.timeout
            if task.is_async:
                self._loop.submit(self._execute_async(item))
            else:
                if item.deadline is not None:
                    self._watch(item)
                self._pool.submit(functools.partial(self._execute_sync, item))

    def _in_flight(self, run: ClaimedRun) -> InFlight:
        ctx = Context(
            run_id=run.id,
            task=run.task,
            attempt=run.attempt,
            max_attempts=run.max_attempts,
            payload=run.payload,
            trigger=run.trigger,
            queue=run.queue,
            scheduled_for=run.scheduled_for,
            schedule_id=run.schedule_id,
            tenant_id=run.tenant_id,
        )
        return InFlight(run=run, ctx=ctx, task=self.registry.find(run.task))

    def _arguments(self, item: InFlight) -> tuple[Any, ...]:
        assert item.task is not None
        if not item.task.wants_config:
            return (item.ctx,)
        return (item.ctx, item.task.build_argument(item.run.payload))

    def _execute_sync(self, item: InFlight) -> None:
        try:
            result = item.task.handler(*self._arguments(item))  # type: ignore[union-attr]
        except BaseException as exc:
            self._complete(item, error=exc)
        else:
            self._complete(item, result=result)

    async def _execute_async(self, item: InFlight) -> None:
        timer: asyncio.TimerHandle | None = None
        try:
            assert item.task is not None
            task = asyncio.ensure_future(item.task.handler(*self._arguments(item)))
            item.async_task = task
            if item.stopped is not None:
                task.cancel()
            if item.deadline is not None:
                timer = asyncio.get_running_loop().call_later(
                    max(0.0, item.deadline - time.monotonic()), self._time_out, item
                )
            result = await task
        except BaseException as exc:
            # A timeout or a cancellation cancels the task; ``item.stopped`` says which.
            self._complete(item, error=exc)
        else:
            self._complete(item, result=result)
        finally:
            if timer is not None:
                timer.cancel()

    def _time_out(self, item: InFlight) -> None:
        timeout = item.run.timeout or 0
        self._stop_item(item, Stopped("timeout", f"timed out after {timeout:g}s"))

    # -- outcomes ----------------------------------------------------------------------

    def _finish(
        self, item: InFlight, *, result: Any = None, error: BaseException | None = None
    ) -> None:
        """Decide the attempt's outcome (once) and queue it for the recorder."""
        with self._lock:
            if item.decided:
                return
            item.decided = True
        self._queue_outcome(item, self._outcome(item, result, error))

    def _complete(
        self, item: InFlight, *, result: Any = None, error: BaseException | None = None
    ) -> None:
        """The handler returned (or raised): decide the outcome and free its slot."""
        with self._lock:
            decide = not item.decided
            item.decided = True
        if decide:
            self._queue_outcome(item, self._outcome(item, result, error))
        self._returned(item)

    def _outcome(self, item: InFlight, result: Any, error: BaseException | None) -> Outcome:
        now = self.db.now()
        try:
            return outcome_of(
                item.run, item.ctx, now, result=result, error=error, stopped=item.stopped
            )
        except Exception as exc:
            log.exception("cannot describe the outcome of run %s", item.run.id)
            return Outcome(
                item.run.id,
                item.run.token,
                RunStatus.FAILED,
                now,
                error=f"the worker could not describe the attempt's outcome: {exc!r}",
                key=item.run.key,
            )

    def _returned(self, item: InFlight) -> None:
        with self._lock:
            if item.returned:
                return
            item.returned = True
            self._busy -= 1
            free = self.config.concurrency - self._busy
            # Wake the claim loop only when enough slots are free for it to act on, and a
            # stopping worker when the last handler returns.
            if (self._claim_need and free >= self._claim_need) or self._busy == 0:
                self._lock.notify_all()

    def _stop_item(self, item: InFlight, stopped: Stopped) -> None:
        """Tell a handler to stop (timeout, cancellation); for ``async def``, cancel its task."""
        if item.stopped is None:
            item.stopped = stopped
        item.ctx.cancel()
        task = item.async_task
        if task is not None and self._loop is not None:
            self._loop.call(task.cancel)

    def _queue_outcome(self, item: InFlight, outcome: Outcome) -> None:
        with self._pending_lock:
            if not self._pending:
                self._pending_since = time.monotonic()
                self._pending_lock.notify_all()
            self._pending.append((item, outcome))
            if len(self._pending) >= RECORD_BATCH:
                self._pending_lock.notify_all()

    def _take_outcomes(self) -> list[tuple[InFlight, Outcome]]:
        with self._pending_lock:
            batch, self._pending = self._pending[:RECORD_BATCH], self._pending[RECORD_BATCH:]
            if self._pending:
                self._pending_since = time.monotonic()
        return batch

    def _record_loop(self) -> None:
        while True:
            with self._pending_lock:
                while not (self._pending or self._difficult or self._recorder_stop):
                    self._pending_lock.wait()
                if self._difficult:
                    batch, self._difficult = self._difficult, []
                else:
                    # Give the claim loop a moment to carry these in its next transaction.
                    while (
                        self._pending
                        and not self._recorder_stop
                        and not self._claim_idle
                        and len(self._pending) < RECORD_BATCH
                        and (left := self._pending_since + RECORD_LINGER - time.monotonic()) > 0
                    ):
                        self._pending_lock.wait(left)
                    if not self._pending and self._recorder_stop:
                        return
                    batch = self._pending[:RECORD_BATCH]
                    self._pending = self._pending[RECORD_BATCH:]
                    if self._pending:
                        self._pending_since = time.monotonic()
            if batch:
                self._record(batch)

    def _record(self, batch: list[tuple[InFlight, Outcome]]) -> None:
        outcomes = [outcome for _, outcome in batch]
        self._recorded(batch, self._write_outcomes(outcomes))

    def _recorded(self, batch: list[tuple[InFlight, Outcome]], accepted: list[FinishedRun]) -> None:
        outcomes = [outcome for _, outcome in batch]
        self._count(outcomes, {f.id for f in accepted})
        with self._lock:
            for item, _ in batch:
                if self._inflight.get(item.run.id) is item:
                    del self._inflight[item.run.id]
            self._lock.notify_all()
        if self.on_finished is not None:
            self.on_finished(accepted, outcomes)
        self.recorded.set()

    def _write_outcomes(self, outcomes: list[Outcome]) -> list[FinishedRun]:
        """Write outcomes in one transaction, retrying while the database is away.

        Outcomes are fenced by their tokens, so writing one again is harmless. A batch that
        fails for another reason is written one outcome at a time, so one unwritable outcome
        cannot make the others' runs be executed again; an outcome that still fails is
        written as a plain failure naming the problem.
        """
        backoff = 0.25
        conflicts = 0
        while True:
            try:
                return self._write(outcomes)
            except DatabaseUnavailableError as exc:
                log.warning("cannot record %d outcomes (%s); retrying", len(outcomes), exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            except ConflictError:
                conflicts += 1
                if conflicts > CONFLICT_RETRIES:
                    break
            except Exception:
                log.exception("recording %d outcomes failed", len(outcomes))
                break
        if len(outcomes) > 1:
            return [f for outcome in outcomes for f in self._write_outcomes([outcome])]
        outcome = outcomes[0]
        if outcome.status is RunStatus.FAILED and outcome.result is None and not outcome.logs:
            log.error("outcome of run %s cannot be recorded; it will be rescued", outcome.run_id)
            return []
        fallback = dataclasses.replace(
            outcome,
            status=RunStatus.FAILED,
            result=None,
            logs=None,
            traceback=None,
            retry_at=None,
            error=f"the attempt's outcome ({outcome.status.value}) could not be recorded; "
            "see the worker's log",
        )
        return self._write_outcomes([fallback])

    def _write(self, outcomes: list[Outcome]) -> list[FinishedRun]:
        with self.db.write(queue=True) as conn:
            return self._finish_in(conn, outcomes)

    def _finish_in(self, conn: Connection, outcomes: list[Outcome]) -> list[FinishedRun]:
        accepted = self.store.finish(conn, outcomes)
        last = {
            f.schedule_id: f.status
            for f in accepted
            if f.schedule_id is not None and f.status != RunStatus.RETRYING.value
        }
        self.schedules.set_last_status(conn, last)
        return accepted

    def _count(self, outcomes: list[Outcome], accepted: set[int]) -> None:
        for outcome in outcomes:
            if outcome.run_id not in accepted:
                self.stats.refused += 1
                log.warning(
                    "outcome of run %s refused: the attempt was superseded (this worker stalled?)",
                    outcome.run_id,
                )
                continue
            match outcome.status:
                case RunStatus.SUCCEEDED:
                    self.stats.succeeded += 1
                case RunStatus.RETRYING:
                    self.stats.retried += 1
                case RunStatus.CANCELLED:
                    self.stats.cancelled += 1
                case _:
                    self.stats.failed += 1

    # -- heartbeats, cancellations, rescue -------------------------------------------------

    def _heartbeat_loop(self) -> None:
        next_rescue = time.monotonic() + self.config.heartbeat_interval
        while not self._stopping.is_set():
            self._cancel_wakeup.wait(max(0.0, next_rescue - time.monotonic()))
            if self._stopping.is_set():
                return
            try:
                self.heartbeat()
                if time.monotonic() >= next_rescue:
                    next_rescue = time.monotonic() + self.config.heartbeat_interval
                    self.stats.rescued += self.rescuer.rescue()
            except DatabaseUnavailableError as exc:
                log.warning("run heartbeat failed (%s)", exc)
            except Exception:
                log.exception("run heartbeat failed")

    def heartbeat(self) -> None:
        """Refresh heartbeats of this worker's runs; act on cancellations and lost runs."""
        with self._lock:
            items = [i for i in self._inflight.values() if i.run.token is not None]
        if not items:
            return
        fences = [(i.run.id, i.run.token) for i in items if i.run.token is not None]
        with self.db.write(queue=True) as conn:
            owned, cancel = self.store.heartbeat(conn, fences, self.db.now())
        for item in items:
            if item.run.id in cancel:
                self._stop_item(item, Stopped("cancel", "cancelled by an operator"))
            if item.run.id not in owned:
                with self._lock:
                    if item.decided or self._inflight.get(item.run.id) is not item:
                        continue
                    item.decided = True
                    self._inflight.pop(item.run.id, None)
                self.stats.lost += 1
                log.warning(
                    "run %s is no longer this worker's (it was rescued after a stall); "
                    "its outcome will not be recorded",
                    item.run.id,
                )
                self._stop_item(item, Stopped("lost", "superseded"))

    def _watch(self, item: InFlight) -> None:
        assert item.deadline is not None
        with self._lock:
            self._deadline_seq += 1
            heapq.heappush(self._deadlines, (item.deadline, self._deadline_seq, item))
            self._lock.notify_all()

    def _watchdog_loop(self) -> None:
        while not self._stopping.is_set():
            expired: list[InFlight] = []
            with self._lock:
                now = time.monotonic()
                while self._deadlines and self._deadlines[0][0] <= now:
                    expired.append(heapq.heappop(self._deadlines)[2])
                wait = self._deadlines[0][0] - now if self._deadlines else 0.5
                if not expired:
                    self._lock.wait(min(wait, 0.5))
            for item in expired:
                if item.decided:
                    continue
                self._time_out(item)
                # The thread cannot be killed; its slot stays taken until the handler
                # returns, but the attempt is recorded as failed now.
                self._finish(item, error=TimeoutError(f"timed out after {item.run.timeout:g}s"))

    # -- shutdown ----------------------------------------------------------------------

    def _shutdown(self) -> None:
        deadline = time.monotonic() + self.config.shutdown_grace
        with self._lock:
            while self._busy and time.monotonic() < deadline:
                self._lock.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            unfinished = [i for i in self._inflight.values() if not i.decided]
            for item in unfinished:
                item.decided = True
        if unfinished:
            self._release(unfinished)
        with self._pending_lock:
            self._recorder_stop = True
            self._pending_lock.notify_all()
        for thread in self._threads[:1]:
            thread.join(timeout=30)
        self._stopping.set()
        self._cancel_wakeup.set()
        with self._lock:
            self._lock.notify_all()
        for thread in self._threads[1:]:
            thread.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown()
        if self._loop is not None:
            self._loop.shutdown()
        log.info("worker %s stopped", self.worker_id)

    def _release(self, items: list[InFlight]) -> None:
        for item in items:
            item.ctx.cancel()
        fences = [(i.run.id, i.run.token) for i in items if i.run.token is not None]
        try:
            with self.db.write() as conn:
                released = self.store.release(conn, fences, self.db.now())
        except DatabaseUnavailableError as exc:
            log.warning("could not release %d runs (%s); they will be rescued", len(items), exc)
            return
        self.stats.released += released
        with self._lock:
            for item in items:
                self._inflight.pop(item.run.id, None)
        log.warning("released %d unfinished runs back to the queue", released)
