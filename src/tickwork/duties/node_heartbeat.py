"""A process's heartbeat row in ``nodes``, refreshed by a background thread."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tickwork.domain.errors import DatabaseUnavailableError
from tickwork.storage.database import Database
from tickwork.storage.node_store import NodeStore

log = logging.getLogger("tickwork.nodes")

DEFAULT_HEARTBEAT_INTERVAL = 5.0


def new_node_id(kind: str) -> str:
    """A unique id that also tells an operator where the process runs."""
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class NodeHeartbeat:
    """Keeps one ``nodes`` row fresh while a service runs."""

    def __init__(
        self,
        db: Database,
        kind: str,
        *,
        node_id: str | None = None,
        interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        info: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self.db = db
        self.kind = kind
        self.node_id = node_id or new_node_id(kind)
        self.interval = interval
        self.info = info
        self.store = NodeStore(db.dialect)
        self.started_at: datetime = db.now()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        """Write the heartbeat now."""
        with self.db.write() as conn:
            self.store.beat(
                conn,
                node_id=self.node_id,
                kind=self.kind,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                started_at=self.started_at,
                now=self.db.now(),
                info=self.info(),
            )

    def start(self) -> None:
        """Beat once, then keep beating in the background."""
        try:
            self.beat()
        except DatabaseUnavailableError as exc:
            log.warning("first heartbeat of %s failed: %s", self.node_id, exc)
        self._thread = threading.Thread(
            target=self._loop, name=f"tickwork-{self.kind}-heartbeat", daemon=True
        )
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:
                log.warning("heartbeat of %s failed: %s", self.node_id, exc)

    def stop(self) -> None:
        """Stop beating and mark the node stopped."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            with self.db.write() as conn:
                self.store.stop(conn, self.node_id, self.db.now())
        except Exception as exc:
            log.warning("could not mark %s stopped: %s", self.node_id, exc)
