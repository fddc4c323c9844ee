"""Reading runs: the one filter of the ``runs`` table, and every list, page and count of runs.

Nothing here writes. Pages are keyset-paginated by id (or by creation time for a window that
ends in the past), so they stay fast at any depth with millions of runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.domain.models import Run, RunAttempt
from tickwork.domain.queries import RunFilter
from tickwork.storage.rows import attempt_from_row, run_from_row
from tickwork.storage.schedule_store import contains_pattern
from tickwork.storage.tables import run_attempts, runs
from tickwork.storage.types import UTCDateTime

# Columns of the list views: everything but the bulky ones.
LIST_COLUMNS = tuple(
    c for c in runs.c if c.name not in ("payload", "traceback", "logs", "result", "details")
)

# The columns of a run in the API's pages (the list columns but the fencing token).
PAGE_COLUMNS = tuple(c.name for c in LIST_COLUMNS if c.name != "token")
_PAGE_SELECT: tuple[sa.ColumnClause[Any], ...] = tuple(sa.column(name) for name in PAGE_COLUMNS)
_PAGE_DATETIMES = frozenset(
    c.name for c in LIST_COLUMNS if c.name != "token" and isinstance(c.type, UTCDateTime)
)


def filter_runs(query: sa.Select[Any], filters: RunFilter) -> sa.Select[Any]:
    """``query`` on ``runs`` narrowed by ``filters``: the one filter of runs."""
    c = runs.c
    if filters.schedule_id is not None:
        query = query.where(c.schedule_id == filters.schedule_id)
    if filters.schedule_ids is not None:
        query = query.where(c.schedule_id.in_(list(filters.schedule_ids)))
    if filters.task:
        query = query.where(c.task == filters.task)
    if filters.status:
        query = query.where(c.status.in_(list(filters.status)))
    if filters.trigger:
        query = query.where(c.trigger == filters.trigger)
    if filters.tenant_id:
        query = query.where(c.tenant_id == filters.tenant_id)
    if filters.queue:
        query = query.where(c.queue == filters.queue)
    if filters.since is not None:
        query = query.where(c.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(c.created_at < filters.until)
    query = _text_search(query, filters)
    if filters.restrict_tenant is not None:
        query = query.where(c.tenant_id == filters.restrict_tenant)
    return query


def _text_search(query: sa.Select[Any], filters: RunFilter) -> sa.Select[Any]:
    """``query`` narrowed to runs whose error or payload contains the filter's text."""
    if filters.error:
        query = query.where(runs.c.error.ilike(contains_pattern(filters.error), escape="\\"))
    if filters.payload:
        payload_text = sa.cast(runs.c.payload, sa.Text())
        # SQLite keeps payloads as ASCII JSON (``ë`` as ``\\u00eb``): the text is looked
        # for as typed and as JSON writes it.
        forms = {filters.payload, json.dumps(filters.payload)[1:-1]}
        query = query.where(
            sa.or_(*(payload_text.ilike(contains_pattern(f), escape="\\") for f in forms))
        )
    return query


def matching_run_ids(
    conn: Connection, filters: RunFilter, *, ids: Sequence[int] | None = None, limit: int
) -> list[int]:
    """Ids of runs matching ``filters`` (and among ``ids`` when given), oldest first, at most
    ``limit``; the tenant restriction is applied in the query."""
    query = filter_runs(sa.select(runs.c.id), filters)
    if ids is not None:
        query = query.where(runs.c.id.in_(sorted(set(ids))))
    query = query.order_by(runs.c.id).limit(limit)
    return [row[0] for row in conn.execute(query)]


def list_runs(
    conn: Connection,
    filters: RunFilter,
    *,
    before_id: int | None = None,
    limit: int = 50,
    offset: int | None = None,
) -> list[Run]:
    """Runs newest first (list columns); pass the last id seen as ``before_id`` for the
    next page."""
    query = filter_runs(sa.select(*LIST_COLUMNS), filters).order_by(runs.c.id.desc())
    if before_id is not None:
        query = query.where(runs.c.id < before_id)
    if offset:
        query = query.offset(offset)
    return [run_from_row(r) for r in conn.execute(query.limit(limit))]


