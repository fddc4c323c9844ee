"""Deciding how attempts ended, and writing those outcomes in batches.

:meth:`Recorder.decide` is the one place a worker decides an attempt's outcome, whatever
ended it (the handler returned or raised, or the watchdog timed it out). Decided outcomes
wait here until they are written: the claim loop carries them in the transaction of its
next claim (one commit per batch instead of two); the recorder's own thread writes those
that waited :data:`RECORD_LINGER` (a saturated worker), all of them at once while the claim
loop sleeps for want of runs (no claim is coming to carry them), and those a combined write
failed on. Each outcome is fenced by its claim token, so an attempt that was superseded
(its worker stalled and the run was rescued) records nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.domain.errors import ConflictError, DatabaseUnavailableError
from tickwork.domain.models import RunStatus
from tickwork.duties.worker.config import WorkerStats
from tickwork.duties.worker.inflight import InFlight, InFlightRuns
from tickwork.duties.worker.outcome import outcome_of
from tickwork.storage.database import Database
from tickwork.storage.flow_store import FlowStore
from tickwork.storage.queue_sql import FinishedRun, Outcome
from tickwork.storage.run_store import RunStore
from tickwork.storage.schedule_store import ScheduleStore

log = logging.getLogger("tickwork.worker")

RECORD_BATCH = 500
# How long a decided outcome waits for the claim loop to carry it in its next transaction
# before the recorder thread writes it on its own.
RECORD_LINGER = 0.01
# How long outcomes wait for the claim loop once it was woken to carry a flow's outcome.
CLAIMER_WOKEN_LINGER = 0.1
# How often a batch refused for a key conflict (a concurrent enqueue) is tried again.
CONFLICT_RETRIES = 5

# A decided outcome and the in-flight run it belongs to.
Decided = tuple[InFlight, Outcome]
# Called with the runs whose outcomes were accepted and all the outcomes written.
FinishedCallback = Callable[[Sequence[FinishedRun], Sequence[Outcome]], None]


class Recorder:
    """Decides outcomes and records them; :meth:`run` is its thread's loop."""

    def __init__(
        self,
        db: Database,
        inflight: InFlightRuns,
        stats: WorkerStats,
        *,
        on_finished: FinishedCallback | None = None,
        flows: FlowStore | None = None,
    ) -> None:
        self.db = db
        self.flows = flows or FlowStore(db.dialect)
        self.inflight = inflight
        self.stats = stats
        self.on_finished = on_finished
        self.store = RunStore(db.dialect)
        self.schedules = ScheduleStore(db.dialect)
        # Set whenever a batch of outcomes was recorded (tests wait on it), and how many
        # batches were.
        self.recorded = threading.Event()
        self.batches = 0
        self._lock = threading.Condition()
        self._pending: list[Decided] = []
        self._pending_since = 0.0
        self._claim_idle = False
        # Woken for an outcome of a flow's run while the claim loop slept: its next claim
        # carries the outcome, and claims in the same transaction the runs it released.
        self.wake_claimer: Callable[[], None] | None = None
        self._claimer_woken = False
        # Outcomes a combined write with a claim failed on, written on their own.
        self._difficult: list[Decided] = []
        self._stop = False
        self._thread: threading.Thread | None = None

    # -- deciding --------------------------------------------------------------------------

    def decide(
        self, item: InFlight, *, result: Any = None, error: BaseException | None = None
    ) -> None:
        """Decide the attempt's outcome from what its handler returned or raised (or why it
        was stopped), unless it was decided already, and queue it to be written."""
        if not self.inflight.take_decision(item):
            return
        outcome = self._outcome(item, result, error)
        with self._lock:
            if not self._pending:
                self._pending_since = time.monotonic()
                self._lock.notify_all()
            self._pending.append((item, outcome))
            if len(self._pending) >= RECORD_BATCH:
                self._lock.notify_all()
            wake = (
                outcome.flow_id is not None
                and self._claim_idle
                and self.wake_claimer is not None
                and not self._claimer_woken
            )
            if wake:
                self._claimer_woken = True
        if wake:
            assert self.wake_claimer is not None
            self.wake_claimer()

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
                flow_id=item.run.flow_id,
                worker_id=item.run.worker_id,
            )

    # -- handing outcomes to the claim loop ------------------------------------------------

    def take(self) -> list[Decided]:
        """Outcomes for the claim loop to write in its next transaction (up to a batch)."""
        with self._lock:
            batch, self._pending = self._pending[:RECORD_BATCH], self._pending[RECORD_BATCH:]
            self._claimer_woken = False
            if self._pending:
                self._pending_since = time.monotonic()
        return batch

    def hand_back(self, batch: list[Decided]) -> None:
        """Outcomes the claim loop failed to write: this thread retries them on its own."""
        with self._lock:
            self._difficult.extend(batch)
            self._lock.notify_all()

    def set_claim_idle(self, idle: bool) -> None:
        """The claim loop sleeps for want of runs (no claim will carry outcomes), or woke.

        When an outcome of a flow's run is pending, the claim loop is woken at once instead:
        its next claim records the outcome and claims the steps it releases."""
        wake = False
        with self._lock:
            self._claim_idle = idle
            if idle and self._pending:
                wake = self.wake_claimer is not None and any(
                    outcome.flow_id is not None for _, outcome in self._pending
                )
                if wake:
                    self._claimer_woken = True
                else:
                    self._lock.notify_all()
        if wake:
            assert self.wake_claimer is not None
            self.wake_claimer()

    def finish_in(self, conn: Connection, outcomes: list[Outcome]) -> list[FinishedRun]:
        """Write ``outcomes`` in the caller's transaction; return those accepted.

        Runs of flows settle their flows in the same transaction: a success releases the
        dependents whose dependencies all succeeded (no polling delay between waves), a
        final failure skips them. The flows are locked first, as every writer of a flow's
        runs does.
        """
        flow_ids = sorted({o.flow_id for o in outcomes if o.flow_id is not None})
        heads = self.flows.lock_heads(conn, flow_ids) if flow_ids else []
        accepted = self.store.finish(conn, outcomes)
        if heads:
            ended = {f.id for f in accepted if f.status != RunStatus.RETRYING.value}
            settled = {o.flow_id for o in outcomes if o.run_id in ended}
            affected = [head for head in heads if head.id in settled]
            if affected:
                self.flows.settle_heads(conn, affected, self.db.now())
        finished_at = {o.run_id: o.finished_at for o in outcomes}
        self.schedules.record_outcomes(
            conn,
            [
                (f.schedule_id, f.status, finished_at[f.id])
                for f in accepted
                if f.schedule_id is not None and f.status != RunStatus.RETRYING.value
            ],
        )
        return accepted

    def recorded_batch(self, batch: list[Decided], accepted: list[FinishedRun]) -> None:
        """``batch`` was written (``accepted`` are those whose tokens still held)."""
        outcomes = [outcome for _, outcome in batch]
        self._count(outcomes, {f.id for f in accepted})
        self.inflight.forget([item for item, _ in batch])
        if self.on_finished is not None:
            self.on_finished(accepted, outcomes)
        self.batches += 1
        self.recorded.set()

    # -- the recorder's thread -------------------------------------------------------------

    def start(self) -> None:
        """Start the thread that writes outcomes no claim carried."""
        self._stop = False
        self._thread = threading.Thread(target=self.run, name="tickwork-recorder", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is pending, then end the thread (waiting up to ``timeout`` seconds)."""
        with self._lock:
            self._stop = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def run(self) -> None:
        """Write outcomes as they linger, until stopped with none pending."""
        while True:
            with self._lock:
                while not (self._pending or self._difficult or self._stop):
                    self._lock.wait()
                if self._difficult:
                    batch, self._difficult = self._difficult, []
                else:
                    # Give the claim loop a moment to carry these in its next transaction.
                    while (
                        self._pending
                        and not self._stop
                        and (not self._claim_idle or self._claimer_woken)
                        and len(self._pending) < RECORD_BATCH
                        and (left := self._pending_since + self._linger() - time.monotonic()) > 0
                    ):
                        self._lock.wait(left)
                    if not self._pending and self._stop:
                        return
                    batch = self._pending[:RECORD_BATCH]
                    self._pending = self._pending[RECORD_BATCH:]
                    if self._pending:
                        self._pending_since = time.monotonic()
            if batch:
                accepted = self._write_outcomes([o for _, o in batch])
                self.recorded_batch(batch, accepted)
                if self.wake_claimer is not None and any(o.flow_id for _, o in batch):
                    # The steps these outcomes released are this worker's to claim now,
                    # without waiting for the notification's round trip (or a poll).
                    self.wake_claimer()

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
                with self.db.write(queue=True) as conn:
                    return self.finish_in(conn, outcomes)
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

    def _linger(self) -> float:
        """How long pending outcomes wait for a claim to carry them: longer once the claim
        loop was woken to carry a flow's outcome (it is coming; writing them here too would
        take two transactions where one does)."""
        return CLAIMER_WOKEN_LINGER if self._claimer_woken else RECORD_LINGER

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
