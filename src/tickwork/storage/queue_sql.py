"""The queue's hot-path statements: enqueue (one run or a batch), claim and finish.

Claims, outcomes and batch inserts are plain driver SQL (``exec_driver_sql``): statement
compilation and per-column type processing would cost more than the statements
themselves at thousands of runs per second, while SQLAlchemy still translates errors and
notices lost connections. On PostgreSQL their rows travel as one JSON document each way
(one value to parse instead of a value per column and row). Each statement is written
once per dialect; :mod:`tickwork.storage.driver_values` encodes what they send and
decodes what they return.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.storage.dialect import Dialect
from tickwork.storage.driver_values import (
    fetch_all,
    from_epoch_microseconds,
    json_text,
    loaded_json,
    parse_utc,
    sqlite_timestamp,
    timestamp_text,
    without_nul,
)

# The fields of a claimed run, in the order of ``run_store.ClaimedRun``.
CLAIM_COLUMN_NAMES = (
    "id",
    "task",
    "payload",
    "status",
    "trigger",
    "schedule_id",
    "tenant_id",
    "queue",
    "priority",
    "attempt",
    "max_attempts",
    "retry_backoff",
    "retry_backoff_max",
    "timeout",
    "run_at",
    "scheduled_for",
    "started_at",
    "worker_id",
    "token",
    "key",
    "cancel_requested",
)
# What a claim reads back: not the columns it has just written.
_CLAIM_WRITTEN = frozenset({"status", "started_at", "worker_id", "token"})
_CLAIM_READ = tuple(name for name in CLAIM_COLUMN_NAMES if name not in _CLAIM_WRITTEN)

_CLAIM_POSTGRESQL = f"""
    WITH picked AS (
        SELECT id FROM runs
        WHERE status IN ('queued', 'retrying') AND run_at <= %(now)s {{queues}}
        ORDER BY priority DESC, run_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ),
    claimed AS (
        UPDATE runs AS r SET
            status = 'running', started_at = %(now)s, heartbeat_at = %(now)s,
            finished_at = NULL, worker_id = %(worker_id)s, token = %(token)s
        -- By primary key, always: joined to the picked ids, the planner would rather hash
        -- the whole table while it is small (a few milliseconds per claim).
        WHERE r.id = ANY(ARRAY(SELECT id FROM picked))
        RETURNING {", ".join(f"r.{name}" for name in _CLAIM_READ)}
    )
    SELECT json_agg(json_build_array({", ".join(_CLAIM_READ)})) FROM claimed
"""
_CLAIM_POSTGRESQL_ALL = _CLAIM_POSTGRESQL.format(queues="")
_CLAIM_POSTGRESQL_QUEUES = _CLAIM_POSTGRESQL.format(queues="AND queue = ANY(%(queues)s)")

_CLAIM_SQLITE = f"""
    UPDATE runs SET
        status = 'running', started_at = :now, heartbeat_at = :now, finished_at = NULL,
        worker_id = :worker_id, token = :token
    WHERE id IN (
        SELECT id FROM runs
        WHERE status IN ('queued', 'retrying') AND run_at <= :now {{queues}}
        ORDER BY priority DESC, run_at, id
        LIMIT :limit
    )
    RETURNING {", ".join(_CLAIM_READ)}
