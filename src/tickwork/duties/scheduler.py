"""The scheduler: turns due schedules into runs, exactly once per fire time.

Each tick locks due schedules (``SKIP LOCKED`` on PostgreSQL, so several schedulers share
the work), writes their runs and advances them in the same transaction, then sleeps until
the next due time, bounded by the poll interval and cut short by a notification that
schedules changed. Any number of schedulers may run against one database.

A burst of due schedules is fired in batches of ``batch_size``, one transaction each. On
PostgreSQL a tick whose first batch is full fires the rest on two connections at once, as
two schedulers would, so one batch is locked and planned in Python while the other's
statement runs in the database.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tickwork.domain import triggers
from tickwork.domain.actor import SYSTEM
from tickwork.domain.errors import DatabaseUnavailableError, NotFoundError, TickworkError
from tickwork.domain.models import Schedule, ScheduleStatus, TriggerType
from tickwork.duties.wakeup import Wakeup
from tickwork.services.firing import FireReport, Firing
from tickwork.services.schedule_service import ScheduleService
from tickwork.storage.database import Database
from tickwork.storage.schedule_store import ScheduleStore

log = logging.getLogger("tickwork.scheduler")

DEFAULT_POLL_INTERVAL = 1.0
DEFAULT_BATCH_SIZE = 500
DEFAULT_MAX_PER_TICK = 10_000
DEFAULT_MAINTENANCE_EVERY = 15.0
DEFAULT_LOOKAHEAD = 1.0
# First pause when due schedules are all locked by other schedulers (doubles while it lasts).
LOCKED_RETRY_DELAY = 0.002


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """How the scheduler paces itself."""

    # Longest sleep between ticks; a notification or the next due time ends it sooner.
    poll_interval: float = DEFAULT_POLL_INTERVAL
    # Schedules locked and fired per transaction: bounds lock time and commit latency.
    batch_size: int = DEFAULT_BATCH_SIZE
    # Schedules fired per tick at most; the rest wait for the next tick (catch-up rate limit).
    max_per_tick: int = DEFAULT_MAX_PER_TICK
    # How often to repair invariants and auto-resume schedules paused "until".
    maintenance_every: float = DEFAULT_MAINTENANCE_EVERY
    # Runs are created up to this many seconds before their fire time (as Quartz acquires
    # triggers ahead), so a burst of schedules due at one instant is already queued when
    # the instant comes; their run_at keeps workers from starting them early.
    lookahead: float = DEFAULT_LOOKAHEAD

    def __post_init__(self) -> None:
        if self.poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        if not 0 <= self.lookahead <= 60:
            raise ValueError("lookahead must be between 0 and 60 seconds")
        if self.batch_size < 1 or self.max_per_tick < 1:
            raise ValueError("batch_size and max_per_tick must be at least 1")


@dataclass(slots=True)
class TickReport:
    """What one tick did."""

    schedules: int = 0
    runs: int = 0
    skipped: int = 0
    completed: int = 0
    repaired: int = 0
    resumed: int = 0
    duration: float = 0.0
    # Seconds from each fire time to its run's commit; negative when created ahead of time.
    lateness: list[float] = field(default_factory=list)
    # The earliest next_run_at when the tick ended, if it looked (it does unless it
    # stopped at max_per_tick or ran maintenance).
    next_due_at: datetime | None = None
    next_due_known: bool = False


class _TickTally:
    """What the transactions of one tick share: its budget of schedules and its report."""

    def __init__(self, report: TickReport, budget: int) -> None:
        self._lock = threading.Lock()
        self.report = report
        self.budget = budget

    def take(self, batch_size: int) -> int:
        """Reserve up to ``batch_size`` schedules of the tick's budget."""
        with self._lock:
            batch = min(batch_size, self.budget)
            self.budget -= batch
            return batch

    def add(self, reserved: int, fired: FireReport | None, committed: datetime) -> None:
        """Count a committed batch; give back the part of its reservation it did not use."""
        with self._lock:
            if fired is None:
                self.budget += reserved
                return
            self.budget += reserved - fired.schedules
            report = self.report
            report.schedules += fired.schedules
            report.runs += fired.runs
            report.skipped += fired.skipped
            report.completed += fired.completed
            # Negative for runs committed ahead of their fire time (the lookahead).
            report.lateness.extend((committed - t).total_seconds() for t in fired.fire_times)

    def next_due(self, when: datetime | None) -> None:
        """Record the next due time a transaction read as it found nothing more due."""
        with self._lock:
            self.report.next_due_at = when
            self.report.next_due_known = True


