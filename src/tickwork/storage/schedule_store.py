"""Every query on the ``schedules`` table."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from tickwork.domain.errors import DuplicateNameError, NotFoundError, VersionConflictError
from tickwork.domain.models import (
    OverlapPolicy,
    RunStatus,
    Schedule,
    ScheduleStatus,
    TriggerType,
)
from tickwork.domain.queries import ScheduleFilter
from tickwork.storage import firing_sql
from tickwork.storage.dialect import RUNS_CHANNEL, Dialect
from tickwork.storage.rows import schedule_from_row, schedules_from_rows
from tickwork.storage.tables import schedules, tenant_scope


def _literal(value: str) -> sa.ColumnElement[str]:
    """A constant written into the SQL text, so the planner can use the partial indexes."""
    assert value.isidentifier()
    return sa.literal_column(f"'{value}'", sa.String())


_ACTIVE = _literal(ScheduleStatus.ACTIVE.value)


# What firing reads of a due schedule; the rest (notes, audit fields) keep their defaults
# on the Schedule it builds, so a burst of due schedules converts fewer values.
FIRING_COLUMNS = tuple(
    c
    for c in schedules.c
    if c.name
    not in (
        "description",
        "last_run_at",
        "last_status",
        "pause_note",
        "paused_by",
        "paused_at",
        "paused_until",
        "code_hash",
        "created_by",
        "created_at",
        "updated_at",
        "metadata",
        "last_success_at",
    )
)


def contains_pattern(text: str) -> str:
    """A ``LIKE`` pattern (escape character ``\\``) matching values that contain ``text``."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def matching_schedule_ids(
    conn: Connection, filters: ScheduleFilter, *, ids: Sequence[int] | None = None, limit: int
) -> list[int]:
    """Ids of schedules matching ``filters`` (and among ``ids`` when given), in id order, at
    most ``limit``; the tenant restriction is applied in the query."""
    query = filter_schedules(sa.select(schedules.c.id), filters)
    if ids is not None:
        query = query.where(schedules.c.id.in_(sorted(set(ids))))
    query = query.order_by(schedules.c.id).limit(limit)
    return [row[0] for row in conn.execute(query)]


def filter_schedules(query: sa.Select[Any], filters: ScheduleFilter) -> sa.Select[Any]:
    """``query`` on ``schedules`` narrowed by ``filters``: the one filter of schedules."""
    c = schedules.c
    if filters.status:
        query = query.where(c.status == filters.status)
    if filters.task:
        query = query.where(c.task == filters.task)
    if filters.group:
        query = query.where(c.group == filters.group)
    if filters.tenant_id:
        query = query.where(c.tenant_id == filters.tenant_id)
    if filters.source:
        query = query.where(c.source == filters.source)
    if filters.name_part:
        query = query.where(c.name.ilike(contains_pattern(filters.name_part), escape="\\"))
    if filters.text:
        pattern = contains_pattern(filters.text)
        query = query.where(
            sa.or_(
                c.name.ilike(pattern, escape="\\"),
                c.task.ilike(pattern, escape="\\"),
                c.group.ilike(pattern, escape="\\"),
                c.description.ilike(pattern, escape="\\"),
                c.tenant_id.ilike(pattern, escape="\\"),
            )
        )
    if filters.metadata_key:
        value = c.metadata[filters.metadata_key].as_string()
        query = query.where(value.is_not(None))
        if filters.metadata_value is not None:
            query = query.where(value == filters.metadata_value)
    if filters.restrict_tenant is not None:
        query = query.where(c.tenant_id == filters.restrict_tenant)
    return query


@dataclass(frozen=True, slots=True)
class FireUpdate:
    """How the scheduler leaves one schedule after firing it."""

    id: int
    next_run_at: datetime | None
    status: str
    run_count: int
    last_run_at: datetime | None