"""
_CLAIM_SQLITE_ALL = _CLAIM_SQLITE.format(queues="")
_CLAIM_SQLITE_QUEUES = _CLAIM_SQLITE.format(
    queues="AND queue IN (SELECT value FROM json_each(:queues))"
)

# An outcome travels as [id, token, status, finished_at, result, logs, error, traceback,
# run_at, next_attempt], timestamps as microseconds since 1970 (exact, and cheaper to write
# than text).
_FINISH_POSTGRESQL = """
    WITH finished AS (
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
            worker_id = CASE WHEN v.next_attempt = 1 THEN NULL ELSE r.worker_id END,
            heartbeat_at = CASE WHEN v.next_attempt = 1 THEN NULL ELSE r.heartbeat_at END
        FROM (
            SELECT
                CAST(e ->> 0 AS bigint) AS id,
                e ->> 1 AS token,
                e ->> 2 AS status,
                TIMESTAMPTZ 'epoch' + CAST(e ->> 3 AS bigint) * INTERVAL '1 microsecond'
                    AS finished_at,
                NULLIF(e -> 4, 'null') AS result,
                NULLIF(e -> 5, 'null') AS logs,
                e ->> 6 AS error,
                e ->> 7 AS traceback,
                TIMESTAMPTZ 'epoch' + CAST(e ->> 8 AS bigint) * INTERVAL '1 microsecond'
                    AS run_at,
                CAST(e ->> 9 AS int) AS next_attempt
            FROM jsonb_array_elements(CAST(%(batch)s AS jsonb)) AS e
        ) AS v
        WHERE r.id = v.id AND r.token = v.token AND r.status = 'running'
        RETURNING r.id, r.schedule_id, r.status, r.attempt, r.started_at, r.worker_id
    )
    SELECT json_agg(json_build_array(id, schedule_id, status, attempt, started_at, worker_id))
    FROM finished
"""

_FINISH_SQLITE = """
    UPDATE runs SET
        status = v.value ->> '$[2]',
        finished_at = v.value ->> '$[3]',
        result = v.value -> '$[4]',
        logs = v.value -> '$[5]',
        error = v.value ->> '$[6]',
        traceback = v.value ->> '$[7]',
        run_at = COALESCE(v.value ->> '$[8]', runs.run_at),
        attempt = runs.attempt + (v.value ->> '$[9]'),
        token = CASE WHEN (v.value ->> '$[9]') = 1 THEN NULL ELSE runs.token END,
        worker_id = CASE WHEN (v.value ->> '$[9]') = 1 THEN NULL ELSE runs.worker_id END,
        heartbeat_at = CASE WHEN (v.value ->> '$[9]') = 1 THEN NULL ELSE runs.heartbeat_at END
    FROM json_each(:batch) AS v
    WHERE runs.id = (v.value ->> '$[0]') AND runs.token = (v.value ->> '$[1]')
        AND runs.status = 'running'
    RETURNING runs.id, runs.schedule_id, runs.status, runs.attempt, runs.started_at,
        runs.worker_id
"""

# Columns a batch insert of new runs sets; the rest take their defaults.
INSERT_COLUMN_NAMES = (
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
    "created_at",
    "created_by",
)
_INSERT_TYPES = (
    "text",
    "jsonb",
    "text",
    "text",
    "text",
    "text",
    "int",
    "int",
    "float8",
    "float8",
    "float8",
    "timestamptz",
    "timestamptz",
    "text",
)
_INSERT_SQLITE = f"""
    INSERT INTO runs ({", ".join(INSERT_COLUMN_NAMES)})
    SELECT {
    ", ".join(
        f"v.value -> '$.{n}'" if n == "payload" else f"v.value ->> '$.{n}'"
        for n in INSERT_COLUMN_NAMES
    )
}
    FROM json_each(:batch) AS v
    ORDER BY v.key
    RETURNING id
"""

# At most one pending run per key: the unique index is partial, and ON CONFLICT must name
# its predicate to use it. A run without a key never conflicts.
_KEY_CONFLICT = (
    "ON CONFLICT (key) WHERE key IS NOT NULL AND status IN ('waiting', 'queued', 'retrying') "
    "DO NOTHING"
)
_AUDIT_COLUMNS = "at, actor, source, action, target_type, target_id, tenant_id, after"

# One run, its audit entry and the workers' wake-up in one statement: committed together
# (a statement is atomic) in one round trip. With a key another pending run holds, nothing
# is written and no row comes back. Parameters used twice are cast so that both uses agree
# on their type.
_ENQUEUE_POSTGRESQL = f"""
    WITH inserted AS (
        INSERT INTO runs ({", ".join(INSERT_COLUMN_NAMES)}, key)
        VALUES (
            CAST(%(task)s AS text), CAST(%(payload)s AS jsonb), %(status)s, %(trigger)s,
            CAST(%(tenant_id)s AS text), CAST(%(queue)s AS text), %(priority)s,
            %(max_attempts)s, %(retry_backoff)s, %(retry_backoff_max)s, %(timeout)s,
            %(run_at)s, CAST(%(created_at)s AS timestamptz), %(created_by)s,
            CAST(%(key)s AS text)
        )
        {_KEY_CONFLICT}
        RETURNING id
    ),
    audited AS (
        INSERT INTO audit_log ({_AUDIT_COLUMNS})
        SELECT CAST(%(created_at)s AS timestamptz), %(actor)s, %(source)s, 'run.enqueue', 'run',
            CAST(id AS text), CAST(%(tenant_id)s AS text),
            jsonb_build_object(
                'task', CAST(%(task)s AS text),
                'payload', CAST(%(payload)s AS jsonb),
                'key', CAST(%(key)s AS text)
            )
        FROM inserted
    )
    SELECT id, pg_notify(%(channel)s, CAST(%(queue)s AS text)) FROM inserted
