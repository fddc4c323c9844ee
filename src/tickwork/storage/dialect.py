"""Everything that differs between SQLite and PostgreSQL, and nothing else.

Callers ask for a capability or a ready-made statement piece instead of testing the
dialect's name themselves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, Row, Select, String, Table, func, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from tickwork.storage.types import UTCDateTime

SCHEDULES_CHANNEL = "tickwork_schedules"
RUNS_CHANNEL = "tickwork_runs"


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


_FINISH_POSTGRESQL = text(
    """
    UPDATE runs AS r SET
        status = v.status,
        finished_at = v.finished_at,
        result = v.result,
        logs = v.logs,
        error = v.error,
        traceback = v.traceback,
        run_at = COALESCE(v.run_at, r.run_at),
        attempt = r.attempt + v.next_attempt,
        token = CASE WHEN v.next_attempt = 1 THEN NULL ELSE r.token END,
        worker_id = CASE WHEN v.next_attempt = 1 THEN NULL ELSE r.worker_id END
    FROM jsonb_to_recordset(CAST(:batch AS jsonb)) AS v(
        id bigint, token text, status text, finished_at timestamptz, result jsonb,
        logs jsonb, error text, traceback text, run_at timestamptz, next_attempt int
    )
    WHERE r.id = v.id AND r.token = v.token AND r.status = 'running'
    RETURNING r.id, r.schedule_id, r.status, r.attempt, r.started_at, r.worker_id
    """
).columns(
    id=BigInteger(),
    schedule_id=BigInteger(),
    status=String(),
    attempt=Integer(),
    started_at=UTCDateTime(),
    worker_id=String(),
)

_FINISH_SQLITE = text(
    """
    UPDATE runs SET
        status = v.value ->> '$.status',
        finished_at = v.value ->> '$.finished_at',
        result = v.value -> '$.result',
        logs = v.value -> '$.logs',
        error = v.value ->> '$.error',
        traceback = v.value ->> '$.traceback',
        run_at = COALESCE(v.value ->> '$.run_at', runs.run_at),
        attempt = runs.attempt + (v.value ->> '$.next_attempt'),
        token = CASE WHEN (v.value ->> '$.next_attempt') = 1 THEN NULL ELSE runs.token END,
        worker_id = CASE WHEN (v.value ->> '$.next_attempt') = 1 THEN NULL ELSE runs.worker_id END
    FROM json_each(:batch) AS v
    WHERE runs.id = (v.value ->> '$.id') AND runs.token = (v.value ->> '$.token')
        AND runs.status = 'running'
    RETURNING runs.id, runs.schedule_id, runs.status, runs.attempt, runs.started_at,
        runs.worker_id
    """
).columns(
    id=BigInteger(),
    schedule_id=BigInteger(),
    status=String(),
    attempt=Integer(),
    started_at=UTCDateTime(),
    worker_id=String(),
)


def _timestamp(dialect: Dialect, value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.astimezone(UTC)
    if dialect.is_sqlite:
        # The same text SQLAlchemy writes for SQLite datetimes, so comparisons stay lexical.
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value.isoformat()


def finish_runs(
    conn: Connection, dialect: Dialect, outcomes: Sequence[dict[str, Any]]
) -> list[Row[Any]]:
    """Record many attempts' outcomes in one statement, fenced by their tokens.

    Each outcome has ``id``, ``token``, ``status``, ``finished_at``, ``result``, ``logs``,
    ``error``, ``traceback``, ``run_at`` (a retry's next time) and ``next_attempt`` (1 when
    the run goes back to the queue as its next attempt). Returns the rows that were
    accepted: an outcome whose token no longer matches (a superseded attempt) changes nothing.
    """
    if not outcomes:
        return []
    batch = [
        {
            **outcome,
            "finished_at": _timestamp(dialect, outcome["finished_at"]),
            "run_at": _timestamp(dialect, outcome.get("run_at")),
        }
        for outcome in outcomes
    ]
    statement = _FINISH_POSTGRESQL if dialect.is_postgresql else _FINISH_SQLITE
    payload = json.dumps(batch, separators=(",", ":"), default=str)
    return list(conn.execute(statement, {"batch": payload}))


def dialect_for(name: str) -> Dialect:
    """The :class:`Dialect` for SQLAlchemy's dialect name."""
    if name not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {name!r}; use SQLite or PostgreSQL")
    return Dialect(name)
