"""The audit log: who changed what, when, from what to what."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.domain.actor import Actor, Role
from tickwork.storage.tables import audit_log

# Logins, failed ones included (with the name typed and the address), are for admins bound
# to no tenant; changes to users and tokens are for admins.
AUTH_ACTIONS = "auth."
ACCOUNT_ACTIONS = ("user.", "token.")


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


def hidden_action_prefixes(actor: Actor) -> tuple[str, ...]:
    """The kinds of audit entries ``actor`` may not read: ``auth.*`` unless it is an admin
    bound to no tenant, ``user.*`` and ``token.*`` unless it is an admin."""
    if actor.role is Role.ADMIN:
        return () if actor.tenant_id is None else (AUTH_ACTIONS,)
    return (AUTH_ACTIONS, *ACCOUNT_ACTIONS)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Filters for reading the audit log."""

    target_type: str | None = None
    target_id: str | None = None
    actor: str | None = None
    action: str | None = None
    restrict_tenant: str | None = None
    # Actions starting with one of these are left out (what the reader may not see).
    hidden_prefixes: tuple[str, ...] = ()

    @classmethod
    def visible_to(cls, reader: Actor, **filters: str | None) -> AuditFilter:
        """``filters`` narrowed to what ``reader`` may read: its tenant's entries when bound
        to one, without the kinds of :func:`hidden_action_prefixes`."""
        return cls(
            **filters,
            restrict_tenant=reader.tenant_id,
            hidden_prefixes=hidden_action_prefixes(reader),
        )

    def apply(self, query: sa.Select[Any]) -> sa.Select[Any]:
        """``query`` on ``audit_log`` narrowed by these filters."""
        c = audit_log.c
        if self.target_type:
            query = query.where(c.target_type == self.target_type)
        if self.target_id:
            query = query.where(c.target_id == self.target_id)
        if self.actor:
            query = query.where(c.actor == self.actor)
        if self.action:
            query = query.where(c.action == self.action)
        if self.restrict_tenant is not None:
            query = query.where(c.tenant_id == self.restrict_tenant)
        for prefix in self.hidden_prefixes:
            query = query.where(sa.not_(c.action.like(prefix + "%")))
        return query


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
        query = filters.apply(sa.select(audit_log).order_by(c.id.desc()).limit(limit))
        if before_id is not None:
            query = query.where(c.id < before_id)
        return [AuditEntry(**dict(r._mapping)) for r in conn.execute(query)]

    def actions(
        self, conn: Connection, filters: AuditFilter, recent: int = 5000
    ) -> builtins.list[str]:
        """Distinct actions among the latest ``recent`` entries ``filters`` lets through
        (for the log's filter)."""
        latest = (
            filters.apply(sa.select(audit_log.c.action))
            .order_by(audit_log.c.id.desc())
            .limit(recent)
            .subquery()
        )
        query = sa.select(latest.c.action).distinct().order_by(latest.c.action)
        return [str(r[0]) for r in conn.execute(query)]