class Scheduler:
    """One scheduler. ``tick()`` does one pass; ``run()`` loops until stopped."""

    def __init__(
        self,
        db: Database,
        firing: Firing,
        schedules: ScheduleService,
        wakeup: Wakeup,
        config: SchedulerConfig | None = None,
        *,
        on_tick: Callable[[TickReport], None] | None = None,
        on_runs_created: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.firing = firing
        self.schedule_service = schedules
        self.store = ScheduleStore(db.dialect)
        self.wakeup = wakeup
        self.config = config or SchedulerConfig()
        self.on_tick = on_tick
        # Wakes workers in this process at once (SQLite has no NOTIFY to do it).
        self.on_runs_created = on_runs_created
        self.ticked = threading.Event()
        self._last_maintenance = float("-inf")

    def tick(self, *, maintenance: bool | None = None) -> TickReport:
        """Fire everything due now; occasionally (or when asked) repair invariants too."""
        started = time.perf_counter()
        report = TickReport()
        tally = _TickTally(report, self.config.max_per_tick)
        pool: ThreadPoolExecutor | None = None
        helper: Future[None] | None = None

        def batch_was_full() -> None:
            # More may be due. A second transaction, on a second connection, locks the
            # next batch (SKIP LOCKED skips this one's rows) and plans it while this one
            # waits on the database: the Python work of one batch overlaps the database
            # work of the other. SQLite has one writer at a time, so it fires in turn.
            nonlocal pool, helper
            if pool is None and self.db.dialect.supports_skip_locked:
                pool = ThreadPoolExecutor(1, thread_name_prefix="tickwork-scheduler-batch")
                try:
                    helper = pool.submit(self._fire_batches, tally, None)
                except RuntimeError:
                    # The interpreter is shutting down: this transaction fires the rest alone.
                    log.debug("no second transaction for this burst", exc_info=True)

        try:
            self._fire_batches(tally, batch_was_full)
        finally:
            if pool is not None:
                pool.shutdown()
        if helper is not None:
            helper.result()
            # Each transaction read the next due time before the other committed.
            report.next_due_known = False
        if maintenance or (
            maintenance is None
            and time.monotonic() - self._last_maintenance > self.config.maintenance_every
        ):
            self._last_maintenance = time.monotonic()
            report.repaired = self.repair_missing_next_run()
            report.resumed = self.resume_expired_pauses()
            report.next_due_known = False
        report.duration = time.perf_counter() - started
        if self.on_tick is not None:
            self.on_tick(report)
        self.ticked.set()
        return report

    def _fire_batches(self, tally: _TickTally, on_full: Callable[[], None] | None) -> None:
        """Fire batches, one transaction each, until one finds fewer due than it asked for."""
        while batch := tally.take(self.config.batch_size):
            next_due_at: datetime | None = None
            with self.db.write() as conn:
                now = self.db.now()
                horizon = now + timedelta(seconds=self.config.lookahead)
                due = self.store.lock_due(conn, now, batch, horizon)
                last = len(due) < batch
                if not last and on_full is not None:
                    on_full()
                fired = self.firing.fire_due(conn, due, now, horizon) if due else None
                if last:
                    # Known in the same transaction (firing reads it with its writes), the
                    # loop needs no extra round trip to know how long to sleep.
                    next_due_at = (
                        fired.next_due_at if fired is not None else self.store.next_due_at(conn)
                    )
            tally.add(batch, fired, self.db.now())
            if fired is not None and fired.runs and self.on_runs_created is not None:
                self.on_runs_created()
            if last:
                tally.next_due(next_due_at)
                return

    def repair_missing_next_run(self) -> int:
        """Give every active schedule without ``next_run_at`` one again (with a warning).

        Fire times lost with the value cannot be known, so it restarts from now; a ``once``
        schedule that already ran is completed instead of running again.
        """
        with self.db.write() as conn:
            now = self.db.now()
            broken = self.store.lock_missing_next_run(conn)
            for schedule in broken:
                values = self._repaired(schedule, now)
                log.warning(
                    "active schedule %s (%s) had no next_run_at; repaired it: %s",
                    schedule.id,
                    schedule.name,
                    ", ".join(f"{k}={v}" for k, v in values.items()),
                )
                self.store.update(conn, schedule.id, values, bump_version=False)
        return len(broken)

    def _repaired(self, schedule: Schedule, now: datetime) -> dict[str, object]:
        values: dict[str, object] = {}
        if schedule.trigger is TriggerType.INTERVAL and schedule.anchor_at is None:
            anchor = schedule.start_at or now.replace(microsecond=0)
            values["anchor_at"] = anchor
            schedule = dataclasses.replace(schedule, anchor_at=anchor)
        try:
            if schedule.trigger is TriggerType.ONCE and schedule.run_count > 0:
                next_run = None
            else:
                next_run = triggers.first_fire(schedule, now)
        except Exception:
            log.exception("cannot compute fire times of schedule %s", schedule.id)
            return {**values, "status": ScheduleStatus.FAILED.value}
        values["next_run_at"] = next_run
        if next_run is None:
            values["status"] = ScheduleStatus.COMPLETED.value
        return values

    def resume_expired_pauses(self) -> int:
        """Resume schedules whose pause had an end time that has passed (missed times skipped)."""
        with self.db.read() as conn:
            expired = self.store.resumable(conn, self.db.now())
        resumed = 0
        for schedule in expired:
            try:
                after = self.schedule_service.resume(SYSTEM, schedule.id, misfire="skip")
            except NotFoundError:
                continue
            except TickworkError as exc:
                log.warning("could not resume schedule %s after its pause: %s", schedule.id, exc)
                continue
            if after.status is not ScheduleStatus.PAUSED:
                resumed += 1
        return resumed

    def seconds_until_due(self, report: TickReport | None = None) -> float:
        """How long the loop may sleep: until the next due time, at most the poll interval.

        With the report of the tick just done, its view of the next due time is used
        instead of asking the database again.
        """
        if report is not None and report.next_due_known:
            next_due = report.next_due_at
        else:
            with self.db.read() as conn:
                next_due = self.store.next_due_at(conn)
        if next_due is None:
            return self.config.poll_interval
        until_due = (next_due - self.db.now()).total_seconds()
        delay = until_due - self.config.lookahead
        if delay <= 0:
            # Within the lookahead and still not fired: a schedule that fires only when
            # due (see fires_early) is next, so sleep until then rather than spin.
            delay = until_due
        return max(0.0, min(delay, self.config.poll_interval))

    def run(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set. Database outages are waited out, never fatal."""
        log.info("scheduler started")
        backoff = 0.5
        idle = 0
        while not stop.is_set():
            try:
                report = self.tick()
                delay = self.seconds_until_due(report)
                backoff = 0.5
            except DatabaseUnavailableError as exc:
                log.warning(
                    "scheduler cannot reach the database (%s); retrying in %.1fs", exc, backoff
                )
                delay = backoff
                backoff = min(backoff * 2, 10.0)
            except Exception:
                log.exception("scheduler tick failed; retrying")
                delay = self.config.poll_interval
            else:
                if delay <= 0 and report.schedules == 0:
                    # Due rows exist but another scheduler holds them: it commits within
                    # milliseconds, so look again soon instead of spinning.
                    idle += 1
                    delay = min(self.config.poll_interval, LOCKED_RETRY_DELAY * 2 ** min(idle, 6))
                else:
                    idle = 0
            if delay > 0 and not stop.is_set():
                self.wakeup.wait(delay)
        log.info("scheduler stopped")
