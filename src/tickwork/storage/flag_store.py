"""Feature flags that schedules may name as their ``condition``."""

from __future__ import annotations

import builtins
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.domain.models import Flag
from tickwork.storage.dialect import Dialect
from tickwork.storage.tables import flags, tenant_scope


def _in_scope(tenant_id: str | None) -> sa.ColumnElement[bool]:
    return tenant_scope(flags.c.tenant_id) == (tenant_id or "")


class FlagStore:
    """Reads and writes ``flags``. Names are unique per tenant; ``tenant_id`` ``None`` means
    the installation's flags."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def state(self, conn: Connection, name: str, tenant_id: str | None) -> bool | None:
        """Whether flag ``name`` lets a schedule of ``tenant_id`` fire: every flag of that
        name it sees (the installation's and its tenant's) must be on, so a tenant cannot
        overrule an installation-wide switch. ``None`` when it sees no such flag."""
        visible: sa.ColumnElement[bool] = flags.c.tenant_id.is_(None)
        if tenant_id is not None:
            visible = sa.or_(visible, flags.c.tenant_id == tenant_id)
        values = [
            bool(v)
            for v in conn.execute(sa.select(flags.c.enabled).where(flags.c.name == name, visible))
            .scalars()
            .all()
        ]
        return all(values) if values else None

    def find(
        self, conn: Connection, name: str, *, tenant_id: str | None = None, lock: bool = False
    ) -> Flag | None:
        """The flag called ``name`` of ``tenant_id`` (``None``: the installation's), if any."""
        query = sa.select(flags).where(_in_scope(tenant_id), flags.c.name == name)
        if lock:
            query = self.dialect.lock(query)
        row = conn.execute(query).one_or_none()
        return None if row is None else Flag(**row._mapping)

    def set(
        self,
        conn: Connection,
        name: str,
        enabled: bool,
        now: datetime,
        actor: str | None,
        description: str | None = None,
        *,
        tenant_id: str | None = None,
    ) -> None:
        """Create or change a flag (a ``None`` description keeps the current one)."""
        statement = self.dialect.insert(flags).values(
            name=name,
            tenant_id=tenant_id,
            enabled=enabled,
            updated_at=now,
            updated_by=actor,
            description=description,
        )
        changes: dict[str, object] = {"enabled": enabled, "updated_at": now, "updated_by": actor}
        if description is not None:
            changes["description"] = description
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[tenant_scope(flags.c.tenant_id), flags.c.name], set_=changes
            )
        )

    def delete(self, conn: Connection, name: str, *, tenant_id: str | None = None) -> bool:
        """Remove a flag; whether it existed."""
        deleted = conn.execute(flags.delete().where(_in_scope(tenant_id), flags.c.name == name))
        return bool(deleted.rowcount)

    def list(self, conn: Connection, *, restrict_tenant: str | None = None) -> builtins.list[Flag]:
        """Flags by name, the installation's before a tenant's; with ``restrict_tenant``,
        the installation's and that tenant's only."""
        query = sa.select(flags).order_by(
            flags.c.name, flags.c.tenant_id.is_not(None), flags.c.tenant_id
        )
        if restrict_tenant is not None:
            query = query.where(
                sa.or_(flags.c.tenant_id.is_(None), flags.c.tenant_id == restrict_tenant)
            )
        return [Flag(**r._mapping) for r in conn.execute(query)]
