"""Reading the processes (nodes) of the installation and how fresh their heartbeats are.

Nodes belong to no tenant: every viewer sees the same list (the web layer hides their
counters of work from tenant-bound principals).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tickwork.domain.models import Node
from tickwork.storage.database import Database
from tickwork.storage.node_store import NodeStore

DEFAULT_STALE_AFTER = 30.0


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """A node with how fresh its heartbeat is."""

    node: Node
    heartbeat_age: float
    alive: bool


class NodeReads:
    """``app.reads.nodes``."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._store = NodeStore(db.dialect)

    def statuses(
        self, *, stale_after: float = DEFAULT_STALE_AFTER, include_stopped: bool = True
    ) -> list[NodeStatus]:
        """Every known process, most recently seen first; alive when running and its
        heartbeat is at most ``stale_after`` seconds old."""
        with self.db.read() as conn:
            now = self.db.now()
            found = self._store.list(conn)
        result = []
        for node in found:
            age = max(0.0, (now - node.heartbeat_at).total_seconds())
            if node.stopped_at is not None and not include_stopped:
                continue
            alive = node.stopped_at is None and age <= stale_after
            result.append(NodeStatus(node, age, alive))
        return result

    def seen_since(self, since: datetime) -> list[Node]:
        """Processes seen since ``since``, most recently seen first."""
        with self.db.read() as conn:
            return self._store.list(conn, since=since)
