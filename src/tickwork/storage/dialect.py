"""Everything that differs between SQLite and PostgreSQL, and nothing else.

Callers ask for a capability or a ready-made statement piece instead of testing the
dialect's name themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Float, Select, Table, cast, func, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

SCHEDULES_CHANNEL = "tickwork_schedules"
RUNS_CHANNEL = "tickwork_runs"
# An operator asked a running run to stop: workers look at their runs at once.
CANCEL_CHANNEL = "tickwork_cancel"


@dataclass(frozen=True, slots=True)
class Dialect:
    """Capabilities of one database dialect."""

    name: str

    @property
    def is_sqlite(self) -> bool:
        """Whether this is SQLite (one machine, writers serialised by ``BEGIN IMMEDIATE``)."""
        return self.name == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        """Whether this is PostgreSQL."""
        return self.name == "postgresql"

    @property
    def has_server_clock(self) -> bool:
        """Whether all processes should follow the server's clock (shared by many machines)."""
        return self.is_postgresql

    @property
    def supports_notify(self) -> bool:
        """Whether LISTEN/NOTIFY can wake other processes."""
        return self.is_postgresql

    @property
    def supports_skip_locked(self) -> bool:
        """Whether ``SELECT ... FOR UPDATE SKIP LOCKED`` exists (SQLite locks the whole file)."""
        return self.is_postgresql

    @property
    def supports_lateral(self) -> bool:
        """Whether ``JOIN LATERAL`` exists (one index walk per row of a list in one query)."""
        return self.is_postgresql

    def insert(self, table: Table) -> Any:
        """An INSERT that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
        if self.is_postgresql:
            return postgresql.insert(table)
        return sqlite.insert(table)

    def lock_skip_locked(self, query: Select[Any]) -> Select[Any]:
        """Lock the selected rows, skipping those another transaction holds."""
        if self.supports_skip_locked:
            return query.with_for_update(skip_locked=True)
        return query

    def lock(self, query: Select[Any]) -> Select[Any]:
        """Lock the selected rows, waiting for other transactions that hold them."""
        if self.is_postgresql:
            return query.with_for_update()
        return query

    def advisory_lock(self, conn: Connection, key: int) -> None:
        """Hold a lock named by ``key`` until this transaction ends (SQLite: the write lock)."""
        if self.is_postgresql:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def greatest(self, *values: Any) -> Any:
        """The SQL expression for the largest of ``values``."""
        if self.is_sqlite:
            return func.max(*values)
        return func.greatest(*values)

    def epoch_seconds(self, value: Any) -> Any:
        """The SQL expression for a timestamp as seconds since 1970 (a float)."""
        if self.is_sqlite:
            # Stored as "YYYY-MM-DD HH:MM:SS.ffffff": whole seconds plus the fraction, exact
            # to the microsecond (julianday() would round to tens of microseconds).
            return cast(func.strftime("%s", value), Float) + cast(func.substr(value, 20), Float)
        return cast(func.extract("epoch", value), Float)

    def hour_bucket(self, value: Any) -> Any:
        """The SQL expression for the hour a timestamp falls in, as whole hours since 1970."""
        if self.is_sqlite:
            return cast(func.strftime("%s", value), BigInteger) // 3600
        return cast(func.floor(func.extract("epoch", value) / 3600), BigInteger)

    def notify(self, conn: Connection, channel: str, payload: str = "") -> None:
        """Send a wake-up to listeners once this transaction commits (PostgreSQL only)."""
        if self.supports_notify:
            conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {
                    "channel": channel,
                    "payload": payload,
                },
            )


def dialect_for(name: str) -> Dialect:
    """The :class:`Dialect` for SQLAlchemy's dialect name."""
    if name not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {name!r}; use SQLite or PostgreSQL")
    return Dialect(name)
