"""Pausing and resuming queues: workers claim no run of a paused queue until it resumes.

Queues are shared by every tenant, so only operators and admins bound to no tenant pause or
resume them; each change is audited. A tenant-bound principal sees the queues holding its
own runs, counted over its runs only.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.domain import inputs
from tickwork.domain.actor import Actor, Role
from tickwork.domain.errors import PermissionDeniedError
from tickwork.domain.queues import QueueState, queue_name
from tickwork.storage.audit_store import AuditStore
from tickwork.storage.database import Database
from tickwork.storage.queue_pause_store import QueuePauseStore


class QueueService:
    """Lists queues and pauses or resumes them."""

    def __init__(self, db: Database, *, on_resume: Callable[[], None] = lambda: None) -> None:
        self.db = db
        self.store = QueuePauseStore(db.dialect)
        self.audit = AuditStore()
        self._on_resume = on_resume

    def list(self, actor: Actor) -> builtins.list[QueueState]:
        """Queues with pending or running runs, and paused ones, by name."""
        with self.db.read() as conn:
            return self.store.states(conn, actor.tenant_id)

    def pause(self, actor: Actor, name: str, *, note: str | None = None) -> QueueState:
        """Stop workers claiming runs of queue ``name`` (running ones carry on)."""
        name = self._check(actor, name)
        note = None if note is None else inputs.text(note, "note", max_length=2000) or None
        with self.db.write() as conn:
            now = self.db.now()
            if self.store.pause(conn, name, now, actor.name, note):
                self._record(conn, actor, "queue.pause", name, now, {"note": note})
        return self._state(actor, name)

    def resume(self, actor: Actor, name: str) -> QueueState:
        """Let workers claim runs of queue ``name`` again."""
        name = self._check(actor, name)
        with self.db.write() as conn:
            now = self.db.now()
            resumed = self.store.resume(conn, name)
            if resumed:
                self._record(conn, actor, "queue.resume", name, now, None)
        if resumed:
            self._on_resume()
        return self._state(actor, name)

    def _check(self, actor: Actor, name: str) -> str:
        if not actor.role.allows(Role.OPERATOR):
            raise PermissionDeniedError("pausing a queue needs the operator role", field="role")
        if actor.tenant_id is not None:
            raise PermissionDeniedError(
                "queues are shared by every tenant: only principals bound to no tenant pause "
                "or resume them",
                field="queue",
            )
        return queue_name(name)

    def _state(self, actor: Actor, name: str) -> QueueState:
        for state in self.list(actor):
            if state.name == name:
                return state
        with self.db.read() as conn:
            pause = self.store.find(conn, name)
        return QueueState(name=name, pending=0, running=0, pause=pause)

    def _record(
        self,
        conn: Connection,
        actor: Actor,
        action: str,
        name: str,
        now: datetime,
        after: dict[str, Any] | None,
    ) -> None:
        self.audit.record(
            conn,
            at=now,
            actor=actor.name,
            source=actor.source,
            action=action,
            target_type="queue",
            target_id=name,
            after=after,
        )
