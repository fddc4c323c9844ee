"""The audit log: who changed what, when, from what to what."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.storage.tables import audit_log


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log."""

    id: int
    at: datetime
    actor: str
    source: str
    action: str
    target_type: str
    target_id: str | None
    tenant_id: str | None
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Filters for reading the audit log."""

    target_type: str | None = None
    target_id: str | None = None
    actor: str | None = None
    action: str | None = None
    restrict_tenant: str | None = None


class AuditStore:
    """Appends to and reads ``audit_log``; rows are never updated."""

    def record(
        self,
        conn: Connection,
        *,
        at: datetime,
        actor: str,
        source: str,
        action: str,
        target_type: str,
        target_id: str | int | None,
        tenant_id: str | None = None,
        before: Any = None,
        after: Any = None,
    ) -> None:
        """Append one entry, in the caller's transaction so it commits with the change."""
        conn.execute(
            audit_log.insert().values(
                at=at,
                actor=actor,
                source=source,
                action=action,
                target_type=target_type,
                target_id=None if target_id is None else str(target_id),
                tenant_id=tenant_id,
                before=before,
                after=after,
            )
        )

    def list(
        self,
        conn: Connection,
        filters: AuditFilter,
        *,
        before_id: int | None = None,
        limit: int = 50,
    ) -> builtins.list[AuditEntry]:
        """Entries newest first, keyset-paginated by id."""
        c = audit_log.c
        query = sa.select(audit_log).order_by(c.id.desc()).limit(limit)
        if filters.target_type:
            query = query.where(c.target_type == filters.target_type)
        if filters.target_id:
            query = query.where(c.target_id == filters.target_id)
        if filters.actor:
            query = query.where(c.actor == filters.actor)
        if filters.action:
            query = query.where(c.action == filters.action)
        if filters.restrict_tenant is not None:
            query = query.where(c.tenant_id == filters.restrict_tenant)
        if before_id is not None:
            query = query.where(c.id < before_id)
        return [AuditEntry(**dict(r._mapping)) for r in conn.execute(query)]
