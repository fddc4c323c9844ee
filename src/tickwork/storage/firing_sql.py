"""The scheduler's hot-path statements: insert the runs of fire times and advance the
fired schedules, separately or (on PostgreSQL) in one statement.

Like :mod:`tickwork.storage.queue_sql`, these are driver-level SQL with one JSON parameter
per batch, written once per dialect.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.storage.dialect import Dialect
from tickwork.storage.driver_values import (
    NEW_RUN_COLUMNS,
    RUN_COLUMN_TYPES,
    fetch_all,
    parse_utc,
    timestamp_encoder,
    without_nul,
)
from tickwork.storage.tables import FIRE_TIME_KEY

# Columns of the runs a scheduler writes for fire times (queued or skipped).
FIRED_COLUMN_NAMES = (
    "schedule_id",
    *NEW_RUN_COLUMNS,
    "scheduled_for",
    "created_at",
    "created_by",
    "finished_at",
    "skip_reason",
    "details",
)
# The unique fire-time index is partial; ON CONFLICT must name its predicate to match it.
_FIRE_TIME_CONFLICT = f"ON CONFLICT (schedule_id, scheduled_for) WHERE {FIRE_TIME_KEY} DO NOTHING"


def _insert_fired_postgresql(batch: str) -> str:
    """Insert fired runs from the JSON array parameter ``batch``, returning their statuses."""
    return f"""
        INSERT INTO runs ({", ".join(FIRED_COLUMN_NAMES)})
        SELECT {", ".join(FIRED_COLUMN_NAMES)}
        FROM jsonb_to_recordset(CAST(%({batch})s AS jsonb)) AS v(
            {", ".join(f"{name} {RUN_COLUMN_TYPES[name]}" for name in FIRED_COLUMN_NAMES)}
        )
        {_FIRE_TIME_CONFLICT}
        RETURNING status
    """


# Inserts, and wakes workers when a runnable run was inserted, in one round trip.
_INSERT_FIRED_POSTGRESQL = f"""
    WITH inserted AS ({_insert_fired_postgresql("batch")})
    SELECT count(*), (
        SELECT pg_notify(%(channel)s, '') WHERE %(channel)s IS NOT NULL AND EXISTS (
            SELECT 1 FROM inserted WHERE status IN ('queued', 'retrying')
        )
    )
    FROM inserted
"""
_INSERT_FIRED_SQLITE = f"""
    INSERT INTO runs ({", ".join(FIRED_COLUMN_NAMES)})
    SELECT {", ".join(f"v.value ->> '$.{n}'" for n in FIRED_COLUMN_NAMES)}
    FROM json_each(:batch) AS v
    WHERE true
    ORDER BY v.key
    {_FIRE_TIME_CONFLICT}
    RETURNING id
"""

# A fired schedule's new state, as a JSON record and as the update of ``schedules AS s``.
_ADVANCE_RECORD = (
    "id bigint, next_run_at timestamptz, status text, run_count int, last_run_at timestamptz"
)
_ADVANCE_SET = """
    next_run_at = v.next_run_at,
    status = v.status,
    run_count = v.run_count,
    last_run_at = COALESCE(v.last_run_at, s.last_run_at)
"""
_ADVANCE_POSTGRESQL = f"""
    UPDATE schedules AS s SET {_ADVANCE_SET}
    FROM jsonb_to_recordset(CAST(%(batch)s AS jsonb)) AS v({_ADVANCE_RECORD})
    WHERE s.id = v.id
"""
_ADVANCE_SQLITE = """
    UPDATE schedules SET
        next_run_at = v.value ->> '$.next_run_at',
        status = v.value ->> '$.status',
        run_count = v.value ->> '$.run_count',
        last_run_at = COALESCE(v.value ->> '$.last_run_at', schedules.last_run_at)
    FROM json_each(:batch) AS v
    WHERE schedules.id = (v.value ->> '$.id')
