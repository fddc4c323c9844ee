"""Reading flows for an actor: one with its steps, filtered pages, and figures."""

from __future__ import annotations

import builtins
import time
from datetime import datetime

from tickwork.domain.actor import Actor
from tickwork.domain.flows import FINAL_FLOW_STATUSES, Flow
from tickwork.domain.queries import FlowFilter
from tickwork.reads.scope import scoped
from tickwork.storage.database import Database
from tickwork.storage.flow_queries import FlowReader


class FlowReads:
    """``app.reads.flows``. Flows of other tenants are not found for a tenant-bound actor."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._reader = FlowReader(db.dialect)

    def get(self, actor: Actor, flow_id: int) -> Flow:
        """One flow with its steps, or :class:`NotFoundError`."""
        with self.db.read() as conn:
            return self._reader.get(conn, flow_id, restrict_tenant=actor.tenant_id)

    def list(
        self,
        actor: Actor,
        filters: FlowFilter | None = None,
        *,
        before_id: int | None = None,
        limit: int = 50,
    ) -> builtins.list[Flow]:
        """Flows newest first with their steps, keyset-paginated by ``before_id``."""
        with self.db.read() as conn:
            return self._reader.list(
                conn, scoped(filters or FlowFilter(), actor), before_id=before_id, limit=limit
            )

    def counts_by_status(self, actor: Actor) -> dict[str, int]:
        """How many flows are in each status (the actor's tenant's only, when bound)."""
        with self.db.read() as conn:
            return self._reader.count_by_status(conn, restrict_tenant=actor.tenant_id)

    def durations_since(self, since: datetime) -> builtins.list[tuple[str, float]]:
        """``(status, seconds)`` of flows of every tenant that ended since ``since`` (for
        the metrics of the whole installation)."""
        with self.db.read() as conn:
            return self._reader.durations_since(conn, since)

    def wait(self, actor: Actor, flow_id: int, timeout: float = 30.0, poll: float = 0.02) -> Flow:
        """Block until the flow ends (or ``timeout`` passes) and return it."""
        deadline = time.monotonic() + timeout
        while True:
            flow = self.get(actor, flow_id)
            if flow.status in FINAL_FLOW_STATUSES or time.monotonic() >= deadline:
                return flow
            time.sleep(poll)
