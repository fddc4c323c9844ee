"""Read-side queries for the admin UI: recent outcomes of schedules, pages of runs.

Nothing here writes. Every query is shaped to use an index so pages stay fast with
millions of runs: per-schedule history walks ``(schedule_id, id)`` and pages of runs are
keyset-paginated by ``id``. Figures for the dashboard come from the insights store.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.domain.models import FINAL_RUN_STATUSES, Schedule, ScheduleStatus
from tickwork.domain.queries import ScheduleFilter
from tickwork.domain.read_models import HistoryEntry, WindowCount
from tickwork.storage.dialect import Dialect
from tickwork.storage.rows import schedule_from_row, schedule_from_values
from tickwork.storage.schedule_store import ScheduleStore, filter_schedules
from tickwork.storage.tables import runs, schedules

FINAL = sorted(s.value for s in FINAL_RUN_STATUSES)

# Columns of a finished run that charts, sparklines and the timeline need.
OUTCOME_COLUMNS = (
    runs.c.id,
    runs.c.schedule_id,
    runs.c.task,
    runs.c.status,
    runs.c.trigger,
    runs.c.scheduled_for,
    runs.c.created_at,
    runs.c.started_at,
    runs.c.finished_at,
    runs.c.skip_reason,
    runs.c.details,
)

# What a schedule's sparkline and misfire note need (fewer columns: 20 rows per schedule).
SPARK_COLUMNS = (
    runs.c.id,
    runs.c.schedule_id,
    runs.c.status,
    runs.c.scheduled_for,
    runs.c.started_at,
    runs.c.finished_at,
    runs.c.skip_reason,
    runs.c.details,
)

SCHEDULE_SORTS = {
    "name": (schedules.c.name,),
    "-name": (schedules.c.name.desc(),),
    "next": (schedules.c.next_run_at, schedules.c.id),
    "last": (schedules.c.last_run_at.desc(), schedules.c.id.desc()),
    "id": (schedules.c.id,),
    "-id": (schedules.c.id.desc(),),
}


def _entries(result: Any) -> builtins.list[HistoryEntry]:
    """History entries from a result (column names read once, not per row)."""
    keys = builtins.list(result.keys())
    return [HistoryEntry(**dict(zip(keys, row, strict=True))) for row in result]


class TimelineStore:
    """Reads history and queue figures for the UI. Methods take the caller's connection."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._schedules = ScheduleStore(dialect)

    # -- schedules ---------------------------------------------------------------------

    def schedule_page(
        self,
        conn: Connection,
        filters: ScheduleFilter,
        *,
        sort: str = "name",
        offset: int = 0,
        limit: int = 25,
    ) -> tuple[builtins.list[Schedule], int]:
        """One page of schedules in the chosen order, and how many match in all.

        A text search reads every row anyway, so the total comes with the page from one
        scan (a window count); otherwise the page walks an index and a count follows.
        """
        order = SCHEDULE_SORTS.get(sort, SCHEDULE_SORTS["name"])
        if filters.text:
            total_column = sa.func.count().over().label("matching_total")
            query = filter_schedules(sa.select(schedules, total_column), filters)
            rows = conn.execute(query.order_by(*order).offset(offset).limit(limit)).all()
            if rows:
                keys = [k for k in rows[0]._fields if k != "matching_total"]
                found = [schedule_from_values(dict(zip(keys, r, strict=False))) for r in rows]
                return found, int(rows[0].matching_total)
            return [], self._schedules.count(conn, filters)
        query = filter_schedules(sa.select(schedules), filters).order_by(*order)
        rows = conn.execute(query.offset(offset).limit(limit)).all()
        total = self._schedules.count(conn, filters)
        return [schedule_from_row(r) for r in rows], total

    def tenants(self, conn: Connection) -> builtins.list[str]:
        """Tenants that own at least one schedule."""
        query = (
            sa.select(schedules.c.tenant_id)
            .where(schedules.c.tenant_id.is_not(None))
            .distinct()
            .order_by(schedules.c.tenant_id)
            .limit(500)
        )
        return [r[0] for r in conn.execute(query)]

    def schedule_names(
        self, conn: Connection, ids: Sequence[int], restrict_tenant: str | None = None
    ) -> dict[int, str]:
        """Names of the schedules with these ids (for tables of runs); with
        ``restrict_tenant``, only that tenant's schedules are named."""
        wanted = sorted({i for i in ids if i is not None})
        if not wanted:
            return {}
        query = sa.select(schedules.c.id, schedules.c.name).where(schedules.c.id.in_(wanted))
        if restrict_tenant is not None:
            query = query.where(schedules.c.tenant_id == restrict_tenant)
        return {int(r.id): str(r.name) for r in conn.execute(query)}

    def tasks_in_use(
        self, conn: Connection, restrict_tenant: str | None = None, recent_runs: int = 1000
    ) -> builtins.list[str]:
        """Task names schedules use; with ``restrict_tenant``, those that tenant's schedules
        and its latest ``recent_runs`` runs use (a bounded read at any history size)."""
        used = sa.select(schedules.c.task).where(schedules.c.task.is_not(None))
        if restrict_tenant is None:
            query = used.distinct()
        else:
            used = used.where(schedules.c.tenant_id == restrict_tenant)
            latest = (
                sa.select(runs.c.task)
                .where(runs.c.tenant_id == restrict_tenant)
                .order_by(runs.c.id.desc())
                .limit(recent_runs)
                .subquery()
            )
            query = sa.union(used, sa.select(latest.c.task))  # type: ignore[assignment]
        names = {str(r[0]) for r in conn.execute(query)}
        return sorted(names)

    def upcoming(
        self, conn: Connection, limit: int = 10, restrict_tenant: str | None = None
    ) -> builtins.list[Schedule]:
        """Active schedules that fire next, soonest first."""
        query = (
            sa.select(schedules)
            .where(
                schedules.c.status == ScheduleStatus.ACTIVE.value,
                schedules.c.next_run_at.is_not(None),
            )
            .order_by(schedules.c.next_run_at)
            .limit(limit)
        )
        if restrict_tenant is not None:
            query = query.where(schedules.c.tenant_id == restrict_tenant)
        return [schedule_from_row(r) for r in conn.execute(query)]

    def _per_key(
        self,
        key: sa.ColumnElement[Any],
        values: Sequence[Any],
        narrow: Callable[[sa.Select[Any]], sa.Select[Any]],
        columns: Sequence[sa.ColumnElement[Any]],
        limit: int,
    ) -> sa.Select[Any]:
        """The newest ``limit`` runs (by id) for each of ``values`` of ``key``, in one query.

        PostgreSQL joins a VALUES list LATERALly (one index walk per value, planned once);
        SQLite, which has no LATERAL, runs a UNION ALL of the same walks.
        """
        if self.dialect.supports_lateral:
            wanted = sa.values(sa.column("wanted_key", key.type), name="wanted").data(
                [(v,) for v in values]
            )
            walk = (
                narrow(sa.select(*columns).where(key == wanted.c.wanted_key))
                .order_by(runs.c.id.desc())
                .limit(limit)
                .lateral("walk")
            )
            return sa.select(walk).select_from(wanted).join(walk, sa.true())
        parts = [
            narrow(sa.select(*columns).where(key == value))
            .order_by(runs.c.id.desc())
            .limit(limit)
            .subquery()
            .select()
            for value in values
        ]
        return parts[0] if len(parts) == 1 else sa.union_all(*parts)  # type: ignore[return-value]

    # -- history of schedules ----------------------------------------------------------

    def recent_outcomes(
        self,
        conn: Connection,
        schedule_ids: Sequence[int],
        per_schedule: int = 20,
        restrict_tenant: str | None = None,
    ) -> dict[int, builtins.list[HistoryEntry]]:
        """The latest finished runs of each schedule, newest first (with
        ``restrict_tenant``, only runs of that tenant: a schedule moved between tenants
        keeps its earlier runs out of the new tenant's sight).

        One query walking each schedule's ``(schedule_id, id)`` index backwards and stopping
        after ``per_schedule`` rows, so the cost does not grow with the length of the history.
        """
        result: dict[int, builtins.list[HistoryEntry]] = {sid: [] for sid in schedule_ids}
        if not schedule_ids:
            return result

        def narrow(part: sa.Select[Any]) -> sa.Select[Any]:
            part = part.where(runs.c.status.in_(FINAL))
            if restrict_tenant is not None:
                part = part.where(runs.c.tenant_id == restrict_tenant)
            return part

        query = self._per_key(
            runs.c.schedule_id, list(schedule_ids), narrow, SPARK_COLUMNS, per_schedule
        )
        for outcome in _entries(conn.execute(query)):
            if outcome.schedule_id is not None:
                result[outcome.schedule_id].append(outcome)
        for items in result.values():
            items.sort(key=lambda o: o.id, reverse=True)
        return result

    def schedule_outcomes(
        self,
        conn: Connection,
        schedule_id: int,
        limit: int = 200,
        restrict_tenant: str | None = None,
    ) -> builtins.list[HistoryEntry]:
        """A schedule's latest finished runs, newest first (for its charts and timeline);
        with ``restrict_tenant``, only runs of that tenant."""
        query = sa.select(*OUTCOME_COLUMNS).where(
            runs.c.schedule_id == schedule_id, runs.c.status.in_(FINAL)
        )
        if restrict_tenant is not None:
            query = query.where(runs.c.tenant_id == restrict_tenant)
        return _entries(conn.execute(query.order_by(runs.c.id.desc()).limit(limit)))

    # -- the dashboard -----------------------------------------------------------------

    def window_counts(
        self,
        conn: Connection,
        since: datetime,
        restrict_tenant: str | None = None,
    ) -> builtins.list[WindowCount]:
        """Runs finished since ``since``, counted by task, status and hour, in one index scan.

        The dashboard's chart, its per-task table and its totals all come from these rows, so
        the window is read once instead of once per figure.
        """
        hour = self.dialect.hour_bucket(runs.c.finished_at).label("hour")
        query = (
            sa.select(runs.c.task, runs.c.status, hour, sa.func.count())
            .where(runs.c.finished_at >= since)
            .group_by(runs.c.task, runs.c.status, hour)
        )
        if restrict_tenant is not None:
            query = query.where(runs.c.tenant_id == restrict_tenant)
        return [
            WindowCount(str(task), str(status), int(bucket), int(count))
            for task, status, bucket, count in conn.execute(query)
        ]

    def recent_durations(
        self,
        conn: Connection,
        tasks: Sequence[str],
        per_task: int = 200,
        restrict_tenant: str | None = None,
    ) -> dict[str, builtins.list[float]]:
        """Durations in seconds of the latest runs of each task that succeeded or failed.

        One ``(task, id)`` index walk per task, each stopping after ``per_task`` rows, so
        percentiles cost the same however long the history is.
        """
        result: dict[str, builtins.list[float]] = {task: [] for task in tasks}
        if not tasks:
            return result

        def narrow(part: sa.Select[Any]) -> sa.Select[Any]:
            part = part.where(
                runs.c.status.in_(("succeeded", "failed")), runs.c.started_at.is_not(None)
            )
            if restrict_tenant is not None:
                part = part.where(runs.c.tenant_id == restrict_tenant)
            return part

        query = self._per_key(
            runs.c.task,
            list(tasks),
            narrow,
            (runs.c.task, runs.c.started_at, runs.c.finished_at),
            per_task,
        )
        for task, started, finished in conn.execute(query):
            if started is not None and finished is not None:
                result[str(task)].append((finished - started).total_seconds())
        return result
