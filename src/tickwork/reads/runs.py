"""Reading runs and their attempts for an actor: detail, lists, pages, counts."""

from __future__ import annotations

import builtins
import time
from collections.abc import Sequence
from typing import Any

from tickwork.domain.actor import Actor
from tickwork.domain.models import Run, RunAttempt
from tickwork.domain.queries import RunFilter
from tickwork.reads.scope import scoped
from tickwork.storage import run_queries
from tickwork.storage.database import Database
from tickwork.storage.run_store import RunStore


class RunReads:
    """``app.reads.runs``. Runs of other tenants are not found for a tenant-bound actor."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._store = RunStore(db.dialect)

    def get(self, actor: Actor, run_id: int) -> Run:
        """One run with its payload, result, logs and traceback, or :class:`NotFoundError`."""
        with self.db.read() as conn:
            return self._store.get(conn, run_id, restrict_tenant=actor.tenant_id)

    def attempts(self, actor: Actor, run_id: int) -> builtins.list[RunAttempt]:
        """Earlier attempts of a run, oldest first."""
        with self.db.read() as conn:
            self._store.get(conn, run_id, restrict_tenant=actor.tenant_id)
            return run_queries.attempts_of(conn, run_id)

    def list(
        self,
        actor: Actor,
        filters: RunFilter | None = None,
        *,
        before_id: int | None = None,
        limit: int = 50,
        offset: int | None = None,
    ) -> builtins.list[Run]:
        """Runs newest first (without payload, result, logs and traceback), keyset-paginated
        by ``before_id``."""
        wanted = scoped(filters or RunFilter(), actor)
        with self.db.read() as conn:
            return run_queries.list_runs(
                conn, wanted, before_id=before_id, limit=limit, offset=offset
            )

    def values_page(
        self, actor: Actor, filters: RunFilter, *, before_id: int | None = None, limit: int = 50
    ) -> builtins.list[dict[str, Any]]:
        """Runs newest first as plain values with their ``duration`` (the API's pages)."""
        with self.db.read() as conn:
            return run_queries.run_values_page(
                conn, scoped(filters, actor), before_id=before_id, limit=limit
            )

    def browse(
        self,
        actor: Actor,
        filters: RunFilter,
        *,
        before_id: int | None = None,
        after_id: int | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> builtins.list[Run]:
        """A page of the UI's lists, with one row more than ``limit`` when another page
        exists (see :func:`tickwork.storage.run_queries.browse_runs`)."""
        with self.db.read() as conn:
            return run_queries.browse_runs(
                conn,
                scoped(filters, actor),
                before_id=before_id,
                after_id=after_id,
                offset=offset,
                limit=limit,
            )

    def count(
        self, actor: Actor, filters: RunFilter, *, cap: int, after_id: int | None = None
    ) -> int:
        """How many runs match (newer than ``after_id`` when given), counting to ``cap``."""
        with self.db.read() as conn:
            return run_queries.count_runs(conn, scoped(filters, actor), cap=cap, after_id=after_id)

    def by_ids(self, actor: Actor, ids: Sequence[int]) -> builtins.list[Run]:
        """These runs (list columns), newest first; runs the actor may not see are left out."""
        with self.db.read() as conn:
            return run_queries.runs_by_id(conn, ids, actor.tenant_id)

    def wait(self, actor: Actor, run_id: int, timeout: float = 30.0, poll: float = 0.02) -> Run:
        """Block until the run is final (or ``timeout`` passes) and return it."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.get(actor, run_id)
            if run.status.is_final or time.monotonic() >= deadline:
                return run
            time.sleep(poll)
