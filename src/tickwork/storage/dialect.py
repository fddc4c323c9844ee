"""What SQLite and PostgreSQL can each do, as flags and small statement pieces.

Callers test a capability (``supports_skip_locked``) or ask for a ready-made piece
(``lock_skip_locked(query)``) instead of testing the dialect's name, as APScheduler's data
stores do. Statements written out once per dialect live in the modules named for them:
:mod:`tickwork.storage.queue_sql` (the queue's hot path) and
:mod:`tickwork.storage.firing_sql` (the scheduler's).
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Dialect:
    """Capabilities of one database dialect (:data:`SQLITE` or :data:`POSTGRESQL`)."""

    # SQLAlchemy's name of the dialect.
    name: str
    # All processes follow the server's clock, since many machines share the database.
    has_server_clock: bool
    # LISTEN/NOTIFY can wake other processes.
    supports_notify: bool
    # ``SELECT ... FOR UPDATE SKIP LOCKED`` exists; SQLite locks the whole file instead.
    supports_skip_locked: bool
    # ``JOIN LATERAL`` exists: one index walk per row of a list, in one query.
    supports_lateral: bool
    # Text and JSON values may hold NUL characters; PostgreSQL's text and jsonb cannot.
    stores_nul: bool
    # Timestamps are stored as fixed-width UTC text ("YYYY-MM-DD HH:MM:SS.ffffff", whose
    # lexical order is its time order) rather than as a native type.
    stores_timestamps_as_text: bool

    @property
    def is_sqlite(self) -> bool:
        """Whether this is SQLite (one machine, writers serialised by ``BEGIN IMMEDIATE``)."""
        return self.name == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        """Whether this is PostgreSQL."""
        return self.name == "postgresql"

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


SQLITE = Dialect(
    name="sqlite",
    has_server_clock=False,
    supports_notify=False,
    supports_skip_locked=False,
    supports_lateral=False,
    stores_nul=True,
    stores_timestamps_as_text=True,
)
POSTGRESQL = Dialect(
    name="postgresql",
    has_server_clock=True,
    supports_notify=True,
    supports_skip_locked=True,
    supports_lateral=True,
    stores_nul=False,
    stores_timestamps_as_text=False,
)
_DIALECTS = {dialect.name: dialect for dialect in (SQLITE, POSTGRESQL)}


def dialect_for(name: str) -> Dialect:
    """The :class:`Dialect` for SQLAlchemy's dialect name."""
    dialect = _DIALECTS.get(name)
    if dialect is None:
        raise ValueError(f"unsupported database {name!r}; use SQLite or PostgreSQL")
    return dialect