"""


_FIRE_POSTGRESQL = f"""
    WITH inserted AS ({_insert_fired_postgresql("runs")}),
    advance AS (
        SELECT * FROM jsonb_to_recordset(CAST(%(schedules)s AS jsonb)) AS v({_ADVANCE_RECORD})
    ),
    advanced AS (
        UPDATE schedules AS s SET {_ADVANCE_SET}
        FROM advance AS v
        WHERE s.id = v.id
        RETURNING s.id
    )
    SELECT
        (SELECT count(*) FROM inserted),
        (
            SELECT pg_notify(%(channel)s, '') WHERE EXISTS (
                SELECT 1 FROM inserted WHERE status IN ('queued', 'retrying')
            )
        ),
        (SELECT count(*) FROM advanced),
        -- The statement cannot see its own update, so the next due time combines the
        -- untouched schedules with the new values of the advanced ones.
        LEAST(
            (
                SELECT min(next_run_at) FROM schedules
                WHERE status = 'active' AND next_run_at IS NOT NULL
                    AND id NOT IN (SELECT id FROM advance)
            ),
            (SELECT min(next_run_at) FROM advance WHERE status = 'active')
        )
"""
_NEXT_DUE_SQLITE = """
    SELECT min(next_run_at) FROM schedules WHERE status = 'active' AND next_run_at IS NOT NULL
"""


def fire_schedules(
    conn: Connection,
    dialect: Dialect,
    rows: Sequence[dict[str, Any]],
    updates: Sequence[dict[str, Any]],
    notify: str,
) -> tuple[int, datetime | None]:
    """Insert fired runs, advance their schedules and read the next due time, at once.

    ``rows`` are as :func:`insert_fired_runs` takes them and ``updates`` as
    :func:`advance_schedules` does. Returns how many runs were inserted and the earliest
    ``next_run_at`` of any active schedule afterwards. On PostgreSQL this is one statement
    (one round trip instead of four, which matters when one schedule is due); ``notify``
    is notified when a runnable run was inserted.
    """
    if dialect.is_sqlite:
        inserted = insert_fired_runs(conn, dialect, rows, notify)
        advance_schedules(conn, dialect, updates)
        return inserted, parse_utc(conn.exec_driver_sql(_NEXT_DUE_SQLITE).scalar())
    encode = timestamp_encoder(dialect)
    params = {
        "runs": json.dumps(list(rows), separators=(",", ":"), default=encode),
        "schedules": json.dumps(list(updates), separators=(",", ":"), default=encode),
        "channel": notify,
    }
    if "\\u0000" in params["runs"]:
        params["runs"] = json.dumps(without_nul(list(rows)), separators=(",", ":"), default=encode)
    found: Any = fetch_all(conn, _FIRE_POSTGRESQL, params)[0]
    return int(found[0]), parse_utc(found[3])


def insert_fired_runs(
    conn: Connection,
    dialect: Dialect,
    rows: Sequence[dict[str, Any]],
    notify: str | None = None,
) -> int:
    """Insert the runs of fire times in one statement; return how many were inserted.

    Each row has keys of ``FIRED_COLUMN_NAMES`` (timestamps as aware datetimes; a missing
    key is NULL). A
    fire time that already has a run is skipped by the unique ``(schedule_id,
    scheduled_for)`` index, so a second scheduler can never create it twice. One short
    statement with one JSON parameter keeps a burst of a thousand fire times cheap. When
    a runnable run was inserted, the channel ``notify`` is notified (PostgreSQL).
    """
    if not rows:
        return 0
    # Timestamps are encoded by json.dumps' hook instead of copying every row first.
    encode = timestamp_encoder(dialect)
    payload = json.dumps(list(rows), separators=(",", ":"), default=encode)
    if not dialect.stores_nul and "\\u0000" in payload:
        payload = json.dumps(without_nul(list(rows)), separators=(",", ":"), default=encode)
    if dialect.is_postgresql:
        found = fetch_all(conn, _INSERT_FIRED_POSTGRESQL, {"batch": payload, "channel": notify})
        return int(found[0][0])
    return len(fetch_all(conn, _INSERT_FIRED_SQLITE, {"batch": payload}))


def advance_schedules(
    conn: Connection, dialect: Dialect, updates: Sequence[dict[str, Any]]
) -> None:
    """Set ``next_run_at``, ``status``, ``run_count`` and ``last_run_at`` (unless ``None``)
    of many fired schedules in one statement. Each update has those keys and ``id``."""
    if not updates:
        return
    encode = timestamp_encoder(dialect)
    payload = json.dumps(list(updates), separators=(",", ":"), default=encode)
    sql = _ADVANCE_POSTGRESQL if dialect.is_postgresql else _ADVANCE_SQLITE
    conn.exec_driver_sql(sql, {"batch": payload})
