"""``tickwork.prune``: delete finished runs (and stale node rows) past the retention period."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from tickwork.context import Context
from tickwork.storage.node_store import NodeStore
from tickwork.storage.run_store import RunStore

if TYPE_CHECKING:
    from tickwork.app import Tickwork
    from tickwork.settings import Settings

TASK = "tickwork.prune"
BATCH = 5000


class PruneConfig(BaseModel):
    """How much history to keep."""

    days: float = Field(default=30, gt=0, description="Keep finished runs this many days")


def prune(app: Tickwork, days: float, should_stop: Any = lambda: False) -> dict[str, int]:
    """Delete finished runs older than ``days`` in batches; return how many of each went."""
    db = app.db
    store = RunStore(db.dialect)
    cutoff = db.now() - timedelta(days=days)
    deleted = 0
    while not should_stop():
        with db.write() as conn:
            count = store.delete_finished_before(conn, cutoff, BATCH)
        deleted += count
        if count < BATCH:
            break
    with db.write() as conn:
        nodes = NodeStore(db.dialect).forget_before(conn, db.now() - timedelta(days=7))
    return {"runs": deleted, "nodes": nodes}


def register(app: Tickwork, settings: Settings) -> None:
    """Register ``tickwork.prune``."""
    if TASK in app.registry:
        return

    def run(ctx: Context, config: PruneConfig) -> dict[str, Any]:
        """Delete old history."""
        result = prune(app, config.days, lambda: ctx.cancelled)
        ctx.log.info("deleted %d runs older than %g days", result["runs"], config.days)
        return result

    app.task(TASK, config=PruneConfig, description="Delete old run history")(run)
