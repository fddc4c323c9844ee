"""``tickwork.prune``: delete finished runs and flows (and stale node rows) past the retention
period.

A run of it bound to a tenant deletes only that tenant's finished runs; one without a tenant
(the daily system schedule) prunes the whole installation, and only an admin bound to no
tenant may enqueue or schedule that.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from tickwork.context import Context
from tickwork.storage.alert_store import AlertStore
from tickwork.storage.flow_store import FlowStore
from tickwork.storage.node_store import NodeStore
from tickwork.storage.run_store import RunStore

if TYPE_CHECKING:
    from tickwork.app import Tickwork
    from tickwork.settings import Settings

TASK = "tickwork.prune"
BATCH = 5000
# Runs younger than a day are what operators look at when something just went wrong, so no
# payload may delete them; a century is far beyond any retention anyone means.
MIN_DAYS = 1
MAX_DAYS = 36_500
NODE_RETENTION = timedelta(days=7)


class PruneConfig(BaseModel):
    """How much history to keep."""

    days: float = Field(
        default=30,
        ge=MIN_DAYS,
        le=MAX_DAYS,
        allow_inf_nan=False,
        description="Keep finished runs this many days (at least one)",
    )


def prune(
    app: Tickwork,
    days: float,
    should_stop: Callable[[], bool] = lambda: False,
    *,
    tenant_id: str | None = None,
) -> dict[str, int]:
    """Delete finished runs older than ``days`` in batches (only ``tenant_id``'s when given;
    node rows, and incidents resolved and notifications sent before then, only when pruning
    the whole installation); return how many of each went."""
    db = app.db
    store = RunStore(db.dialect)
    cutoff = db.now() - timedelta(days=days)
    deleted = 0
    after = None
    while not should_stop():
        # One statement per batch on PostgreSQL, committed on its own.
        with db.write_statement() as conn:
            batch = store.delete_finished_before(
                conn, cutoff, BATCH, tenant_id=tenant_id, after=after
            )
        deleted += batch.deleted
        if batch.deleted < BATCH:
            break
        after = batch.last_finished_at
    flows = FlowStore(db.dialect)
    while not should_stop():
        with db.write() as conn:
            if flows.delete_finished_before(conn, cutoff, BATCH, tenant_id=tenant_id) < BATCH:
                break
    nodes = alerts = 0
    if tenant_id is None:
        with db.write() as conn:
            nodes = NodeStore(db.dialect).forget_before(conn, db.now() - NODE_RETENTION)
            alerts = AlertStore(db.dialect).forget_before(conn, cutoff)
    return {"runs": deleted, "nodes": nodes, "alerts": alerts}


def register(app: Tickwork, settings: Settings) -> None:
    """Register ``tickwork.prune`` (tenant-scoped: see the module docstring)."""
    if TASK in app.registry:
        return

    def run(ctx: Context, config: PruneConfig) -> dict[str, Any]:
        """Delete old history."""
        result = prune(app, config.days, lambda: ctx.cancelled, tenant_id=ctx.tenant_id)
        scope = "every tenant" if ctx.tenant_id is None else f"tenant {ctx.tenant_id!r}"
        ctx.log.info("deleted %d runs of %s older than %g days", result["runs"], scope, config.days)
        return result

    app.task(TASK, config=PruneConfig, tenant_scoped=True, description="Delete old run history")(
        run
    )
