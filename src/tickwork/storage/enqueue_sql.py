"""The producer's hot-path statements: enqueue one run, or a batch, with its audit entry.

Like :mod:`tickwork.storage.queue_sql`, these are driver-level SQL written once per
dialect. On PostgreSQL each enqueue is one statement: the runs, their audit entry and the
workers' wake-up, committed together (a statement is atomic) in one round trip. The audit
entry's columns come from the audit store's definition
(:func:`tickwork.storage.audit_store.insert_entry_sql`).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Sequence
from datetime import datetime
from itertools import repeat
from typing import Any

from sqlalchemy.engine import Connection

from tickwork.storage.audit_store import ENTRY_COLUMNS, entry_values, insert_entry_sql
from tickwork.storage.dialect import Dialect
from tickwork.storage.driver_values import (
    NEW_RUN_COLUMNS,
    RUN_COLUMN_TYPES,
    fetch_all,
    json_text,
    timestamp_text,
    without_nul,
)
from tickwork.storage.pg_prepared import PreparedStatement

# Columns an enqueue sets; the rest take their defaults.
INSERT_COLUMN_NAMES = (*NEW_RUN_COLUMNS, "created_at", "created_by")

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

# At most one pending run per key within a tenant (``tables.ux_runs_key``): the unique
# index is partial and on an expression, and ON CONFLICT must name both to use it. A run
# without a key never conflicts, and neither do runs of different tenants.
_KEY_CONFLICT = (
    "ON CONFLICT (coalesce(tenant_id, ''), key) "
    "WHERE key IS NOT NULL AND status IN ('waiting', 'queued', 'retrying') DO NOTHING"
)

# A single enqueue's columns: those of a batch, plus its key.
_ENQUEUED = (*INSERT_COLUMN_NAMES, "key")
# Parameters the audit entry uses again: cast, so that both uses agree on their type.
_REUSED = frozenset({"task", "payload", "tenant_id", "queue", "created_at", "key"})
_ENQUEUE_AUDIT_POSTGRESQL = insert_entry_sql(
    {
        "at": "CAST(%(created_at)s AS timestamptz)",
        "actor": "%(actor)s",
        "source": "%(source)s",
        "action": "'run.enqueue'",
        "target_type": "'run'",
        "target_id": "CAST(id AS text)",
        "tenant_id": "CAST(%(tenant_id)s AS text)",
        "after": """jsonb_build_object(
                'task', CAST(%(task)s AS text),
                'payload', CAST(%(payload)s AS jsonb),
                'key', CAST(%(key)s AS text)
            )""",
    },
    select_from="inserted",
)

# One run, its audit entry and the workers' wake-up in one statement. With a key another
# pending run holds, nothing is written and no row comes back.
_ENQUEUE_POSTGRESQL = f"""
    WITH inserted AS (
        INSERT INTO runs ({", ".join(_ENQUEUED)})
        VALUES ({
    ", ".join(
        f"CAST(%({name})s AS {RUN_COLUMN_TYPES[name]})" if name in _REUSED else f"%({name})s"
        for name in _ENQUEUED
    )
})
        {_KEY_CONFLICT}
        RETURNING id
    ),
    audited AS ({_ENQUEUE_AUDIT_POSTGRESQL})
    SELECT id, pg_notify(%(channel)s, CAST(%(queue)s AS text)) FROM inserted
"""
_ENQUEUE_POSTGRESQL_STATEMENT = PreparedStatement("tickwork_enqueue_run", _ENQUEUE_POSTGRESQL)
_ENQUEUE_SQLITE = f"""
    INSERT INTO runs ({", ".join(_ENQUEUED)})
    VALUES ({", ".join(f":{name}" for name in _ENQUEUED)})
    {_KEY_CONFLICT}
    RETURNING id
"""
# One audit entry, every column a parameter of ``entry_values``.
_AUDIT_SQLITE = insert_entry_sql({name: f":{name}" for name in ENTRY_COLUMNS})


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
        rows = _ENQUEUE_POSTGRESQL_STATEMENT.rows(conn, params)
        return int(rows[0][0] or b"") if rows else None
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
        entry_values(
            at=created_at,
            actor=actor,
            source=source,
            action="run.enqueue",
            target_type="run",
            target_id=run_id,
            tenant_id=values["tenant_id"],
            after=json_text(dialect, after),
        ),
    )
    return run_id


def _json_batch(dialect: Dialect, batch: list[dict[str, Any]]) -> str:
    text = json.dumps(batch, separators=(",", ":"), default=str)
    if not dialect.stores_nul and "\\u0000" in text:
        # PostgreSQL's text and jsonb cannot hold NUL characters; a handler's error
        # message or log line containing one must not make the whole batch fail.
        text = json.dumps(without_nul(batch), separators=(",", ":"), default=str)
    return text


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
    return _insert_runs_sqlite(conn, dialect, rows, audit)


def _insert_runs_sqlite(
    conn: Connection, dialect: Dialect, rows: Sequence[dict[str, Any]], audit: dict[str, Any]
) -> list[int]:
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
        entry_values(
            at=stamp(audit["at"]),
            actor=audit["actor"],
            source=audit["source"],
            action="run.enqueue_many",
            target_type="run",
            target_id=None,
            tenant_id=audit["tenant_id"],
            after=json_text(dialect, {"count": len(ids), "first_id": ids[0], "last_id": ids[-1]}),
        ),
    )
    return ids


_ENQUEUE_MANY_AUDIT_POSTGRESQL = insert_entry_sql(
    {
        "at": "CAST(%(at)s AS timestamptz)",
        "actor": "%(actor)s",
        "source": "%(source)s",
        "action": "'run.enqueue_many'",
        "target_type": "'run'",
        "target_id": "NULL",
        "tenant_id": "%(audit_tenant)s",
        "after": "jsonb_build_object('count', count(*), 'first_id', min(id), 'last_id', max(id))",
    },
    select_from="inserted",
)


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
    for name in INSERT_COLUMN_NAMES:
        kind = RUN_COLUMN_TYPES[name]
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
        audited AS ({_ENQUEUE_MANY_AUDIT_POSTGRESQL})
        SELECT array_agg(id ORDER BY id), pg_notify(%(channel)s, '') FROM inserted
    """
    return sql, params
