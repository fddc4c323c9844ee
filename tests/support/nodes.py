"""What the ``nodes`` table says about the processes a test started."""

from __future__ import annotations

import sqlalchemy as sa

from tickwork.storage.database import Database
from tickwork.storage.tables import nodes


def node_pids(db: Database, kind: str) -> set[int]:
    """The process ids of the nodes of ``kind`` (scheduler, worker, web) that have written
    their first heartbeat, which each does only after installing its signal handlers."""
    with db.read() as conn:
        return set(conn.execute(sa.select(nodes.c.pid).where(nodes.c.kind == kind)).scalars())
