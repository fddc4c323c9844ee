"""Values as driver-level SQL sends and receives them, on SQLite and PostgreSQL.

The queue's and the scheduler's hot-path statements (:mod:`tickwork.storage.queue_sql`,
:mod:`tickwork.storage.firing_sql`) bypass SQLAlchemy's type processing, so they encode
timestamps and JSON themselves: timestamps as each database stores them, JSON as compact
text without the NUL characters PostgreSQL cannot hold, and rows read back as aware UTC
datetimes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from tickwork.storage.dialect import Dialect

# The PostgreSQL type each column of ``runs`` is read as from a JSON parameter (text, not
# the column's varchar: a cast to varchar(n) would cut a longer value instead of refusing it).
RUN_COLUMN_TYPES = {
    "schedule_id": "bigint",
    "task": "text",
    "payload": "jsonb",
    "status": "text",
    "trigger": "text",
    "tenant_id": "text",
    "queue": "text",
    "priority": "int",
    "max_attempts": "int",
    "retry_backoff": "float8",
    "retry_backoff_max": "float8",
    "timeout": "float8",
    "run_at": "timestamptz",
    "scheduled_for": "timestamptz",
    "created_at": "timestamptz",
    "created_by": "text",
    "finished_at": "timestamptz",
    "skip_reason": "text",
    "details": "jsonb",
    "key": "text",
}

# The columns every new run is written with, by an enqueue or a fire.
NEW_RUN_COLUMNS = (
    "task",
    "payload",
    "status",
    "trigger",
    "tenant_id",
    "queue",
    "priority",
    "max_attempts",
    "retry_backoff",
    "retry_backoff_max",
    "timeout",
    "run_at",
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def fetch_all(conn: Connection, sql: str, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
    """Every row of a driver-level statement, as tuples.

    The statement runs on the driver's cursor, without SQLAlchemy's execution context and
    result (a third of an enqueue's client time); a driver error is raised as SQLAlchemy
    would raise it, and a lost connection is invalidated so the pool replaces it.
    """
    driver = conn.connection.dbapi_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []
    except conn.dialect.loaded_dbapi.Error as exc:
        raise_translated(conn, sql, params, exc, driver, cursor)
    finally:
        cursor.close()


def raise_translated(
    conn: Connection, sql: str, params: Any, exc: Any, driver: Any, cursor: Any
) -> NoReturn:
    """Raise the driver's error ``exc`` (an instance of its ``Error``) as SQLAlchemy would
    for a statement on ``conn``; a lost connection is invalidated first, so the pool
    replaces it."""
    lost = conn.dialect.is_disconnect(exc, driver, cursor)
    if lost:
        conn.invalidate(exc)
    raise DBAPIError.instance(
        sql,
        params,
        exc,
        conn.dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=conn.dialect,
    ) from exc


def sqlite_timestamp(value: datetime) -> str:
    """An aware timestamp as SQLite stores it."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def timestamp_text(dialect: Dialect, value: datetime | None) -> str | None:
    """An aware timestamp as a parameter of this database's driver-level SQL."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    if dialect.stores_timestamps_as_text:
        # The same text SQLAlchemy writes for SQLite datetimes, so comparisons stay lexical.
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value.isoformat()


def timestamp_encoder(dialect: Dialect) -> Callable[[datetime], str]:
    """``json.dumps``' hook for the timestamps of one batch, each formatted once.

    A burst of fire times repeats a few values (the fire time, ``now``, the next fire
    time) thousands of times, and formatting one costs more than encoding the rest of
    its row.
    """
    encode = sqlite_timestamp if dialect.stores_timestamps_as_text else datetime.isoformat
    known: dict[datetime, str] = {}

    def encoded(value: datetime) -> str:
        text = known.get(value)
        if text is None:
            text = known[value] = encode(value)
        return text

    return encoded


def parse_utc(value: Any) -> datetime | None:
    """A timestamp from a raw row as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
    if value.tzinfo is UTC:
        return value  # type: ignore[no-any-return]
    return value.astimezone(UTC)  # type: ignore[no-any-return]


def epoch_microseconds(value: datetime | None) -> int | None:
    """An aware timestamp as whole microseconds since 1970 (how outcomes carry times)."""
    return None if value is None else (value - EPOCH) // _MICROSECOND


def from_epoch_microseconds(value: int) -> datetime:
    """The aware timestamp of :func:`epoch_microseconds`."""
    return EPOCH + value * _MICROSECOND


def without_nul(value: Any) -> Any:
    """A JSON value with every NUL character replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(v) for v in value]
    return value


def storable_json(dialect: Dialect, value: Any) -> Any:
    """A JSON value as this database stores it: PostgreSQL's text and jsonb cannot hold NUL
    characters, which become U+FFFD."""
    # repr() escapes a NUL as \x00 (a literal backslash-x00 matches too; it stays as is).
    if not dialect.stores_nul and "\\x00" in repr(value):
        return without_nul(value)
    return value


def json_text(dialect: Dialect, value: Any) -> str:
    """``value`` as compact JSON; on PostgreSQL without NUL characters, which its text and
    jsonb cannot hold (they become U+FFFD)."""
    text = json.dumps(value, separators=(",", ":"))
    if not dialect.stores_nul and "\\u0000" in text:
        text = json.dumps(without_nul(value), separators=(",", ":"))
    return text


def loaded_json(value: Any) -> Any:
    """A JSON document from a result: psycopg decodes ``json`` columns unless told not to."""
    return json.loads(value) if isinstance(value, str | bytes) else value
