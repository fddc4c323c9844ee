"""Reading the audit log for an actor: only the entries it may read."""

from __future__ import annotations

import builtins

from tickwork.domain.actor import Actor
from tickwork.domain.queries import AuditFilter
from tickwork.domain.read_models import AuditEntry
from tickwork.storage.audit_store import AuditStore
from tickwork.storage.database import Database


class AuditReads:
    """``app.reads.audit``. A tenant-bound actor reads its tenant's entries; logins are for
    admins bound to no tenant, changes to users and tokens for admins."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._store = AuditStore()

    def list(
        self,
        actor: Actor,
        *,
        target_type: str | None = None,
        target_id: str | None = None,
        by: str | None = None,
        action: str | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> builtins.list[AuditEntry]:
        """Entries newest first, keyset-paginated by id; ``by`` is who acted."""
        filters = AuditFilter.visible_to(
            actor, target_type=target_type, target_id=target_id, actor=by, action=action
        )
        with self.db.read() as conn:
            return self._store.list(conn, filters, before_id=before_id, limit=limit)

    def actions(self, actor: Actor) -> builtins.list[str]:
        """Distinct actions among the latest entries ``actor`` may read (for filters)."""
        with self.db.read() as conn:
            return self._store.actions(conn, AuditFilter.visible_to(actor))
