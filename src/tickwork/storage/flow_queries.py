"""Every query reading flows: one flow with its steps, filtered keyset pages, counts for
metrics. The read service (:mod:`tickwork.reads.flows`) and the flow service call it."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.domain.errors import NotFoundError
from tickwork.domain.flows import Flow, FlowStatus, FlowStep
from tickwork.domain.queries import FlowFilter
from tickwork.storage.dialect import Dialect
from tickwork.storage.tables import flows, run_dependencies, runs

_STATUSES = {member.value: member for member in FlowStatus}
_FLOW_COLUMNS = tuple(c for c in flows.c if c.name != "next_release_at")
_STEP_COLUMNS = (
    runs.c.id,
    runs.c.flow_id,
    runs.c.task,
    runs.c.status,
    runs.c.attempt,
    runs.c.started_at,
    runs.c.finished_at,
    runs.c.error,
    runs.c.skip_reason,
)


class FlowReader:
    """Reads flows and their steps."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def get(self, conn: Connection, flow_id: int, *, restrict_tenant: str | None = None) -> Flow:
        """The flow with ``flow_id`` and its steps, or :class:`NotFoundError`."""
        query = sa.select(*_FLOW_COLUMNS).where(flows.c.id == flow_id)
        if restrict_tenant is not None:
            query = query.where(flows.c.tenant_id == restrict_tenant)
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFoundError(f"flow {flow_id} not found", field="id")
        return self._with_steps(conn, [row])[0]

    def list(
        self,
        conn: Connection,
        filters: FlowFilter,
        *,
        before_id: int | None = None,
        limit: int = 50,
    ) -> builtins.list[Flow]:
        """Flows newest first, with their steps; pass the last id as ``before_id`` for the
        next page."""
        query = self._filtered(sa.select(*_FLOW_COLUMNS), filters).order_by(flows.c.id.desc())
        if before_id is not None:
            query = query.where(flows.c.id < before_id)
        return self._with_steps(conn, conn.execute(query.limit(limit)).all())

    def count_by_status(
        self, conn: Connection, *, restrict_tenant: str | None = None
    ) -> dict[str, int]:
        """How many flows are in each status (only ``restrict_tenant``'s, when given)."""
        query = sa.select(flows.c.status, sa.func.count()).group_by(flows.c.status)
        if restrict_tenant is not None:
            query = query.where(flows.c.tenant_id == restrict_tenant)
        return {row[0]: int(row[1]) for row in conn.execute(query)}

    def durations_since(
        self, conn: Connection, since: datetime, limit: int = 1000
    ) -> builtins.list[tuple[str, float]]:
        """``(status, seconds)`` of flows that ended at or after ``since`` (newest first)."""
        query = (
            sa.select(flows.c.status, flows.c.created_at, flows.c.finished_at)
            .where(
                flows.c.finished_at >= since,
                flows.c.status != FlowStatus.SKIPPED.value,
            )
            .order_by(flows.c.finished_at.desc())
            .limit(limit)
        )
        return [
            (row[0], (row[2] - row[1]).total_seconds())
            for row in conn.execute(query)
            if row[1] is not None and row[2] is not None
        ]

    def _filtered(self, query: sa.Select[Any], filters: FlowFilter) -> sa.Select[Any]:
        c = flows.c
        if filters.status:
            query = query.where(c.status.in_(list(filters.status)))
        if filters.group:
            query = query.where(c.group == filters.group)
        if filters.schedule_id is not None:
            query = query.where(c.schedule_id == filters.schedule_id)
        if filters.tenant_id:
            query = query.where(c.tenant_id == filters.tenant_id)
        if filters.trigger:
            query = query.where(c.trigger == filters.trigger)
        if filters.since is not None:
            query = query.where(c.created_at >= filters.since)
        if filters.until is not None:
            query = query.where(c.created_at < filters.until)
        if filters.restrict_tenant is not None:
            query = query.where(c.tenant_id == filters.restrict_tenant)
        return query

    def _with_steps(self, conn: Connection, rows: Sequence[Any]) -> builtins.list[Flow]:
        ids = [row.id for row in rows]
        steps: dict[int, builtins.list[Any]] = {flow_id: [] for flow_id in ids}
        waits: dict[int, builtins.list[str]] = {}
        if ids:
            for step in conn.execute(
                sa.select(*_STEP_COLUMNS).where(runs.c.flow_id.in_(ids)).order_by(runs.c.id)
            ):
                steps[step.flow_id].append(step)
            upstream = runs.alias("upstream")
            for run_id, task in conn.execute(
                sa.select(run_dependencies.c.run_id, upstream.c.task)
                .join(upstream, upstream.c.id == run_dependencies.c.depends_on)
                .where(run_dependencies.c.flow_id.in_(ids))
                .order_by(upstream.c.task)
            ):
                waits.setdefault(run_id, []).append(task)
        return [_flow(row, steps[row.id], waits) for row in rows]


def _flow(row: Any, steps: Sequence[Any], waits: dict[int, builtins.list[str]]) -> Flow:
    data = dict(row._mapping)
    data["status"] = _STATUSES[data["status"]]
    data["tasks"] = None if data["tasks"] is None else tuple(data["tasks"])
    data["stagger"] = float(data["stagger"] or 0.0)
    data["steps"] = tuple(
        FlowStep(
            task=step.task,
            run_id=step.id,
            status=step.status,
            depends_on=tuple(waits.get(step.id, ())),
            attempt=step.attempt,
            started_at=step.started_at,
            finished_at=step.finished_at,
            error=step.error,
            skip_reason=step.skip_reason,
        )
        for step in steps
    )
    return Flow(**data)
