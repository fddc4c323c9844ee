"""Recovering runs whose worker died: any live process may do it, whichever notices first."""

from __future__ import annotations

import logging
from datetime import timedelta

from tickwork.storage.database import Database
from tickwork.storage.run_store import RunStore

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

    def rescue(self, limit: int = 100) -> int:
        """Rescue up to ``limit`` stalled runs; return how many."""
        with self.db.write() as conn:
            now = self.db.now()
            stalled = self.store.lock_stalled(
                conn, now - timedelta(seconds=self.stall_timeout), limit
            )
            for run in stalled:
                status = self.store.rescue(conn, run, now)
                log.warning(
                    "run %s (%s, attempt %s) stalled on %s; now %s",
                    run.id,
                    run.task,
                    run.attempt,
                    run.worker_id,
                    status,
                )
        return len(stalled)
