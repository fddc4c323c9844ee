"""The read side for statistics, dashboards and metrics: counts, rates, percentiles, lag.

Nothing here writes. Windows walk ``runs.finished_at`` (indexed) and current counts walk
the status indexes, so figures stay cheap with millions of runs. Percentiles use the
nearest-rank method with window functions, which SQLite and PostgreSQL share.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.domain.models import (
    FINAL_RUN_STATUSES,
    RUNNABLE_RUN_STATUSES,
    RunStatus,
)
from tickwork.domain.queries import RunFilter, StatsFilter
from tickwork.domain.read_models import Distribution, HourBucket, OutcomeStats, QueueDepth
from tickwork.storage.dialect import Dialect
from tickwork.storage.run_queries import filter_runs
from tickwork.storage.tables import runs, schedules

FINAL = sorted(s.value for s in FINAL_RUN_STATUSES)
CURRENT = sorted(
    s.value for s in (RunStatus.WAITING, RunStatus.QUEUED, RunStatus.RETRYING, RunStatus.RUNNING)
)
PERCENTILES = (50, 95, 99)


class InsightsStore:
    """Read-only queries behind ``/api/v1/stats``, the dashboard and ``/metrics``."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def _seconds_between(self, start: Any, end: Any) -> Any:
        return self.dialect.epoch_seconds(end) - self.dialect.epoch_seconds(start)

    # -- helpers -----------------------------------------------------------------------

    @staticmethod
    def _window(query: sa.Select[Any], filters: StatsFilter) -> sa.Select[Any]:
        c = runs.c
        query = query.where(c.finished_at >= filters.since)
        if filters.until is not None:
            query = query.where(c.finished_at < filters.until)
        return InsightsStore._narrow(query, filters)

    @staticmethod
    def _narrow(query: sa.Select[Any], filters: StatsFilter) -> sa.Select[Any]:
        narrowing = RunFilter(
            task=filters.task,
            schedule_id=filters.schedule_id,
            restrict_tenant=filters.restrict_tenant,
        )
        return filter_runs(query, narrowing)

    def _distribution_query(self, key: Any, values: Any, where: sa.Select[Any]) -> sa.Select[Any]:
        """Per ``key``: count, average, maximum and nearest-rank percentiles of ``values``."""
        inner = where.add_columns(key.label("k"), values.label("v")).where(values.is_not(None))
        inner_sq = inner.subquery()
        ranked = sa.select(
            inner_sq.c.k,
            inner_sq.c.v,
            sa.func.row_number().over(partition_by=inner_sq.c.k, order_by=inner_sq.c.v).label("rn"),
            sa.func.count().over(partition_by=inner_sq.c.k).label("n"),
        ).subquery()
        columns = [
            ranked.c.k,
            sa.func.count().label("count"),
            sa.func.avg(ranked.c.v).label("avg"),
            sa.func.max(ranked.c.v).label("max"),
        ]
        for p in PERCENTILES:
            rank = (ranked.c.n * p + 99) // 100
            columns.append(sa.func.max(sa.case((ranked.c.rn == rank, ranked.c.v))).label(f"p{p}"))
        return sa.select(*columns).group_by(ranked.c.k)

    @staticmethod
    def _distribution(row: Any) -> Distribution:
        def number(value: Any) -> float | None:
            return None if value is None else float(value)

        return Distribution(
            count=int(row.count),
            avg=number(row.avg),
            max=number(row.max),
            p50=number(row.p50),
            p95=number(row.p95),
            p99=number(row.p99),
        )

    # -- counts ------------------------------------------------------------------------

    def finished_by_status(self, conn: Connection, filters: StatsFilter) -> dict[str, int]:
        """Runs (and recorded skips) that finished in the window, per final status."""
        query = self._window(
            sa.select(runs.c.status, sa.func.count()).group_by(runs.c.status), filters
        ).where(runs.c.status.in_(FINAL))
        counts = dict.fromkeys(FINAL, 0)
        counts.update({status: int(n) for status, n in conn.execute(query)})
        return counts

    # Each group of unfinished statuses has a partial index whose predicate these match
    # exactly (the claim index, the heartbeat index, the status index), so counting them
    # never scans finished history.
    _CURRENT_GROUPS = (
        tuple(RUNNABLE_RUN_STATUSES),
        (RunStatus.RUNNING.value,),
        (RunStatus.WAITING.value,),
    )

    def _unfinished(
        self, conn: Connection, columns: Sequence[Any], filters: StatsFilter
    ) -> builtins.list[Any]:
        rows: builtins.list[Any] = []
        for group in self._CURRENT_GROUPS:
            condition = runs.c.status == group[0] if len(group) == 1 else runs.c.status.in_(group)
            query = self._narrow(
                sa.select(*columns, sa.func.count()).where(condition).group_by(*columns),
                filters,
            )
            rows.extend(conn.execute(query))
        return rows

    def current_by_status(self, conn: Connection, filters: StatsFilter) -> dict[str, int]:
        """Runs waiting, queued, retrying or running right now."""
        counts = dict.fromkeys(CURRENT, 0)
        for status, n in self._unfinished(conn, [runs.c.status], filters):
            counts[status] = int(n)
        return counts

    def unfinished_by_task_and_status(self, conn: Connection) -> dict[tuple[str, str], int]:
        """Runs waiting, queued, retrying or running now, per task and status."""
        everything = StatsFilter(since=datetime.min.replace(tzinfo=UTC))
        return {
            (task, status): int(n)
            for task, status, n in self._unfinished(conn, [runs.c.task, runs.c.status], everything)
        }

    def finished_by_task_and_status(
        self, conn: Connection, since: datetime
    ) -> dict[tuple[str, str], int]:
        """Runs (and recorded skips) that finished since ``since``, per task and status."""
        query = self._window(
            sa.select(runs.c.task, runs.c.status, sa.func.count()).group_by(
                runs.c.task, runs.c.status
            ),
            StatsFilter(since=since),
        )
        return {(task, status): int(n) for task, status, n in conn.execute(query)}

    # -- outcomes per task and per schedule ----------------------------------------------

    def _outcomes(
        self, conn: Connection, filters: StatsFilter, key: Any, limit: int
    ) -> builtins.list[OutcomeStats]:
        c = runs.c
        counted = self._window(
            sa.select(
                key.label("k"),
                sa.func.count().label("total"),
                *(
                    sa.func.sum(sa.case((c.status == status, 1), else_=0)).label(status)
                    for status in ("succeeded", "failed", "cancelled", "skipped")
                ),
            ).group_by(key),
            filters,
        ).where(c.status.in_(FINAL))
        totals = {
            row.k: row
            for row in conn.execute(counted.order_by(sa.func.count().desc(), key).limit(limit))
        }
        if not totals:
            return []
        durations = self._distribution_query(
            key,
            self._seconds_between(c.started_at, c.finished_at),
            self._window(sa.select(), filters).where(
                c.status.in_(("succeeded", "failed")),
                c.started_at.is_not(None),
                key.in_(list(totals)),
            ),
        )
        spread = {row.k: self._distribution(row) for row in conn.execute(durations)}
        return [
            OutcomeStats(
                key=k,
                total=int(row.total),
                succeeded=int(row.succeeded or 0),
                failed=int(row.failed or 0),
                cancelled=int(row.cancelled or 0),
                skipped=int(row.skipped or 0),
                duration=spread.get(k, Distribution()),
            )
            for k, row in totals.items()
        ]

    def by_task(
        self, conn: Connection, filters: StatsFilter, limit: int = 100
    ) -> builtins.list[OutcomeStats]:
        """Outcomes and durations per task in the window, busiest first."""
        return self._outcomes(conn, filters, runs.c.task, limit)

    def by_schedule(
        self, conn: Connection, filters: StatsFilter, limit: int = 100
    ) -> builtins.list[OutcomeStats]:
        """Outcomes and durations per schedule in the window, busiest first (with names)."""
        found = [
            s
            for s in self._outcomes(conn, filters, runs.c.schedule_id, limit + 1)
            if s.key is not None
        ][:limit]
        if not found:
            return []
        named = sa.select(schedules.c.id, schedules.c.name).where(
            schedules.c.id.in_([s.key for s in found])
        )
        if filters.restrict_tenant is not None:
            named = named.where(schedules.c.tenant_id == filters.restrict_tenant)
        names = dict(conn.execute(named).all())
        return [
            OutcomeStats(
                key=s.key,
                total=s.total,
                succeeded=s.succeeded,
                failed=s.failed,
                cancelled=s.cancelled,
                skipped=s.skipped,
                duration=s.duration,
                name=names.get(s.key),
            )
            for s in found
        ]

    # -- lateness, the queue, throughput -----------------------------------------------

    def fire_lateness(self, conn: Connection, filters: StatsFilter) -> Distribution:
        """How long after their fire time scheduled runs were created (scheduler lag)."""
        c = runs.c
        query = self._distribution_query(
            sa.literal(1),
            self._seconds_between(c.scheduled_for, c.created_at),
            self._window(sa.select(), filters).where(
                c.scheduled_for.is_not(None), c.status != RunStatus.SKIPPED.value
            ),
        )
        row = conn.execute(query).one_or_none()
        return Distribution() if row is None else self._distribution(row)

    def start_delay(self, conn: Connection, filters: StatsFilter) -> Distribution:
        """How long runs waited in the queue between becoming due and starting."""
        c = runs.c
        query = self._distribution_query(
            sa.literal(1),
            self._seconds_between(c.run_at, c.started_at),
            self._window(sa.select(), filters).where(c.started_at.is_not(None)),
        )
        row = conn.execute(query).one_or_none()
        return Distribution() if row is None else self._distribution(row)

    def queue_depth(
        self, conn: Connection, now: datetime, restrict_tenant: str | None = None
    ) -> QueueDepth:
        """Runnable, scheduled, running and waiting runs now, and the oldest runnable's wait."""
        c = runs.c

        def narrow(query: sa.Select[Any]) -> sa.Select[Any]:
            return filter_runs(query, RunFilter(restrict_tenant=restrict_tenant))

        runnable = c.status.in_(RUNNABLE_RUN_STATUSES)
        by_queue = {
            queue: int(n)
            for queue, n in conn.execute(
                narrow(
                    sa.select(c.queue, sa.func.count())
                    .where(runnable, c.run_at <= now)
                    .group_by(c.queue)
                )
            )
        }
        oldest = conn.execute(
            narrow(sa.select(sa.func.min(c.run_at)).where(runnable, c.run_at <= now))
        ).scalar_one_or_none()
        scheduled = conn.execute(
            narrow(sa.select(sa.func.count()).where(runnable, c.run_at > now))
        ).scalar_one()
        # One count per status: each matches a partial index (running, and the status
        # index's waiting part), where an IN over both would scan the whole table.
        others = {
            status: int(
                conn.execute(
                    narrow(sa.select(sa.func.count()).where(c.status == status))
                ).scalar_one()
            )
            for status in (RunStatus.RUNNING.value, RunStatus.WAITING.value)
        }
        return QueueDepth(
            runnable=sum(by_queue.values()),
            scheduled=int(scheduled),
            running=int(others.get(RunStatus.RUNNING.value, 0)),
            waiting=int(others.get(RunStatus.WAITING.value, 0)),
            oldest_runnable_age=None
            if oldest is None
            else max(0.0, (now - oldest).total_seconds()),
            by_queue=by_queue,
        )

    def per_hour(self, conn: Connection, filters: StatsFilter) -> builtins.list[HourBucket]:
        """Finished runs per hour in the window (hours without runs are left out)."""
        c = runs.c
        hour = self.dialect.hour_bucket(c.finished_at)
        query = self._window(
            sa.select(
                hour.label("hour"),
                sa.func.count().label("total"),
                sa.func.sum(sa.case((c.status == "succeeded", 1), else_=0)).label("succeeded"),
                sa.func.sum(sa.case((c.status == "failed", 1), else_=0)).label("failed"),
            )
            .where(c.status.in_(FINAL))
            .group_by(hour)
            .order_by(hour),
            filters,
        )
        return [
            HourBucket(
                hour=datetime.fromtimestamp(int(row.hour) * 3600, UTC),
                total=int(row.total),
                succeeded=int(row.succeeded or 0),
                failed=int(row.failed or 0),
            )
            for row in conn.execute(query)
        ]


__all__: Sequence[str] = ["InsightsStore"]
