"""Claiming runnable runs: one statement per batch, carrying the outcomes decided since the
last claim in the same transaction; and sleeping well when there is nothing to claim.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from time import monotonic

from tickwork.domain.errors import DatabaseUnavailableError
from tickwork.duties.wakeup import Wakeup
from tickwork.duties.worker.recorder import Recorder
from tickwork.storage.database import Database
from tickwork.storage.queue_sql import ClaimedRun, FinishedRun
from tickwork.storage.run_store import RunStore

log = logging.getLogger("tickwork.worker")

# How often an idle worker on SQLite looks for commits of other processes.
SQLITE_WATCH_INTERVAL = 0.005
# How long a claim loop going idle waits before it looks up when the next run is due: the
# handlers it just started take the interpreter first, instead of waiting for the lookup's
# first round trip to let them run.
HANDOFF = 0.0005


class Claimer:
    """Claims runs for one worker."""

    def __init__(
        self,
        db: Database,
        recorder: Recorder,
        wakeup: Wakeup,
        *,
        worker_id: str,
        queues: tuple[str, ...] | None,
        poll_interval: float,
    ) -> None:
        self.db = db
        self.recorder = recorder
        self.wakeup = wakeup
        self.worker_id = worker_id
        self.queues = queues
        self.poll_interval = poll_interval
        self.store = RunStore(db.dialect)
        # On SQLite, what tells an idle worker that another process committed.
        self._changes: Callable[[], int] | None = None

    def start(self) -> None:
        """Get ready to sleep: on SQLite, open the connection that watches the file."""
        if self._changes is None:
            self._changes = self.db.change_counter()

    def claim(self, limit: int) -> list[ClaimedRun]:
        """Claim up to ``limit`` runs under a fresh token, and write pending outcomes in the
        same transaction (one commit per batch instead of two)."""
        token = uuid.uuid4().hex
        batch = self.recorder.take()
        accepted: list[FinishedRun] = []
        # A claim alone is one statement: on PostgreSQL it commits on its own, in one round
        # trip instead of three (an idle worker's wake-up to a new run's start).
        transaction = self.db.write(queue=True) if batch else self.db.write_statement(queue=True)
        try:
            with transaction as conn:
                if batch:
                    accepted = self.recorder.finish_in(conn, [outcome for _, outcome in batch])
                runs = self.store.claim(
                    conn,
                    worker_id=self.worker_id,
                    token=token,
                    now=self.db.now(),
                    limit=limit,
                    queues=self.queues,
                )
        except BaseException:
            if batch:
                # The recorder retries them on its own, with its handling of failures.
                self.recorder.hand_back(batch)
            raise
        if batch:
            self.recorder.recorded_batch(batch, accepted)
        return runs

    def sleep_until_due(self) -> None:
        """Nothing to claim: sleep until woken, a run becomes due or the poll interval ends.

        Meanwhile the recorder writes pending outcomes at once: no claim is coming to carry
        them.
        """
        self.recorder.set_claim_idle(True)
        try:
            if self.wakeup.wait(HANDOFF):
                return
            self._sleep(self._idle_delay())
        finally:
            self.recorder.set_claim_idle(False)

    def _idle_delay(self) -> float:
        try:
            with self.db.read() as conn:
                next_at = self.store.next_run_at(conn, self.queues)
        except DatabaseUnavailableError:
            return self.poll_interval
        if next_at is None:
            return self.poll_interval
        delay = (next_at - self.db.now()).total_seconds()
        return max(0.001, min(delay, self.poll_interval))

    def _sleep(self, delay: float) -> None:
        """Sleep until woken, a change in the database (SQLite), or ``delay`` seconds."""
        if self._changes is None:
            self.wakeup.wait(delay)
            return
        deadline = monotonic() + delay
        try:
            version = self._changes()
            while (left := deadline - monotonic()) > 0:
                if self.wakeup.wait(min(SQLITE_WATCH_INTERVAL, left)):
                    return
                if self._changes() != version:
                    return
        except Exception as exc:
            log.debug("watching the SQLite file failed (%s); polling instead", exc)
            self.wakeup.wait(max(0.0, deadline - monotonic()))
