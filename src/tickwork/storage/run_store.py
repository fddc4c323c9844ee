"""Every query on the ``runs`` and ``run_attempts`` tables: the queue and its history."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tickwork.domain.errors import ConflictError, InvalidTransitionError, NotFoundError
from tickwork.domain.models import (
    PENDING_RUN_STATUSES,
    RUNNABLE_RUN_STATUSES,
    Run,
    RunStatus,
    RunTrigger,
    SkipReason,
)
from tickwork.storage import enqueue_sql, firing_sql, queue_sql, retention_sql
from tickwork.storage.dialect import CANCEL_CHANNEL, RUNS_CHANNEL, Dialect
from tickwork.storage.driver_values import storable_json
from tickwork.storage.queue_sql import NOT_HELD, ClaimedRun, FinishedRun, Outcome
from tickwork.storage.retention_sql import PrunedBatch
from tickwork.storage.rows import run_from_row, run_from_values
from tickwork.storage.run_queries import LIST_COLUMNS
from tickwork.storage.tables import RUN_KEY_PENDING, queue_pauses, run_attempts, runs, tenant_scope

_RUNNING = RunStatus.RUNNING.value
# Runs an operator asked for explicitly (Run Now, a backfill): a paused schedule does not
# hold them (the claim's ``NOT_HELD`` says the same in SQL).
EXPLICIT_TRIGGERS = (RunTrigger.MANUAL.value, RunTrigger.BACKFILL.value)

# What a worker needs to execute a claimed run; the list views need more.
CLAIM_COLUMNS = tuple(runs.c[name] for name in ClaimedRun._fields)


# How often an enqueue with a key retries when the run holding the key finishes between
# the insert that found it and the read of it.
KEY_RACE_RETRIES = 5


def _attempt_row(
    run: Any,
    status: str,
    finished_at: datetime | None,
    error: str | None,
    traceback: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """The ``run_attempts`` row of an attempt of ``run`` (anything with ``id``, ``attempt``,
    ``worker_id`` and ``started_at``) that ended without ending the run."""
    return {
        "run_id": run.id,
        "attempt": run.attempt,
        "status": status,
        "worker_id": run.worker_id,
        "started_at": run.started_at,
        "finished_at": finished_at,
        "error": error,
        "traceback": traceback,
        **overrides,
    }


def _released(
    run_id: int, attempt: int, key: str | None, holder: int | None, now: datetime
) -> dict[str, Any]:
    """How a run released at worker shutdown is left: back in the queue as its next attempt
    with one more allowed, or cancelled when another pending run (``holder``) holds its key."""
    if holder is not None and holder != run_id:
        return {
            "status": RunStatus.CANCELLED.value,
            "finished_at": now,
            "token": None,
            "error": f"released unfinished at worker shutdown; not re-queued: run "
            f"{holder} with the same key {key!r} is pending",
        }
    return {
        "status": RunStatus.QUEUED.value,
        "attempt": attempt + 1,
        "max_attempts": runs.c.max_attempts + 1,
        "run_at": now,
        "token": None,
        "worker_id": None,
        "heartbeat_at": None,
    }


class RunStore:
    """Reads and writes runs. Every method takes the connection of the caller's transaction."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    # -- creating runs -----------------------------------------------------------------

    def insert_fired(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
        """Insert runs for schedule fire times; a fire time that already has a run is skipped.

        The unique ``(schedule_id, scheduled_for)`` key makes this safe even if two
        schedulers somehow fired the same schedule. Returns how many rows were inserted.
        """
        if not rows:
            return 0
        # Workers are notified in the same statement, when a runnable run was inserted.
        return firing_sql.insert_fired_runs(conn, self.dialect, rows, notify=RUNS_CHANNEL)

    def enqueue(self, conn: Connection, values: dict[str, Any]) -> tuple[Run, bool]:
        """Insert one run; with a ``key``, return the pending run holding that key instead.

        Returns the run and whether it was created.
        """
        statement = self.dialect.insert(runs).values(**values)
        if values.get("key") is not None:
            statement = statement.on_conflict_do_nothing(
                index_elements=[tenant_scope(runs.c.tenant_id), runs.c.key],
                index_where=sa.text(RUN_KEY_PENDING),
            )
        row = conn.execute(statement.returning(runs)).one_or_none()
        if row is None:
            existing = self._pending_with_key(conn, values.get("tenant_id"), values["key"])
            if existing is not None:
                return existing, False
            # The holder finished between the insert and the select: try once more.
            row = conn.execute(statement.returning(runs)).one()
        self.dialect.notify(conn, RUNS_CHANNEL, str(values.get("queue", "default")))
        return run_from_row(row), True

    def _pending_with_key(self, conn: Connection, tenant_id: str | None, key: str) -> Run | None:
        """The pending run of ``tenant_id`` (``None``: of no tenant) holding ``key``, if one
        does. Keys are unique per tenant, so another tenant's run is never the answer."""
        row = conn.execute(
            sa.select(runs).where(
                tenant_scope(runs.c.tenant_id) == (tenant_id or ""),
                runs.c.key == key,
                runs.c.status.in_(PENDING_RUN_STATUSES),
            )
        ).one_or_none()
        return None if row is None else run_from_row(row)

    def enqueue_audited(
        self, conn: Connection, values: dict[str, Any], *, actor: str, source: str
    ) -> tuple[Run, bool]:
        """Insert one run with its ``run.enqueue`` audit entry and wake workers; with a
        ``key``, return the pending run holding that key instead.

        ``values`` has the keys of :data:`tickwork.storage.enqueue_sql.INSERT_COLUMN_NAMES` and
        ``key``. On PostgreSQL ``conn`` commits each statement
        (:meth:`~tickwork.storage.database.Database.write_statement`): the run, its audit
        entry and the wake-up are one statement. Returns the run and whether it was created.
        """
        # The run as returned holds the payload as stored.
        values = {**values, "payload": storable_json(self.dialect, values["payload"])}
        for _ in range(KEY_RACE_RETRIES):
            run_id = enqueue_sql.enqueue_run(
                conn, self.dialect, values, actor=actor, source=source, notify=RUNS_CHANNEL
            )
            if run_id is not None:
                return run_from_values(run_id, values), True
            existing = self._pending_with_key(conn, values["tenant_id"], values["key"])
            if existing is not None:
                return existing, False
            # The holder finished between the insert and the select: try again.
        raise ConflictError(
            f"the run holding key {values['key']!r} kept changing; try again", field="key"
        )

    def enqueue_many(
        self, conn: Connection, rows: Sequence[dict[str, Any]], *, audit: dict[str, Any]
    ) -> builtins.list[int]:
        """Insert many keyless runs with one ``run.enqueue_many`` audit entry and wake
        workers; return the runs' ids in order.

        Each row has the keys of :data:`tickwork.storage.enqueue_sql.INSERT_COLUMN_NAMES`;
        ``audit`` has ``at``, ``actor``, ``source`` and ``tenant_id``. On PostgreSQL ``conn``
        commits each statement, and all of it is one statement.
        """
        if not rows:
            return []
        return enqueue_sql.insert_runs(conn, self.dialect, rows, audit=audit, notify=RUNS_CHANNEL)

    # -- the worker's side -------------------------------------------------------------

    def claim(
        self,
        conn: Connection,
        *,
        worker_id: str,
        token: str,
        now: datetime,
        limit: int,
        queues: Sequence[str] | None = None,
    ) -> builtins.list[ClaimedRun]:
        """Claim up to ``limit`` runnable runs for ``worker_id`` under a fresh ``token``.

        Highest priority first, then earliest ``run_at``. On PostgreSQL, rows other workers
        are claiming are skipped; on SQLite the write transaction holds the file lock.
        On PostgreSQL the claim is one statement, so a worker may run it on its own in
        autocommit (:meth:`~tickwork.storage.database.Database.write_statement`).
        """
        claimed = queue_sql.claim_runs(
            conn,
            self.dialect,
            worker_id=worker_id,
            token=token,
            now=now,
            limit=limit,
            queues=queues,
        )
        claimed.sort(key=lambda r: (-r.priority, r.run_at, r.id))
        return claimed

    def next_run_at(self, conn: Connection, queues: Sequence[str] | None = None) -> datetime | None:
        """When the earliest queued or retrying run of a queue not paused, and not held by
        a paused schedule, becomes runnable."""
        paused = sa.select(queue_pauses.c.name).where(queue_pauses.c.name == runs.c.queue)
        query = sa.select(sa.func.min(runs.c.run_at)).where(
            runs.c.status.in_(RUNNABLE_RUN_STATUSES), ~paused.exists(), sa.text(NOT_HELD)
        )
        if queues:
            query = query.where(runs.c.queue.in_(list(queues)))
        value: datetime | None = conn.execute(query).scalar_one_or_none()
        return value

    def heartbeat(
        self, conn: Connection, fences: Sequence[tuple[int, str]], now: datetime
    ) -> tuple[set[int], set[int]]:
        """Refresh the heartbeat of running attempts the caller still owns.

        Returns the ids still owned, and among them those an operator asked to cancel.
        Attempts that were superseded (rescued after a stall) are not touched.
        """
        if not fences:
            return set(), set()
        ids = [run_id for run_id, _ in fences]
        tokens = sorted({token for _, token in fences})
        statement = (
            runs.update()
            .where(
                runs.c.id.in_(ids),
                runs.c.token.in_(tokens),
                runs.c.status == _RUNNING,
            )
            .values(heartbeat_at=now)
            .returning(runs.c.id, runs.c.token, runs.c.cancel_requested)
        )
        wanted = set(fences)
        owned: set[int] = set()
        cancel: set[int] = set()
        for run_id, token, cancel_requested in conn.execute(statement):
            if (run_id, token) in wanted:
                owned.add(run_id)
                if cancel_requested:
                    cancel.add(run_id)
        return owned, cancel

    def stream_logs(
        self, conn: Connection, logs: Sequence[tuple[int, str, builtins.list[dict[str, Any]]]]
    ) -> None:
        """Write the log lines so far of running attempts (run id, token, lines); an attempt
        that was superseded or has ended (its token or status changed) is left alone."""
        if not logs:
            return
        statement = (
            runs.update()
            .where(
                runs.c.id == sa.bindparam("b_id"),
                runs.c.token == sa.bindparam("b_token"),
                runs.c.status == _RUNNING,
            )
            .values(logs=sa.bindparam("b_logs"))
        )
        conn.execute(
            statement,
            [{"b_id": run_id, "b_token": token, "b_logs": lines} for run_id, token, lines in logs],
        )

    def finish(self, conn: Connection, outcomes: Sequence[Outcome]) -> builtins.list[FinishedRun]:
        """Record attempts' outcomes in one statement; return those that were accepted.

        An outcome whose token no longer matches its run (the attempt was superseded) is
        refused. A keyed run that would be retried while another pending run holds its key
        fails instead, so two pending runs never share a key. Raises
        :class:`ConflictError` if a run with such a key was enqueued concurrently (the
        caller retries the batch).
        """
        outcomes = self._yield_keys(conn, outcomes)
        try:
            finished = queue_sql.finish_runs(conn, self.dialect, [o.as_values() for o in outcomes])
        except sa.exc.IntegrityError as exc:  # pragma: no cover - needs a precise race
            raise ConflictError("a run with the same key was enqueued meanwhile") from exc
        retried = [f for f in finished if f.status == RunStatus.RETRYING.value]
        if retried:
            by_id = {o.run_id: o for o in outcomes}
            self.record_attempts(
                conn,
                [
                    _attempt_row(
                        f,
                        RunStatus.FAILED.value,
                        by_id[f.id].finished_at,
                        by_id[f.id].error,
                        by_id[f.id].traceback,
                        attempt=f.attempt - 1,
                        worker_id=by_id[f.id].worker_id or f.worker_id,
                        logs=by_id[f.id].logs,
                    )
                    for f in retried
                ],
            )
            self.dialect.notify(conn, RUNS_CHANNEL)
        return finished

    def _yield_keys(self, conn: Connection, outcomes: Sequence[Outcome]) -> Sequence[Outcome]:
        keyed = [o for o in outcomes if o.key is not None and o.status is RunStatus.RETRYING]
        if not keyed:
            return outcomes
        holders = self.key_holders(conn, [o.run_id for o in keyed])
        changed: dict[int, Outcome] = {}
        for outcome in keyed:
            holder = holders.get(outcome.run_id)
            if holder is not None:
                changed[outcome.run_id] = dataclasses.replace(
                    outcome,
                    status=RunStatus.FAILED,
                    retry_at=None,
                    error=f"{outcome.error}; not retried: run {holder} with the same key "
                    f"{outcome.key!r} is pending",
                )
        return [changed.get(o.run_id, o) for o in outcomes]

    def key_holders(self, conn: Connection, run_ids: Sequence[int]) -> dict[int, int]:
        """For each of ``run_ids`` whose key another pending run of the same tenant holds,
        the id of that other run (keys are unique per tenant, so runs of other tenants never
        count)."""
        if not run_ids:
            return {}
        mine, other = runs.alias("mine"), runs.alias("other")
        query = (
            sa.select(mine.c.id, other.c.id)
            .select_from(mine)
            .join(
                other,
                sa.and_(
                    tenant_scope(other.c.tenant_id) == tenant_scope(mine.c.tenant_id),
                    other.c.key == mine.c.key,
                    other.c.status.in_(PENDING_RUN_STATUSES),
                    other.c.id != mine.c.id,
                ),
            )
            .where(mine.c.id.in_(sorted(set(run_ids))), mine.c.key.is_not(None))
        )
        return {row[0]: row[1] for row in conn.execute(query)}

    def record_attempts(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Keep the story of attempts that did not end their run."""
        if rows:
            conn.execute(run_attempts.insert(), list(rows))

    def release(self, conn: Connection, fences: Sequence[tuple[int, str]], now: datetime) -> int:
        """Put runs a stopping worker did not finish back in the queue.

        The interrupted attempt is kept in ``run_attempts`` (status ``released``) and the
        run goes back as its next attempt with one more allowed, so a release never uses up
        the run's retries and an attempt number is never executed twice. A keyed run whose
        key another pending run now holds is cancelled instead. Returns how many were
        released.
        """
        if not fences:
            return 0
        wanted = dict(fences)
        rows = conn.execute(
            self.dialect.lock(
                sa.select(
                    runs.c.id,
                    runs.c.token,
                    runs.c.attempt,
                    runs.c.worker_id,
                    runs.c.started_at,
                    runs.c.key,
                    runs.c.logs,
                ).where(runs.c.id.in_(sorted(wanted)), runs.c.status == _RUNNING)
            )
        ).all()
        owned = [r for r in rows if r.token is not None and wanted.get(r.id) == r.token]
        if not owned:
            return 0
        holders = self.key_holders(conn, [r.id for r in owned if r.key is not None])
        self.record_attempts(
            conn,
            [
                _attempt_row(
                    r, "released", now, "released unfinished when its worker shut down", logs=r.logs
                )
                for r in owned
            ],
        )
        released = 0
        for r in owned:
            holder = holders.get(r.id)
            values = _released(r.id, r.attempt, r.key, holder, now)
            if values["status"] == RunStatus.QUEUED.value:
                released += 1
            conn.execute(
                runs.update()
                .where(runs.c.id == r.id, runs.c.token == r.token, runs.c.status == _RUNNING)
                .values(**values)
            )
        if released:
            self.dialect.notify(conn, RUNS_CHANNEL)
        return released

    def lock_stalled(
        self, conn: Connection, cutoff: datetime, limit: int = 100
    ) -> builtins.list[Run]:
        """Running runs whose heartbeat is older than ``cutoff``, locked for rescue."""
        query = (
            sa.select(*CLAIM_COLUMNS, runs.c.heartbeat_at, runs.c.logs)
            .where(runs.c.status == _RUNNING, runs.c.heartbeat_at < cutoff)
            .order_by(runs.c.heartbeat_at)
            .limit(limit)
        )
        return [run_from_row(r) for r in conn.execute(self.dialect.lock_skip_locked(query))]

    def rescue(self, conn: Connection, run: Run, now: datetime) -> str:
        """Re-queue a stalled run as its next attempt, or fail it when attempts are exhausted.

        The new attempt gets no token until a worker claims it, so anything the stalled
        attempt still reports is refused. Returns the new status.
        """
        error = (
            f"worker {run.worker_id} stopped heartbeating "
            f"(last heartbeat {run.heartbeat_at.isoformat() if run.heartbeat_at else 'never'})"
        )
        self.record_attempts(
            conn,
            # What it streamed before its worker went quiet is kept.
            [_attempt_row(run, "stalled", now, error, logs=run.logs)],
        )
        holder = None
        if run.key is not None and run.attempt < run.max_attempts:
            holder = self.key_holders(conn, [run.id]).get(run.id)
        if holder is not None:
            error = f"{error}; not re-queued: run {holder} with the same key {run.key!r} is pending"
        if run.attempt < run.max_attempts and holder is None:
            values: dict[str, Any] = {
                "status": RunStatus.QUEUED.value,
                "attempt": run.attempt + 1,
                "run_at": now,
                "token": None,
                "worker_id": None,
                "heartbeat_at": None,
                "error": error,
            }
        else:
            values = {
                "status": RunStatus.FAILED.value,
                "finished_at": now,
                "token": None,
                "error": error,
            }
        conn.execute(
            runs.update()
            .where(runs.c.id == run.id, runs.c.token == run.token, runs.c.status == _RUNNING)
            .values(**values)
        )
        if values["status"] == RunStatus.QUEUED.value:
            self.dialect.notify(conn, RUNS_CHANNEL)
        return str(values["status"])

    # -- operators' actions ------------------------------------------------------------

    def get(
        self,
        conn: Connection,
        run_id: int,
        *,
        lock: bool = False,
        restrict_tenant: str | None = None,
    ) -> Run:
        """The run with ``run_id``, or :class:`NotFoundError`."""
        query = sa.select(runs).where(runs.c.id == run_id)
        if restrict_tenant is not None:
            query = query.where(runs.c.tenant_id == restrict_tenant)
        if lock:
            query = self.dialect.lock(query)
        row = conn.execute(query).one_or_none()
        if row is None:
            raise NotFoundError(f"run {run_id} not found", field="id")
        return run_from_row(row)

    def cancel(self, conn: Connection, run: Run, now: datetime, reason: str) -> Run:
        """Cancel a pending run at once, or ask its worker to stop a running one."""
        if run.status.value in PENDING_RUN_STATUSES:
            values: dict[str, Any] = {
                "status": RunStatus.CANCELLED.value,
                "finished_at": now,
                "error": reason,
                "token": None,
            }
            condition: sa.ColumnElement[bool] = runs.c.status.in_(PENDING_RUN_STATUSES)
        elif run.status is RunStatus.RUNNING:
            values = {"cancel_requested": True}
            condition = runs.c.status == _RUNNING
        else:
            raise InvalidTransitionError(
                f"run {run.id} is {run.status.value}; only pending or running runs can be "
                "cancelled",
                field="status",
            )
        row = conn.execute(
            runs.update().where(runs.c.id == run.id, condition).values(**values).returning(runs)
        ).one_or_none()
        if row is None:
            return self.cancel(conn, self.get(conn, run.id, lock=True), now, reason)
        if run.status is RunStatus.RUNNING:
            self.dialect.notify(conn, CANCEL_CHANNEL)
        return run_from_row(row)

    def cancel_for_schedule(
        self, conn: Connection, schedule_id: int, now: datetime, reason: str
    ) -> builtins.list[int]:
        """Cancel a schedule's pending runs and ask its running ones to stop."""
        pending = conn.execute(
            runs.update()
            .where(runs.c.schedule_id == schedule_id, runs.c.status.in_(PENDING_RUN_STATUSES))
            .values(status=RunStatus.CANCELLED.value, finished_at=now, error=reason)
            .returning(runs.c.id)
        ).all()
        running = conn.execute(
            runs.update()
            .where(runs.c.schedule_id == schedule_id, runs.c.status == _RUNNING)
            .values(cancel_requested=True)
            .returning(runs.c.id)
        ).all()
        if running:
            self.dialect.notify(conn, CANCEL_CHANNEL)
        return [r[0] for r in pending] + [r[0] for r in running]

    def skip_held(self, conn: Connection, schedule_id: int, cutoff: datetime, now: datetime) -> int:
        """Record the runs a paused schedule held whose fire time is older than ``cutoff``
        as skipped (reason ``paused``); return how many. The others run once it resumes."""
        fire_time = sa.func.coalesce(runs.c.scheduled_for, runs.c.run_at)
        return int(
            conn.execute(
                runs.update()
                .where(
                    runs.c.schedule_id == schedule_id,
                    runs.c.status.in_(RUNNABLE_RUN_STATUSES),
                    runs.c.trigger.not_in(EXPLICIT_TRIGGERS),
                    fire_time < cutoff,
                )
                .values(
                    status=RunStatus.SKIPPED.value,
                    skip_reason=SkipReason.PAUSED.value,
                    finished_at=now,
                    token=None,
                    error="held while the schedule was paused; its fire time passed the grace",
                )
            ).rowcount
        )

    def withdraw_early(
        self, conn: Connection, schedule_id: int, now: datetime
    ) -> tuple[int, datetime | None]:
        """Delete runs the scheduler created ahead of fire times that have not come yet.

        A schedule that is edited or paused must not run its old definition at those
        times. Returns how many were withdrawn and the earliest of their fire times.
        """
        rows = conn.execute(
            runs.delete()
            .where(
                runs.c.schedule_id == schedule_id,
                runs.c.status == RunStatus.QUEUED.value,
                runs.c.scheduled_for > now,
                runs.c.run_at > now,
            )
            .returning(runs.c.scheduled_for)
        ).all()
        fire_times = [r[0] for r in rows]
        return len(fire_times), min(fire_times, default=None)

    def retry(self, conn: Connection, run: Run, now: datetime, actor: str) -> Run:
        """Queue a finished failed or cancelled run again, as one more attempt."""
        if run.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
            raise InvalidTransitionError(
                f"run {run.id} is {run.status.value}; only failed or cancelled runs can be retried",
                field="status",
            )
        if run.key is not None:
            holder = self.key_holders(conn, [run.id]).get(run.id)
            if holder is not None:
                raise ConflictError(
                    f"run {holder} with the same key {run.key!r} is already pending",
                    field="key",
                )
        self.record_attempts(
            conn,
            [
                _attempt_row(
                    run, run.status.value, run.finished_at, run.error, run.traceback, logs=run.logs
                )
            ],
        )
        row = conn.execute(
            runs.update()
            .where(runs.c.id == run.id, runs.c.status == run.status.value)
            .values(
                status=RunStatus.QUEUED.value,
                attempt=run.attempt + 1,
                max_attempts=self.dialect.greatest(runs.c.max_attempts, run.attempt + 1),
                run_at=now,
                finished_at=None,
                token=None,
                worker_id=None,
                error=None,
                traceback=None,
                result=None,
                cancel_requested=False,
            )
            .returning(runs)
        ).one_or_none()
        if row is None:
            raise InvalidTransitionError(f"run {run.id} changed meanwhile; try again")
        self.dialect.notify(conn, RUNS_CHANNEL, run.queue)
        return run_from_row(row)

    def active_for_schedule(self, conn: Connection, schedule_id: int) -> builtins.list[Run]:
        """A schedule's pending and running runs (for its overlap policy)."""
        query = (
            sa.select(*LIST_COLUMNS)
            .where(
                runs.c.schedule_id == schedule_id,
                runs.c.status.in_((*PENDING_RUN_STATUSES, _RUNNING)),
            )
            .order_by(runs.c.id)
        )
        return [run_from_row(r) for r in conn.execute(query)]

    def delete_finished_before(
        self,
        conn: Connection,
        cutoff: datetime,
        limit: int,
        *,
        tenant_id: str | None = None,
        after: datetime | None = None,
    ) -> PrunedBatch:
        """Delete up to ``limit`` finished runs older than ``cutoff``, the oldest first and
        none finished before ``after`` (only ``tenant_id``'s when given); return how many,
        and where the next batch starts."""
        return retention_sql.delete_finished_batch(
            conn, self.dialect, cutoff, limit, after=after, tenant_id=tenant_id
        )
