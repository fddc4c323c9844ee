"""The audit log: who changed what, when, from what to what."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.domain.queries import AuditFilter
from tickwork.domain.read_models import AuditEntry
from tickwork.storage.tables import audit_log

# The columns an entry is written with (``id`` is generated): every statement that appends
# to the log, driver-level ones included, lists them from here.
ENTRY_COLUMNS = tuple(f.name for f in dataclasses.fields(AuditEntry) if f.name != "id")
# The columns an entry must have.
_REQUIRED = frozenset(c.name for c in audit_log.c if not c.nullable and not c.primary_key)


def entry_values(
    *,
    at: Any,
    actor: str,
    source: str,
    action: str,
    target_type: str,
    target_id: str | int | None,
    tenant_id: str | None = None,
    before: Any = None,
    after: Any = None,
) -> dict[str, Any]:
    """One entry's values by column (:data:`ENTRY_COLUMNS`); the target's id as text."""
    return {
        "at": at,
        "actor": actor,
        "source": source,
        "action": action,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "tenant_id": tenant_id,
        "before": before,
        "after": after,
    }


def insert_entry_sql(expressions: Mapping[str, str], *, select_from: str | None = None) -> str:
    """Driver-level SQL that appends entries, from an SQL expression per column.

    Columns left out are NULL. Without ``select_from`` it appends one entry (``VALUES``);
    with it, one per row of that table or CTE (``INSERT ... SELECT``), whose columns the
    expressions may name.
    """
    unknown = set(expressions) - set(ENTRY_COLUMNS)
    missing = _REQUIRED - set(expressions)
    if unknown or missing:
        raise ValueError(f"audit columns unknown {sorted(unknown)}, missing {sorted(missing)}")
    columns = [name for name in ENTRY_COLUMNS if name in expressions]
    values = ", ".join(expressions[name] for name in columns)
    head = f"INSERT INTO audit_log ({', '.join(columns)})"
    if select_from is None:
        return f"{head} VALUES ({values})"
    return f"{head} SELECT {values} FROM {select_from}"


def filter_audit(query: sa.Select[Any], filters: AuditFilter) -> sa.Select[Any]:
    """``query`` on ``audit_log`` narrowed by ``filters``: the one filter of the audit log."""
    c = audit_log.c
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
    for prefix in filters.hidden_prefixes:
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
                **entry_values(
                    at=at,
                    actor=actor,
                    source=source,
                    action=action,
                    target_type=target_type,
                    target_id=target_id,
                    tenant_id=tenant_id,
                    before=before,
                    after=after,
                )
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
        query = filter_audit(sa.select(audit_log), filters).order_by(c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(c.id < before_id)
        return [AuditEntry(**dict(r._mapping)) for r in conn.execute(query)]

    def actions(
        self, conn: Connection, filters: AuditFilter, recent: int = 5000
    ) -> builtins.list[str]:
        """Distinct actions among the latest ``recent`` entries ``filters`` lets through
        (for the log's filter)."""
        latest = (
            filter_audit(sa.select(audit_log.c.action), filters)
            .order_by(audit_log.c.id.desc())
            .limit(recent)
            .subquery()
        )
        query = sa.select(latest.c.action).distinct().order_by(latest.c.action)
        return [str(r[0]) for r in conn.execute(query)]
