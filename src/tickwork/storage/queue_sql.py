"""The worker's hot-path statements: claim runnable runs, and record attempts' outcomes.

Claims and outcomes are plain driver SQL (``exec_driver_sql``): statement compilation and
per-column type processing would cost more than the statements themselves at thousands of
runs per second, while SQLAlchemy still translates errors and notices lost connections. On
PostgreSQL their rows travel as one JSON document each way (one value to parse instead of
a value per column and row). Each statement is written once per dialect.

The rows these statements take and give are defined once, by name: :class:`ClaimedRun`'s
fields are the columns a claim returns, :class:`OutcomeValues`' the elements of an outcome
as the finish statements read them, and :class:`FinishedRun`'s the columns they return. The
statements and the code that builds or reads those rows are all derived from those lists,
so they cannot fall out of step.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from tickwork.domain.models import RunStatus
from tickwork.storage.dialect import Dialect
from tickwork.storage.driver_values import (
    epoch_microseconds,
    fetch_all,
    from_epoch_microseconds,
    json_text,
    loaded_json,
    parse_utc,
    sqlite_timestamp,
)

# -- claim ---------------------------------------------------------------------------------


class ClaimedRun(NamedTuple):
    """What a worker needs to execute a run it claimed (one attempt, fenced by ``token``).

    The fields are those of :class:`~tickwork.domain.models.Run` that a claim returns: the
    claim statements list these columns, and rows are built by these names. A tuple keeps
    claiming cheap.
    """

    id: int
    task: str
    payload: dict[str, Any]
    status: str
    trigger: str
    schedule_id: int | None
    tenant_id: str | None
    queue: str
    priority: int
    attempt: int
    max_attempts: int
    retry_backoff: float
    retry_backoff_max: float
    timeout: float | None
    run_at: datetime
    scheduled_for: datetime | None
    started_at: datetime
    worker_id: str
    token: str
    key: str | None
    cancel_requested: bool
    flow_id: int | None


# Runs of a paused schedule are held until it resumes; a Run Now (trigger ``manual``) or a
# backfill is the operator's explicit wish and runs anyway, and so do the later steps of a
# group schedule's flow started that way (their trigger is ``dependency``). Paused schedules
# are looked up once per statement, through their partial index (``ix_schedules_paused``);
# the flows only for a run of a paused schedule (OR stops at the first true term), and then
# once per statement among the running flows (``ix_flows_running``).
NOT_HELD = (
    "(schedule_id IS NULL OR \"trigger\" IN ('manual', 'backfill') "
    "OR schedule_id NOT IN (SELECT id FROM schedules WHERE status = 'paused') "
    "OR flow_id IN (SELECT id FROM flows WHERE status = 'running' "
    "AND \"trigger\" IN ('manual', 'backfill')))"
)

# The columns a claim sets itself: it knows their values and does not read them back. It
# also clears ``logs``: they are the previous attempt's (kept in ``run_attempts``), and the
# new attempt's stream in as it runs.
_CLAIM_WRITES = frozenset({"status", "started_at", "worker_id", "token"})
# The columns a claim reads back, in the order its statements return them.
_CLAIM_READ = tuple(name for name in ClaimedRun._fields if name not in _CLAIM_WRITES)

# Runs of a queue an operator paused are not claimed. ``queue_pauses`` holds a row per paused
# queue (usually none); the subquery does not depend on the row, so both databases read it
# once per claim (a correlated NOT EXISTS cost SQLite a probe per candidate row). Neither
# column is NULL, so NOT IN means what it says.
_NOT_PAUSED = "queue NOT IN (SELECT name FROM queue_pauses)"

_CLAIM_POSTGRESQL = f"""
    WITH picked AS (
        SELECT id FROM runs
        WHERE status IN ('queued', 'retrying') AND run_at <= %(now)s {{queues}}
            AND {_NOT_PAUSED} AND {NOT_HELD}
        ORDER BY priority DESC, run_at, id
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ),
    claimed AS (
        UPDATE runs AS r SET
            status = 'running', started_at = %(now)s, heartbeat_at = %(now)s,
            finished_at = NULL, worker_id = %(worker_id)s, token = %(token)s, logs = NULL
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
        worker_id = :worker_id, token = :token, logs = NULL
    WHERE id IN (
        SELECT id FROM runs
        WHERE status IN ('queued', 'retrying') AND run_at <= :now {{queues}}
            AND {_NOT_PAUSED} AND {NOT_HELD}
        ORDER BY priority DESC, run_at, id
        LIMIT :limit
    )
    RETURNING {", ".join(_CLAIM_READ)}
"""
_CLAIM_SQLITE_ALL = _CLAIM_SQLITE.format(queues="")
_CLAIM_SQLITE_QUEUES = _CLAIM_SQLITE.format(
    queues="AND queue IN (SELECT value FROM json_each(:queues))"
)


def _payload(value: Any) -> dict[str, Any]:
    return (json.loads(value) if isinstance(value, str | bytes) else value) or {}


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _converters(parse: Callable[[Any], datetime | None]) -> dict[str, Callable[[Any], Any]]:
    """How the columns a claim reads back become :class:`ClaimedRun`'s values, by name;
    the others are taken as they come."""
    return {
        "payload": _payload,
        "retry_backoff": float,
        "retry_backoff_max": float,
        "timeout": _optional_float,
        "run_at": parse,
        "scheduled_for": lambda value: None if value is None else parse(value),
        "cancel_requested": bool,
    }


# PostgreSQL's rows come as JSON (timestamps as ISO text in UTC); SQLite's as stored.
_CONVERT_POSTGRESQL = _converters(datetime.fromisoformat)
_CONVERT_SQLITE = _converters(parse_utc)


def _claimed_runs(
    rows: Sequence[Sequence[Any]],
    convert: dict[str, Callable[[Any], Any]],
    written: dict[str, Any],
) -> list[ClaimedRun]:
    """Claimed runs from the rows of ``_CLAIM_READ`` columns and the ``written`` values.

    Built a column at a time: each column that needs it is converted in one ``map``, and
    the runs are assembled by zipping the columns in :class:`ClaimedRun`'s field order
    (``tuple.__new__`` makes each one in C, as ``ClaimedRun._make`` would in Python; the
    strict zip has checked the length).
    """
    if not rows:
        return []
    read = dict(zip(_CLAIM_READ, zip(*rows, strict=True), strict=True))
    columns: list[Any] = []
    for name in ClaimedRun._fields:
        if name in _CLAIM_WRITES:
            columns.append(repeat(written[name], len(rows)))
        elif name in convert:
            columns.append(map(convert[name], read[name]))
        else:
            columns.append(read[name])
    return list(map(tuple.__new__, repeat(ClaimedRun), zip(*columns, strict=True)))


def claim_runs(
    conn: Connection,
    dialect: Dialect,
    *,
    worker_id: str,
    token: str,
    now: datetime,
    limit: int,
    queues: Sequence[str] | None,
) -> list[ClaimedRun]:
    """Mark up to ``limit`` runnable runs as running under ``token``; return them (in no
    particular order).

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
        convert = _CONVERT_POSTGRESQL
    else:
        if queues:
            params["queues"] = json.dumps(list(queues))
        sql = _CLAIM_SQLITE_QUEUES if queues else _CLAIM_SQLITE_ALL
        rows = fetch_all(conn, sql, params)
        convert = _CONVERT_SQLITE
    written = {
        "status": RunStatus.RUNNING.value,
        "started_at": now,
        "worker_id": worker_id,
        "token": token,
    }
    return _claimed_runs(rows, convert, written)


# -- finish --------------------------------------------------------------------------------


class OutcomeValues(NamedTuple):
    """An outcome as the finish statements take it: a JSON array whose elements they read
    by these names' positions.

    Timestamps are microseconds since 1970 (exact, and cheaper to write than text).
    """

    id: int
    token: str
    status: str
    finished_at: int | None
    result: Any
    logs: list[dict[str, Any]] | None
    error: str | None
    traceback: str | None
    # A retry's next time.
    run_at: int | None
    # 1 when the run goes back to the queue as its next attempt, else 0.
    next_attempt: int


@dataclass(slots=True)
class Outcome:
    """How one attempt ended, as the worker reports it."""

    run_id: int
    token: str
    status: RunStatus
    finished_at: datetime
    result: Any = None
    logs: list[dict[str, Any]] | None = None
    error: str | None = None
    traceback: str | None = None
    retry_at: datetime | None = None
    # The run's dedupe key: a retry yields to another pending run holding it.
    key: str | None = None
    # The run's flow: recording the outcome settles it (releases or skips its dependents).
    flow_id: int | None = None
    # The worker that ran the attempt, for its history row: the run's own column is
    # cleared when it goes back to the queue, so the finish statement cannot return it.
    worker_id: str | None = None

    def as_values(self) -> tuple[Any, ...]:
        """The outcome as :func:`finish_runs` takes it: the values of :class:`OutcomeValues`.

        A plain tuple in that order: one is built per attempt on the hot path, and naming
        the fields would cost several times more (the contract tests check the order).
        """
        if self.status is RunStatus.RETRYING:
            finished_at, run_at, next_attempt = None, epoch_microseconds(self.retry_at), 1
        else:
            finished_at, run_at, next_attempt = epoch_microseconds(self.finished_at), None, 0
        return (
            self.run_id,
            self.token,
            self.status.value,
            finished_at,
            self.result,
            self.logs,
            self.error,
            self.traceback,
            run_at,
            next_attempt,
        )


@dataclass(slots=True)
class FinishedRun:
    """A run whose outcome was accepted (the columns the finish statements return)."""

    id: int
    schedule_id: int | None
    status: str
    attempt: int
    started_at: datetime | None
    # After the update: ``None`` for a run that went back to the queue as its next attempt
    # (the outcome says which worker ran the attempt).
    worker_id: str | None


_FINISHED = tuple(field.name for field in dataclasses.fields(FinishedRun))
_STARTED_AT = _FINISHED.index("started_at")
_TIMESTAMP_ELEMENTS = tuple(OutcomeValues._fields.index(name) for name in ("finished_at", "run_at"))


def _element(name: str) -> int:
    """The position of ``name`` in an outcome's JSON array."""
    return OutcomeValues._fields.index(name)


def _microseconds_postgresql(name: str) -> str:
    return (
        f"TIMESTAMPTZ 'epoch' + CAST(e ->> {_element(name)} AS bigint) * INTERVAL '1 microsecond'"
    )


# Each element of an outcome as PostgreSQL reads it from the array ``e``.
_OUTCOME_POSTGRESQL = {
    "id": f"CAST(e ->> {_element('id')} AS bigint)",
    "token": f"e ->> {_element('token')}",
    "status": f"e ->> {_element('status')}",
    "finished_at": _microseconds_postgresql("finished_at"),
    "result": f"NULLIF(e -> {_element('result')}, 'null')",
    "logs": f"NULLIF(e -> {_element('logs')}, 'null')",
    "error": f"e ->> {_element('error')}",
    "traceback": f"e ->> {_element('traceback')}",
    "run_at": _microseconds_postgresql("run_at"),
    "next_attempt": f"CAST(e ->> {_element('next_attempt')} AS int)",
}

_FINISH_POSTGRESQL = f"""
    WITH v AS (
        SELECT {", ".join(f"{sql} AS {name}" for name, sql in _OUTCOME_POSTGRESQL.items())}
        FROM jsonb_array_elements(CAST(%(batch)s AS jsonb)) AS e
    ),
    finished AS (
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
        FROM v
        -- By primary key, always. Written ``status = 'running'``, the condition would let the
        -- planner (whose statistics say few runs are running) read the whole running index
        -- instead, every running run and the entries of runs finished since the last vacuum,
        -- for each batch; written so, it matches no index.
        WHERE r.id = ANY(ARRAY(SELECT id FROM v)) AND r.id = v.id AND r.token = v.token
            AND (r.status = 'running') IS TRUE
        RETURNING {", ".join(f"r.{name}" for name in _FINISHED)}
    )
    SELECT json_agg(json_build_array({", ".join(_FINISHED)}))
    FROM finished
"""


def _text(name: str) -> str:
    """An outcome's element as SQLite reads it from ``v.value``, as text."""
    return f"v.value ->> '$[{_element(name)}]'"


def _json(name: str) -> str:
    """An outcome's element as SQLite reads it from ``v.value``, as JSON."""
    return f"v.value -> '$[{_element(name)}]'"


_FINISH_SQLITE = f"""
    UPDATE runs SET
        status = {_text("status")},
        finished_at = {_text("finished_at")},
        result = {_json("result")},
        logs = {_json("logs")},
        error = {_text("error")},
        traceback = {_text("traceback")},
        run_at = COALESCE({_text("run_at")}, runs.run_at),
        attempt = runs.attempt + ({_text("next_attempt")}),
        token = CASE WHEN ({_text("next_attempt")}) = 1 THEN NULL ELSE runs.token END,
        worker_id = CASE WHEN ({_text("next_attempt")}) = 1 THEN NULL ELSE runs.worker_id END,
        heartbeat_at = CASE WHEN ({_text("next_attempt")}) = 1 THEN NULL
            ELSE runs.heartbeat_at END
    FROM json_each(:batch) AS v
    WHERE runs.id = ({_text("id")}) AND runs.token = ({_text("token")})
        AND runs.status = 'running'
    RETURNING {", ".join(f"runs.{name}" for name in _FINISHED)}
"""


def _finished_runs(
    rows: Sequence[Sequence[Any]], parse: Callable[[Any], datetime | None]
) -> list[FinishedRun]:
    finished = []
    for row in rows:
        values = list(row)
        values[_STARTED_AT] = parse(values[_STARTED_AT])
        finished.append(FinishedRun(*values))
    return finished


def finish_runs(
    conn: Connection, dialect: Dialect, outcomes: Sequence[Sequence[Any]]
) -> list[FinishedRun]:
    """Record many attempts' outcomes (each the values of :class:`OutcomeValues`) in one
    statement, fenced by their tokens.

    Returns the runs whose outcomes were accepted: an outcome whose token no longer matches
    (a superseded attempt) changes nothing.
    """
    if not outcomes:
        return []
    if dialect.is_postgresql:
        batch = json_text(dialect, outcomes)
        found = loaded_json(conn.exec_driver_sql(_FINISH_POSTGRESQL, {"batch": batch}).scalar())
        return _finished_runs(found or (), datetime.fromisoformat)
    texts = []
    for outcome in outcomes:
        values = list(outcome)
        for index in _TIMESTAMP_ELEMENTS:
            values[index] = _sqlite_microseconds(values[index])
        texts.append(values)
    rows = fetch_all(conn, _FINISH_SQLITE, {"batch": json_text(dialect, texts)})
    return _finished_runs(rows, parse_utc)


def _sqlite_microseconds(value: int | None) -> str | None:
    return None if value is None else sqlite_timestamp(from_epoch_microseconds(value))
