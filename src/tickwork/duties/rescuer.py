"""Recovering runs whose worker died: any live process may do it, whichever notices first."""

from __future__ import annotations

import logging
from datetime import timedelta

from tickwork.domain.models import RunStatus
from tickwork.storage.database import Database
from tickwork.storage.run_store import RunStore
from tickwork.storage.schedule_store import ScheduleStore

log = logging.getLogger("tickwork.rescuer")

DEFAULT_STALL_TIMEOUT = 30.0


class StallRescuer:
    """Re-queues (or fails, when attempts are exhausted) runs whose heartbeat went stale."""

    def __init__(self, db: Database, stall_timeout: float = DEFAULT_STALL_TIMEOUT) -> None:
        if stall_timeout <= 0:
            raise ValueError("stall_timeout must be positive")
        self.db = db
        self.stall_timeout = stall_timeout
        self.store = RunStore(db.dialect)
        self.schedules = ScheduleStore(db.dialect)

    def rescue(self, limit: int = 100) -> int:
        """Rescue up to ``limit`` stalled runs; return how many."""
        with self.db.write() as conn:
            now = self.db.now()
            stalled = self.store.lock_stalled(
                conn, now - timedelta(seconds=self.stall_timeout), limit
            )
            for run in stalled:
                status = self.store.rescue(conn, run, now)
                if status == RunStatus.FAILED.value and run.schedule_id is not None:
                    self.schedules.record_outcomes(conn, [(run.schedule_id, status, None)])
                log.warning(
                    "run %s (%s, attempt %s) stalled on %s; now %s",
                    run.id,
                    run.task,
                    run.attempt,
                    run.worker_id,
                    status,
                )
        return len(stalled)
