"""Feature flags that schedules may name as their ``condition``."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.storage.dialect import Dialect
from tickwork.storage.tables import flags


@dataclass(frozen=True, slots=True)
class Flag:
    """A named on/off switch."""

    name: str
    enabled: bool
    description: str | None
    updated_at: datetime
    updated_by: str | None


class FlagStore:
    """Reads and writes ``flags``."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def get(self, conn: Connection, name: str) -> bool | None:
        """The flag's value, or ``None`` when no such flag exists."""
        value = conn.execute(
            sa.select(flags.c.enabled).where(flags.c.name == name)
        ).scalar_one_or_none()
        return None if value is None else bool(value)

    def find(self, conn: Connection, name: str, *, lock: bool = False) -> Flag | None:
        """The flag called ``name`` in full, if it exists."""
        query = sa.select(flags).where(flags.c.name == name)
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
    ) -> None:
        """Create or change a flag (a ``None`` description keeps the current one)."""
        statement = self.dialect.insert(flags).values(
            name=name, enabled=enabled, updated_at=now, updated_by=actor, description=description
        )
        changes: dict[str, object] = {"enabled": enabled, "updated_at": now, "updated_by": actor}
        if description is not None:
            changes["description"] = description
        conn.execute(statement.on_conflict_do_update(index_elements=["name"], set_=changes))

    def delete(self, conn: Connection, name: str) -> bool:
        """Remove a flag; whether it existed."""
        return bool(conn.execute(flags.delete().where(flags.c.name == name)).rowcount)

    def list(self, conn: Connection) -> builtins.list[Flag]:
        """Every flag, by name."""
        return [Flag(**r._mapping) for r in conn.execute(sa.select(flags).order_by(flags.c.name))]
