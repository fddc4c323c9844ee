"""Heartbeat rows of schedulers, workers and web servers."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.domain.models import Node
from tickwork.storage.dialect import Dialect
from tickwork.storage.rows import node_from_row
from tickwork.storage.tables import nodes


class NodeStore:
    """Reads and writes ``nodes``."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def beat(
        self,
        conn: Connection,
        *,
        node_id: str,
        kind: str,
        hostname: str,
        pid: int,
        started_at: datetime,
        now: datetime,
        info: dict[str, Any],
    ) -> None:
        """Create or refresh a node's row."""
        statement = self.dialect.insert(nodes).values(
            id=node_id,
            kind=kind,
            hostname=hostname,
            pid=pid,
            started_at=started_at,
            heartbeat_at=now,
            stopped_at=None,
            info=info,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["id"],
            set_={"heartbeat_at": now, "info": info, "stopped_at": None, "lost_at": None},
        )
        conn.execute(statement)

    def stop(self, conn: Connection, node_id: str, now: datetime) -> None:
        """Mark a node as cleanly stopped."""
        conn.execute(nodes.update().where(nodes.c.id == node_id).values(stopped_at=now))

    def list(self, conn: Connection, *, since: datetime | None = None) -> builtins.list[Node]:
        """Nodes, most recently seen first; with ``since``, only those seen after it."""
        query = sa.select(nodes).order_by(nodes.c.heartbeat_at.desc())
        if since is not None:
            query = query.where(nodes.c.heartbeat_at >= since)
        return [node_from_row(r) for r in conn.execute(query)]

    def running_heartbeats(self, conn: Connection) -> builtins.list[tuple[str, str, datetime]]:
        """Every running node's id, kind and last heartbeat (for ``/metrics``); nodes
        marked lost are left out, so a dead node's growing age is not exported forever."""
        query = sa.select(nodes.c.id, nodes.c.kind, nodes.c.heartbeat_at).where(
            nodes.c.stopped_at.is_(None), nodes.c.lost_at.is_(None)
        )
        return [(r.id, r.kind, r.heartbeat_at) for r in conn.execute(query)]

    def latest_heartbeat(self, conn: Connection, kind: str) -> datetime | None:
        """The freshest heartbeat of a running node of ``kind``."""
        value: datetime | None = conn.execute(
            sa.select(sa.func.max(nodes.c.heartbeat_at)).where(
                nodes.c.kind == kind, nodes.c.stopped_at.is_(None)
            )
        ).scalar_one_or_none()
        return value

    def served_queues(self, conn: Connection) -> builtins.set[str]:
        """The queues running workers (not lost) name in their heartbeats."""
        query = sa.select(nodes.c.info).where(
            nodes.c.kind == "worker", nodes.c.stopped_at.is_(None), nodes.c.lost_at.is_(None)
        )
        found: builtins.set[str] = set()
        for (info,) in conn.execute(query):
            found.update(q for q in (info or {}).get("queues") or () if isinstance(q, str))
        return found

    def mark_lost(self, conn: Connection, cutoff: datetime, now: datetime) -> builtins.list[Node]:
        """Mark running nodes silent since before ``cutoff`` as lost (each only once);
        return those marked now."""
        rows = conn.execute(
            nodes.update()
            .where(
                nodes.c.stopped_at.is_(None),
                nodes.c.lost_at.is_(None),
                nodes.c.heartbeat_at < cutoff,
            )
            .values(lost_at=now)
            .returning(nodes)
        )
        return [node_from_row(r) for r in rows]

    def live(self, conn: Connection, since: datetime) -> builtins.list[Node]:
        """Nodes running and heard from since ``since``."""
        query = sa.select(nodes).where(
            nodes.c.stopped_at.is_(None),
            nodes.c.lost_at.is_(None),
            nodes.c.heartbeat_at >= since,
        )
        return [node_from_row(r) for r in conn.execute(query)]

    def last_seen(self, conn: Connection, kind: str) -> datetime | None:
        """When a node of ``kind`` was last heard from (its last heartbeat or its stop)."""
        value: datetime | None = conn.execute(
            sa.select(
                sa.func.max(sa.func.coalesce(nodes.c.stopped_at, nodes.c.heartbeat_at))
            ).where(nodes.c.kind == kind)
        ).scalar_one_or_none()
        return value

    def forget_before(self, conn: Connection, cutoff: datetime) -> int:
        """Delete rows of nodes not seen since ``cutoff``."""
        return conn.execute(nodes.delete().where(nodes.c.heartbeat_at < cutoff)).rowcount
