"""Reading schedules for an actor: detail, lists, pages, and their recent history."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime

from tickwork.domain import inputs, schedule_spec
from tickwork.domain.actor import Actor
from tickwork.domain.errors import ConflictError, NotFoundError
from tickwork.domain.models import Schedule
from tickwork.domain.queries import ScheduleFilter
from tickwork.domain.read_models import HistoryEntry
from tickwork.reads.scope import scoped
from tickwork.storage.database import Database
from tickwork.storage.schedule_store import ScheduleStore
from tickwork.storage.timeline_store import SCHEDULE_SORTS, TimelineStore

# The orders a page of schedules may be read in.
SORTS = tuple(SCHEDULE_SORTS)


class ScheduleReads:
    """``app.reads.schedules``. Schedules of other tenants are not found for a tenant-bound
    actor, and neither are runs of other tenants in their history."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._store = ScheduleStore(db.dialect)
        self._timeline = TimelineStore(db.dialect)

    def get(self, actor: Actor, schedule_id: int) -> Schedule:
        """One schedule, or :class:`NotFoundError`."""
        with self.db.read() as conn:
            return self._store.get(conn, schedule_id, restrict_tenant=actor.tenant_id)

    def find(self, actor: Actor, ref: str | int) -> Schedule:
        """A schedule by id or by name (names are unique per tenant: an actor bound to no
        tenant is asked for the id when several tenants use the name)."""
        ident = inputs.record_id(ref)
        if ident is not None:
            return self.get(actor, ident)
        if not isinstance(ref, str) or len(ref) > schedule_spec.MAX_NAME_LENGTH:
            raise NotFoundError(f"schedule {inputs.echo(ref)} not found", field="id")
        with self.db.read() as conn:
            found = self._store.find_by_name(conn, ref, restrict_tenant=actor.tenant_id)
        if not found:
            raise NotFoundError(f"schedule {inputs.echo(ref)} not found", field="id")
        if len(found) > 1:
            raise ConflictError(
                f"several tenants have a schedule called {inputs.echo(ref)}; give its id instead",
                field="id",
            )
        return found[0]

    def list(
        self,
        actor: Actor,
        filters: ScheduleFilter | None = None,
        *,
        after_id: int | None = None,
        limit: int = 50,
        offset: int | None = None,
    ) -> builtins.list[Schedule]:
        """Schedules in id order, keyset-paginated by ``after_id``."""
        wanted = scoped(filters or ScheduleFilter(), actor)
        with self.db.read() as conn:
            return self._store.list(conn, wanted, after_id=after_id, limit=limit, offset=offset)

    def page(
        self,
        actor: Actor,
        filters: ScheduleFilter,
        *,
        sort: str = "name",
        offset: int = 0,
        limit: int = 25,
    ) -> tuple[builtins.list[Schedule], int]:
        """One page of schedules in the order ``sort`` names (one of :data:`SORTS`), and
        how many match in all."""
        with self.db.read() as conn:
            return self._timeline.schedule_page(
                conn, scoped(filters, actor), sort=sort, offset=offset, limit=limit
            )

    def counts_by_status(self, actor: Actor) -> dict[str, int]:
        """Schedules per status."""
        with self.db.read() as conn:
            return self._store.counts_by_status(conn, actor.tenant_id)

    def names(self, actor: Actor, ids: Sequence[int | None]) -> dict[int, str]:
        """Names of the schedules with these ids (for tables of runs); schedules the actor
        may not see are left out."""
        wanted = [i for i in ids if i is not None]
        if not wanted:
            return {}
        with self.db.read() as conn:
            return self._timeline.schedule_names(conn, wanted, actor.tenant_id)

    def tenants(self, actor: Actor) -> builtins.list[str]:
        """Tenants that own at least one schedule (only its own to a tenant-bound actor)."""
        if actor.tenant_id is not None:
            return []
        with self.db.read() as conn:
            return self._timeline.tenants(conn)

    def tasks_in_use(self, actor: Actor) -> builtins.list[str]:
        """Task names the schedules use; to a tenant-bound actor, those its tenant's
        schedules and latest runs use."""
        with self.db.read() as conn:
            return self._timeline.tasks_in_use(conn, actor.tenant_id)

    def upcoming(self, actor: Actor, limit: int = 10) -> builtins.list[Schedule]:
        """Active schedules that fire next, soonest first."""
        with self.db.read() as conn:
            return self._timeline.upcoming(conn, limit, actor.tenant_id)

    def overdue(self, actor: Actor, now: datetime, limit: int = 100) -> builtins.list[Schedule]:
        """Active schedules whose fire time passed without a run, most overdue first."""
        with self.db.read() as conn:
            return self._store.overdue(conn, now, limit=limit, restrict_tenant=actor.tenant_id)

    def recent_history(
        self, actor: Actor, schedule_ids: Sequence[int], per_schedule: int = 20
    ) -> dict[int, builtins.list[HistoryEntry]]:
        """The latest finished runs of each schedule, newest first."""
        with self.db.read() as conn:
            return self._timeline.recent_outcomes(conn, schedule_ids, per_schedule, actor.tenant_id)

    def history(
        self, actor: Actor, schedule_id: int, limit: int = 200
    ) -> builtins.list[HistoryEntry]:
        """A schedule's latest finished runs, newest first (for its charts and timeline)."""
        with self.db.read() as conn:
            return self._timeline.schedule_outcomes(conn, schedule_id, limit, actor.tenant_id)