"""
_ENQUEUE_SQLITE = f"""
    INSERT INTO runs ({", ".join(INSERT_COLUMN_NAMES)}, key)
    VALUES (
        :task, :payload, :status, :trigger, :tenant_id, :queue, :priority, :max_attempts,
        :retry_backoff, :retry_backoff_max, :timeout, :run_at, :created_at, :created_by, :key
    )
    {_KEY_CONFLICT}
    RETURNING id
"""
_AUDIT_SQLITE = f"""
    INSERT INTO audit_log ({_AUDIT_COLUMNS})
    VALUES (:at, :actor, :source, :action, :target_type, :target_id, :tenant_id, :after)
"""


def enqueue_run(
    conn: Connection,
    dialect: Dialect,
    values: dict[str, Any],
    *,
    actor: str,
    source: str,
    notify: str,
) -> int | None:
    """Insert one run (``INSERT_COLUMN_NAMES`` plus ``key``) with its ``run.enqueue`` audit
    entry; return its id, or ``None`` when another pending run holds its key.

    On PostgreSQL this is one statement that also wakes workers on ``notify`` (run it on a
    connection that commits it: :meth:`Database.write_statement`); on SQLite, two
    statements in the caller's write transaction.
    """
    payload = json_text(dialect, values["payload"])
    if dialect.is_postgresql:
        params = {
            **values,
            "payload": payload,
            "actor": actor,
            "source": source,
            "channel": notify,
        }
        found = fetch_all(conn, _ENQUEUE_POSTGRESQL, params)
        return int(found[0][0]) if found else None
    created_at = timestamp_text(dialect, values["created_at"])
    params = {
        **values,
        "payload": payload,
        "run_at": timestamp_text(dialect, values["run_at"]),
        "created_at": created_at,
    }
    found = fetch_all(conn, _ENQUEUE_SQLITE, params)
    if not found:
        return None
    run_id = int(found[0][0])
    after = {"task": values["task"], "payload": values["payload"], "key": values["key"]}
    conn.exec_driver_sql(
        _AUDIT_SQLITE,
        {
            "at": created_at,
            "actor": actor,
            "source": source,
            "action": "run.enqueue",
            "target_type": "run",
            "target_id": str(run_id),
            "tenant_id": values["tenant_id"],
            "after": json_text(dialect, after),
        },
    )
    return run_id


def _json_batch(dialect: Dialect, batch: list[dict[str, Any]]) -> str:
    text = json.dumps(batch, separators=(",", ":"), default=str)
    if not dialect.stores_nul and "\\u0000" in text:
        # PostgreSQL's text and jsonb cannot hold NUL characters; a handler's error
        # message or log line containing one must not make the whole batch fail.
        text = json.dumps(without_nul(batch), separators=(",", ":"), default=str)
    return text


def claim_runs(
    conn: Connection,
    dialect: Dialect,
    *,
    worker_id: str,
    token: str,
    now: datetime,
    limit: int,
    queues: Sequence[str] | None,
) -> list[tuple[Any, ...]]:
    """Mark up to ``limit`` runnable runs as running under ``token``; return them as tuples
    of ``CLAIM_COLUMN_NAMES`` (in no particular order).

    On PostgreSQL rows other transactions are claiming are skipped (``FOR UPDATE SKIP
    LOCKED``); on SQLite the caller's ``BEGIN IMMEDIATE`` serialises claims. Timestamps
    are aware UTC, ``payload`` is a dict and ``cancel_requested`` a bool.
    """
    now = now.astimezone(UTC)
    params: dict[str, Any] = {
        "now": sqlite_timestamp(now) if dialect.is_sqlite else now,
        "limit": limit,
        "worker_id": worker_id,
        "token": token,
    }
    if dialect.is_postgresql:
        if queues:
            params["queues"] = list(queues)
        sql = _CLAIM_POSTGRESQL_QUEUES if queues else _CLAIM_POSTGRESQL_ALL
        found = conn.exec_driver_sql(sql, params).scalar()
        rows: Any = loaded_json(found) or ()
        parse: Any = datetime.fromisoformat
    else:
        if queues:
            params["queues"] = json.dumps(list(queues))
        sql = _CLAIM_SQLITE_QUEUES if queues else _CLAIM_SQLITE_ALL
        rows = fetch_all(conn, sql, params)
        parse = parse_utc
    claimed = []
    for (
        run_id,
        task,
        payload,
        trigger,
        schedule_id,
        tenant_id,
        queue,
        priority,
        attempt,
        max_attempts,
        retry_backoff,
        retry_backoff_max,
        timeout,
        run_at,
        scheduled_for,
        key,
        cancel_requested,
    ) in rows:
        claimed.append(
            (
                run_id,
                task,
                (json.loads(payload) if isinstance(payload, str | bytes) else payload) or {},
                "running",
                trigger,
                schedule_id,
                tenant_id,
                queue,
                priority,
                attempt,
                max_attempts,
                float(retry_backoff),
                float(retry_backoff_max),
                None if timeout is None else float(timeout),
                parse(run_at),
                None if scheduled_for is None else parse(scheduled_for),
                now,
                worker_id,
                token,
                key,
                bool(cancel_requested),
            )
        )
    return claimed


def finish_runs(
    conn: Connection, dialect: Dialect, outcomes: Sequence[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    """Record many attempts' outcomes in one statement, fenced by their tokens.

    Each outcome is ``(id, token, status, finished_at, result, logs, error, traceback,
    run_at, next_attempt)``: ``run_at`` is a retry's next time, ``next_attempt`` 1 when the
    run goes back to the queue as its next attempt, and timestamps are microseconds since
    1970 (:func:`epoch_microseconds`). Returns the rows that were accepted as ``(id,
    schedule_id, status, attempt, started_at, worker_id)``: an outcome whose token no
    longer matches (a superseded attempt) changes nothing.
    """
    if not outcomes:
        return []
    if dialect.is_postgresql:
        batch = json_text(dialect, outcomes)
        found = loaded_json(conn.exec_driver_sql(_FINISH_POSTGRESQL, {"batch": batch}).scalar())
        return [(r[0], r[1], r[2], r[3], datetime.fromisoformat(r[4]), r[5]) for r in found or ()]
    texts = [
        [
            *outcome[:3],
            _sqlite_microseconds(outcome[3]),
            *outcome[4:8],
            _sqlite_microseconds(outcome[8]),
            outcome[9],
        ]
        for outcome in outcomes
    ]
    rows: Sequence[Any] = fetch_all(conn, _FINISH_SQLITE, {"batch": json_text(dialect, texts)})
    return [(r[0], r[1], r[2], r[3], parse_utc(r[4]), r[5]) for r in rows]


def _sqlite_microseconds(value: int | None) -> str | None:
    return None if value is None else sqlite_timestamp(from_epoch_microseconds(value))


def insert_runs(
    conn: Connection,
    dialect: Dialect,
    rows: Sequence[dict[str, Any]],
    *,
    audit: dict[str, Any],
    notify: str,
) -> list[int]:
    """Insert many new runs and one ``run.enqueue_many`` audit entry for them; return the
    runs' ids in the order of ``rows``.

    Each row has the keys of ``INSERT_COLUMN_NAMES`` (``run_at`` and ``created_at`` as
    aware datetimes). ``audit`` has ``at``, ``actor``, ``source`` and ``tenant_id``; the
    entry's ``after`` counts the runs and names the first and last id. On PostgreSQL this is
    one statement that also wakes workers on ``notify`` (run it on a connection that commits
    it: :meth:`Database.write_statement`); on SQLite, two statements in the caller's write
    transaction.
    """
    if not rows:
        return []
    if dialect.is_postgresql:
        sql, params = _insert_postgresql(dialect, rows)
        params.update(
            at=audit["at"],
            actor=audit["actor"],
            source=audit["source"],
            audit_tenant=audit["tenant_id"],
            channel=notify,
        )
        found: Any = fetch_all(conn, sql, params)[0][0]
        return list(found)
    texts: dict[datetime, str | None] = {}

    def stamp(value: datetime) -> str | None:
        # A batch's runs mostly share their times: format each distinct one once.
        text = texts.get(value)
        if text is None:
            text = texts[value] = timestamp_text(dialect, value)
        return text

    batch = [
        {**row, "run_at": stamp(row["run_at"]), "created_at": stamp(row["created_at"])}
        for row in rows
    ]
    # Ids come from the rowid in insertion order, which follows the batch's order.
    ids = sorted(
        int(r[0]) for r in fetch_all(conn, _INSERT_SQLITE, {"batch": _json_batch(dialect, batch)})
    )
    conn.exec_driver_sql(
        _AUDIT_SQLITE,
        {
            "at": stamp(audit["at"]),
            "actor": audit["actor"],
            "source": audit["source"],
            "action": "run.enqueue_many",
            "target_type": "run",
            "target_id": None,
            "tenant_id": audit["tenant_id"],
            "after": json_text(
                dialect, {"count": len(ids), "first_id": ids[0], "last_id": ids[-1]}
            ),
        },
    )
    return ids


def _insert_postgresql(
    dialect: Dialect, rows: Sequence[dict[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """The batch insert's statement: the rows travel as one JSON array (PostgreSQL splits it
    faster than it parses an array parameter per column), and the columns all rows share
    as plain parameters, once."""
    first = rows[0]
    varying = [
        name
        for name in INSERT_COLUMN_NAMES
        if name != "payload"
        and not all(map(operator.eq, map(operator.itemgetter(name), rows), repeat(first[name])))
    ]
    params: dict[str, Any] = {}
    selected = []
    if varying:
        # Each row as [payload, its varying values...].
        def encode(value: Any) -> Any:
            return value.isoformat() if isinstance(value, datetime) else value

        elements: list[Any] = [[r["payload"], *(encode(r[n]) for n in varying)] for r in rows]
    else:
        elements = [r["payload"] for r in rows]
    for name, kind in zip(INSERT_COLUMN_NAMES, _INSERT_TYPES, strict=True):
        if name == "payload":
            selected.append("v.value -> 0" if varying else "v.value")
        elif name in varying:
            selected.append(f"CAST(v.value ->> {varying.index(name) + 1} AS {kind})")
        else:
            params[name] = first[name]
            selected.append(f"CAST(%({name})s AS {kind})")
    params["rows"] = json_text(dialect, elements)
    sql = f"""
        WITH inserted AS (
            INSERT INTO runs ({", ".join(INSERT_COLUMN_NAMES)})
            SELECT {", ".join(selected)}
            FROM jsonb_array_elements(CAST(%(rows)s AS jsonb)) WITH ORDINALITY AS v(value, n)
            ORDER BY v.n
            RETURNING id
        ),
        audited AS (
            INSERT INTO audit_log ({_AUDIT_COLUMNS})
            SELECT CAST(%(at)s AS timestamptz), %(actor)s, %(source)s, 'run.enqueue_many',
                'run', NULL, %(audit_tenant)s,
                jsonb_build_object('count', count(*), 'first_id', min(id), 'last_id', max(id))
            FROM inserted
        )
        SELECT array_agg(id ORDER BY id), pg_notify(%(channel)s, '') FROM inserted
    """
    return sql, params
