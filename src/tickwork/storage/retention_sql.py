"""The retention prune's statement: delete one batch of finished runs older than a cutoff.

Batches walk the finished-at index from the oldest run up, each starting where the last one
ended (``after``), so a prune of millions of runs never rescans the index entries of the
runs it already deleted (they stay in the index until a vacuum). On PostgreSQL a batch is
one statement (the runs, their attempts and dependencies, committed on its own); on SQLite,
the ids are read and deleted in the caller's write transaction. Runs of a flow that runs
again (retried) are kept: it still waits on them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.domain.models import RunStatus
from tickwork.storage.dialect import Dialect
from tickwork.storage.tables import flows, run_attempts, run_dependencies, runs

FINAL_STATUSES = tuple(s.value for s in RunStatus if s.is_final)


class PrunedBatch(NamedTuple):
    """What one batch deleted: how many runs, and the latest finished time among them (where
    the next batch starts; ``None`` when nothing was deleted)."""

    deleted: int
    last_finished_at: datetime | None


def _victim_conditions(
    cutoff: datetime, after: datetime | None, tenant_id: str | None
) -> tuple[str, dict[str, Any]]:
    clauses = [
        "finished_at < %(cutoff)s",
        "status = ANY(%(final)s)",
        # A flow that runs again (retried) still waits on its earlier runs.
        "(flow_id IS NULL OR NOT EXISTS (SELECT 1 FROM flows AS f "
        "WHERE f.id = runs.flow_id AND f.status = 'running'))",
    ]
    params: dict[str, Any] = {"cutoff": cutoff, "final": list(FINAL_STATUSES)}
    if after is not None:
        clauses.append("finished_at >= %(after)s")
        params["after"] = after
    if tenant_id is not None:
        clauses.append("tenant_id = %(tenant_id)s")
        params["tenant_id"] = tenant_id
    return " AND ".join(clauses), params


_PRUNE_POSTGRESQL = """
    WITH victims AS MATERIALIZED (
        SELECT id, finished_at FROM runs
        WHERE {conditions}
        ORDER BY finished_at
        LIMIT %(limit)s
    ),
    attempts AS (
        DELETE FROM run_attempts WHERE run_id IN (SELECT id FROM victims)
    ),
    dependencies AS (
        DELETE FROM run_dependencies WHERE run_id IN (SELECT id FROM victims)
    ),
    gone AS (
        DELETE FROM runs WHERE id IN (SELECT id FROM victims) RETURNING finished_at
    )
    SELECT count(*), max(finished_at) FROM gone
"""


def delete_finished_batch(
    conn: Connection,
    dialect: Dialect,
    cutoff: datetime,
    limit: int,
    *,
    after: datetime | None = None,
    tenant_id: str | None = None,
) -> PrunedBatch:
    """Delete up to ``limit`` finished runs older than ``cutoff`` (and their attempts), the
    oldest first, none finished before ``after``; only ``tenant_id``'s when given."""
    if dialect.is_postgresql:
        conditions, params = _victim_conditions(cutoff, after, tenant_id)
        row = conn.exec_driver_sql(
            _PRUNE_POSTGRESQL.format(conditions=conditions), {**params, "limit": limit}
        ).one()
        return PrunedBatch(int(row[0]), row[1])
    running_flow = sa.select(flows.c.id).where(
        flows.c.id == runs.c.flow_id, flows.c.status == "running"
    )
    victims = (
        sa.select(runs.c.id, runs.c.finished_at)
        .where(
            runs.c.finished_at < cutoff,
            runs.c.status.in_(FINAL_STATUSES),
            sa.or_(runs.c.flow_id.is_(None), ~sa.exists(running_flow)),
        )
        .order_by(runs.c.finished_at)
        .limit(limit)
    )
    if after is not None:
        victims = victims.where(runs.c.finished_at >= after)
    if tenant_id is not None:
        victims = victims.where(runs.c.tenant_id == tenant_id)
    rows = conn.execute(victims).all()
    if not rows:
        return PrunedBatch(0, None)
    ids = [row[0] for row in rows]
    conn.execute(run_attempts.delete().where(run_attempts.c.run_id.in_(ids)))
    conn.execute(run_dependencies.delete().where(run_dependencies.c.run_id.in_(ids)))
    conn.execute(runs.delete().where(runs.c.id.in_(ids)))
    return PrunedBatch(len(ids), rows[-1][1])