def count_runs(
    conn: Connection, filters: RunFilter, *, cap: int | None = None, after_id: int | None = None
) -> int:
    """How many runs match ``filters`` (newer than ``after_id`` when given; counting stops at
    ``cap`` when given)."""
    inner = filter_runs(sa.select(runs.c.id), filters)
    if after_id is not None:
        inner = inner.where(runs.c.id > after_id)
    if cap is not None:
        inner = inner.limit(cap)
    query = sa.select(sa.func.count()).select_from(inner.subquery())
    return int(conn.execute(query).scalar_one())


def browse_runs(
    conn: Connection,
    filters: RunFilter,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> list[Run]:
    """Runs newest first: older than ``before_id``, newer than ``after_id``, or by offset.

    Asks for one row more than ``limit`` so the caller knows whether another page exists.
    A window that ends in the past (``filters.until``) is read in creation order through
    the created-at index; walking ids down from the newest run would first pass every run
    created after the window. Otherwise ids give the order, and the newest rows come first.
    """
    query = filter_runs(sa.select(*LIST_COLUMNS), filters)
    by_time = filters.until is not None
    key = sa.tuple_(runs.c.created_at, runs.c.id) if by_time else runs.c.id
    newest_first = (runs.c.created_at.desc(), runs.c.id.desc()) if by_time else (runs.c.id.desc(),)
    oldest_first = (runs.c.created_at, runs.c.id) if by_time else (runs.c.id,)

    def cursor(run_id: int) -> Any:
        if not by_time:
            return run_id
        at = conn.execute(
            sa.select(runs.c.created_at).where(runs.c.id == run_id)
        ).scalar_one_or_none()
        return sa.tuple_(sa.literal(at, runs.c.created_at.type), sa.literal(run_id))

    if after_id is not None:
        query = query.where(key > cursor(after_id)).order_by(*oldest_first).limit(limit + 1)
        found = [run_from_row(r) for r in conn.execute(query)]
        return list(reversed(found))
    if before_id is not None:
        query = query.where(key < cursor(before_id))
    query = query.order_by(*newest_first).offset(offset).limit(limit + 1)
    return [run_from_row(r) for r in conn.execute(query)]


def _aware(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def run_values_page(
    conn: Connection, filters: RunFilter, *, before_id: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Runs newest first, keyset-paginated by id, as plain values (with ``duration``).

    The same rows as :func:`list_runs`, without its per-column conversions into
    :class:`Run` objects: pages of the API stay cheap whatever their depth.
    """
    c = runs.c
    query = filter_runs(sa.select(*_PAGE_SELECT).select_from(runs), filters)
    if before_id is not None:
        query = query.where(c.id < before_id)
    query = query.order_by(c.id.desc()).limit(limit)
    page = []
    for row in conn.execute(query):
        item = dict(zip(PAGE_COLUMNS, row, strict=True))
        for name in _PAGE_DATETIMES:
            item[name] = _aware(item[name])
        item["cancel_requested"] = bool(item["cancel_requested"])
        started, finished = item["started_at"], item["finished_at"]
        item["duration"] = (
            None if started is None or finished is None else (finished - started).total_seconds()
        )
        page.append(item)
    return page


def runs_by_id(
    conn: Connection, ids: Sequence[int], restrict_tenant: str | None = None
) -> list[Run]:
    """These runs (list columns), newest first; with ``restrict_tenant``, only that
    tenant's."""
    if not ids:
        return []
    query = filter_runs(
        sa.select(*LIST_COLUMNS).where(runs.c.id.in_(list(ids))),
        RunFilter(restrict_tenant=restrict_tenant),
    )
    return [run_from_row(r) for r in conn.execute(query.order_by(runs.c.id.desc()))]


def attempts_of(conn: Connection, run_id: int) -> list[RunAttempt]:
    """Earlier attempts of a run, oldest first."""
    query = (
        sa.select(run_attempts)
        .where(run_attempts.c.run_id == run_id)
        .order_by(run_attempts.c.attempt, run_attempts.c.id)
    )
    return [attempt_from_row(r) for r in conn.execute(query)]
