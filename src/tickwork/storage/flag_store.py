"""Feature flags that schedules may name as their ``condition``."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.storage.dialect import Dialect
from tickwork.storage.tables import flags


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

    def set(
        self, conn: Connection, name: str, enabled: bool, now: datetime, actor: str | None
    ) -> None:
        """Create or change a flag."""
        statement = self.dialect.insert(flags).values(
            name=name, enabled=enabled, updated_at=now, updated_by=actor
        )
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={"enabled": enabled, "updated_at": now, "updated_by": actor},
            )
        )

    def all(self, conn: Connection) -> dict[str, bool]:
        """Every flag and its value."""
        return {
            name: bool(enabled)
            for name, enabled in conn.execute(sa.select(flags.c.name, flags.c.enabled))
        }