class ScheduleStore:
    """Reads and writes schedules. Every method takes the connection of the caller's transaction."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        # The scheduler's statements, built once: building and keying a 30-column
        # SELECT costs more than running it when one schedule is due.
        self._lock_due = dialect.lock_skip_locked(
            sa.select(*FIRING_COLUMNS)
            .where(
                schedules.c.status == _ACTIVE,
                schedules.c.next_run_at <= sa.bindparam("horizon"),
                sa.or_(
                    schedules.c.next_run_at <= sa.bindparam("now"),
                    sa.and_(
                        schedules.c.overlap_policy == OverlapPolicy.ALLOW.value,
                        schedules.c.condition.is_(None),
                        schedules.c.group.is_(None),
                    ),
                ),
            )
            .order_by(schedules.c.next_run_at)
            .limit(sa.bindparam("limit", type_=sa.Integer()))
        )
        self._next_due_at = sa.select(sa.func.min(schedules.c.next_run_at)).where(
            schedules.c.status == _ACTIVE, schedules.c.next_run_at.is_not(None)
        )

    def insert(self, conn: Connection, values: dict[str, Any]) -> Schedule:
        """Insert a schedule; a name taken in its tenant raises :class:`DuplicateNameError`."""
        try:
            with conn.begin_nested():
                row = conn.execute(schedules.insert().values(**values).returning(schedules)).one()
        except IntegrityError as exc:
            raise DuplicateNameError(
                f"a schedule named {values.get('name')!r} already exists", field="name"
            ) from exc
        return schedule_from_row(row)

    def get(
        self,
        conn: Connection,
        schedule_id: int,
        *,
        lock: bool = False,
        restrict_tenant: str | None = None,
    ) -> Schedule:
        """The schedule with ``schedule_id``, or :class:`NotFoundError`."""
        query = sa.select(schedules).where(schedules.c.id == schedule_id)
        if restrict_tenant is not None:
            query = query.where(schedules.c.tenant_id == restrict_tenant)
        if lock:
            query = self.dialect.lock(query)
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFoundError(f"schedule {schedule_id} not found", field="id")
        return schedule_from_row(row)

    def find_by_name(
        self, conn: Connection, name: str, *, restrict_tenant: str | None = None, limit: int = 2
    ) -> builtins.list[Schedule]:
        """Up to ``limit`` schedules called ``name`` (names are unique per tenant only), in id
        order; with ``restrict_tenant``, only that tenant's."""
        query = sa.select(schedules).where(schedules.c.name == name)
        if restrict_tenant is not None:
            query = query.where(schedules.c.tenant_id == restrict_tenant)
        rows = conn.execute(query.order_by(schedules.c.id).limit(limit))
        return [schedule_from_row(r) for r in rows]

    def find_in_scope(self, conn: Connection, name: str, tenant_id: str | None) -> Schedule | None:
        """The schedule called ``name`` in ``tenant_id``'s scope (``None``: among schedules
        without a tenant), if any."""
        row = conn.execute(
            sa.select(schedules).where(
                tenant_scope(schedules.c.tenant_id) == (tenant_id or ""),
                schedules.c.name == name,
            )
        ).one_or_none()
        return None if row is None else schedule_from_row(row)

    def list(
        self,
        conn: Connection,
        filters: ScheduleFilter,
        *,
        after_id: int | None = None,
        limit: int = 50,
        offset: int | None = None,
    ) -> builtins.list[Schedule]:
        """Schedules in id order, after ``after_id`` (keyset) or from ``offset``."""
        query = filter_schedules(sa.select(schedules), filters).order_by(schedules.c.id)
        if after_id is not None:
            query = query.where(schedules.c.id > after_id)
        if offset:
            query = query.offset(offset)
        return [schedule_from_row(r) for r in conn.execute(query.limit(limit))]

    def count(self, conn: Connection, filters: ScheduleFilter) -> int:
        """How many schedules match ``filters``."""
        query = filter_schedules(sa.select(sa.func.count()).select_from(schedules), filters)
        return int(conn.execute(query).scalar_one())

    def counts_by_status(
        self, conn: Connection, restrict_tenant: str | None = None
    ) -> dict[str, int]:
        """Schedules per status."""
        query = sa.select(schedules.c.status, sa.func.count()).group_by(schedules.c.status)
        if restrict_tenant is not None:
            query = query.where(schedules.c.tenant_id == restrict_tenant)
        return {status: int(n) for status, n in conn.execute(query)}

    def update(
        self,
        conn: Connection,
        schedule_id: int,
        values: dict[str, Any],
        *,
        expected_version: int | None = None,
        bump_version: bool = True,
    ) -> Schedule:
        """Change a schedule; with ``expected_version``, refuse if someone else changed it."""
        query = schedules.update().where(schedules.c.id == schedule_id)
        if expected_version is not None:
            query = query.where(schedules.c.version == expected_version)
        if bump_version:
            values = {**values, "version": schedules.c.version + 1}
        try:
            with conn.begin_nested():
                row = conn.execute(query.values(**values).returning(schedules)).one_or_none()
        except IntegrityError as exc:
            raise DuplicateNameError(
                f"a schedule named {values.get('name')!r} already exists", field="name"
            ) from exc
        if row is None:
            self.get(conn, schedule_id)
            raise VersionConflictError(
                f"schedule {schedule_id} was changed since version {expected_version}; "
                "reload it and try again",
                field="version",
            )
        return schedule_from_row(row)

    def delete(self, conn: Connection, schedule_id: int) -> None:
        """Remove a schedule row (its runs stay as history)."""
        conn.execute(schedules.delete().where(schedules.c.id == schedule_id))

    def lock_due(
        self, conn: Connection, now: datetime, limit: int, horizon: datetime | None = None
    ) -> builtins.list[Schedule]:
        """Lock up to ``limit`` active schedules due at ``now``, earliest first.

        With a later ``horizon``, schedules that may fire early and are due by then are
        locked too (the test in SQL of :func:`tickwork.domain.planning.fires_early`). Rows
        another scheduler holds are skipped, so schedulers share the work instead of
        queueing behind each other.
        """
        params = {"now": now, "horizon": horizon or now, "limit": limit}
        result = conn.execute(self._lock_due, params)
        return schedules_from_rows(result.all(), tuple(result.keys()))

    def next_due_at(self, conn: Connection) -> datetime | None:
        """The earliest ``next_run_at`` of any active schedule."""
        value: datetime | None = conn.execute(self._next_due_at).scalar_one_or_none()
        return value

    def lock_missing_next_run(self, conn: Connection, limit: int = 100) -> builtins.list[Schedule]:
        """Active schedules that should have a ``next_run_at`` but have none (to repair)."""
        query = (
            sa.select(schedules)
            .where(
                schedules.c.status == _ACTIVE,
                schedules.c.next_run_at.is_(None),
                schedules.c.trigger != TriggerType.MANUAL.value,
            )
            .limit(limit)
        )
        return [schedule_from_row(r) for r in conn.execute(self.dialect.lock_skip_locked(query))]

    def count_missing_next_run(self, conn: Connection) -> int:
        """How many active schedules lack ``next_run_at`` (the health check reports them)."""
        query = sa.select(sa.func.count()).where(
            schedules.c.status == _ACTIVE,
            schedules.c.next_run_at.is_(None),
            schedules.c.trigger != TriggerType.MANUAL.value,
        )
        return int(conn.execute(query).scalar_one())

    def overdue(
        self,
        conn: Connection,
        now: datetime,
        limit: int = 50,
        restrict_tenant: str | None = None,
    ) -> builtins.list[Schedule]:
        """Active schedules whose ``next_run_at`` is older than their misfire grace, most
        overdue first (with ``restrict_tenant``, only that tenant's).

        Every condition is in the query, so the limit counts only schedules that qualify;
        the due index narrows the scan to active schedules already due.
        """
        c = schedules.c
        query = sa.select(schedules).where(
            c.status == _ACTIVE,
            c.next_run_at <= now,
            self.dialect.epoch_seconds(c.next_run_at) + c.misfire_grace < now.timestamp(),
        )
        if restrict_tenant is not None:
            query = query.where(c.tenant_id == restrict_tenant)
        query = query.order_by(c.next_run_at).limit(limit)
        return [schedule_from_row(r) for r in conn.execute(query)]

    def resumable(
        self, conn: Connection, now: datetime, limit: int = 100
    ) -> builtins.list[Schedule]:
        """Paused schedules whose ``paused_until`` has passed."""
        query = (
            sa.select(schedules)
            .where(
                schedules.c.status == _literal(ScheduleStatus.PAUSED.value),
                schedules.c.paused_until.is_not(None),
                schedules.c.paused_until <= now,
            )
            .order_by(schedules.c.paused_until)
            .limit(limit)
        )
        return [schedule_from_row(r) for r in conn.execute(query)]

    def apply_fires(self, conn: Connection, updates: Sequence[FireUpdate], now: datetime) -> None:
        """Advance fired schedules in one statement."""
        firing_sql.advance_schedules(conn, self.dialect, [_update_values(u) for u in updates])

    def record_fires(
        self,
        conn: Connection,
        runs: Sequence[dict[str, Any]],
        updates: Sequence[FireUpdate],
    ) -> tuple[int, datetime | None]:
        """Insert the runs of fired schedules and advance them, in as few round trips as the
        database allows; return how many runs were inserted and the next due time after.

        A fire time that already has a run is skipped (unique ``(schedule_id,
        scheduled_for)``); workers are notified when a runnable run was inserted.
        """
        return firing_sql.fire_schedules(
            conn, self.dialect, runs, [_update_values(u) for u in updates], RUNS_CHANNEL
        )

    def record_outcomes(
        self, conn: Connection, outcomes: Sequence[tuple[int, str, datetime | None]]
    ) -> None:
        """Record final outcomes of schedules' runs (schedule, status, when it finished), in
        the order they ended: each schedule's ``last_status``, its ``consecutive_failures``
        (a success resets the count, a failure adds one; a cancelled or skipped run changes
        neither) and, for a success, ``last_success_at``."""
        if not outcomes:
            return
        counts: dict[int, list[Any]] = {}
        for schedule_id, status, finished_at in outcomes:
            # [last status, reset the stored count, failures to add, last success]
            entry = counts.setdefault(schedule_id, [status, 0, 0, None])
            entry[0] = status
            if status == RunStatus.SUCCEEDED.value:
                entry[1], entry[2], entry[3] = 1, 0, finished_at
            elif status == RunStatus.FAILED.value:
                entry[2] += 1
        c = schedules.c
        succeeded_at = sa.bindparam("b_success", type_=c.last_success_at.type)
        statement = (
            schedules.update()
            .where(c.id == sa.bindparam("b_id"))
            .values(
                last_status=sa.bindparam("b_status"),
                consecutive_failures=sa.case(
                    (sa.bindparam("b_reset") == 1, sa.bindparam("b_add")),
                    else_=c.consecutive_failures + sa.bindparam("b_add"),
                ),
                last_success_at=sa.func.coalesce(succeeded_at, c.last_success_at),
            )
        )
        conn.execute(
            statement,
            [
                {
                    "b_id": sid,
                    "b_status": status,
                    "b_reset": reset,
                    "b_add": add,
                    "b_success": success,
                }
                for sid, (status, reset, add, success) in counts.items()
            ],
        )

    def failing(self, conn: Connection, limit: int) -> builtins.list[Schedule]:
        """Schedules whose latest final runs failed (``consecutive_failures`` above 0)."""
        query = (
            sa.select(schedules)
            .where(schedules.c.consecutive_failures > 0)
            .order_by(schedules.c.id)
            .limit(limit)
        )
        return [schedule_from_row(r) for r in conn.execute(query)]

    def by_ids(self, conn: Connection, ids: Sequence[int]) -> builtins.list[Schedule]:
        """The schedules among ``ids`` that exist."""
        if not ids:
            return []
        query = sa.select(schedules).where(schedules.c.id.in_(list(ids)))
        return [schedule_from_row(r) for r in conn.execute(query)]

    def code_defined(self, conn: Connection) -> builtins.list[Schedule]:
        """Every schedule whose definition comes from code."""
        query = sa.select(schedules).where(schedules.c.source == "code").order_by(schedules.c.id)
        return [schedule_from_row(r) for r in conn.execute(query)]


def _update_values(update: FireUpdate) -> dict[str, Any]:
    return {
        "id": update.id,
        "next_run_at": update.next_run_at,
        "status": update.status,
        "run_count": update.run_count,
        "last_run_at": update.last_run_at,
    }
