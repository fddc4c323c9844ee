"""Recovering runs whose worker died, and flows nothing else would settle: any live process
may do it, whichever notices first."""

from __future__ import annotations

import logging
from datetime import timedelta

from tickwork.domain.models import RunStatus
from tickwork.storage.database import Database
from tickwork.storage.flow_store import FlowStore
from tickwork.storage.run_store import RunStore
from tickwork.storage.schedule_store import ScheduleStore

log = logging.getLogger("tickwork.rescuer")

DEFAULT_STALL_TIMEOUT = 30.0


class StallRescuer:
    """Re-queues (or fails, when attempts are exhausted) runs whose heartbeat went stale,
    and settles flows whose runs are all done or waiting.

    A flow's waiting runs are released or skipped in the transaction that records their
    dependency's outcome, so nothing is left for later in the normal course. A run that ends
    any other way (it stalled with no attempts left, or was cancelled outside its flow) is
    settled here, so no crash at any instant leaves a flow stuck.
    """

    def __init__(
        self,
        db: Database,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        *,
        flows: FlowStore | None = None,
    ) -> None:
        if stall_timeout <= 0:
            raise ValueError("stall_timeout must be positive")
        self.db = db
        self.stall_timeout = stall_timeout
        self.store = RunStore(db.dialect)
        self.flows = flows or FlowStore(db.dialect)
        self.schedules = ScheduleStore(db.dialect)

    def rescue(self, limit: int = 100) -> int:
        """Rescue up to ``limit`` stalled runs, then settle flows left behind; return how
        many runs were rescued."""
        failed_flows: set[int] = set()
        with self.db.write() as conn:
            now = self.db.now()
            stalled = self.store.lock_stalled(
                conn, now - timedelta(seconds=self.stall_timeout), limit
            )
            for run in stalled:
                status = self.store.rescue(conn, run, now)
                if status == RunStatus.FAILED.value and run.flow_id is not None:
                    failed_flows.add(run.flow_id)
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
        self.settle_flows(sorted(failed_flows), limit)
        return len(stalled)

    def settle_flows(self, flow_ids: list[int] | None = None, limit: int = 100) -> int:
        """Settle ``flow_ids`` and every running flow none of whose runs is queued or
        running, each in a transaction of its own (its lock taken first); return how many
        were looked at."""
        with self.db.read() as conn:
            candidates = set(flow_ids or ()) | set(self.flows.stuck(conn, limit))
        for flow_id in sorted(candidates):
            with self.db.write() as conn:
                if self.flows.lock(conn, [flow_id]):
                    report = self.flows.settle(conn, [flow_id], self.db.now())
                    if report.ended:
                        log.info("flow %s settled by the rescuer: %s", flow_id, report.ended)
        return len(candidates)
